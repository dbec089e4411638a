//! Restart intensity: how many restarts a supervisor tolerates within a window.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

/// The times of recent restarts, oldest first, kept only within the window.
pub(crate) struct RestartWindow {
    max_restarts: u32,
    within: Duration,
    times: VecDeque<Instant>,
}

impl RestartWindow {
    pub(crate) fn new(max_restarts: u32, within: Duration) -> Self {
        RestartWindow {
            max_restarts,
            within,
            times: VecDeque::new(),
        }
    }

    /// Count a restart now; `true` if that makes more than `max_restarts` in the window.
    pub(crate) fn record(&mut self, now: Instant) -> bool {
        self.times.push_back(now);
        while let Some(&oldest) = self.times.front() {
            if now.duration_since(oldest) > self.within {
                self.times.pop_front();
            } else {
                break;
            }
        }
        self.times.len() > self.max_restarts as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn more_than_max_restarts_within_the_window_is_exceeded() {
        let start = Instant::now();
        let mut window = RestartWindow::new(3, Duration::from_secs(5));
        assert!(!window.record(start));
        assert!(!window.record(start + Duration::from_secs(1)));
        assert!(!window.record(start + Duration::from_secs(2)));
        assert!(window.record(start + Duration::from_secs(3)));
    }

    #[test]
    fn restarts_older_than_the_window_are_forgotten() {
        let start = Instant::now();
        let mut window = RestartWindow::new(1, Duration::from_secs(5));
        assert!(!window.record(start));
        assert!(!window.record(start + Duration::from_secs(6)));
        assert!(window.record(start + Duration::from_secs(7)));
    }

    #[test]
    fn zero_max_restarts_escalates_on_the_first_restart() {
        let mut window = RestartWindow::new(0, Duration::from_secs(5));
        assert!(window.record(Instant::now()));
    }
}
