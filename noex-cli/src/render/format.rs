//! Numbers for people: durations, counts, sizes and clock times, compact enough for
//! narrow columns.
//!
//! Every function floors rather than rounds, so a value never shows as the next unit up
//! before it gets there (59.97 s is `59.9s`, not `60.0s`).

const NS_PER_US: u64 = 1_000;
const NS_PER_MS: u64 = 1_000_000;
const NS_PER_S: u64 = 1_000_000_000;

/// A duration in nanoseconds: `0s`, `420ns`, `17µs`, `850ms`, `12.3s`, `4m 02s`,
/// `3h 12m`, `2d 4h`.
pub fn duration_ns(ns: u64) -> String {
    if ns == 0 {
        return "0s".to_string();
    }
    if ns < NS_PER_US {
        return format!("{ns}ns");
    }
    if ns < NS_PER_MS {
        return format!("{}µs", ns / NS_PER_US);
    }
    if ns < NS_PER_S {
        return format!("{}ms", ns / NS_PER_MS);
    }
    let tenths = ns / (NS_PER_S / 10);
    if tenths < 600 {
        return format!("{}.{}s", tenths / 10, tenths % 10);
    }
    let secs = ns / NS_PER_S;
    match secs {
        s if s < 3_600 => format!("{}m {:02}s", s / 60, s % 60),
        s if s < 86_400 => format!("{}h {:02}m", s / 3_600, (s % 3_600) / 60),
        s => format!("{}d {}h", s / 86_400, (s % 86_400) / 3_600),
    }
}

/// A duration in milliseconds, as [`duration_ns`].
pub fn duration_ms(ms: u64) -> String {
    duration_ns(ms.saturating_mul(NS_PER_MS))
}

/// A count: `999`, `1.2k`, `12.3k`, `123k`, `3.4M`, `5.6G` (then T, P, E).
pub fn count(n: u64) -> String {
    const UNITS: [(u64, &str); 6] = [
        (1_000_000_000_000_000_000, "E"),
        (1_000_000_000_000_000, "P"),
        (1_000_000_000_000, "T"),
        (1_000_000_000, "G"),
        (1_000_000, "M"),
        (1_000, "k"),
    ];
    for (size, suffix) in UNITS {
        if n >= size {
            return scaled(n, size, suffix);
        }
    }
    n.to_string()
}

/// A size in bytes, in powers of 1024: `512B`, `1.5K`, `48.2M`, `1.1G`.
pub fn bytes(n: u64) -> String {
    const UNITS: [(u64, &str); 4] = [
        (1 << 40, "T"),
        (1 << 30, "G"),
        (1 << 20, "M"),
        (1 << 10, "K"),
    ];
    for (size, suffix) in UNITS {
        if n >= size {
            return scaled(n, size, suffix);
        }
    }
    format!("{n}B")
}

/// `n / size` with one decimal below 100 units and none above, floored.
fn scaled(n: u64, size: u64, suffix: &str) -> String {
    let whole = n / size;
    if whole >= 100 {
        return format!("{whole}{suffix}");
    }
    let tenths = (u128::from(n) * 10 / u128::from(size)) % 10;
    format!("{whole}.{tenths}{suffix}")
}

/// Shorten `text` to at most `max` characters, ending in `…` when cut; newlines become
/// spaces so a multi-line panic message stays on its row.
pub fn truncate(text: &str, max: usize) -> String {
    let one_line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let one_line = one_line.trim();
    if one_line.chars().count() <= max {
        return one_line.to_string();
    }
    let mut cut: String = one_line.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// As [`truncate`], for a text of parts (`a; b`) and pieces (`x, y`), such as a
/// process's state (`bucket orders: 40 records, 24.0 KiB, 60 ops/s, 2 subscribers;
/// 1 timer, next in 640 ms`): cut after the last whole piece that fits, so no
/// figure is shown half (`24.0 Ki…` would read as another number), and end in
/// ` …`. A text whose first piece is already too long is cut as [`truncate`] does.
pub fn truncate_between_pieces(text: &str, max: usize) -> String {
    let whole = truncate(text, usize::MAX);
    if whole.chars().count() <= max {
        return whole;
    }
    // The kept text ends with the piece's `,` or `;`, then ` …`.
    let mut cut = None;
    for (chars, (at, c)) in whole.char_indices().enumerate() {
        if chars + 1 + 2 > max {
            break;
        }
        if matches!(c, ',' | ';') && whole[at + 1..].starts_with(' ') {
            cut = Some(at + 1);
        }
    }
    match cut {
        Some(end) => format!("{} …", &whole[..end]),
        None => truncate(&whole, max),
    }
}

/// How clock times are shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeZone {
    /// Coordinated universal time (tests, and platforms where the local offset is unknown).
    Utc,
    /// The machine's local time zone.
    Local,
}

/// A wall-clock time of day with milliseconds, `14:03:27.512`, for milliseconds since
/// the Unix epoch.
pub fn time_of_day(at_ms: u64, zone: TimeZone) -> String {
    let offset_secs = match zone {
        TimeZone::Utc => 0,
        TimeZone::Local => local_offset_secs(at_ms / 1_000),
    };
    let local_ms = i128::from(at_ms) + i128::from(offset_secs) * 1_000;
    let day_ms = local_ms.rem_euclid(86_400_000);
    let (h, m, s, ms) = (
        day_ms / 3_600_000,
        (day_ms / 60_000) % 60,
        (day_ms / 1_000) % 60,
        day_ms % 1_000,
    );
    format!("{h:02}:{m:02}:{s:02}.{ms:03}")
}

/// The local time zone's offset from UTC at `secs` since the epoch (daylight saving
/// time included), asked of the C library (`localtime_r`, through `time`), which reads
/// `TZ` and the system zone.
#[cfg(unix)]
fn local_offset_secs(secs: u64) -> i64 {
    i64::try_from(secs)
        .ok()
        .and_then(|secs| time::OffsetDateTime::from_unix_timestamp(secs).ok())
        .and_then(|at| time::UtcOffset::local_offset_at(at).ok())
        .map_or(0, |offset| i64::from(offset.whole_seconds()))
}

#[cfg(not(unix))]
fn local_offset_secs(_secs: u64) -> i64 {
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn humanised_values() {
        let mut table = String::new();
        let durations_ns = [
            0,
            420,
            17_300,
            850 * NS_PER_MS,
            12_345 * NS_PER_MS,
            59_970 * NS_PER_MS,
            242 * NS_PER_S,
            (3 * 3_600 + 12 * 60 + 59) * NS_PER_S,
            (2 * 86_400 + 4 * 3_600 + 59 * 60) * NS_PER_S,
        ];
        for ns in durations_ns {
            table.push_str(&format!("duration_ns {ns:>22} -> {}\n", duration_ns(ns)));
        }
        for n in [
            0,
            999,
            1_000,
            1_234,
            12_345,
            99_999,
            123_456,
            999_999,
            3_456_789,
            5_600_000_000,
            u64::MAX,
        ] {
            table.push_str(&format!("count       {n:>22} -> {}\n", count(n)));
        }
        for n in [0, 512, 1_536, 50_541_363, 1_181_116_006] {
            table.push_str(&format!("bytes       {n:>22} -> {}\n", bytes(n)));
        }
        crate::render::snapshot!("humanised_values", table);
    }

    #[test]
    fn durations_floor_instead_of_rounding_up() {
        assert_eq!(duration_ns(59_999 * NS_PER_MS), "59.9s");
        assert_eq!(duration_ms(60_000), "1m 00s");
        assert_eq!(duration_ns(999_999), "999µs");
    }

    /// Each unit starts exactly at its first whole value, and the value just below stays
    /// in the smaller unit.
    #[test]
    fn durations_change_unit_exactly_at_the_unit() {
        let cases = [
            (999, "999ns"),
            (NS_PER_US, "1µs"),
            (NS_PER_MS - 1, "999µs"),
            (NS_PER_MS, "1ms"),
            (NS_PER_S - 1, "999ms"),
            (NS_PER_S, "1.0s"),
            (60 * NS_PER_S - 1, "59.9s"),
            (60 * NS_PER_S, "1m 00s"),
            (3_600 * NS_PER_S - 1, "59m 59s"),
            (3_600 * NS_PER_S, "1h 00m"),
            (86_400 * NS_PER_S - 1, "23h 59m"),
            (86_400 * NS_PER_S, "1d 0h"),
        ];
        for (ns, shown) in cases {
            assert_eq!(duration_ns(ns), shown, "{ns} ns");
        }
    }

    #[test]
    fn truncate_cuts_with_an_ellipsis_and_flattens_newlines() {
        assert_eq!(truncate("boom", 10), "boom");
        assert_eq!(truncate("line one\nline two", 12), "line one li…");
        assert_eq!(truncate("abcdef", 4), "abc…");
    }

    #[test]
    fn truncate_between_pieces_never_shows_half_a_figure() {
        let bucket = "bucket orders: 1,234 records, 56.0 KiB, 12 ops/s, 2 subscribers; 1 timer, next in 640 ms";
        assert_eq!(
            truncate_between_pieces(bucket, 66),
            "bucket orders: 1,234 records, 56.0 KiB, 12 ops/s, 2 subscribers; …"
        );
        assert_eq!(
            truncate_between_pieces(bucket, 40),
            "bucket orders: 1,234 records, …",
            "the comma inside 1,234 is no boundary"
        );
        assert_eq!(truncate_between_pieces(bucket, 200), bucket);
        assert_eq!(
            truncate_between_pieces("Open { failures: 3 }", 10),
            "Open { fa…",
            "no boundary that fits: cut as truncate does"
        );
        assert_eq!(truncate_between_pieces("a, b\nc", 10), "a, b c");
    }

    #[test]
    fn time_of_day_in_utc() {
        // 2024-03-01T14:03:27.512Z
        assert_eq!(
            time_of_day(1_709_301_807_512, TimeZone::Utc),
            "14:03:27.512"
        );
    }
}
