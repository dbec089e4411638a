//! The bucket's process: it gives the bucket a place in the supervision tree and
//! says, in the Observer, how the bucket is doing.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use noex::error::BoxError;
use noex::gen_server::{Context, GenServer, Reply};
use noex::process::Description;
use parking_lot::Mutex;

use super::Bucket;

pub(crate) struct BucketServer {
    bucket: Arc<Bucket>,
    _shown: Option<Description>,
}

impl BucketServer {
    pub(crate) fn new(bucket: Arc<Bucket>) -> BucketServer {
        BucketServer {
            bucket,
            _shown: None,
        }
    }
}

impl GenServer for BucketServer {
    type Call = ();
    type Cast = ();
    type Reply = ();

    async fn init(&mut self, ctx: &mut Context<Self>) -> Result<(), BoxError> {
        let bucket = self.bucket.clone();
        let rate = OpsRate::new(bucket.operations());
        self._shown = Some(noex::process::describe(ctx.pid(), move || {
            Some(describe(&bucket, rate.per_second(bucket.operations())))
        }));
        Ok(())
    }

    async fn handle_call(&mut self, (): (), _: &mut Context<Self>) -> Reply<()> {
        Reply::Now(())
    }

    fn format_status(&self) -> Option<String> {
        let stats = self.bucket.stats();
        let schema = &self.bucket.schema;
        let mut lines = vec![
            format!("bucket {} (key: {})", stats.name, schema.key),
            format!(
                "records: {}, bytes: {}, reads: {}, writes: {}, subscribers: {}",
                stats.records, stats.bytes, stats.reads, stats.writes, stats.subscribers
            ),
        ];
        for (name, field) in schema.def.fields() {
            lines.push(format!("  {name}: {}", describe_field(field)));
        }
        Some(lines.join("\n"))
    }
}

/// The bucket's operations per second, worked out when the Observer asks (no timer
/// in the process): over the second or so since an earlier asking, or, asked for the
/// first time, since the process started.
struct OpsRate {
    /// (when, operations so far), oldest first; the first is the process's start
    /// until newer ones make it stale.
    samples: Mutex<VecDeque<(Instant, u64)>>,
}

/// The shortest span a rate is taken over, so two quick askings do not divide by
/// almost nothing.
const RATE_SPAN: Duration = Duration::from_secs(1);

impl OpsRate {
    fn new(operations: u64) -> OpsRate {
        OpsRate {
            samples: Mutex::new(VecDeque::from([(Instant::now(), operations)])),
        }
    }

    fn per_second(&self, operations: u64) -> u64 {
        let now = Instant::now();
        let mut samples = self.samples.lock();
        // The newest sample at least RATE_SPAN old; else the oldest there is.
        let base = samples
            .iter()
            .rposition(|(at, _)| now.duration_since(*at) >= RATE_SPAN)
            .unwrap_or(0);
        samples.drain(..base);
        let (at, then) = samples[0];
        let elapsed = now.duration_since(at).as_secs_f64();
        let rate = if elapsed > 0.0 {
            (operations.saturating_sub(then) as f64 / elapsed).round() as u64
        } else {
            0
        };
        if samples.len() < 64 {
            samples.push_back((now, operations));
        }
        rate
    }
}

/// `bucket users: 1,234 records, 56.0 KiB, 120 ops/s, 3 subscribers`.
fn describe(bucket: &Bucket, per_second: u64) -> String {
    let (records, bytes) = {
        let data = bucket.data.read();
        (data.len(), data.bytes())
    };
    let subscribers = bucket.subscribers.load(Ordering::Relaxed);
    format!(
        "bucket {}: {} {}, {}, {per_second} ops/s, {subscribers} {}",
        bucket.name,
        thousands(records),
        if records == 1 { "record" } else { "records" },
        noex::process::readable_bytes(bytes),
        if subscribers == 1 {
            "subscriber"
        } else {
            "subscribers"
        },
    )
}

fn describe_field(field: &crate::schema::Field) -> String {
    let mut parts = vec![field.kind().as_str().to_string()];
    let flags = [
        (field.required, "required"),
        (field.unique, "unique"),
        (field.index, "index"),
    ];
    parts.extend(
        flags
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, name)| name.to_string()),
    );
    if let Some(generated) = field.generated {
        parts.push(format!("generated {generated:?}").to_lowercase());
    }
    if let Some(default) = &field.default {
        parts.push(format!("default {default}"));
    }
    // The value rules, as `define_bucket` was given them.
    if let Some(values) = &field.one_of {
        let values: Vec<String> = values.iter().map(ToString::to_string).collect();
        parts.push(format!("one of {}", values.join(" | ")));
    }
    let bounds = [
        (field.min, "min"),
        (field.max, "max"),
        (field.min_length.map(|n| n as f64), "min length"),
        (field.max_length.map(|n| n as f64), "max length"),
    ];
    parts.extend(
        bounds
            .iter()
            .filter_map(|(bound, name)| bound.map(|bound| format!("{name} {bound}"))),
    );
    if let Some(pattern) = &field.pattern {
        parts.push(format!("pattern {pattern}"));
    }
    parts.join(", ")
}

fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
