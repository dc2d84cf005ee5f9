//! Output lines prefixed with their step's name, 16 bytes at a time: the
//! masker's last pass over everything a command prints.

/// Appends each line of `block` (which ends with `\n`) to `out`, prefixed,
/// and the `\r`s before each `\n` dropped. Output lines are mostly short,
/// and a call per line (a search, a memcpy, which musl, in the shipped
/// build, makes slow for a few bytes) costs more than the line itself. So
/// a line is copied 16 bytes at a time, in copies of a fixed size that
/// compile to a few instructions, into room made beforehand, and its end
/// is found in each 16 bytes copied.
pub fn prefix_lines(block: &[u8], prefix: &[u8], out: &mut Vec<u8>) {
    const W: usize = 16;
    // Only whole lines: an unfinished one (never passed today) is dropped.
    debug_assert!(block.is_empty() || block.ends_with(b"\n"));
    let block = match memchr::memrchr(b'\n', block) {
        Some(last) => &block[..=last],
        None => return,
    };
    let lines = memchr::memchr_iter(b'\n', block).count();
    let old = out.len();
    // Writes run up to 16 bytes past the end of what they keep.
    out.resize(old + block.len() + prefix.len() * lines + 2 * W, 0);
    let room = &mut out[old..];
    let mut padded = [0u8; W];
    let short_prefix = prefix.len() <= W;
    if short_prefix {
        padded[..prefix.len()].copy_from_slice(prefix);
    }
    let (mut r, mut w) = (0, 0);
    while r < block.len() {
        if short_prefix {
            room[w..w + W].copy_from_slice(&padded);
        } else {
            room[w..w + prefix.len()].copy_from_slice(prefix);
        }
        w += prefix.len();
        let line_start = w;
        // Up to and with the `\n`.
        loop {
            if let Some(chunk) = block.get(r..r + W) {
                let chunk: [u8; W] = chunk.try_into().unwrap_or([0; W]);
                room[w..w + W].copy_from_slice(&chunk);
                if let Some(i) = newline_in(&chunk) {
                    (r, w) = (r + i + 1, w + i + 1);
                    break;
                }
                (r, w) = (r + W, w + W);
            } else {
                let b = block[r];
                room[w] = b;
                (r, w) = (r + 1, w + 1);
                if b == b'\n' {
                    break;
                }
            }
        }
        let mut end = w - 1;
        while end > line_start && room[end - 1] == b'\r' {
            end -= 1;
        }
        room[end] = b'\n';
        w = end + 1;
    }
    out.truncate(old + w);
}

/// Where the first `\n` of 16 bytes is.
fn newline_in(chunk: &[u8; 16]) -> Option<usize> {
    let (lo, hi) = chunk.split_at(8);
    let word = |half: &[u8]| u64::from_le_bytes(half.try_into().unwrap_or([0; 8]));
    first_newline(word(lo)).or_else(|| first_newline(word(hi)).map(|i| i + 8))
}

/// Where the first `\n` of 8 bytes (little-endian) is: the lowest byte
/// that is zero after an xor with `\n`, found without a branch per byte.
/// Bytes above the first zero may read as zero too; the lowest never lies.
fn first_newline(word: u64) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let x = word ^ (ONES * b'\n' as u64);
    let zero = x.wrapping_sub(ONES) & !x & HIGHS;
    (zero != 0).then(|| zero.trailing_zeros() as usize / 8)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// prefix_lines says what prefixing each line and dropping the `\r`s
    /// before its end says, for lines of any length around 16 bytes.
    #[test]
    fn prefixing_agrees_with_the_definition() {
        use proptest::prelude::*;
        let line = "[a\r\u{e9}x]{0,40}";
        proptest!(|(lines in prop::collection::vec(line, 0..12), prefix in "[p]{0,24}")| {
            let block: String = lines.iter().map(|l| format!("{l}\n")).collect();
            let want: String = lines
                .iter()
                .map(|l| format!("{prefix}{}\n", l.trim_end_matches('\r')))
                .collect();
            let mut out = b"kept".to_vec();
            prefix_lines(block.as_bytes(), prefix.as_bytes(), &mut out);
            prop_assert_eq!(String::from_utf8(out).unwrap(), format!("kept{want}"));
        });
    }
}
