//! Where a run's time goes, for `bench/timeline.sh`: built with the
//! `timeline` feature, each mark writes `T <pid> <µs of CLOCK_MONOTONIC>
//! <phase>` to stderr; without it (every shipped build) a mark is nothing.
//! The phases are the ones BENCHMARKS.md accounts for.

/// Marks the end of `phase` in this process.
#[inline(always)]
pub fn mark(phase: &str) {
    #[cfg(feature = "timeline")]
    {
        use std::io::Write;
        // CLOCK_MONOTONIC is the clock the benchmark's driver reads
        // before it spawns stackhook and after it has reaped it.
        let mut now = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime fills the timespec it is given.
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
        // i64 already on 64-bit targets, not on every target.
        #[allow(clippy::unnecessary_cast)]
        let micros = now.tv_sec as i64 * 1_000_000 + now.tv_nsec as i64 / 1000;
        let line = format!("T {} {micros} {phase}\n", std::process::id());
        let _ = std::io::stderr().write_all(line.as_bytes());
    }
    #[cfg(not(feature = "timeline"))]
    let _ = phase;
}
