//! Servers' pending timers, as the Observer shows them (`noex ps`'s STATE column,
//! the dashboard's details): how many, and when the next is due.
//!
//! Kept beside the processes, not in their contexts: a server's task is sized to
//! tokio's 256-byte class, and a field for the few servers that set timers would
//! push every server's into the next one. A server's timers are a detail of its
//! process from its first pending timer to its last.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use crate::Pid;
use crate::process::PidHasher;
use crate::process::details::{self, DetailGuard, DetailSource};

/// The servers with pending timers, each with its list and the guard that shows it.
type Pending = HashMap<u64, (Arc<Timers>, DetailGuard), BuildHasherDefault<PidHasher>>;

static PENDING: Mutex<Option<Pending>> = Mutex::new(None);
static NEXT_TIMER: AtomicU64 = AtomicU64::new(1);

fn pending() -> MutexGuard<'static, Option<Pending>> {
    PENDING.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One server's pending timers: each with its number, when it is next due, and its
/// period if it repeats. A handful per server, so a list.
#[derive(Default)]
struct Timers {
    due: Mutex<Vec<(u64, Instant, Option<Duration>)>>,
}

impl Timers {
    fn due(&self) -> MutexGuard<'_, Vec<(u64, Instant, Option<Duration>)>> {
        self.due.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Records a timer of the server `pid` due at `at` (then every `period`, if given);
/// it counts as pending until the returned entry drops, when it fires or is
/// cancelled.
pub(crate) fn add(pid: Pid, at: Instant, period: Option<Duration>) -> PendingTimer {
    let id = NEXT_TIMER.fetch_add(1, Ordering::Relaxed);
    let mut pending = pending();
    let (timers, _) = pending
        .get_or_insert_with(Pending::default)
        .entry(pid.0)
        .or_insert_with(|| {
            let timers = Arc::new(Timers::default());
            let shown = details::publish(pid, timers.clone());
            (timers, shown)
        });
    // Under the table's lock, so the last timer's removal cannot slip in between.
    timers.due().push((id, at, period));
    PendingTimer {
        timers: timers.clone(),
        pid,
        id,
    }
}

/// One pending timer, held by its task.
pub(crate) struct PendingTimer {
    timers: Arc<Timers>,
    pid: Pid,
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
        let now_empty = {
            let mut due = self.timers.due();
            due.retain(|entry| entry.0 != self.id);
            due.is_empty()
        };
        if now_empty {
            let mut pending = pending();
            let Some(table) = pending.as_mut() else {
                return;
            };
            // Still empty, and still this list: no timer was added meanwhile.
            if let Some((timers, _)) = table.get(&self.pid.0)
                && Arc::ptr_eq(timers, &self.timers)
                && timers.due().is_empty()
            {
                table.remove(&self.pid.0);
            }
        }
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
