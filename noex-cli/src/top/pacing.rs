//! How often the dashboard refreshes: at the interval asked for, or, when the
//! application takes long to answer (a million processes), less often, so that
//! answering the dashboard never costs it more than a small share of a core.

use std::time::{Duration, Instant};

/// A refresh waits at least this many times as long as the previous answer took: the
/// application spends about a twenty-fifth (4%) of a core on the dashboard's
/// refreshes, under 5% with the rest of what a dashboard asks for. (What it took is
/// measured here, with the transfer: it errs on the side of the app.)
pub const ANSWER_SHARE: u32 = 25;

/// When refreshes were asked for and how long the last one took.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pacing {
    asked_at: Option<Instant>,
    answered_at: Option<Instant>,
    took: Duration,
}

impl Pacing {
    /// A refresh was asked for at `now`.
    pub fn asked(&mut self, now: Instant) {
        self.asked_at = Some(now);
    }

    /// Its answer came at `now`.
    pub fn answered(&mut self, now: Instant) {
        if let Some(asked) = self.asked_at.take() {
            self.took = now.saturating_duration_since(asked);
            self.answered_at = Some(now);
        }
    }

    /// The time between refreshes: `refresh`, or longer for a slow answer.
    pub fn interval(&self, refresh: Duration) -> Duration {
        refresh.max(self.took * ANSWER_SHARE)
    }

    /// Whether the timer's refresh is due at `now`.
    pub fn due(&self, now: Instant, refresh: Duration) -> bool {
        self.answered_at.is_none_or(|at| {
            // A tick that comes a little early still counts for a plain interval.
            now + refresh / 4 >= at + self.interval(refresh) - self.took
        })
    }

    /// The interval when it is clearly longer than asked for (by half), to say so:
    /// `refresh 1.0s` for an interval a few milliseconds over a second would puzzle.
    pub fn stretched(&self, refresh: Duration) -> Option<Duration> {
        Some(self.interval(refresh)).filter(|interval| *interval >= refresh * 3 / 2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn quick_answers_refresh_at_the_interval_asked_for() {
        let start = Instant::now();
        let mut pacing = Pacing::default();
        assert!(pacing.due(start, SECOND), "the first refresh");
        pacing.asked(start);
        pacing.answered(start + Duration::from_millis(3));
        assert_eq!(pacing.interval(SECOND), SECOND);
        assert_eq!(pacing.stretched(SECOND), None);
        assert!(pacing.due(start + SECOND, SECOND));
        pacing.asked(start + SECOND);
        pacing.answered(start + SECOND + Duration::from_millis(48));
        assert_eq!(pacing.interval(SECOND), Duration::from_millis(1_200));
        assert_eq!(
            pacing.stretched(SECOND),
            None,
            "hardly longer: not worth a word"
        );
    }

    #[test]
    fn a_slow_answer_stretches_the_interval_to_keep_the_apps_share_small() {
        let start = Instant::now();
        let mut pacing = Pacing::default();
        pacing.asked(start);
        let answered = start + Duration::from_millis(400);
        pacing.answered(answered);
        // 400 ms of answering in every 10 s: 4%.
        assert_eq!(pacing.interval(SECOND), SECOND * 10);
        assert_eq!(pacing.stretched(SECOND), Some(SECOND * 10));
        assert!(!pacing.due(answered + SECOND, SECOND));
        assert!(!pacing.due(answered + SECOND * 9, SECOND));
        assert!(pacing.due(answered + SECOND * 10, SECOND));
    }

    #[test]
    fn an_answer_nobody_asked_for_changes_nothing() {
        let start = Instant::now();
        let mut pacing = Pacing::default();
        pacing.answered(start + SECOND);
        assert_eq!(pacing, Pacing::default());
    }
}
