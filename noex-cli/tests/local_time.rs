//! Clock times in the local zone (`noex events` without `--utc`) follow the `TZ` noex
//! runs with, daylight saving time included.
//!
//! `TZ` is process-wide state, so this is the only test in its binary: nothing else
//! reads the environment or the C library's zone while it changes them.

#![cfg(unix)]

use noex_cli::render::format::{TimeZone, time_of_day};

/// 2024-07-01T12:34:56.789Z: northern summer.
const SUMMER_MS: u64 = 1_719_837_296_789;
/// 2024-01-15T12:34:56.789Z: northern winter.
const WINTER_MS: u64 = 1_705_322_096_789;
/// 2024-07-01T01:15:00.250Z: still the day before west of Greenwich.
const AFTER_MIDNIGHT_MS: u64 = 1_719_796_500_250;

unsafe extern "C" {
    /// POSIX: makes the C library read `TZ` again (it reads it once otherwise).
    fn tzset();
}

/// Zones are POSIX `TZ` rules rather than tz database names, so the test does not need
/// the tz database installed.
fn set_zone(tz: &str) {
    // SAFETY: the only test in this binary (see the header), so no other thread reads
    // the environment or the zone meanwhile.
    unsafe {
        std::env::set_var("TZ", tz);
        tzset();
    }
}

#[test]
fn local_times_are_utc_shifted_by_the_zones_offset_at_that_instant() {
    assert_eq!(time_of_day(SUMMER_MS, TimeZone::Utc), "12:34:56.789");

    // India: +05:30 all year.
    set_zone("IST-5:30");
    assert_eq!(time_of_day(SUMMER_MS, TimeZone::Local), "18:04:56.789");
    assert_eq!(time_of_day(WINTER_MS, TimeZone::Local), "18:04:56.789");

    // Newfoundland standard time: -03:30, so 01:15 UTC is the evening before.
    set_zone("NST3:30");
    assert_eq!(time_of_day(SUMMER_MS, TimeZone::Local), "09:04:56.789");
    assert_eq!(
        time_of_day(AFTER_MIDNIGHT_MS, TimeZone::Local),
        "21:45:00.250"
    );

    // Central Europe: +01:00 in winter, +02:00 from the last Sunday of March to the
    // last Sunday of October. The offset is the one in force at the time shown.
    set_zone("CET-1CEST,M3.5.0,M10.5.0/3");
    assert_eq!(time_of_day(SUMMER_MS, TimeZone::Local), "14:34:56.789");
    assert_eq!(time_of_day(WINTER_MS, TimeZone::Local), "13:34:56.789");

    // UTC stays UTC whatever the local zone.
    assert_eq!(time_of_day(SUMMER_MS, TimeZone::Utc), "12:34:56.789");
}
