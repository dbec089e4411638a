//! What is remembered about each process between snapshots: message-rate histories
//! for the sparklines, queue growth, restart counts, peak memory, and the warnings
//! (stuck, backlog, crash loop) derived from them.

use std::collections::{HashMap, VecDeque};

use noex_agent::types::{Pid, Snapshot};

use super::{App, Identity, Row};

/// Samples kept per process for its sparkline (one per refresh).
pub const SPARK_LEN: usize = 60;
/// A handler running longer than this is stuck (the agent counts by the same line).
pub use noex_agent::table::STUCK_NS;
/// A queue that grew this many refreshes in a row is a backlog.
pub const BACKLOG_STREAK: u32 = 3;
/// A crash loop: restarts went up in `LOOP_HITS` of the last `LOOP_REFRESHES`
/// refreshes, or `LOOP_HITS` restarts happened within `LOOP_WINDOW_MS`.
pub const LOOP_REFRESHES: usize = 10;
pub const LOOP_HITS: u32 = 3;
pub const LOOP_WINDOW_MS: u64 = 30_000;
/// Restart histories of children not seen for this long are forgotten.
const FORGET_MS: u64 = 120_000;

/// Things an operator would otherwise miss, for one process.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Warnings {
    /// The handler running now has run this long (over [`STUCK_NS`]).
    pub stuck_ns: Option<u64>,
    /// The queue grew this many refreshes in a row (at least [`BACKLOG_STREAK`]).
    pub backlog: Option<u32>,
    /// Restarts within the last [`LOOP_WINDOW_MS`], when it looks like a crash loop.
    pub crash_loop: Option<u32>,
}

impl Warnings {
    pub fn any(&self) -> bool {
        self.stuck_ns.is_some() || self.backlog.is_some() || self.crash_loop.is_some()
    }

    /// For sorting: a crash loop outranks a stuck handler, which outranks a backlog.
    pub(super) fn severity(&self) -> u8 {
        u8::from(self.crash_loop.is_some()) * 4
            + u8::from(self.stuck_ns.is_some()) * 2
            + u8::from(self.backlog.is_some())
    }
}

/// Per-process and per-app histories, kept between snapshots.
#[derive(Clone, Debug, Default)]
pub(super) struct Tracking {
    rates: HashMap<Pid, VecDeque<u64>>,
    /// Last queue length and how many refreshes in a row it grew.
    queues: HashMap<Pid, (u64, u32)>,
    restarts: HashMap<Identity, RestartTrack>,
    app_rates: VecDeque<u64>,
    peak_rss: u64,
}

#[derive(Clone, Debug, Default)]
struct RestartTrack {
    last: u32,
    /// Whether restarts went up, for each of the last refreshes.
    recent: VecDeque<bool>,
    /// When restarts went up, and by how much.
    times: VecDeque<(u64, u32)>,
    seen_at_ms: u64,
}

impl RestartTrack {
    fn observe(&mut self, restarts: u32, at_ms: u64) {
        let grew = restarts > self.last;
        if grew {
            self.times.push_back((at_ms, restarts - self.last));
        }
        self.last = restarts;
        self.seen_at_ms = at_ms;
        self.recent.push_back(grew);
        while self.recent.len() > LOOP_REFRESHES {
            self.recent.pop_front();
        }
        while self
            .times
            .front()
            .is_some_and(|(t, _)| at_ms.saturating_sub(*t) > LOOP_WINDOW_MS)
        {
            self.times.pop_front();
        }
    }

    /// Restarts within the window, if this looks like a crash loop.
    fn crash_loop(&self) -> Option<u32> {
        let within: u32 = self.times.iter().map(|(_, n)| n).sum();
        let hits = self.recent.iter().filter(|grew| **grew).count();
        (within >= LOOP_HITS || hits >= LOOP_HITS as usize).then_some(within)
    }
}

impl App {
    /// The message-rate history of a process, oldest first.
    pub fn rate_history(&self, pid: Pid) -> Option<&VecDeque<u64>> {
        self.tracking.rates.get(&pid)
    }

    /// The app's message rate at each refresh, oldest first.
    pub fn app_rates(&self) -> &VecDeque<u64> {
        &self.tracking.app_rates
    }

    pub fn peak_rss(&self) -> u64 {
        self.tracking.peak_rss
    }

    /// Update the histories and set each row's warnings.
    pub(super) fn track(&mut self, snapshot: &Snapshot, rows: &mut [Row], app_rate: Option<f64>) {
        let at = snapshot.taken_at_ms;
        let tracking = &mut self.tracking;
        let mut rates = HashMap::with_capacity(rows.len());
        let mut queues = HashMap::with_capacity(rows.len());
        for row in rows.iter_mut() {
            let pid = row.pid();
            // Message-rate sparkline.
            let mut history = tracking.rates.remove(&pid).unwrap_or_default();
            if let Some(rate) = row.rate {
                history.push_back(rate.round() as u64);
                while history.len() > SPARK_LEN {
                    history.pop_front();
                }
            }
            if !row.is_supervisor() {
                rates.insert(pid, history);
            }
            // Backlog: a queue that keeps growing.
            if let Some(queue) = row.process.queue_len {
                let streak = match tracking.queues.get(&pid) {
                    Some(&(last, streak)) if queue > last => streak + 1,
                    _ => 0,
                };
                queues.insert(pid, (queue, streak));
                row.warnings.backlog = (streak >= BACKLOG_STREAK).then_some(streak);
            }
            // Stuck: one handler running for too long.
            row.warnings.stuck_ns = row.process.handler_running_ns.filter(|ns| *ns > STUCK_NS);
            // Crash loop: restarts going up again and again.
            let track = tracking
                .restarts
                .entry(row.identity.clone())
                .or_insert_with(|| RestartTrack {
                    last: row.process.restarts,
                    ..RestartTrack::default()
                });
            track.observe(row.process.restarts, at);
            row.warnings.crash_loop = track.crash_loop();
        }
        tracking.rates = rates;
        tracking.queues = queues;
        tracking
            .restarts
            .retain(|_, track| at.saturating_sub(track.seen_at_ms) <= FORGET_MS);
        if let Some(rate) = app_rate {
            tracking.app_rates.push_back(rate.round() as u64);
            while tracking.app_rates.len() > SPARK_LEN {
                tracking.app_rates.pop_front();
            }
        }
        if let Some(rss) = snapshot.memory_rss_bytes {
            tracking.peak_rss = tracking.peak_rss.max(rss);
        }
    }
}

#[cfg(test)]
mod tests {
    use noex_agent::types::Pid;

    use crate::cli::{Layout, Theme};
    use crate::top::state::App;
    use crate::top::testing::{self, CACHE, WORKER_1, WORKER_2, row};

    fn app() -> App {
        testing::app(Layout::Full)
    }

    #[test]
    fn app_rate_counts_only_the_apps_own_servers() {
        let app = app();
        // cache 1234/s + limiter 45/s + worker-2 10/s; the system connection is left out.
        assert_eq!(app.model.as_ref().unwrap().app_rate, Some(1_289.0));
        assert_eq!(app.app_rates().len(), 3);
    }

    #[test]
    fn a_queue_growing_three_refreshes_in_a_row_is_a_backlog() {
        let mut app = App::new(Layout::Full, Theme::Dark, false);
        for k in 0..3 {
            app.ingest(testing::snapshot(k));
            assert_eq!(row(&app, WORKER_2).warnings.backlog, None, "after {k}");
        }
        app.ingest(testing::snapshot(3));
        assert_eq!(row(&app, WORKER_2).warnings.backlog, Some(3));
        // The queue stops growing: the warning goes.
        app.ingest(testing::snapshot(3));
        assert_eq!(row(&app, WORKER_2).warnings.backlog, None);
    }

    #[test]
    fn a_handler_running_over_a_second_is_stuck() {
        let app = app();
        assert_eq!(row(&app, CACHE).warnings.stuck_ns, Some(2_100_000_000));
        // 1.5 ms is busy, not stuck.
        assert_eq!(row(&app, Pid(4)).warnings.stuck_ns, None);
    }

    #[test]
    fn restarts_going_up_again_and_again_across_new_pids_is_a_crash_loop() {
        let mut app = App::new(Layout::Full, Theme::Dark, false);
        app.ingest(testing::snapshot(0));
        app.ingest(testing::snapshot(1));
        app.ingest(testing::snapshot(2));
        assert_eq!(row(&app, Pid(22)).warnings.crash_loop, None, "two restarts");
        app.ingest(testing::snapshot(3));
        assert_eq!(row(&app, WORKER_1).warnings.crash_loop, Some(3));
        assert_eq!(app.totals.crash_loop, 1);
        assert_eq!(app.totals.warnings(), 3);
    }

    #[test]
    fn a_single_restart_is_not_a_crash_loop() {
        let mut app = App::new(Layout::Full, Theme::Dark, false);
        app.ingest(testing::snapshot(0));
        app.ingest(testing::snapshot(1));
        for _ in 0..5 {
            let mut later = testing::snapshot(1);
            later.taken_at_ms += 10_000;
            app.ingest(later);
        }
        assert_eq!(row(&app, Pid(21)).warnings.crash_loop, None);
    }
}
