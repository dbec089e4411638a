//! Keys to intents. Each key changes the [`App`] and may return a [`Command`] for the
//! event loop to carry out (quit, refresh, send a kill): a pure state transition, so
//! every key is tested without a terminal or an agent.

use crossterm::event::{Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use noex_agent::types::Pid;

use super::state::{App, AppChoice, Column, Connection, Focus, Overlay, Tone};
use crate::cli::Layout;
use crate::render::action::Action;

/// What the event loop must do after a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    Quit,
    /// Ask for a snapshot now.
    Refresh,
    /// Connect again (after the app went away).
    Reconnect,
    /// The user confirmed: kill this process (`force`: knowing nothing restarts it).
    Kill {
        pid: Pid,
        force: bool,
    },
    /// The user confirmed: have its supervisor restart this process.
    Restart(Pid),
    /// `A`: find the running applications for the picker.
    ListApps,
    /// The picker's Enter: show this application instead.
    SwitchApp(AppChoice),
}

/// Lines PageUp and PageDown move.
const PAGE: isize = 10;

/// Why K, R or the confirming `y` did nothing while disconnected.
const NOT_CONNECTED: &str = "not connected: press r to reconnect";

/// One terminal event. Resizes need no state change: the next frame is drawn at the
/// new size.
pub fn handle_event(app: &mut App, event: &Event) -> Option<Command> {
    match event {
        Event::Key(key) if key.kind != KeyEventKind::Release => handle_key(app, *key),
        _ => None,
    }
}

pub fn handle_key(app: &mut App, key: KeyEvent) -> Option<Command> {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    if ctrl && matches!(key.code, KeyCode::Char('c')) {
        return Some(Command::Quit);
    }
    if let Overlay::Confirm(pending) = &app.overlay {
        // Only an explicit yes sends anything; every other key is a no.
        let pending = pending.clone();
        app.overlay = Overlay::None;
        let verb = pending.action.verb();
        if matches!(key.code, KeyCode::Char('y' | 'Y')) {
            if !app.is_connected() {
                app.set_message(Tone::Bad, NOT_CONNECTED);
                return None;
            }
            app.action_in_flight = true;
            app.set_message(Tone::Info, format!("{}ing {}…", verb, pending.label));
            return Some(match pending.action {
                // The prompt said nothing would restart it, and the answer was yes.
                Action::Kill => Command::Kill {
                    pid: pending.pid,
                    force: pending.nothing_restarts.is_some(),
                },
                Action::Restart => Command::Restart(pending.pid),
            });
        }
        app.set_message(Tone::Info, format!("{verb} cancelled"));
        return None;
    }
    if app.editing_filter {
        return filter_key(app, key);
    }
    if app.overlay == Overlay::Apps {
        return picker_key(app, key);
    }
    if app.overlay == Overlay::Help {
        match key.code {
            KeyCode::Char('q') => return Some(Command::Quit),
            KeyCode::Esc | KeyCode::Enter | KeyCode::Char('?') => app.overlay = Overlay::None,
            _ => {}
        }
        return None;
    }
    match key.code {
        KeyCode::Char('q') => return Some(Command::Quit),
        KeyCode::Esc => {
            if app.overlay != Overlay::None {
                app.overlay = Overlay::None;
            } else if !app.filter.is_empty() {
                app.set_filter(String::new());
            } else {
                return Some(Command::Quit);
            }
        }
        KeyCode::Char('r') => {
            return Some(match app.connection {
                Connection::Disconnected { .. } => Command::Reconnect,
                Connection::Connected | Connection::Connecting => Command::Refresh,
            });
        }
        KeyCode::Char('?') => app.overlay = Overlay::Help,
        KeyCode::Enter => {
            app.overlay = if app.overlay == Overlay::Details {
                Overlay::None
            } else {
                Overlay::Details
            };
        }
        KeyCode::Tab => app.cycle_focus(true),
        KeyCode::BackTab => app.cycle_focus(false),
        KeyCode::Up | KeyCode::Char('k') => move_by(app, -1),
        KeyCode::Down | KeyCode::Char('j') => move_by(app, 1),
        KeyCode::PageUp => move_by(app, -PAGE),
        KeyCode::PageDown => move_by(app, PAGE),
        KeyCode::Home | KeyCode::Char('g') => move_by(app, isize::MIN / 2),
        KeyCode::End | KeyCode::Char('G') => move_by(app, isize::MAX / 2),
        KeyCode::Left | KeyCode::Char('h') if app.focus == Focus::Tree => app.tree_left(),
        KeyCode::Right | KeyCode::Char('l') if app.focus == Focus::Tree => app.tree_right(),
        KeyCode::Char(' ') if app.focus == Focus::Tree => app.tree_toggle(),
        KeyCode::Char('1') => app.set_layout(Layout::Full),
        KeyCode::Char('2') => app.set_layout(Layout::Compact),
        KeyCode::Char('3') => app.set_layout(Layout::Minimal),
        KeyCode::Char('/') => {
            app.editing_filter = true;
            app.focus = Focus::Table;
        }
        KeyCode::Char('s') => app.next_sort(),
        KeyCode::Char('S') => app.reverse_sort(),
        KeyCode::Char('p') => {
            app.toggle_pause();
            let text = if app.paused {
                "paused: this view is frozen (the application keeps running); p resumes"
            } else {
                "resumed"
            };
            app.set_message(Tone::Info, text);
        }
        KeyCode::Char('a') => {
            app.toggle_system();
            let text = if app.show_system {
                "showing noex's own system processes"
            } else {
                "hiding noex's own system processes"
            };
            app.set_message(Tone::Info, text);
        }
        KeyCode::Char('e') => {
            app.toggle_problems_only();
            let text = if app.problems_only {
                "event log: problems only (crashes, restarts, max restarts exceeded); e shows all"
            } else {
                "event log: every event"
            };
            app.set_message(Tone::Info, text);
        }
        KeyCode::Char('A') => {
            app.open_picker();
            return Some(Command::ListApps);
        }
        KeyCode::Char('K') => ask(app, Action::Kill),
        KeyCode::Char('R') => ask(app, Action::Restart),
        KeyCode::Char(c) => {
            if let Some(column) = Column::from_key(c) {
                app.sort_by(column);
            }
        }
        _ => {}
    }
    None
}

/// In the picker: move, Enter switches, Esc (or `A`, `q`) closes it.
fn picker_key(app: &mut App, key: KeyEvent) -> Option<Command> {
    match key.code {
        KeyCode::Esc | KeyCode::Char('q' | 'A') => app.overlay = Overlay::None,
        KeyCode::Up | KeyCode::Char('k') => app.move_picker(-1),
        KeyCode::Down | KeyCode::Char('j') => app.move_picker(1),
        KeyCode::Home | KeyCode::Char('g') => app.move_picker(isize::MIN / 2),
        KeyCode::End | KeyCode::Char('G') => app.move_picker(isize::MAX / 2),
        KeyCode::Enter => {
            let picked = app.picked().cloned()?;
            if picked.app.is_none() {
                app.set_message(
                    Tone::Bad,
                    format!("pid {} does not answer; pick another", picked.pid),
                );
                return None;
            }
            if app.hello.as_ref().is_some_and(|h| h.pid == picked.pid) {
                app.overlay = Overlay::None;
                return None;
            }
            app.switching_to(&picked);
            return Some(Command::SwitchApp(picked));
        }
        _ => {}
    }
    None
}

fn filter_key(app: &mut App, key: KeyEvent) -> Option<Command> {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    match key.code {
        KeyCode::Enter => app.editing_filter = false,
        KeyCode::Esc => {
            app.editing_filter = false;
            app.set_filter(String::new());
        }
        KeyCode::Backspace => {
            let mut filter = app.filter.clone();
            filter.pop();
            app.set_filter(filter);
        }
        KeyCode::Char('u') if ctrl => app.set_filter(String::new()),
        KeyCode::Char(c) if !ctrl => {
            let filter = format!("{}{c}", app.filter);
            app.set_filter(filter);
        }
        KeyCode::Up => app.move_table(-1),
        KeyCode::Down => app.move_table(1),
        _ => {}
    }
    None
}

fn move_by(app: &mut App, delta: isize) {
    match app.focus {
        Focus::Tree => app.move_tree(delta),
        Focus::Table => app.move_table(delta),
        // The log scrolls back (up) from the newest line.
        Focus::Events => app.scroll_log(-delta),
    }
}

/// K or R: ask for confirmation, or say why not.
fn ask(app: &mut App, action: Action) {
    let verb = action.verb();
    if app.read_only() {
        app.set_message(
            Tone::Bad,
            "read-only agent: kill and restart are turned off for this application",
        );
        return;
    }
    if !app.is_connected() {
        app.set_message(Tone::Bad, NOT_CONNECTED);
        return;
    }
    if app.action_in_flight {
        app.set_message(
            Tone::Info,
            "wait: the last kill or restart has not answered yet",
        );
        return;
    }
    match app.pending(action) {
        Ok(pending) => app.overlay = Overlay::Confirm(pending),
        Err(why) => app.set_message(Tone::Bad, format!("cannot {verb}: {why}")),
    }
}

#[cfg(test)]
mod tests {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use noex_agent::types::Pid;

    use super::*;
    use crate::top::state::{Overlay, Sort};
    use crate::top::testing::{self, WORKER_1};

    fn press(app: &mut App, code: KeyCode) -> Option<Command> {
        handle_key(app, KeyEvent::new(code, KeyModifiers::NONE))
    }

    fn char(app: &mut App, c: char) -> Option<Command> {
        press(app, KeyCode::Char(c))
    }

    /// The dashboard with the table focused on worker-1.
    fn on_worker_1() -> App {
        let mut app = testing::app(Layout::Full);
        app.focus = Focus::Table;
        assert!(app.select_table_pid(WORKER_1));
        app
    }

    #[test]
    fn q_and_esc_and_ctrl_c_quit() {
        let mut app = testing::app(Layout::Full);
        assert_eq!(char(&mut app, 'q'), Some(Command::Quit));
        assert_eq!(press(&mut app, KeyCode::Esc), Some(Command::Quit));
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(handle_key(&mut app, ctrl_c), Some(Command::Quit));
    }

    #[test]
    fn esc_closes_a_panel_and_clears_a_filter_before_quitting() {
        let mut app = testing::app(Layout::Full);
        press(&mut app, KeyCode::Enter);
        assert_eq!(app.overlay, Overlay::Details);
        assert_eq!(press(&mut app, KeyCode::Esc), None);
        assert_eq!(app.overlay, Overlay::None);
        app.set_filter("cache".into());
        assert_eq!(press(&mut app, KeyCode::Esc), None);
        assert!(app.filter.is_empty());
        assert_eq!(press(&mut app, KeyCode::Esc), Some(Command::Quit));
    }

    #[test]
    fn kill_asks_first_and_y_sends_the_kill_of_the_selection() {
        let mut app = on_worker_1();
        assert_eq!(char(&mut app, 'K'), None);
        let Overlay::Confirm(pending) = &app.overlay else {
            panic!("no confirm: {:?}", app.overlay)
        };
        assert_eq!(pending.pid, WORKER_1);
        assert_eq!(pending.label, "worker-1 <0.23>");
        assert_eq!(pending.supervisor.as_deref(), Some("workers"));
        assert_eq!(
            char(&mut app, 'y'),
            Some(Command::Kill {
                pid: WORKER_1,
                force: false
            })
        );
        assert_eq!(app.overlay, Overlay::None);
        assert!(app.action_in_flight);
        assert_eq!(
            app.message.as_ref().unwrap().text,
            "killing worker-1 <0.23>…"
        );
    }

    #[test]
    fn restart_asks_first_and_y_sends_the_restart() {
        let mut app = on_worker_1();
        char(&mut app, 'R');
        assert!(matches!(&app.overlay, Overlay::Confirm(p) if p.action == Action::Restart));
        assert_eq!(char(&mut app, 'Y'), Some(Command::Restart(WORKER_1)));
    }

    #[test]
    fn the_confirm_prompt_defaults_to_no() {
        for key in [
            KeyCode::Enter,
            KeyCode::Char('n'),
            KeyCode::Esc,
            KeyCode::Char('q'),
            KeyCode::Char('K'),
        ] {
            let mut app = on_worker_1();
            char(&mut app, 'K');
            assert_eq!(press(&mut app, key), None, "{key:?}");
            assert_eq!(app.overlay, Overlay::None);
            assert!(!app.action_in_flight);
            assert_eq!(app.message.as_ref().unwrap().text, "kill cancelled");
        }
    }

    #[test]
    fn kill_in_the_tree_acts_on_the_tree_selection() {
        let mut app = testing::app(Layout::Full);
        assert!(app.select_tree_pid(Pid(4)));
        app.focus = Focus::Tree;
        char(&mut app, 'K');
        assert_eq!(
            char(&mut app, 'y'),
            Some(Command::Kill {
                pid: Pid(4),
                force: false
            })
        );
    }

    #[test]
    fn a_stopped_child_cannot_be_killed() {
        let mut app = testing::app(Layout::Full);
        app.focus = Focus::Tree;
        assert!(app.select_tree_pid(Pid(6)));
        char(&mut app, 'j'); // worker-3, stopped
        char(&mut app, 'K');
        assert_eq!(app.overlay, Overlay::None);
        assert_eq!(
            app.message.unwrap().text,
            "cannot kill: worker-3 is not running"
        );
    }

    #[test]
    fn the_agent_s_own_processes_are_refused_before_asking() {
        let mut app = testing::app(Layout::Full);
        app.focus = Focus::Table;
        char(&mut app, 'a'); // show system processes
        assert!(app.select_table_pid(Pid(31)));
        char(&mut app, 'K');
        assert_eq!(app.overlay, Overlay::None, "no confirmation to ask");
        assert_eq!(
            app.message.unwrap().text,
            "cannot kill: connection <0.31> belongs to the noex agent itself: it cannot be \
             killed or restarted through the agent"
        );
    }

    #[test]
    fn a_read_only_agent_refuses_before_asking() {
        let mut app = on_worker_1();
        app.connected(testing::hello(true), Vec::new());
        assert_eq!(char(&mut app, 'K'), None);
        assert_eq!(app.overlay, Overlay::None);
        assert!(app.message.unwrap().text.starts_with("read-only agent"));
    }

    #[test]
    fn one_action_at_a_time() {
        let mut app = on_worker_1();
        char(&mut app, 'K');
        char(&mut app, 'y');
        char(&mut app, 'R');
        assert_eq!(app.overlay, Overlay::None);
    }

    #[test]
    fn r_refreshes_when_connected_and_reconnects_when_not() {
        let mut app = testing::app(Layout::Full);
        assert_eq!(char(&mut app, 'r'), Some(Command::Refresh));
        app.disconnected("gone");
        assert_eq!(char(&mut app, 'r'), Some(Command::Reconnect));
        // Kill needs a connection.
        app.focus = Focus::Table;
        char(&mut app, 'K');
        assert_eq!(app.overlay, Overlay::None);
    }

    #[test]
    fn number_keys_switch_layouts_and_tab_cycles_what_is_shown() {
        let mut app = testing::app(Layout::Full);
        assert_eq!(app.focus, Focus::Tree);
        press(&mut app, KeyCode::Tab);
        assert_eq!(app.focus, Focus::Table);
        press(&mut app, KeyCode::Tab);
        assert_eq!(app.focus, Focus::Events);
        press(&mut app, KeyCode::Tab);
        assert_eq!(app.focus, Focus::Tree);
        press(&mut app, KeyCode::BackTab);
        assert_eq!(app.focus, Focus::Events);
        char(&mut app, '2');
        assert_eq!(app.layout, Layout::Compact);
        assert_eq!(app.focus, Focus::Table, "no event log in compact");
        char(&mut app, '3');
        assert_eq!(app.layout, Layout::Minimal);
        press(&mut app, KeyCode::Tab);
        assert_eq!(app.focus, Focus::Table);
        char(&mut app, '1');
        assert_eq!(app.layout, Layout::Full);
    }

    #[test]
    fn moving_in_the_table_moves_the_tree_too() {
        let mut app = testing::app(Layout::Full);
        app.focus = Focus::Table;
        assert_eq!(app.table_pid(), Some(Pid(1)));
        char(&mut app, 'j');
        assert_eq!(app.table_pid(), Some(Pid(2)));
        assert_eq!(
            app.tree_state.selected().last(),
            Some(&crate::top::state::NodeKey::Pid(Pid(2)))
        );
        press(&mut app, KeyCode::End);
        assert_eq!(app.table_pid(), Some(WORKER_1));
        press(&mut app, KeyCode::Down);
        assert_eq!(app.table_pid(), Some(WORKER_1), "clamped at the end");
        char(&mut app, 'g');
        assert_eq!(app.table_pid(), Some(Pid(1)));
        char(&mut app, 'k');
        assert_eq!(app.table_pid(), Some(Pid(1)), "clamped at the top");
    }

    #[test]
    fn moving_in_the_tree_moves_the_table_too() {
        let mut app = testing::app(Layout::Full);
        app.focus = Focus::Tree;
        char(&mut app, 'j');
        char(&mut app, 'j');
        assert_eq!(app.selected_pid(), Some(Pid(3)));
        assert_eq!(app.table_pid(), Some(Pid(3)));
        // Left closes workers; left again goes to its parent.
        press(&mut app, KeyCode::Left);
        char(&mut app, 'j');
        assert_eq!(
            app.selected_pid(),
            Some(Pid(4)),
            "workers' children are hidden"
        );
        char(&mut app, 'k');
        press(&mut app, KeyCode::Right);
        char(&mut app, 'j');
        assert_eq!(app.selected_pid(), Some(WORKER_1));
        press(&mut app, KeyCode::Left);
        assert_eq!(app.selected_pid(), Some(Pid(3)));
    }

    #[test]
    fn s_cycles_the_sort_and_column_keys_pick_one() {
        let mut app = testing::app(Layout::Full);
        assert_eq!(app.sort, Sort::by(Column::Pid));
        char(&mut app, 's');
        assert_eq!(app.sort, Sort::by(Column::Status));
        char(&mut app, 'S');
        assert!(app.sort.descending);
        char(&mut app, 'Q');
        assert_eq!(app.sort, Sort::by(Column::Queue));
        assert!(app.sort.descending, "counters largest first");
        char(&mut app, 'Q');
        assert!(!app.sort.descending);
        for column in Column::ALL {
            char(&mut app, column.key());
            assert_eq!(app.sort.column, column);
        }
    }

    #[test]
    fn slash_edits_the_filter_and_keys_go_to_it() {
        let mut app = testing::app(Layout::Full);
        char(&mut app, '/');
        assert!(app.editing_filter);
        for c in "qKworker-2".chars() {
            assert_eq!(char(&mut app, c), None, "{c} is text here");
        }
        assert_eq!(app.filter, "qKworker-2");
        for _ in 0..2 {
            press(&mut app, KeyCode::Backspace);
        }
        press(&mut app, KeyCode::Backspace);
        press(&mut app, KeyCode::Backspace);
        press(&mut app, KeyCode::Home);
        assert_eq!(app.filter, "qKwork");
        app.set_filter("worker-2".into());
        press(&mut app, KeyCode::Enter);
        assert!(!app.editing_filter);
        assert_eq!(app.visible.len(), 1);
        char(&mut app, '/');
        press(&mut app, KeyCode::Esc);
        assert!(app.filter.is_empty());
        assert_eq!(app.visible.len(), 7);
    }

    #[test]
    fn p_pauses_and_a_shows_system_processes() {
        let mut app = testing::app(Layout::Full);
        char(&mut app, 'p');
        assert!(app.paused);
        char(&mut app, 'p');
        assert!(!app.paused);
        char(&mut app, 'a');
        assert!(app.show_system);
        assert_eq!(app.visible.len(), 9);
    }

    #[test]
    fn help_opens_and_closes_and_swallows_other_keys() {
        let mut app = testing::app(Layout::Full);
        char(&mut app, '?');
        assert_eq!(app.overlay, Overlay::Help);
        assert_eq!(char(&mut app, 'K'), None);
        assert_eq!(app.overlay, Overlay::Help);
        char(&mut app, '?');
        assert_eq!(app.overlay, Overlay::None);
    }

    #[test]
    fn the_event_log_scrolls_back_and_forward() {
        let mut app = testing::app(Layout::Full);
        app.focus = Focus::Events;
        char(&mut app, 'k');
        assert_eq!(app.log_scroll, 1);
        char(&mut app, 'j');
        char(&mut app, 'j');
        assert_eq!(app.log_scroll, 0);
    }

    #[test]
    fn shift_a_opens_the_picker_enter_switches_and_esc_cancels() {
        use std::path::PathBuf;

        use crate::top::state::AppChoice;

        let choice = |pid: u32, name: Option<&str>| AppChoice {
            pid,
            socket: PathBuf::from(format!("/run/noex/{pid}.sock")),
            app: name.map(str::to_string),
            processes: None,
            error: None,
            node: None,
            host: None,
        };
        let list = vec![
            choice(4242, Some("demo")),
            choice(4300, Some("billing")),
            choice(5150, None),
        ];
        let mut app = testing::app(Layout::Full);
        assert_eq!(char(&mut app, 'A'), Some(Command::ListApps));
        assert_eq!(app.overlay, Overlay::Apps);
        // Keys belong to the picker: no quitting, no kill prompt.
        assert_eq!(char(&mut app, 'K'), None);
        assert_eq!(press(&mut app, KeyCode::Enter), None, "nothing listed yet");
        app.apps_listed(list.clone());
        assert_eq!(app.picked().unwrap().pid, 4242, "starts on the app shown");
        assert_eq!(
            press(&mut app, KeyCode::Esc),
            None,
            "Esc does not quit here"
        );
        assert_eq!(app.overlay, Overlay::None);
        assert_eq!(app.hello.as_ref().unwrap().pid, 4242, "nothing changed");

        char(&mut app, 'A');
        app.apps_listed(list.clone());
        char(&mut app, 'j');
        char(&mut app, 'j');
        assert_eq!(press(&mut app, KeyCode::Enter), None, "not answering");
        assert!(
            app.message
                .as_ref()
                .unwrap()
                .text
                .contains("does not answer")
        );
        char(&mut app, 'k');
        assert_eq!(
            press(&mut app, KeyCode::Enter),
            Some(Command::SwitchApp(list[1].clone()))
        );
        assert_eq!(app.overlay, Overlay::None);
        assert!(app.model.is_none(), "the old picture is gone");
    }

    #[test]
    fn e_shows_only_problems_in_the_event_log_and_says_so() {
        let mut app = testing::app(Layout::Full);
        let all = app.log_shown().count();
        char(&mut app, 'e');
        assert!(app.problems_only);
        // The fixture's crash and restart of worker-1, the lag notice, the attach note.
        assert_eq!(app.log_shown().count(), 4, "{all} before");
        char(&mut app, 'e');
        assert_eq!(app.log_shown().count(), all);
    }

    #[test]
    fn key_releases_are_ignored() {
        let mut app = testing::app(Layout::Full);
        let mut release = KeyEvent::new(KeyCode::Char('q'), KeyModifiers::NONE);
        release.kind = KeyEventKind::Release;
        assert_eq!(handle_event(&mut app, &Event::Key(release)), None);
        assert_eq!(handle_event(&mut app, &Event::Resize(80, 24)), None);
    }
}
