//! Playing a recording instead of watching a live app: where the player is, for the
//! status line, and starting the picture afresh after a jump.

use super::{App, Totals, Tracking, Windowing};

/// The player's position and pace, as the status line shows them.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplayStatus {
    /// The recorded wall-clock time of the frame shown, in ms since the Unix epoch.
    pub at_ms: u64,
    /// The frame shown, from 0, and how many there are.
    pub frame: usize,
    pub frames: usize,
    /// The first and the last frame's times.
    pub start_ms: u64,
    pub end_ms: u64,
    pub playing: bool,
    /// Times real time: 0.5 to 16.
    pub speed: f64,
    /// `g` was pressed: the time being typed.
    pub goto: Option<String>,
}

/// What `K`, `R` and `r` say in a replay.
pub const NO_ACTIONS: &str =
    "replay: kill and restart are disabled (this is a recording, not the live application)";

/// What `A` says in a replay: a recording is of one application.
pub const NO_SWITCH: &str =
    "replay: a recording is of one application; switching is for the live dashboard";

impl App {
    /// Forget the picture, its histories and the event log, keeping where the user is
    /// looking (layout, sort, filter, selection): a jump in a recording rebuilds them.
    pub fn replay_rewind(&mut self) {
        self.model = None;
        self.window = None;
        self.windowing = Windowing::default();
        self.tracking = Tracking::default();
        self.totals = Totals::default();
        self.visible.clear();
        self.tree_dirty = true;
        self.log.clear();
        self.held.clear();
        self.last_seq = None;
        self.log_scroll = 0;
    }
}
