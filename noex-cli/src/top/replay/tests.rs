//! The player against recordings made in memory from the dashboard's fixtures:
//! frames drawn at a position, and what each key does to the position, the pace and
//! the picture.

use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use noex_agent::types::{EventKind, LifecycleEvent, Snapshot};

use super::*;
use crate::cli::{Layout, Theme};
use crate::recording::{Header, Writer, read};
use crate::render::fixtures::NOW_MS;
use crate::render::snapshot;
use crate::top::input::handle_key;
use crate::top::state::Overlay;
use crate::top::testing::{self, WORKER_1, frame, styled_frame};

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

fn char(c: char) -> KeyEvent {
    key(KeyCode::Char(c))
}

/// The dashboard fixtures' four snapshots (frames 0..=3) with their events between,
/// then `more` frames a second apart with the counters moving on.
fn timeline(more: u64) -> Timeline {
    let header = Header::new(testing::hello(false), NOW_MS - 4_000, 1_000);
    let mut writer = Writer::new(Vec::new(), &header).unwrap().keyframe_every(7);
    let mut events = testing::events().into_iter();
    for k in 0..=3 {
        writer.snapshot(testing::snapshot(k)).unwrap();
        // Two events after each of the first three snapshots.
        if k < 3 {
            for event in events.by_ref().take(2) {
                writer.event(event).unwrap();
            }
        }
    }
    // The recorder read too slowly once, after the fixtures' frames.
    writer.lagged(NOW_MS + 100, 12).unwrap();
    for i in 1..=more {
        writer.snapshot(later(i)).unwrap();
    }
    writer
        .event(LifecycleEvent {
            seq: 100,
            at_ms: NOW_MS + more * 1_000 + 500,
            kind: EventKind::Crashed {
                error: "the last crash".into(),
            },
            ..testing::events().remove(2)
        })
        .unwrap();
    let bytes = writer
        .finish(NOW_MS + more * 1_000 + 600, "the application exited")
        .unwrap();
    Timeline::new(read(&bytes).unwrap())
}

/// The last fixture snapshot, `i` seconds later, with the cache's counters on.
fn later(i: u64) -> Snapshot {
    let mut snapshot = testing::snapshot(3);
    snapshot.taken_at_ms += i * 1_000;
    snapshot.uptime_ms += i * 1_000;
    for server in &mut snapshot.servers {
        if server.pid == testing::CACHE {
            server.messages += i * 1_234;
        }
    }
    snapshot
}

/// A paused player on a fresh dashboard, at frame 0.
fn player(more: u64) -> (App, Player) {
    let mut app = App::new(Layout::Full, Theme::Dark, false);
    app.zone = TimeZone::Utc;
    app.system_memory = Some(8 << 30);
    let player = Player::start(timeline(more), &mut app, false, Instant::now()).unwrap();
    (app, player)
}

fn press(app: &mut App, player: &mut Player, key: KeyEvent) -> Key {
    player.key(app, key, Instant::now())
}

#[test]
fn a_frame_in_replay_says_replay_paused_with_the_recorded_time_and_position() {
    let (mut app, mut player) = player(0);
    player.show(&mut app, 3);
    for (w, h) in [(80, 24), (160, 48)] {
        snapshot!(format!("top_replay_paused_{w}x{h}"), frame(&mut app, w, h));
    }
}

#[test]
fn the_status_line_shows_playing_and_the_speed() {
    let (mut app, mut player) = player(5);
    player.show(&mut app, 3);
    press(&mut app, &mut player, char(' '));
    press(&mut app, &mut player, char('+'));
    assert!(player.playing());
    assert_eq!(player.speed(), 2.0);
    let styled = styled_frame(&mut app, 160, 48);
    let footer = styled.lines().last().unwrap().to_string();
    snapshot!("top_replay_playing_2x_footer", footer);
}

#[test]
fn the_frame_shown_is_the_recorded_snapshot_with_the_events_before_it() {
    let (mut app, mut player) = player(0);
    player.show(&mut app, 3);
    assert_eq!(
        app.snapshot(),
        Some(normalised(&testing::snapshot(3))).as_ref()
    );
    // The fixtures' six events were all written before the last frame.
    let seqs: Vec<u64> = app
        .log
        .iter()
        .filter_map(|entry| match entry {
            crate::top::state::LogEntry::Event(event) => Some(event.seq),
            _ => None,
        })
        .collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5, 6, 100]);
    // worker-1 restarts at every frame: a crash loop, as live.
    assert!(testing::row(&app, WORKER_1).warnings.crash_loop.is_some());
}

fn normalised(snapshot: &Snapshot) -> Snapshot {
    let mut snapshot = snapshot.clone();
    crate::recording::format::normalise(&mut snapshot);
    snapshot
}

#[test]
fn stepping_forward_and_back_moves_one_frame_and_pauses() {
    let (mut app, mut player) = player(5);
    press(&mut app, &mut player, char(' '));
    assert!(player.playing());
    assert_eq!(press(&mut app, &mut player, char('.')), Key::Handled);
    assert!(!player.playing(), "a step pauses");
    assert_eq!(player.position(), 1);
    press(&mut app, &mut player, key(KeyCode::Right));
    assert_eq!(player.position(), 2);
    let at_2 = app.snapshot().cloned();
    press(&mut app, &mut player, key(KeyCode::Right));
    press(&mut app, &mut player, char(','));
    assert_eq!(player.position(), 2);
    assert_eq!(app.snapshot().cloned(), at_2, "back is the same picture");
    press(&mut app, &mut player, key(KeyCode::Left));
    press(&mut app, &mut player, key(KeyCode::Left));
    press(&mut app, &mut player, key(KeyCode::Left));
    assert_eq!(player.position(), 0, "not before the first frame");
}

#[test]
fn stepping_back_shows_only_the_events_before_that_frame() {
    let (mut app, mut player) = player(0);
    player.show(&mut app, 3);
    press(&mut app, &mut player, char(','));
    press(&mut app, &mut player, char(','));
    let events = app
        .log
        .iter()
        .filter(|e| matches!(e, crate::top::state::LogEntry::Event(_)))
        .count();
    assert_eq!(events, 2, "frame 1 comes after events 1 and 2 only");
}

#[test]
fn brackets_jump_a_minute_and_home_and_end_go_to_the_ends() {
    let (mut app, mut player) = player(150);
    let start = app.replay.as_ref().unwrap().at_ms;
    press(&mut app, &mut player, char(']'));
    assert_eq!(app.replay.as_ref().unwrap().at_ms, start + JUMP_MS);
    press(&mut app, &mut player, char(']'));
    assert_eq!(app.replay.as_ref().unwrap().at_ms, start + 2 * JUMP_MS);
    press(&mut app, &mut player, char('['));
    assert_eq!(app.replay.as_ref().unwrap().at_ms, start + JUMP_MS);
    press(&mut app, &mut player, key(KeyCode::End));
    assert_eq!(player.position(), 153);
    assert_eq!(app.snapshot().cloned(), Some(normalised(&later(150))));
    press(&mut app, &mut player, key(KeyCode::Home));
    assert_eq!(player.position(), 0);
    assert_eq!(
        app.snapshot().cloned(),
        Some(normalised(&testing::snapshot(0)))
    );
}

#[test]
fn a_jump_has_rates_as_a_played_frame_has() {
    let (mut app, mut player) = player(30);
    for _ in 0..20 {
        press(&mut app, &mut player, char('.'));
    }
    let played = testing::row(&app, testing::CACHE).rate;
    press(&mut app, &mut player, key(KeyCode::Home));
    player.show(&mut app, 20);
    assert_eq!(testing::row(&app, testing::CACHE).rate, played);
    assert_eq!(played, Some(1_234.0));
}

#[test]
fn speed_steps_between_half_and_sixteen_times() {
    let (mut app, mut player) = player(2);
    assert_eq!(player.speed(), 1.0);
    press(&mut app, &mut player, char('-'));
    press(&mut app, &mut player, char('-'));
    assert_eq!(player.speed(), 0.5);
    for _ in 0..10 {
        press(&mut app, &mut player, char('+'));
    }
    assert_eq!(player.speed(), 16.0);
}

#[test]
fn playing_shows_the_next_frame_after_the_recorded_gap_divided_by_the_speed() {
    let (mut app, mut player) = player(3);
    let now = Instant::now();
    assert_eq!(player.due(), None, "paused: nothing due");
    player.key(&mut app, char(' '), now);
    player.key(&mut app, char('+'), now);
    // Frames are a second apart; at 2x the next one is due in half a second.
    assert_eq!(player.due(), Some(now + Duration::from_millis(500)));
    player.tick(&mut app, now + Duration::from_millis(499));
    assert_eq!(player.position(), 0, "not yet due");
    player.tick(&mut app, now + Duration::from_millis(500));
    assert_eq!(player.position(), 1);
    player.key(&mut app, char(' '), now);
    assert_eq!(player.due(), None, "paused again");
}

#[test]
fn playing_stops_at_the_end_and_says_how_the_recording_ended() {
    let (mut app, mut player) = player(1);
    press(&mut app, &mut player, key(KeyCode::End));
    press(&mut app, &mut player, char(','));
    press(&mut app, &mut player, char(' '));
    let due = player.due().unwrap();
    player.tick(&mut app, due);
    assert_eq!(player.position(), 4);
    assert!(!player.playing());
    assert_eq!(
        app.message.as_ref().unwrap().text,
        "end of the recording: the application exited"
    );
    // Play again starts over.
    press(&mut app, &mut player, char(' '));
    assert_eq!(player.position(), 0);
    assert!(player.playing());
}

#[test]
fn kill_and_restart_are_disabled_in_replay_with_a_message() {
    let (mut app, mut player) = player(0);
    for c in ['K', 'R', 'r'] {
        app.message = None;
        assert_eq!(press(&mut app, &mut player, char(c)), Key::Handled);
        assert_eq!(app.overlay, Overlay::None, "no confirm prompt");
        assert_eq!(app.message.as_ref().unwrap().text, NO_ACTIONS);
    }
}

#[test]
fn switching_applications_is_refused_in_replay_without_opening_the_picker() {
    let (mut app, mut player) = player(0);
    assert_eq!(press(&mut app, &mut player, char('A')), Key::Handled);
    assert_eq!(app.overlay, Overlay::None, "no picker");
    assert_eq!(app.message.as_ref().unwrap().text, NO_SWITCH);
}

#[test]
fn other_keys_are_the_dashboards() {
    let (mut app, mut player) = player(0);
    assert_eq!(press(&mut app, &mut player, char('?')), Key::Dashboard);
    handle_key(&mut app, char('?'));
    assert_eq!(app.overlay, Overlay::Help);
    // While a filter is typed, replay keys are text.
    app.overlay = Overlay::None;
    handle_key(&mut app, char('/'));
    assert_eq!(press(&mut app, &mut player, char('g')), Key::Dashboard);
}

#[test]
fn g_goes_to_a_time_of_day_a_time_from_the_start_or_a_step() {
    let (mut app, mut player) = player(150);
    let go = |app: &mut App, player: &mut Player, typed: &str| {
        press(app, player, char('g'));
        assert!(app.replay.as_ref().unwrap().goto.is_some());
        for c in typed.chars() {
            press(app, player, char(c));
        }
        press(app, player, key(KeyCode::Enter));
        assert!(app.replay.as_ref().unwrap().goto.is_none());
    };
    let start = app.replay.as_ref().unwrap().at_ms;
    go(&mut app, &mut player, "2m");
    assert_eq!(app.replay.as_ref().unwrap().at_ms, start + 120_000);
    go(&mut app, &mut player, "-30s");
    assert_eq!(app.replay.as_ref().unwrap().at_ms, start + 90_000);
    let target = start + 61_000;
    let typed = format::time_of_day(target, TimeZone::Utc);
    go(&mut app, &mut player, &typed);
    assert_eq!(app.replay.as_ref().unwrap().at_ms, target);
    // Without the milliseconds: the frame taken at or before that second.
    go(&mut app, &mut player, &typed[..8]);
    assert_eq!(app.replay.as_ref().unwrap().at_ms, target - 1_000);
    go(&mut app, &mut player, "soon");
    assert!(
        app.message
            .as_ref()
            .unwrap()
            .text
            .starts_with("cannot go to `soon`"),
    );
    assert_eq!(
        app.replay.as_ref().unwrap().at_ms,
        target - 1_000,
        "stays put"
    );
}

#[test]
fn the_go_to_prompt_is_drawn_in_the_status_line() {
    let (mut app, mut player) = player(2);
    press(&mut app, &mut player, char('g'));
    for c in "12:0".chars() {
        press(&mut app, &mut player, char(c));
    }
    let text = frame(&mut app, 120, 24);
    snapshot!(
        "top_replay_goto_footer",
        text.lines().last().unwrap().to_string()
    );
}

#[test]
fn an_empty_recording_has_nothing_to_play() {
    let header = Header::new(testing::hello(false), NOW_MS, 1_000);
    let bytes = Writer::new(Vec::new(), &header)
        .unwrap()
        .finish(NOW_MS, "stopped by Ctrl-C")
        .unwrap();
    let mut app = App::new(Layout::Full, Theme::Dark, false);
    assert!(
        Player::start(
            Timeline::new(read(&bytes).unwrap()),
            &mut app,
            true,
            Instant::now()
        )
        .is_none()
    );
}

#[test]
fn the_help_in_a_replay_lists_the_players_keys() {
    let (mut app, mut player) = player(0);
    player.show(&mut app, 3);
    assert_eq!(press(&mut app, &mut player, char('?')), Key::Dashboard);
    handle_key(&mut app, char('?'));
    snapshot!("top_replay_help_160x48", frame(&mut app, 160, 48));
}

#[test]
fn a_lag_notice_is_in_the_log_where_it_was_recorded() {
    let lagged = |app: &App| {
        app.log
            .iter()
            .filter(|e| matches!(e, crate::top::state::LogEntry::Lagged(12)))
            .count()
    };
    let (mut app, mut player) = player(2);
    player.show(&mut app, 3);
    assert_eq!(lagged(&app), 0, "written after frame 3");
    press(&mut app, &mut player, char('.'));
    assert_eq!(lagged(&app), 1);
    press(&mut app, &mut player, char(','));
    assert_eq!(lagged(&app), 0, "gone again one frame back");
    press(&mut app, &mut player, key(KeyCode::End));
    assert_eq!(lagged(&app), 1, "and there after a jump");
}
