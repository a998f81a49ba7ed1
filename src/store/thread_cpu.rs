//! The CPU time of the store's own threads, published as gauges: one
//! writer thread's cost per write is what bounds every node, however many
//! cores serve HTTP (BENCHMARKS.md), and `surge bench` reads it to check
//! the committer's target.

/// Sets `gauge` to the calling thread's CPU time so far, in seconds.
pub(super) fn publish(gauge: &'static str) {
    if let Some(seconds) = seconds() {
        metrics::gauge!(gauge).set(seconds);
    }
}

fn seconds() -> Option<f64> {
    use nix::time::{clock_gettime, ClockId};
    let now = clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID).ok()?;
    Some(now.tv_sec() as f64 + now.tv_nsec() as f64 / 1e9)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_busy_thread_counts_up() {
        let before = super::seconds().expect("thread CPU clock");
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
        }
        let after = super::seconds().expect("thread CPU clock");
        assert!(after > before, "{before} -> {after} ({x})");
    }
}
