//! The clocks: the one the message loop reads twice per message, and the wall clock
//! of timestamps.
//!
//! A coarse monotonic clock (a memory read on Linux, a few ns) instead of the
//! precise one (~20 ns): reading the clock was the largest cost of counting. Its
//! ticks are a millisecond or a few apart, so one short handler may count as 0 or
//! one tick, but summed over many messages the busy time is an unbiased estimate,
//! and a stuck handler (seconds) is seen exactly.
//!
//! Read through the C library (the kernel's vDSO behind it): libc is in every build
//! that has a socket anyway, where a second system-call crate would cost seconds of
//! build time for a nanosecond per read.

/// Monotonic nanoseconds from an arbitrary origin.
#[cfg(target_os = "linux")]
#[inline]
pub(crate) fn now_ns() -> u64 {
    let ts = clock_gettime(libc::CLOCK_MONOTONIC_COARSE);
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Reads a clock that always exists on Linux, so the call cannot fail.
#[cfg(target_os = "linux")]
#[inline]
fn clock_gettime(clock: libc::clockid_t) -> libc::timespec {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts
}

#[cfg(not(target_os = "linux"))]
#[inline]
pub(crate) fn now_ns() -> u64 {
    use std::sync::OnceLock;
    use std::time::Instant;
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    ORIGIN.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

/// Wall-clock milliseconds from the coarse clock (a memory read on Linux, a few ns;
/// ticks a millisecond or a few apart): for the timestamps every start and every
/// event carries, where the precise clock (~25 ns) was a visible part of the cost.
#[cfg(target_os = "linux")]
pub(crate) fn coarse_now_ms() -> u64 {
    let ts = clock_gettime(libc::CLOCK_REALTIME_COARSE);
    ts.tv_sec as u64 * 1000 + ts.tv_nsec as u64 / 1_000_000
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn coarse_now_ms() -> u64 {
    now_ms()
}

pub(crate) use noex_agent::process_start::now_ms;

#[cfg(test)]
mod tests {
    #[test]
    fn the_coarse_clock_is_monotonic_and_advances() {
        let first = super::now_ns();
        std::thread::sleep(std::time::Duration::from_millis(30));
        let second = super::now_ns();
        assert!(second > first);
        assert!(second - first >= 20_000_000, "{}", second - first);
    }
}
