//! The table at the end of a run: medians of this run's samples, and ratios to the
//! floor measured in the same run.
//!
//! Each benchmark records what its routine measured; criterion calls the routine for
//! warm-up first and then once per sample, so a benchmark's last `sample_size`
//! records are exactly criterion's samples, and their median is criterion's median.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

use crate::memory::MemoryRow;

struct Samples {
    sample_size: usize,
    /// Nanoseconds per unit (per call, per cast, per spawned server...), one per routine call.
    per_unit_ns: Vec<f64>,
}

static RECORDS: Mutex<BTreeMap<String, Samples>> = Mutex::new(BTreeMap::new());

/// Record one routine call of benchmark `id`: `units` units of work took `elapsed`.
pub fn record(id: &str, sample_size: usize, units: u64, elapsed: Duration) {
    let mut records = RECORDS.lock().expect("records");
    let samples = records.entry(id.to_string()).or_insert_with(|| Samples {
        sample_size,
        per_unit_ns: Vec::new(),
    });
    samples
        .per_unit_ns
        .push(elapsed.as_nanos() as f64 / units.max(1) as f64);
}

/// The median of benchmark `id`'s samples, in ns per unit, if it ran.
pub fn median(id: &str) -> Option<f64> {
    let records = RECORDS.lock().expect("records");
    let samples = records.get(id)?;
    let skip = samples
        .per_unit_ns
        .len()
        .saturating_sub(samples.sample_size);
    let mut values: Vec<f64> = samples.per_unit_ns[skip..].to_vec();
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    Some(if values.len().is_multiple_of(2) {
        (values[middle - 1] + values[middle]) / 2.0
    } else {
        values[middle]
    })
}

pub const LIBRARIES: [&str; 5] = ["tokio_bare", "noex", "ractor", "kameo", "actix"];

/// One workload's row: the benchmark id prefix and how to show its unit.
struct Row {
    label: &'static str,
    group: &'static str,
    flavor: &'static str,
}

const ROWS: [Row; 8] = [
    Row {
        label: "call round trip, current-thread",
        group: "call_round_trip",
        flavor: "current_thread",
    },
    Row {
        label: "call round trip, multi-thread",
        group: "call_round_trip",
        flavor: "multi_thread",
    },
    Row {
        label: "cast (per message), current-thread",
        group: "cast_throughput",
        flavor: "current_thread",
    },
    Row {
        label: "cast (per message), multi-thread",
        group: "cast_throughput",
        flavor: "multi_thread",
    },
    Row {
        label: "spawn (per server), current-thread",
        group: "spawn",
        flavor: "current_thread",
    },
    Row {
        label: "spawn (per server), multi-thread",
        group: "spawn",
        flavor: "multi_thread",
    },
    Row {
        label: "restart latency, current-thread",
        group: "restart",
        flavor: "current_thread",
    },
    Row {
        label: "restart latency, multi-thread",
        group: "restart",
        flavor: "multi_thread",
    },
];

/// Marks actix's restart cells: it cannot restart after a crash, and what it can do
/// instead is given under the table, not in it.
const IN_PLACE: &str = "†";

fn time(ns: f64) -> String {
    if ns >= 1_000_000.0 {
        format!("{:.2} ms", ns / 1_000_000.0)
    } else if ns >= 10_000.0 {
        format!("{:.1} µs", ns / 1_000.0)
    } else if ns >= 1_000.0 {
        format!("{:.2} µs", ns / 1_000.0)
    } else {
        format!("{ns:.1} ns")
    }
}

fn cell(value: Option<f64>, floor: Option<f64>, show: impl Fn(f64) -> String) -> String {
    match (value, floor) {
        (Some(value), Some(floor)) => format!("{} ({:.2}x)", show(value), value / floor),
        (Some(value), None) => show(value),
        (None, _) => "—".to_string(),
    }
}

/// The markdown tables for BENCHMARKS.md.
pub fn render(memory: &[MemoryRow]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| workload | {} |",
        LIBRARIES
            .join(" | ")
            .replace("tokio_bare", "tokio bare (floor)")
    );
    let _ = writeln!(out, "|---|{}", "---|".repeat(LIBRARIES.len()));
    // actix's restart-in-place figures, by row label.
    let mut in_place: Vec<(&str, String)> = Vec::new();
    for row in &ROWS {
        let id = |library: &str| format!("{}/{}/{}", row.group, library, row.flavor);
        let floor = median(&id("tokio_bare"));
        if LIBRARIES
            .iter()
            .all(|library| median(&id(library)).is_none())
        {
            continue;
        }
        let cells: Vec<String> = LIBRARIES
            .iter()
            .map(|library| {
                let shown = cell(median(&id(library)), floor, time);
                match (row.group, *library) {
                    ("restart", "actix") if shown != "—" => {
                        in_place.push((row.label, shown));
                        format!("n/a {IN_PLACE}")
                    }
                    _ => shown,
                }
            })
            .collect();
        let _ = writeln!(out, "| {} | {} |", row.label, cells.join(" | "));
    }
    if !memory.is_empty() {
        let floor = memory
            .iter()
            .find(|row| row.library == "tokio_bare")
            .map(|row| row.bytes_per_server);
        let cells: Vec<String> = LIBRARIES
            .iter()
            .map(|library| {
                let bytes = memory
                    .iter()
                    .find(|row| row.library == *library)
                    .map(|row| row.bytes_per_server);
                cell(bytes, floor, |b| format!("{b:.0} B"))
            })
            .collect();
        let _ = writeln!(
            out,
            "| idle memory (per server, {}k servers) | {} |",
            memory[0].servers / 1000,
            cells.join(" | ")
        );
    }

    if !in_place.is_empty() {
        let figures: Vec<String> = in_place
            .iter()
            .map(|(label, shown)| {
                format!(
                    "{shown} ({})",
                    label.trim_start_matches("restart latency, ")
                )
            })
            .collect();
        let _ = writeln!(
            out,
            "\n{IN_PLACE} actix cannot restart after a crash (a panic is not caught), so this row \
             has no figure for it. What it can do instead, an actor that stops itself and is \
             restarted in place (same value, same mailbox), takes {}: not the operation the \
             other columns time.",
            figures.join(" and ")
        );
    }

    let observer: Vec<(&str, &str)> = vec![
        (
            "call round trip, current-thread",
            "call_round_trip/{}/current_thread",
        ),
        (
            "call round trip, multi-thread",
            "call_round_trip/{}/multi_thread",
        ),
        (
            "cast (per message), current-thread",
            "cast_throughput/{}/current_thread",
        ),
        (
            "cast (per message), multi-thread",
            "cast_throughput/{}/multi_thread",
        ),
    ];
    let rows: Vec<String> = observer
        .iter()
        .filter_map(|(label, pattern)| {
            let id = |library: &str| pattern.replace("{}", library);
            let floor = median(&id("tokio_bare"));
            let counted = median(&id("tokio_bare_counted"))?;
            let noex = median(&id("noex"));
            Some(format!(
                "| {label} | {} | {} | {} |",
                cell(floor, floor, time),
                cell(Some(counted), floor, time),
                cell(noex, floor, time)
            ))
        })
        .collect();
    if !rows.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "| Observer's share | tokio bare (floor) | floor + noex's counters | noex |"
        );
        let _ = writeln!(out, "|---|---|---|---|");
        for row in rows {
            let _ = writeln!(out, "{row}");
        }
    }

    let snapshots: Vec<String> = [10_000u64, 100_000]
        .iter()
        .filter_map(|servers| {
            let ns = median(&format!("observer_snapshot/noex/{servers}"))?;
            Some(format!(
                "| `noex::observer::snapshot()`, {}k servers | {} | {:.0} ns per server |",
                servers / 1000,
                time(ns),
                ns / *servers as f64
            ))
        })
        .collect();
    if !snapshots.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(out, "| noex only | median | per server |");
        let _ = writeln!(out, "|---|---|---|");
        for row in snapshots {
            let _ = writeln!(out, "{row}");
        }
    }
    out
}
