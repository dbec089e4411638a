//! `noex top --replay FILE`: a recording played in the dashboard.
//!
//! The [`Player`] is the dashboard's data source in place of the live connection: it
//! feeds the [`App`] the recorded snapshots and events exactly as the agent's would be
//! taken in (`ingest`, `push_event`), so every panel draws a recording as it draws a
//! live app. Its own keys (pause, step, seek, speed, go to a time) come before the
//! dashboard's; kill and restart are refused with a message, and the header and status
//! line say REPLAY so a recording is never taken for the live app.

use std::time::{Duration, Instant};

use crossterm::event::{Event, EventStream, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use futures::StreamExt;
use noex_agent::types::Snapshot;

use super::input::{self, Command};
use super::state::{App, NO_ACTIONS, NO_SWITCH, ReplayStatus, Tone};
use super::{MESSAGE_TTL, TerminalGuard, stop_signals, view};
use crate::cli::TopArgs;
use crate::commands::events::open_recording;
use crate::context::Context;
use crate::error::CliError;
use crate::recording::{Ending, Timeline};
use crate::render::format::{self, TimeZone};

/// The speeds `+` and `-` step through, times real time.
pub const SPEEDS: [f64; 6] = [0.5, 1.0, 2.0, 4.0, 8.0, 16.0];
/// How far `[` and `]` jump.
pub const JUMP_MS: u64 = 60_000;
/// Frames taken in before the one jumped to, so its rates and sparklines are there.
const WARMUP: usize = 10;
/// The longest wait between two frames while playing, whatever the recording's gap.
const MAX_GAP: Duration = Duration::from_secs(5);

/// Plays a recording into an [`App`].
pub struct Player {
    timeline: Timeline,
    /// The frame shown.
    position: usize,
    /// Its snapshot.
    current: Snapshot,
    playing: bool,
    /// An index into [`SPEEDS`].
    speed: usize,
    /// While playing: when the next frame is due.
    next_at: Option<Instant>,
    goto: Option<String>,
}

/// What the player did with a key.
#[derive(Debug, PartialEq, Eq)]
pub enum Key {
    /// A replay key: done.
    Handled,
    /// Not a replay key: the dashboard's own handling applies.
    Dashboard,
}

impl Player {
    /// Show the first frame in `app`, paused when `playing` is false. `None` when
    /// the recording has no snapshot.
    pub fn start(timeline: Timeline, app: &mut App, playing: bool, now: Instant) -> Option<Player> {
        if timeline.is_empty() {
            return None;
        }
        let recording = timeline.recording();
        app.connected(recording.header.hello.clone(), Vec::new());
        match &recording.ending {
            Ending::Corrupt { record, why } => app.set_message(
                Tone::Bad,
                format!(
                    "the recording is damaged at record {} ({why}): playing what comes before",
                    record + 1
                ),
            ),
            Ending::Finished { .. } | Ending::Cut { .. } => {}
        }
        let mut player = Player {
            current: timeline.snapshot(0),
            timeline,
            position: 0,
            playing,
            speed: 1,
            next_at: None,
            goto: None,
        };
        player.jump(app, 0);
        if playing {
            player.schedule(now);
        }
        Some(player)
    }

    pub fn position(&self) -> usize {
        self.position
    }

    pub fn playing(&self) -> bool {
        self.playing
    }

    pub fn speed(&self) -> f64 {
        SPEEDS[self.speed]
    }

    /// When the next frame is due, while playing.
    pub fn due(&self) -> Option<Instant> {
        self.next_at
    }

    /// The play timer fired: show the next frame if it is due.
    pub fn tick(&mut self, app: &mut App, now: Instant) {
        if self.next_at.is_some_and(|at| now >= at) {
            self.show(app, self.position + 1);
            if self.playing {
                self.schedule(now);
            }
        }
    }

    /// Handle a key before the dashboard does.
    pub fn key(&mut self, app: &mut App, key: KeyEvent, now: Instant) -> Key {
        if key.kind == KeyEventKind::Release || app.editing_filter {
            return Key::Dashboard;
        }
        if key.modifiers.contains(KeyModifiers::CONTROL) {
            return Key::Dashboard;
        }
        if self.goto.is_some() {
            self.goto_key(app, key);
            self.status(app);
            return Key::Handled;
        }
        match key.code {
            KeyCode::Char(' ' | 'p') => {
                if self.playing {
                    self.pause();
                } else {
                    if self.position + 1 == self.timeline.len() {
                        // Play again from the start.
                        self.jump(app, 0);
                    }
                    self.playing = true;
                    self.schedule(now);
                }
            }
            KeyCode::Char('.') | KeyCode::Right => {
                self.pause();
                self.show(app, self.position + 1);
            }
            KeyCode::Char(',') | KeyCode::Left => {
                self.pause();
                self.show(app, self.position.saturating_sub(1));
            }
            KeyCode::Char(']') => self.seek_by(app, JUMP_MS as i64, now),
            KeyCode::Char('[') => self.seek_by(app, -(JUMP_MS as i64), now),
            KeyCode::Home => self.seek(app, 0, now),
            KeyCode::End => self.seek(app, self.timeline.len() - 1, now),
            KeyCode::Char('+' | '=') => {
                self.speed = (self.speed + 1).min(SPEEDS.len() - 1);
                self.reschedule(now);
            }
            KeyCode::Char('-' | '_') => {
                self.speed = self.speed.saturating_sub(1);
                self.reschedule(now);
            }
            KeyCode::Char('g') => self.goto = Some(String::new()),
            KeyCode::Char('K' | 'R' | 'r') => app.set_message(Tone::Bad, NO_ACTIONS),
            KeyCode::Char('A') => app.set_message(Tone::Bad, NO_SWITCH),
            _ => return Key::Dashboard,
        }
        self.status(app);
        Key::Handled
    }

    fn pause(&mut self) {
        self.playing = false;
        self.next_at = None;
    }

    /// Jump by `delta_ms` of recorded time, playing on if it was.
    fn seek_by(&mut self, app: &mut App, delta_ms: i64, now: Instant) {
        let at = self
            .timeline
            .at_ms(self.position)
            .saturating_add_signed(delta_ms);
        let mut target = self.timeline.frame_at(at);
        if delta_ms > 0 && target == self.position {
            // Never stand still on `]`: at least the next frame.
            target = (self.position + 1).min(self.timeline.len() - 1);
        }
        self.seek(app, target, now);
    }

    fn seek(&mut self, app: &mut App, index: usize, now: Instant) {
        self.show(app, index);
        self.reschedule(now);
    }

    /// Show frame `index` (clamped to the recording).
    pub fn show(&mut self, app: &mut App, index: usize) {
        let index = index.min(self.timeline.len() - 1);
        if index == self.position + 1 {
            self.timeline.next_snapshot(&mut self.current, index);
            for push in self.timeline.pushes_between(Some(self.position), index) {
                app.push(push);
            }
            app.ingest(self.current.clone());
            self.position = index;
        } else if index != self.position {
            self.jump(app, index);
        }
        if self.position + 1 == self.timeline.len() && self.playing {
            self.pause();
            app.set_message(Tone::Info, self.end_text());
        }
        self.status(app);
    }

    /// Rebuild the picture at `index` from scratch: the events before it, and a few
    /// frames before it for rates.
    fn jump(&mut self, app: &mut App, index: usize) {
        app.replay_rewind();
        let from = index.saturating_sub(WARMUP);
        self.current = self.timeline.snapshot(from);
        for push in self.timeline.pushes_between(None, from) {
            app.push(push);
        }
        app.ingest(self.current.clone());
        for frame in from + 1..=index {
            self.timeline.next_snapshot(&mut self.current, frame);
            for push in self.timeline.pushes_between(Some(frame - 1), frame) {
                app.push(push);
            }
            app.ingest(self.current.clone());
        }
        self.position = index;
        self.status(app);
    }

    /// While playing, the next frame is due after the recorded gap to it, divided by
    /// the speed.
    fn schedule(&mut self, now: Instant) {
        if !self.playing || self.position + 1 >= self.timeline.len() {
            self.next_at = None;
            return;
        }
        let gap_ms = self.timeline.at_ms(self.position + 1) - self.timeline.at_ms(self.position);
        let gap = Duration::from_secs_f64(gap_ms as f64 / 1_000.0 / self.speed()).min(MAX_GAP);
        self.next_at = Some(now + gap);
    }

    fn reschedule(&mut self, now: Instant) {
        if self.playing {
            self.schedule(now);
        }
    }

    fn goto_key(&mut self, app: &mut App, key: KeyEvent) {
        let Some(typed) = &mut self.goto else {
            return;
        };
        match key.code {
            KeyCode::Esc => self.goto = None,
            KeyCode::Backspace => {
                typed.pop();
            }
            KeyCode::Char(c) if typed.len() < 32 => typed.push(c),
            KeyCode::Enter => {
                let typed = self.goto.take().unwrap_or_default();
                match self.parse_goto(typed.trim(), app.zone) {
                    Some(at_ms) => {
                        let frame = self.timeline.frame_at(at_ms);
                        self.show(app, frame);
                        self.reschedule(Instant::now());
                    }
                    None => app.set_message(
                        Tone::Bad,
                        format!(
                            "cannot go to `{typed}`: type a time of day (14:03:20), a time \
                             from the start (2m30s) or a step (+30s, -1m)"
                        ),
                    ),
                }
            }
            _ => {}
        }
    }

    /// The recorded time `typed` means: a time of day (`14:03`, `14:03:20`), a time
    /// from the recording's start (`2m30s`), or a step from the frame shown (`+30s`,
    /// `-1m`).
    fn parse_goto(&self, typed: &str, zone: TimeZone) -> Option<u64> {
        let (start, _) = self.timeline.span_ms()?;
        let here = self.timeline.at_ms(self.position);
        if let Some(step) = typed.strip_prefix('+') {
            let step = humantime::parse_duration(step).ok()?;
            return Some(here.saturating_add(step.as_millis() as u64));
        }
        if let Some(step) = typed.strip_prefix('-') {
            let step = humantime::parse_duration(step).ok()?;
            return Some(here.saturating_sub(step.as_millis() as u64));
        }
        if typed.contains(':') {
            let day_ms = parse_time_of_day(typed)?;
            // The start's own time of day tells where its day began in `zone`.
            let start_of_day = start - parse_time_of_day(&format::time_of_day(start, zone))?;
            let mut at = start_of_day + day_ms;
            if at + 1_000 < start {
                // Earlier in the day than the start: the next day's (past midnight).
                at += 86_400_000;
            }
            return Some(at);
        }
        let offset = humantime::parse_duration(typed).ok()?;
        Some(start.saturating_add(offset.as_millis() as u64))
    }

    fn end_text(&self) -> String {
        match &self.timeline.recording().ending {
            Ending::Finished { reason, .. } => format!("end of the recording: {reason}"),
            Ending::Cut { .. } => {
                "end of the recording (it stops without an end: its recorder was killed)".into()
            }
            Ending::Corrupt { .. } => "end of what could be read (the rest is damaged)".into(),
        }
    }

    /// Tell the view where the player is.
    fn status(&self, app: &mut App) {
        let (start_ms, end_ms) = self.timeline.span_ms().unwrap_or_default();
        app.replay = Some(ReplayStatus {
            at_ms: self.timeline.at_ms(self.position),
            frame: self.position,
            frames: self.timeline.len(),
            start_ms,
            end_ms,
            playing: self.playing,
            speed: self.speed(),
            goto: self.goto.clone(),
        });
    }
}

/// `HH:MM` or `HH:MM:SS[.mmm]` as milliseconds into the day.
fn parse_time_of_day(text: &str) -> Option<u64> {
    let mut parts = text.split(':');
    let h: u64 = parts.next()?.parse().ok()?;
    let m: u64 = parts.next()?.parse().ok()?;
    let s_ms = match parts.next() {
        Some(s) => (s.parse::<f64>().ok()? * 1_000.0).round() as u64,
        None => 0,
    };
    if parts.next().is_some() || h > 23 || m > 59 || s_ms >= 60_000 {
        return None;
    }
    Some(h * 3_600_000 + m * 60_000 + s_ms)
}

/// Play the recording `file` until the user quits.
pub async fn run(ctx: &Context, args: &TopArgs, file: &std::path::Path) -> Result<(), CliError> {
    let timeline = Timeline::new(open_recording(file)?);
    let mut app = App::new(args.layout, args.theme, ctx.stdout.is_coloured());
    app.ascii = view::styles::Styles::ascii_terminal();
    // No system memory scale: the recording may come from another machine.
    let Some(mut player) = Player::start(timeline, &mut app, true, Instant::now()) else {
        return Err(
            CliError::failed(format!("{} holds no snapshot to play", file.display())).with_hint(
                format!(
                    "`noex events --replay {}` prints the events it holds",
                    file.display()
                ),
            ),
        );
    };
    let mut terminal = TerminalGuard::enter()?;
    let outcome = play(&mut terminal.terminal, &mut app, &mut player).await;
    drop(terminal);
    Ok(outcome?)
}

async fn play<B: ratatui::backend::Backend>(
    terminal: &mut ratatui::Terminal<B>,
    app: &mut App,
    player: &mut Player,
) -> anyhow::Result<()>
where
    B::Error: Send + Sync + 'static,
{
    let mut keys = EventStream::new();
    let mut expiry = tokio::time::interval(Duration::from_secs(1));
    let mut stop = stop_signals();
    let mut dirty = true;
    loop {
        if dirty {
            terminal.draw(|frame| view::render(frame, app))?;
            dirty = false;
        }
        let due = player.due();
        tokio::select! {
            event = keys.next() => match event {
                Some(Ok(Event::Key(key))) => {
                    dirty = true;
                    if player.key(app, key, Instant::now()) == Key::Dashboard
                        && input::handle_key(app, key) == Some(Command::Quit)
                    {
                        return Ok(());
                    }
                }
                Some(Ok(_)) => dirty = true,
                Some(Err(error)) => return Err(anyhow::Error::new(error).context("reading the terminal")),
                None => return Ok(()),
            },
            _ = sleep_until(due) => {
                dirty = true;
                player.tick(app, Instant::now());
            },
            _ = expiry.tick() => {
                let had = app.message.is_some();
                app.expire_message(Instant::now(), MESSAGE_TTL);
                dirty |= had && app.message.is_none();
            },
            _ = stop.recv() => return Ok(()),
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests;
