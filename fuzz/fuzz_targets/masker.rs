//! The masker under arbitrary secrets, output bytes and chunking: the
//! property of tests/common/masking.rs (no secret form of 3+ characters
//! comes out, whole or across chunks and lines; masking is exact however
//! the output is chunked), with long lines cut at a small limit.
//!
//! Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run masker fuzz/corpus/masker fuzz/seeds/masker`
#![no_main]

#[path = "../../tests/common/masking.rs"]
mod masking;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (Vec<String>, Vec<u8>, Vec<u8>, Option<u8>)| {
    let (secrets, output, cuts, limit) = input;
    let cuts: Vec<usize> = cuts.into_iter().map(usize::from).collect();
    masking::check(&secrets, &output, &cuts, limit.map(|l| usize::from(l) + 1));
});
