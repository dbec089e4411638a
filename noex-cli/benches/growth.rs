//! Growth with the number of processes: for N idle supervised servers (10, 1k, 100k,
//! 1M), what one spawn costs, the resident memory per process, one `snapshot` request,
//! one windowed `table` request (200 rows), and `noex ps --json` end to end.
//!
//! `cargo bench -p noex-cli --bench growth` prints a markdown table and writes
//! `growth.csv` and `growth.svg` beside this file (BENCHMARKS.md shows both). Sizes can
//! be given after `--`, e.g. `-- 10 1000` for a quick run (which overwrites both files);
//! `-- --plot` only draws `growth.svg` and prints the table again from `growth.csv`.
//!
//! Each size runs in a fresh process (this binary, run again with `NOEX_GROWTH_CHILD=N`),
//! so its memory figures start clean and the previous application is gone.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use noex::agent::{self, AgentOptions};
use noex::supervisor::{self, ChildSpec, SupervisorSpec};
use noex_agent::client::Client;
use noex_agent::table::TableQuery;
use noex_cli::demo::Idle;
use plotters::prelude::*;

const SIZES: [usize; 4] = [10, 1_000, 100_000, 1_000_000];
const CHILD: &str = "NOEX_GROWTH_CHILD";

/// One size's figures; times in nanoseconds, memory in bytes.
#[derive(Clone, Copy, Debug)]
struct Row {
    n: usize,
    spawn_ns: f64,
    rss_bytes: f64,
    snapshot_ns: f64,
    table_ns: f64,
    ps_ns: f64,
}

const CSV_HEADER: &str = "n,spawn_ms,spawn_ns_per_process,rss_bytes,rss_bytes_per_process,\
snapshot_ms,snapshot_ns_per_process,table_ms,table_ns_per_process,ps_json_ms,ps_json_ns_per_process";

impl Row {
    fn to_line(self) -> String {
        format!(
            "{} {} {} {} {} {}",
            self.n, self.spawn_ns, self.rss_bytes, self.snapshot_ns, self.table_ns, self.ps_ns
        )
    }

    fn from_line(line: &str) -> Option<Row> {
        let mut fields = line.split_whitespace();
        let n = fields.next()?.parse().ok()?;
        let mut next = || fields.next()?.parse::<f64>().ok();
        Some(Row {
            n,
            spawn_ns: next()?,
            rss_bytes: next()?,
            snapshot_ns: next()?,
            table_ns: next()?,
            ps_ns: next()?,
        })
    }

    /// A line of `growth.csv` (see [`Row::csv`]).
    fn from_csv(line: &str) -> Option<Row> {
        let fields: Vec<f64> = line
            .split(',')
            .map(|field| field.parse().ok())
            .collect::<Option<_>>()?;
        let &[
            n,
            spawn_ms,
            _,
            rss_bytes,
            _,
            snapshot_ms,
            _,
            table_ms,
            _,
            ps_ms,
            _,
        ] = fields.as_slice()
        else {
            return None;
        };
        Some(Row {
            n: n as usize,
            spawn_ns: spawn_ms * 1e6,
            rss_bytes,
            snapshot_ns: snapshot_ms * 1e6,
            table_ns: table_ms * 1e6,
            ps_ns: ps_ms * 1e6,
        })
    }

    fn per(self, total: f64) -> f64 {
        total / self.n as f64
    }

    fn csv(self) -> String {
        let ms = |ns: f64| ns / 1e6;
        format!(
            "{},{:.6},{:.1},{:.0},{:.1},{:.6},{:.1},{:.6},{:.1},{:.6},{:.1}",
            self.n,
            ms(self.spawn_ns),
            self.per(self.spawn_ns),
            self.rss_bytes,
            self.per(self.rss_bytes),
            ms(self.snapshot_ns),
            self.per(self.snapshot_ns),
            ms(self.table_ns),
            self.per(self.table_ns),
            ms(self.ps_ns),
            self.per(self.ps_ns),
        )
    }
}

fn main() {
    if let Ok(n) = std::env::var(CHILD) {
        child(n.parse().expect("NOEX_GROWTH_CHILD is a number"));
        return;
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `cargo test --benches` runs this without `--bench`: nothing to check, so nothing to do.
    if !args.iter().any(|arg| arg == "--bench") {
        println!("growth: run it with `cargo bench -p noex-cli --bench growth`");
        return;
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches");
    let csv = dir.join("growth.csv");
    let svg = dir.join("growth.svg");
    if args.iter().any(|arg| arg == "--plot") {
        let text = std::fs::read_to_string(&csv).expect("read growth.csv");
        let rows: Vec<Row> = text.lines().skip(1).filter_map(Row::from_csv).collect();
        plot(&rows, &svg).expect("draw growth.svg");
        print_table(&rows);
        println!();
        println!("drew {} from {}", svg.display(), csv.display());
        return;
    }
    let mut sizes: Vec<usize> = args.iter().filter_map(|arg| arg.parse().ok()).collect();
    if sizes.is_empty() {
        sizes = SIZES.to_vec();
    }

    let load_before = loadavg();
    let exe = std::env::current_exe().expect("the bench's own path");
    let mut rows = Vec::new();
    for n in sizes {
        eprintln!("growth: {n} idle servers...");
        let output = Command::new(&exe)
            .env(CHILD, n.to_string())
            .stderr(Stdio::inherit())
            .output()
            .expect("run the bench again for one size");
        assert!(output.status.success(), "the run for {n} failed");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let row = stdout
            .lines()
            .find_map(Row::from_line)
            .unwrap_or_else(|| panic!("no figures from the run for {n}: {stdout}"));
        rows.push(row);
    }
    let load_after = loadavg();

    let mut text = format!("{CSV_HEADER}\n");
    for row in &rows {
        text.push_str(&row.csv());
        text.push('\n');
    }
    std::fs::write(&csv, text).expect("write growth.csv");
    plot(&rows, &svg).expect("draw growth.svg");

    println!("load average before: {load_before}; after: {load_after}");
    println!();
    print_table(&rows);
    println!();
    println!("wrote {} and {}", csv.display(), svg.display());
}

/// The rows as a markdown table, as BENCHMARKS.md shows them.
fn print_table(rows: &[Row]) {
    println!(
        "| N | spawn, per process | resident memory, per process | snapshot request | \
         table request (200 rows) | `noex ps --json` |"
    );
    println!("|---|---|---|---|---|---|");
    for row in rows {
        println!(
            "| {} | {} | {:.0} B | {} ({}/process) | {} | {} ({}/process) |",
            count(row.n as f64),
            time(row.per(row.spawn_ns)),
            row.per(row.rss_bytes),
            time(row.snapshot_ns),
            time(row.per(row.snapshot_ns)),
            time(row.table_ns),
            time(row.ps_ns),
            time(row.per(row.ps_ns)),
        );
    }
}

/// One size, in a process of its own: prints its [`Row`] as one line on stdout.
fn child(n: usize) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    // The agent makes the directory itself, private to this user.
    let dir = std::env::temp_dir().join(format!("noex-growth-{}", std::process::id()));
    let socket = dir.join("agent.sock");
    agent::start(AgentOptions::new("growth").socket_path(&socket)).unwrap();
    let row = runtime.block_on(measure(n, &socket));
    println!("{}", row.to_line());
    agent::shutdown();
    let _ = std::fs::remove_dir_all(&dir);
    // Dropping a million servers one by one would only add minutes to the run: the
    // process ends, and the application with it.
    std::process::exit(0);
}

async fn measure(n: usize, socket: &Path) -> Row {
    // The demo's `--scale` in small: one `simple_one_for_one` supervisor, N idle children.
    let idle = supervisor::start(
        SupervisorSpec::simple_one_for_one(ChildSpec::worker_with("idle", |(): &()| Idle))
            .name("idle"),
    )
    .await
    .unwrap();
    let rss_before = rss();
    let started = Instant::now();
    for _ in 0..n {
        idle.start_child_with(()).await.unwrap();
    }
    let spawn = started.elapsed();
    let rss_after = rss();
    eprintln!("growth: {n} started in {spawn:.2?}");

    let reps = match n {
        0..=1_000 => 21,
        1_001..=100_000 => 7,
        _ => 3,
    };
    let mut client = Client::connect(socket).await.unwrap();
    let mut snapshots = Vec::new();
    for _ in 0..reps {
        let started = Instant::now();
        let snapshot = client.snapshot().await.unwrap();
        snapshots.push(started.elapsed());
        assert!(snapshot.process_count >= n as u64);
    }
    let mut tables = Vec::new();
    for _ in 0..reps {
        let started = Instant::now();
        let view = client
            .table(TableQuery {
                limit: 200,
                ..Default::default()
            })
            .await
            .unwrap();
        tables.push(started.elapsed());
        assert!(view.processes >= n as u64);
    }
    drop(client);
    let mut ps = Vec::new();
    for _ in 0..reps {
        let started = Instant::now();
        ps_json(socket);
        ps.push(started.elapsed());
    }
    Row {
        n,
        spawn_ns: spawn.as_nanos() as f64,
        rss_bytes: rss_after.saturating_sub(rss_before) as f64,
        snapshot_ns: median(snapshots),
        table_ns: median(tables),
        ps_ns: median(ps),
    }
}

/// `noex ps --json`, a new process that connects, asks, decodes, renders and prints
/// every row (to /dev/null, as `> /dev/null` would).
fn ps_json(socket: &Path) {
    let output = Command::new(env!("CARGO_BIN_EXE_noex"))
        .args(["ps", "--json", "--socket"])
        .arg(socket)
        .stdout(Stdio::null())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn median(mut samples: Vec<Duration>) -> f64 {
    samples.sort();
    samples[samples.len() / 2].as_nanos() as f64
}

/// This process's resident memory (`VmRSS`), in bytes.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|_| "unknown".into())
}

fn time(ns: f64) -> String {
    if ns < 1e3 {
        format!("{ns:.0} ns")
    } else if ns < 1e6 {
        format!("{:.2} µs", ns / 1e3)
    } else if ns < 1e9 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.2} s", ns / 1e9)
    }
}

/// A tick on a log axis of nanoseconds: 1 µs, 10 µs, 100 µs, 1 ms...
fn axis_time(ns: f64) -> String {
    let (value, unit) = if ns < 1e3 {
        (ns, "ns")
    } else if ns < 1e6 {
        (ns / 1e3, "µs")
    } else if ns < 1e9 {
        (ns / 1e6, "ms")
    } else {
        (ns / 1e9, "s")
    };
    format!("{} {unit}", (value * 100.0).round() / 100.0)
}

fn count(n: f64) -> String {
    if n >= 1e6 {
        format!("{}M", n / 1e6)
    } else if n >= 1e3 {
        format!("{}k", n / 1e3)
    } else {
        format!("{n}")
    }
}

/// A line of the plot: its label, its colour, and its total from a row.
type Measure = (&'static str, RGBColor, fn(&Row) -> f64);

/// Two log-log panels against N: nanoseconds per process for each time, and resident
/// bytes per process. SVG, so the labels need no font at build time.
fn plot(rows: &[Row], path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::new(path, (1100, 460)).into_drawing_area();
    root.fill(&WHITE)?;
    let (left, right) = root.split_horizontally(700);
    let x_range = || (5.0f64..2e6).log_scale();

    let times: [Measure; 4] = [
        ("spawn", BLUE, |r| r.spawn_ns),
        ("snapshot request", RED, |r| r.snapshot_ns),
        ("table request (200 rows)", GREEN, |r| r.table_ns),
        ("noex ps --json", MAGENTA, |r| r.ps_ns),
    ];
    let per_process: Vec<f64> = rows
        .iter()
        .flat_map(|row| times.iter().map(move |(_, _, f)| row.per(f(row))))
        .collect();
    let (low, high) = bounds(&per_process);
    let mut chart = ChartBuilder::on(&left)
        .caption("time per process against N (log-log)", ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(x_range(), (low..high).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("N idle supervised servers")
        .y_desc("per process")
        .x_label_formatter(&|x| count(*x))
        .y_label_formatter(&|y| axis_time(*y))
        .draw()?;
    for (label, color, f) in times {
        let points: Vec<(f64, f64)> = rows.iter().map(|r| (r.n as f64, r.per(f(r)))).collect();
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))?
            .label(label)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        chart.draw_series(
            points
                .into_iter()
                .map(|p| Circle::new(p, 3, color.filled())),
        )?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .draw()?;

    let memory: Vec<(f64, f64)> = rows
        .iter()
        .map(|r| (r.n as f64, r.per(r.rss_bytes).max(1.0)))
        .collect();
    let (low, high) = bounds(&memory.iter().map(|p| p.1).collect::<Vec<_>>());
    let mut chart = ChartBuilder::on(&right)
        .caption("resident memory per process", ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(x_range(), (low..high).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("N idle supervised servers")
        .y_desc("bytes per process")
        .x_label_formatter(&|x| count(*x))
        .y_label_formatter(&|y| format!("{y:.0} B"))
        .draw()?;
    chart.draw_series(LineSeries::new(memory.clone(), BLACK.stroke_width(2)))?;
    chart.draw_series(
        memory
            .into_iter()
            .map(|p| Circle::new(p, 3, BLACK.filled())),
    )?;
    root.present()?;
    Ok(())
}

/// A log axis's range around the values, a little wider than they are.
fn bounds(values: &[f64]) -> (f64, f64) {
    let positive = values.iter().copied().filter(|v| *v > 0.0);
    let low = positive.clone().fold(f64::INFINITY, f64::min);
    let high = positive.fold(0.0f64, f64::max);
    if !low.is_finite() || high <= 0.0 {
        return (1.0, 10.0);
    }
    (low / 2.0, high * 2.0)
}
