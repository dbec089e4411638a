//! What the store and cluster benches share: criterion measures each contender of
//! a row, then the contenders take turns for paired rounds, so that the ratios of
//! a row compare times taken moments apart (a shared machine's load, and a disk's
//! latency, drift over seconds: criterion's figures of two contenders measured a
//! minute apart can differ by 3x for that alone). The tables are made of the
//! rounds: their medians, and the median of the rounds' ratios with their range.

use std::future::Future;
use std::time::Duration;

use criterion::{Criterion, SamplingMode};
use tokio::runtime::Runtime;

/// Samples of every benchmark.
pub const SAMPLES: usize = 10;
/// Paired rounds after criterion's measurements.
pub const ROUNDS: usize = 15;

/// A contender's workload: `routine(iters)` is the time `iters × units`
/// operations took.
pub struct Entry<'a> {
    pub name: &'static str,
    pub units: u64,
    /// Milliseconds an iteration: as many iterations in every sample, measured
    /// for longer.
    pub slow: bool,
    pub routine: Box<dyn FnMut(u64) -> Duration + 'a>,
}

/// How a bench names and paces its rows.
pub struct Bench {
    /// Criterion's group of a row is `{group}/{workload}`.
    pub group: &'static str,
    /// Each round of a contender runs for about this long.
    pub batch: Duration,
    /// The variable that, set, prints how many operations each benchmark ran and
    /// its samples (for profiles).
    pub debug_variable: &'static str,
}

/// A contender's paired rounds of one workload.
#[derive(Default)]
pub struct Rounds {
    /// Each round's time an operation, in nanoseconds.
    pub wall: Vec<f64>,
    /// Each round's CPU time of this process an operation, in nanoseconds.
    pub cpu: Vec<f64>,
    /// What `other_cpu` counted over all the rounds (another process's CPU time).
    pub other_cpu: Duration,
    pub operations: u64,
}

/// What a bench runs on: noex's agent off (called before any other thread
/// starts), a runtime of 2 workers as an app's, and criterion with few resamples
/// and no plots (the analysis, not the measuring, would take most of the run).
pub fn start() -> (Runtime, Criterion) {
    // SAFETY: before any thread of this program starts.
    unsafe { std::env::set_var("NOEX_AGENT", "off") };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let c = Criterion::default()
        .nresamples(1_000)
        .without_plots()
        .configure_from_args();
    (rt, c)
}

/// Runs `future` as a task of `rt` and waits for it.
pub fn run<T: Send + 'static>(rt: &Runtime, future: impl Future<Output = T> + Send + 'static) -> T {
    rt.block_on(rt.spawn(future)).expect("a bench task")
}

impl Bench {
    /// One row: criterion measures each entry in turn, then the entries take turns
    /// for [`ROUNDS`] rounds of about `batch` each. `None` when criterion's filter
    /// left one out. `other_cpu` reads a CPU time to count besides this process's
    /// (a server's), or zero.
    pub fn row(
        &self,
        c: &mut Criterion,
        workload: &'static str,
        entries: &mut [Entry<'_>],
        other_cpu: impl Fn() -> Duration,
    ) -> Option<Vec<Rounds>> {
        let medians: Vec<f64> = entries
            .iter_mut()
            .map(|entry| self.measure(c, workload, entry))
            .collect();
        if medians.iter().any(|m| m.is_nan()) {
            return None;
        }
        let iters: Vec<u64> = entries
            .iter()
            .zip(&medians)
            .map(|(entry, ns)| {
                ((self.batch.as_nanos() as f64 / (ns * entry.units as f64)) as u64).max(1)
            })
            .collect();
        let mut rounds: Vec<Rounds> = entries.iter().map(|_| Rounds::default()).collect();
        for _ in 0..ROUNDS {
            for ((entry, iters), rounds) in entries.iter_mut().zip(&iters).zip(&mut rounds) {
                let operations = iters * entry.units;
                let (cpu, other) = (process_cpu(), other_cpu());
                let elapsed = (entry.routine)(*iters);
                let cpu = process_cpu() - cpu;
                rounds.other_cpu += other_cpu().saturating_sub(other);
                rounds.operations += operations;
                rounds
                    .wall
                    .push(elapsed.as_nanos() as f64 / operations as f64);
                rounds.cpu.push(cpu.as_nanos() as f64 / operations as f64);
            }
        }
        Some(rounds)
    }

    /// Benchmarks an entry with criterion as `group/workload/name`; the median of
    /// its samples, in nanoseconds an operation (NaN when filtered out).
    fn measure(&self, c: &mut Criterion, workload: &'static str, entry: &mut Entry<'_>) -> f64 {
        let mut group = c.benchmark_group(format!("{}/{workload}", self.group));
        group
            .sample_size(SAMPLES)
            .warm_up_time(Duration::from_millis(300));
        if entry.slow {
            group
                .sampling_mode(SamplingMode::Flat)
                .measurement_time(Duration::from_secs(1));
        } else {
            group.measurement_time(Duration::from_millis(600));
        }
        let mut samples = Vec::new();
        let mut operations = 0;
        let units = entry.units;
        group.bench_function(entry.name, |b| {
            b.iter_custom(|iters| {
                operations += iters * units;
                let elapsed = (entry.routine)(iters);
                samples.push(elapsed.as_nanos() as f64 / (iters * units) as f64);
                elapsed
            })
        });
        group.finish();
        if operations == 0 {
            return f64::NAN;
        }
        // The last calls are the measurement's samples; those before, the warm-up's.
        let samples = samples.split_off(samples.len().saturating_sub(SAMPLES));
        if std::env::var_os(self.debug_variable).is_some() {
            eprintln!(
                "{workload}/{}: {operations} operations, samples {samples:?}",
                entry.name
            );
        }
        median(samples)
    }
}

/// CPU time of this process, every thread.
pub fn process_cpu() -> Duration {
    // SAFETY: timespec is plain integers, for which all zeroes is a valid value.
    let mut now: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: clock_gettime only writes the struct it is given, which outlives the call.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut now) };
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

/// A time for the tables: ns, µs or ms.
pub fn time(ns: f64) -> String {
    if ns.is_nan() {
        "–".into()
    } else if ns < 1e3 {
        format!("{ns:.0} ns")
    } else if ns < 1e6 {
        format!("{:.1} µs", ns / 1e3)
    } else {
        format!("{:.2} ms", ns / 1e6)
    }
}

/// The median of the rounds' ratios `a / b`, and their range.
pub fn ratio(a: Option<&Vec<f64>>, b: Option<&Vec<f64>>) -> String {
    let (Some(a), Some(b)) = (a, b) else {
        return "–".into();
    };
    let ratios: Vec<f64> = a.iter().zip(b).map(|(a, b)| a / b).collect();
    let low = ratios.iter().copied().fold(f64::INFINITY, f64::min);
    let high = ratios.iter().copied().fold(0.0, f64::max);
    format!("{:.2}x ({low:.2}–{high:.2})", median(ratios))
}
