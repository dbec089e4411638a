//! What the soak measures besides calls: resident memory, live tasks, and the
//! lifecycle events (restarts, escalations) counted as they happen.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;

use noex::events::{self, EventKind};
use tokio::sync::oneshot;

use super::tree::CRASH_MESSAGE;

/// Resident set size of this OS process, in KiB (`/proc/self/statm`, as the memory
/// bench reads it).
pub(crate) fn rss_kb() -> u64 {
    let Ok(statm) = std::fs::read_to_string("/proc/self/statm") else {
        return 0;
    };
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|field| field.parse().ok())
        .unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as u64;
    pages * page / 1024
}

/// The resident set once the allocator has given back what it keeps of freed memory:
/// what is live. glibc keeps freed memory for reuse, so without the trim a process
/// that once had a busy moment stays at that size, leak or not; the start and the
/// end of the soak (both with no load) compare only after it.
pub(crate) fn live_rss_kb() -> u64 {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free memory to the system.
    unsafe {
        libc::malloc_trim(0);
    }
    rss_kb()
}

/// Bytes the allocator has handed out and not had back, in KiB (glibc only): unlike
/// the resident set, it does not include freed memory the allocator keeps, so it
/// tells a leak from fragmentation.
pub(crate) fn heap_kb() -> Option<u64> {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallinfo2 only reads the allocator's counters.
        let info = unsafe { libc::mallinfo2() };
        Some(info.uordblks as u64 / 1024)
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    None
}

/// Tasks alive on the current tokio runtime.
pub(crate) fn alive_tasks() -> usize {
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
}

/// Lifecycle events counted while the soak runs.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct EventCounts {
    /// `Restarted` events of the tree's processes (each child a supervisor restarted,
    /// also the siblings of a one_for_all or rest_for_one group).
    pub restarts: u64,
    /// `MaxRestartsExceeded`: a supervisor gave up.
    pub escalations: u64,
    /// Events the counter missed because it fell behind (0 unless the machine starves
    /// its thread).
    pub lagged: u64,
}

/// Counts events on a thread of its own, so it keeps up with the stream whatever
/// the runtime's two workers are busy with.
pub(crate) struct EventCounter {
    stop: oneshot::Sender<()>,
    thread: JoinHandle<EventCounts>,
    /// Every event seen so far, as it goes.
    seen: Arc<AtomicU64>,
}

impl EventCounter {
    pub(crate) fn start() -> EventCounter {
        // Subscribed here, before this returns: nothing from now on is missed.
        let mut stream = events::subscribe();
        let (stop, mut stopped) = oneshot::channel::<()>();
        let seen = Arc::new(AtomicU64::new(0));
        let seeing = Arc::clone(&seen);
        let thread = std::thread::Builder::new()
            .name("chaos-events".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a runtime for the event counter");
                runtime.block_on(async move {
                    let mut counts = EventCounts::default();
                    loop {
                        tokio::select! {
                            biased;
                            _ = &mut stopped => break,
                            event = stream.recv() => {
                                seeing.fetch_add(1, Ordering::Relaxed);
                                count(&mut counts, event);
                            }
                        }
                    }
                    while let Some(event) = stream.try_recv() {
                        count(&mut counts, event);
                    }
                    counts
                })
            })
            .expect("the event counter's thread");
        EventCounter { stop, thread, seen }
    }

    /// Events seen so far.
    pub(crate) fn seen(&self) -> u64 {
        self.seen.load(Ordering::Relaxed)
    }

    pub(crate) fn stop(self) -> EventCounts {
        let _ = self.stop.send(());
        self.thread.join().expect("the event counter")
    }
}

fn count(counts: &mut EventCounts, event: Result<noex::observer::LifecycleEvent, events::Lagged>) {
    match event {
        Ok(event) if event.system => {}
        Ok(event) => match event.kind {
            EventKind::Restarted { .. } => counts.restarts += 1,
            EventKind::MaxRestartsExceeded { .. } => counts.escalations += 1,
            _ => {}
        },
        Err(lagged) => counts.lagged += lagged.dropped,
    }
}

/// Keeps the soak's own crashes (hundreds of them) off stderr; any other panic is
/// reported by the hook that was there before.
pub(crate) fn quiet_induced_crashes() {
    let previous: Arc<dyn Fn(&std::panic::PanicHookInfo<'_>) + Send + Sync> =
        Arc::from(std::panic::take_hook());
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied());
        if message != Some(CRASH_MESSAGE) {
            previous(info);
        }
    }));
}
