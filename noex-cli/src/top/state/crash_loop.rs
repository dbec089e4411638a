//! The crash-loop banner: a process its supervisor restarted [`CRASH_LOOP_RESTARTS`]
//! times or more within [`CRASH_LOOP_WINDOW_MS`], told by the `restarted` events'
//! own times (so it is the application's clock, not ours, that decides).
//!
//! A restarted worker gets a new pid, so restarts are counted per supervisor and
//! child id (else per registered name). "Now" is the latest time the agent told us,
//! an event's or a snapshot's, so the banner goes once a minute passes quietly.
//!
//! This is the dashboard's warning, and it is not OTP's restart intensity
//! (`max_restarts` within `max_seconds`, supervisor.erl's `add_restart`): a
//! supervisor allowing 10 restarts in 60 s loops for a while without giving up, and
//! one that gives up says so with its own `max_restarts_exceeded` event.

use std::collections::{HashMap, VecDeque};

use noex_agent::types::{EventKind, LifecycleEvent, Pid};

use super::App;

/// Restarts within [`CRASH_LOOP_WINDOW_MS`] that make a crash loop.
pub const CRASH_LOOP_RESTARTS: usize = 3;
/// The window restarts are counted in: one minute.
pub const CRASH_LOOP_WINDOW_MS: u64 = 60_000;
/// Processes tracked at most; the ones restarted longest ago are forgotten first.
const TRACKED: usize = 1_000;

/// Which process restarts are counted for, across its new pids.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Key {
    Child { supervisor: Pid, id: String },
    Named(String),
    Pid(Pid),
}

/// One process in a crash loop, for the banner.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrashLoop {
    /// Its registered name, else its child id, else its pid.
    pub name: String,
    /// Restarts within the window.
    pub restarts: usize,
}

/// Recent restart times per process.
#[derive(Clone, Debug, Default)]
pub struct CrashLoops {
    restarts: HashMap<Key, (String, VecDeque<u64>)>,
    /// The latest time the agent told us (ms since the epoch).
    now_ms: u64,
}

impl CrashLoops {
    /// Count `event` if it is a restart, and move the clock.
    pub fn observe(&mut self, event: &LifecycleEvent) {
        self.saw_time(event.at_ms);
        if !matches!(event.kind, EventKind::Restarted { .. }) {
            return;
        }
        let (key, name) = match (&event.parent, &event.child_id, &event.name) {
            (Some(supervisor), Some(id), name) => (
                Key::Child {
                    supervisor: *supervisor,
                    id: id.clone(),
                },
                name.clone().unwrap_or_else(|| id.clone()),
            ),
            (_, _, Some(name)) => (Key::Named(name.clone()), name.clone()),
            _ => (Key::Pid(event.pid), event.pid.to_string()),
        };
        let (_, times) = self
            .restarts
            .entry(key)
            .or_insert_with(|| (name, VecDeque::new()));
        times.push_back(event.at_ms);
        let since = self.now_ms.saturating_sub(CRASH_LOOP_WINDOW_MS);
        while times.front().is_some_and(|&at| at < since) {
            times.pop_front();
        }
        if self.restarts.len() > TRACKED {
            self.forget_quiet();
        }
    }

    /// The agent's clock moved (a snapshot was taken at `at_ms`).
    pub fn saw_time(&mut self, at_ms: u64) {
        self.now_ms = self.now_ms.max(at_ms);
    }

    /// The processes in a crash loop now, most restarts first, then by name.
    pub fn current(&self) -> Vec<CrashLoop> {
        let since = self.now_ms.saturating_sub(CRASH_LOOP_WINDOW_MS);
        let mut loops: Vec<CrashLoop> = self
            .restarts
            .values()
            .map(|(name, times)| CrashLoop {
                name: name.clone(),
                restarts: times.iter().filter(|&&at| at >= since).count(),
            })
            .filter(|l| l.restarts >= CRASH_LOOP_RESTARTS)
            .collect();
        loops.sort_by(|a, b| b.restarts.cmp(&a.restarts).then(a.name.cmp(&b.name)));
        loops
    }

    /// Drop restart times older than the window, and processes with none left.
    fn forget_quiet(&mut self) {
        let since = self.now_ms.saturating_sub(CRASH_LOOP_WINDOW_MS);
        self.restarts.retain(|_, (_, times)| {
            while times.front().is_some_and(|&at| at < since) {
                times.pop_front();
            }
            !times.is_empty()
        });
    }
}

impl App {
    /// The processes in a crash loop, for the banner.
    pub fn crash_loops(&self) -> Vec<CrashLoop> {
        self.crash_loops.current()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::fixtures::NOW_MS;

    /// `flaky` (child of `<0.7>`) restarted at `at_ms`, with a new pid each time.
    fn restarted(seq: u64, at_ms: u64) -> LifecycleEvent {
        LifecycleEvent {
            seq,
            at_ms,
            pid: Pid(100 + seq),
            name: Some("flaky".into()),
            child_id: Some("flaky".into()),
            parent: Some(Pid(7)),
            system: false,
            kind: EventKind::Restarted {
                attempt: seq as u32,
            },
        }
    }

    #[test]
    fn three_restarts_within_a_minute_of_event_time_are_a_crash_loop() {
        let mut loops = CrashLoops::default();
        loops.observe(&restarted(1, NOW_MS));
        loops.observe(&restarted(2, NOW_MS + 20_000));
        assert!(loops.current().is_empty(), "two restarts are not a loop");
        loops.observe(&restarted(3, NOW_MS + 59_000));
        assert_eq!(
            loops.current(),
            [CrashLoop {
                name: "flaky".into(),
                restarts: 3
            }]
        );
        loops.observe(&restarted(4, NOW_MS + 59_500));
        assert_eq!(loops.current()[0].restarts, 4);
    }

    #[test]
    fn three_restarts_spread_over_more_than_a_minute_are_not_a_crash_loop() {
        let mut loops = CrashLoops::default();
        loops.observe(&restarted(1, NOW_MS));
        loops.observe(&restarted(2, NOW_MS + 30_000));
        loops.observe(&restarted(3, NOW_MS + 60_001));
        assert!(loops.current().is_empty(), "{:?}", loops.current());
    }

    #[test]
    fn the_crash_loop_warning_goes_once_a_minute_passes_without_restarts() {
        let mut loops = CrashLoops::default();
        for seq in 1..=3 {
            loops.observe(&restarted(seq, NOW_MS + seq * 1_000));
        }
        assert_eq!(loops.current().len(), 1);
        // A snapshot taken 59 s after the first restart: still looping.
        loops.saw_time(NOW_MS + 60_000);
        assert_eq!(loops.current()[0].restarts, 3);
        // 61 s after the first: only two restarts left in the window.
        loops.saw_time(NOW_MS + 62_000);
        assert!(loops.current().is_empty());
    }

    /// A restarted worker gets a new pid each time: its restarts count together by
    /// supervisor and child id, and the same child id under another supervisor is
    /// another process.
    #[test]
    fn restarts_are_counted_per_supervisor_and_child_id_across_new_pids() {
        let mut loops = CrashLoops::default();
        for seq in 1..=2 {
            loops.observe(&restarted(seq, NOW_MS + seq));
        }
        let elsewhere = LifecycleEvent {
            parent: Some(Pid(8)),
            ..restarted(3, NOW_MS + 3)
        };
        loops.observe(&elsewhere);
        assert!(loops.current().is_empty());
        loops.observe(&restarted(4, NOW_MS + 4));
        assert_eq!(loops.current()[0].restarts, 3);
    }
}
