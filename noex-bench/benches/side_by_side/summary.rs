//! The table at the end of a run: medians of this run's samples, and ratios to the
//! floor measured in the same run.
//!
//! Each benchmark records what its routine measured; criterion calls the routine for
//! warm-up first and then once per sample, so a benchmark's last `sample_size`
//! records are exactly criterion's samples, and their median is criterion's median.

use std::collections::BTreeMap;
use std::fmt::{Display, Write as _};
use std::sync::Mutex;
use std::time::Duration;

use crate::contender::{FLOOR, Flavor, LIBRARIES};
use crate::memory::{MIB, MemoryRow, SkynetMemoryRow};

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

/// A benchmark's id, as criterion shows it and as it is recorded here:
/// `call_round_trip/noex/current_thread`.
pub fn id(workload: &str, library: &str, case: impl Display) -> String {
    format!("{workload}/{library}/{case}")
}

/// The timed workloads, in the table's order: the label of their rows, and their
/// benchmark group. Each has a row per runtime flavour.
const WORKLOADS: [(&str, &str); 7] = [
    ("call round trip", "call_round_trip"),
    ("cast (per message)", "cast_throughput"),
    ("cast, 2M from one task (per message)", "cast_one_task"),
    ("spawn (per server)", "spawn"),
    ("restart latency", "restart"),
    ("skynet, 1M leaves (whole run)", "skynet"),
    ("ring, 10k actors (per hop)", "ring"),
];

/// The workloads the Observer's share is shown for: messaging, where it counts.
const OBSERVED: [&str; 3] = ["call_round_trip", "cast_throughput", "cast_one_task"];

/// The restart storm's largest size, shown as a whole storm as well.
const STORM_WHOLE: usize = 100_000;

/// A flavour as a row label shows it: `current-thread`.
fn flavor_label(flavor: Flavor) -> String {
    flavor.as_str().replace('_', "-")
}

/// One row of the timed table.
struct Row {
    label: String,
    group: &'static str,
    /// The benchmark's case: the flavour, and for the storm its size.
    case: String,
    /// The row shows the median per unit times this (1, or a whole storm's restarts).
    scale: f64,
}

/// Every row of the timed workloads, in order.
fn rows() -> Vec<Row> {
    let mut rows: Vec<Row> = WORKLOADS
        .into_iter()
        .flat_map(|(workload, group)| {
            Flavor::ALL.map(move |flavor| Row {
                label: format!("{workload}, {}", flavor_label(flavor)),
                group,
                case: flavor.as_str().to_string(),
                scale: 1.0,
            })
        })
        .collect();
    for flavor in Flavor::ALL {
        rows.push(Row {
            label: format!(
                "restart storm, {}k children (until all answer), {}",
                STORM_WHOLE / 1000,
                flavor_label(flavor)
            ),
            group: "restart_storm",
            case: crate::storm_case(flavor, STORM_WHOLE),
            scale: STORM_WHOLE as f64,
        });
    }
    for children in crate::STORM_CHILDREN {
        for flavor in Flavor::ALL {
            rows.push(Row {
                label: format!(
                    "restart storm (per restart), {children} children, {}",
                    flavor_label(flavor)
                ),
                group: "restart_storm",
                case: crate::storm_case(flavor, children),
                scale: 1.0,
            });
        }
    }
    rows
}

/// Marks actix's restart cells: it cannot restart after a crash, and what it can do
/// instead is given under the table, not in it.
const IN_PLACE: &str = "†";

fn time(ns: f64) -> String {
    if ns >= 1_000_000_000.0 {
        format!("{:.2} s", ns / 1_000_000_000.0)
    } else if ns >= 1_000_000.0 {
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
pub fn render(memory: &[MemoryRow], skynet_memory: &[SkynetMemoryRow]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| workload | {} |",
        LIBRARIES.join(" | ").replace(FLOOR, "tokio bare (floor)")
    );
    let _ = writeln!(out, "|---|{}", "---|".repeat(LIBRARIES.len()));
    // actix's restart-in-place figures, one per flavour.
    let mut in_place: Vec<String> = Vec::new();
    for Row {
        label,
        group,
        case,
        scale,
        ..
    } in rows()
    {
        let median_of = |library: &str| median(&id(group, library, &case)).map(|ns| ns * scale);
        let medians = LIBRARIES.map(median_of);
        if medians.iter().all(Option::is_none) {
            continue;
        }
        let floor = median_of(FLOOR);
        let cells: Vec<String> = LIBRARIES
            .iter()
            .zip(medians)
            .map(|(library, value)| {
                let shown = cell(value, floor, time);
                if group.starts_with("restart") && *library == "actix" && value.is_some() {
                    in_place.push(format!("{shown} ({label})"));
                    format!("n/a {IN_PLACE}")
                } else {
                    shown
                }
            })
            .collect();
        let _ = writeln!(out, "| {label} | {} |", cells.join(" | "));
    }
    if !memory.is_empty() {
        let bytes = |library: &str| {
            memory
                .iter()
                .find(|row| row.library == library)
                .map(|row| row.bytes_per_server)
        };
        let floor = bytes(FLOOR);
        let cells: Vec<String> = LIBRARIES
            .iter()
            .map(|library| cell(bytes(library), floor, |b| format!("{b:.0} B")))
            .collect();
        let _ = writeln!(
            out,
            "| idle memory (per server, {}k servers) | {} |",
            memory[0].servers / 1000,
            cells.join(" | ")
        );
    }
    for flavor in Flavor::ALL {
        let peak = |library: &str| {
            skynet_memory
                .iter()
                .find(|row| row.library == library && row.flavor == flavor)
                .map(|row| row.peak_bytes as f64)
        };
        if LIBRARIES.iter().all(|library| peak(library).is_none()) {
            continue;
        }
        let floor = peak(FLOOR);
        let cells: Vec<String> = LIBRARIES
            .iter()
            .map(|library| cell(peak(library), floor, |b| format!("{:.0} MiB", b / MIB)))
            .collect();
        let _ = writeln!(
            out,
            "| skynet peak memory (VmHWM), {} | {} |",
            flavor_label(flavor),
            cells.join(" | ")
        );
    }

    if !in_place.is_empty() {
        let _ = writeln!(
            out,
            "\n{IN_PLACE} actix cannot restart after a crash (a panic is not caught), so this row \
             has no figure for it. What it can do instead, an actor that stops itself and is \
             restarted in place (same value, same mailbox), takes {}: not the operation the \
             other columns time.",
            in_place.join("; ")
        );
    }

    let rows: Vec<String> = rows()
        .into_iter()
        .filter(|row| OBSERVED.contains(&row.group))
        .filter_map(
            |Row {
                 label, group, case, ..
             }| {
                let median_of = |library: &str| median(&id(group, library, &case));
                let floor = median_of(FLOOR);
                let counted = median_of("tokio_bare_counted")?;
                let noex = median_of("noex");
                Some(format!(
                    "| {label} | {} | {} | {} |",
                    cell(floor, floor, time),
                    cell(Some(counted), floor, time),
                    cell(noex, floor, time)
                ))
            },
        )
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

    let snapshots: Vec<String> = crate::SNAPSHOT_SERVERS
        .iter()
        .filter_map(|servers| {
            let ns = median(&id("observer_snapshot", "noex", servers))?;
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
