//! A server's pending timers, as the Observer shows them (`noex ps`'s STATE column,
//! the dashboard's details): how many, and when the next is due.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use crate::Pid;
use crate::process::details::{self, DetailGuard, DetailSource};

/// The timers of one server, published as a detail of its process from its first
/// timer on; the guard goes with the server's context.
pub(crate) struct PendingTimers {
    timers: Arc<Timers>,
    _shown: DetailGuard,
}

#[derive(Default)]
struct Timers {
    next_id: std::sync::atomic::AtomicU64,
    /// Each pending timer: its number, when it is next due, and its period if it
    /// repeats. A handful per server, so a list.
    due: Mutex<Vec<(u64, Instant, Option<Duration>)>>,
}

impl Timers {
    fn due(&self) -> MutexGuard<'_, Vec<(u64, Instant, Option<Duration>)>> {
        self.due.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl PendingTimers {
    pub(crate) fn new(pid: Pid) -> Self {
        let timers = Arc::new(Timers::default());
        let shown = details::publish(pid, timers.clone());
        PendingTimers {
            timers,
            _shown: shown,
        }
    }

    /// Records a timer due at `at` (then every `period`, if given); it counts as
    /// pending until the returned entry drops, when it fires or is cancelled.
    pub(crate) fn add(&self, at: Instant, period: Option<Duration>) -> PendingTimer {
        let id = self
            .timers
            .next_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.timers.due().push((id, at, period));
        PendingTimer {
            timers: self.timers.clone(),
            id,
        }
    }
}

/// One pending timer, held by its task.
pub(crate) struct PendingTimer {
    timers: Arc<Timers>,
    id: u64,
}

impl PendingTimer {
    /// A repeating timer has fired: it is next due a period later.
    pub(crate) fn rearmed(&self, at: Instant) {
        if let Some(entry) = self
            .timers
            .due()
            .iter_mut()
            .find(|entry| entry.0 == self.id)
        {
            entry.1 = at;
        }
    }
}

impl Drop for PendingTimer {
    fn drop(&mut self) {
        self.timers.due().retain(|entry| entry.0 != self.id);
    }
}

impl DetailSource for Timers {
    fn state(&self) -> Option<String> {
        let due = self.due();
        let next = due.iter().map(|entry| entry.1).min()?;
        let in_ms = next.saturating_duration_since(Instant::now()).as_millis();
        let count = due.len();
        let timers = if count == 1 { "timer" } else { "timers" };
        Some(format!("{count} {timers}, next in {}", readable_ms(in_ms)))
    }
}

/// `850 ms`, `1.2 s`, `3 min`.
fn readable_ms(ms: u128) -> String {
    match ms {
        0..1000 => format!("{ms} ms"),
        1000..60_000 => format!("{:.1} s", ms as f64 / 1000.0),
        _ => format!("{} min", ms / 60_000),
    }
}
