//! Lifecycle events, one line each: for people (`noex events`) or one JSON object per
//! line (`noex events --json`).
//!
//! Lines are written as events arrive, so columns have fixed minimum widths instead of
//! being measured; a longer name just pushes the rest of its line right.

use noex_agent::types::{EventKind, LifecycleEvent, is_normal_exit};
use serde::Serialize;

use super::format::{self, TimeZone};
use super::style::{Role, Style, event_role};
use super::{label, pid_number};

/// Minimum widths of the pid, name and kind columns.
const PID_WIDTH: usize = 7;
const NAME_WIDTH: usize = 14;
const KIND_WIDTH: usize = 13;

/// How event lines look: colours and the clock they tell time by.
#[derive(Clone, Copy, Debug)]
pub struct EventFormat {
    pub style: Style,
    pub zone: TimeZone,
}

/// Minimum width of the APP column of `noex events --all-agents` (`noex-demo:4242`).
const APP_WIDTH: usize = 16;

/// `14:03:27.512   <0.23>  worker-1        crashed     attempt to divide by zero`
pub fn event_line(event: &LifecycleEvent, format: EventFormat) -> String {
    event_line_of(None, event, format)
}

/// An event of one application among several (`noex events --all-agents`): the
/// application (`name:os-pid`) after the time.
/// `14:03:27.512  noex-demo:4242     <0.23>  worker-1  crashed  ...`
pub fn app_event_line(app: &str, event: &LifecycleEvent, format: EventFormat) -> String {
    event_line_of(Some(app), event, format)
}

fn event_line_of(app: Option<&str>, event: &LifecycleEvent, format: EventFormat) -> String {
    let style = format.style;
    let mut time = style.paint(Role::Dim, &format::time_of_day(event.at_ms, format.zone));
    if let Some(app) = app {
        time.push_str("  ");
        time.push_str(&style.paint(Role::Name, &format!("{app:<APP_WIDTH$}")));
    }
    let pid = format!("{:>PID_WIDTH$}", event.pid.to_string());
    let name =
        label(event.name.as_deref(), event.child_id.as_deref()).unwrap_or_else(|| "-".into());
    let kind = style.paint_opt(
        event_role(&event.kind),
        &format!("{:<KIND_WIDTH$}", kind_label(&event.kind)),
    );
    let details = details(event);
    let line = format!("{time}  {pid}  {name:<NAME_WIDTH$}  {kind}  {details}");
    line.trim_end().to_string()
}

/// An event's kind in words: its label, except for a termination for an abnormal
/// reason, which must not read as a clean one: `killed` for a kill, `crashed` for any
/// other abnormal reason.
pub fn kind_label(kind: &EventKind) -> &'static str {
    match kind {
        EventKind::Terminated { reason } if reason == "killed" => "killed",
        EventKind::Terminated { reason } if !is_normal_exit(reason) => "crashed",
        kind => kind.label(),
    }
}

/// What else there is to say about an event, in words.
fn details(event: &LifecycleEvent) -> String {
    let parent = event.parent.map(|p| p.to_string());
    match &event.kind {
        EventKind::Started => match parent {
            Some(parent) => format!("under {parent}"),
            None => String::new(),
        },
        EventKind::Terminated { reason } if reason == "killed" => "abnormal exit".to_string(),
        EventKind::Terminated { reason } if !is_normal_exit(reason) => {
            format!("abnormal exit: {}", one_line(reason))
        }
        EventKind::Terminated { reason } => format!("reason: {}", one_line(reason)),
        EventKind::Crashed { error } => one_line(error),
        EventKind::Restarted { attempt } => match parent {
            Some(parent) => format!("by {parent}, attempt {attempt}"),
            None => format!("attempt {attempt}"),
        },
        EventKind::ChildAdded => match parent {
            Some(parent) => format!("to {parent}"),
            None => String::new(),
        },
        EventKind::ChildRemoved => match parent {
            Some(parent) => format!("from {parent}"),
            None => String::new(),
        },
        EventKind::MaxRestartsExceeded {
            max_restarts,
            within_ms,
        } => format!(
            "more than {max_restarts} restart{} within {}; giving up",
            if *max_restarts == 1 { "" } else { "s" },
            format::duration_ms(*within_ms)
        ),
        EventKind::Registered { registered_name } => format!("as {registered_name:?}"),
        EventKind::Unregistered { registered_name } => format!("{registered_name:?}"),
        EventKind::Unknown => "(an event this noex does not know)".to_string(),
    }
}

fn one_line(text: &str) -> String {
    format::truncate(text, usize::MAX)
}

/// The lag notice of one application among several.
pub fn app_lagged_line(app: &str, dropped: u64, style: Style) -> String {
    format!(
        "{}  {}",
        style.paint(Role::Name, &format!("{app:<APP_WIDTH$}")),
        lagged_line(dropped, style)
    )
}

/// `… 12 events dropped`: the agent skipped events this client read too slowly.
pub fn lagged_line(dropped: u64, style: Style) -> String {
    let noun = if dropped == 1 { "event" } else { "events" };
    style.paint(Role::Warn, &format!("… {dropped} {noun} dropped"))
}

/// One line of `noex events --json` for an event. The common fields are always present
/// (`null` when empty); the kind's own fields sit beside them only for that kind, so
/// `jq 'select(.kind == "crashed") | .error'` works.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EventJson {
    /// `"started"`, `"crashed"`, ... (see `EventKind::label`).
    pub kind: &'static str,
    pub seq: u64,
    pub at_ms: u64,
    pub pid: u64,
    pub name: Option<String>,
    pub child_id: Option<String>,
    pub parent: Option<u64>,
    pub system: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_restarts: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub within_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registered_name: Option<String>,
}

impl EventJson {
    pub fn from_event(event: &LifecycleEvent) -> EventJson {
        let mut json = EventJson {
            kind: event.kind.label(),
            seq: event.seq,
            at_ms: event.at_ms,
            pid: pid_number(event.pid),
            name: event.name.clone(),
            child_id: event.child_id.clone(),
            parent: event.parent.map(pid_number),
            system: event.system,
            reason: None,
            error: None,
            attempt: None,
            max_restarts: None,
            within_ms: None,
            registered_name: None,
        };
        match &event.kind {
            EventKind::Terminated { reason } => json.reason = Some(reason.to_string()),
            EventKind::Crashed { error } => json.error = Some(error.to_string()),
            EventKind::Restarted { attempt } => json.attempt = Some(*attempt),
            EventKind::MaxRestartsExceeded {
                max_restarts,
                within_ms,
            } => {
                json.max_restarts = Some(*max_restarts);
                json.within_ms = Some(*within_ms);
            }
            EventKind::Registered { registered_name }
            | EventKind::Unregistered { registered_name } => {
                json.registered_name = Some(registered_name.clone())
            }
            EventKind::Started
            | EventKind::ChildAdded
            | EventKind::ChildRemoved
            | EventKind::Unknown => {}
        }
        json
    }
}

/// The JSON line of an event, without a trailing newline.
pub fn event_json_line(event: &LifecycleEvent) -> String {
    serde_json::to_string(&EventJson::from_event(event)).expect("event serialises")
}

/// A JSON line of `noex events --all-agents --json`: the application's name and OS
/// pid, then the fields of [`EventJson`] (or of a lag notice).
#[derive(Serialize)]
struct AppJson<'a, T: Serialize> {
    app: &'a str,
    os_pid: u32,
    #[serde(flatten)]
    line: T,
}

/// The JSON line of an event of application `app` (OS pid `os_pid`).
pub fn app_event_json_line(app: &str, os_pid: u32, event: &LifecycleEvent) -> String {
    let json = AppJson {
        app,
        os_pid,
        line: EventJson::from_event(event),
    };
    serde_json::to_string(&json).expect("event serialises")
}

/// The JSON line of a lag notice of application `app`.
pub fn app_lagged_json_line(app: &str, os_pid: u32, dropped: u64) -> String {
    let line = LaggedJson {
        kind: "lagged",
        dropped,
    };
    let json = AppJson { app, os_pid, line };
    serde_json::to_string(&json).expect("notice serialises")
}

#[derive(Serialize)]
struct LaggedJson {
    kind: &'static str,
    dropped: u64,
}

/// The JSON line of a dropped-events notice: `{"kind":"lagged","dropped":12}`.
pub fn lagged_json_line(dropped: u64) -> String {
    let json = LaggedJson {
        kind: "lagged",
        dropped,
    };
    serde_json::to_string(&json).expect("notice serialises")
}

#[cfg(test)]
mod tests {
    use noex_agent::types::Pid;

    use super::*;
    use crate::render::fixtures::NOW_MS;

    fn events() -> Vec<LifecycleEvent> {
        let event = |seq: u64,
                     pid: u64,
                     name: Option<&str>,
                     child_id: Option<&str>,
                     parent: Option<u64>,
                     kind| {
            LifecycleEvent {
                seq,
                at_ms: NOW_MS + seq * 137,
                pid: Pid(pid),
                name: name.map(str::to_string),
                child_id: child_id.map(str::to_string),
                parent: parent.map(Pid),
                system: false,
                kind,
            }
        };
        vec![
            event(1, 1, Some("app_sup"), None, None, EventKind::Started),
            event(
                2,
                2,
                Some("cache"),
                Some("cache"),
                Some(1),
                EventKind::Started,
            ),
            event(
                3,
                2,
                Some("cache"),
                Some("cache"),
                Some(1),
                EventKind::Registered {
                    registered_name: "cache".into(),
                },
            ),
            event(
                4,
                17,
                None,
                Some("worker-1"),
                Some(3),
                EventKind::Crashed {
                    error: "panicked at src/worker.rs:42:9:\nattempt to divide by zero".into(),
                },
            ),
            event(
                5,
                23,
                None,
                Some("worker-1"),
                Some(3),
                EventKind::Restarted { attempt: 2 },
            ),
            event(6, 40, None, Some("job-7"), Some(3), EventKind::ChildAdded),
            event(
                7,
                40,
                None,
                Some("job-7"),
                Some(3),
                EventKind::Terminated {
                    reason: "normal".into(),
                },
            ),
            event(8, 40, None, Some("job-7"), Some(3), EventKind::ChildRemoved),
            event(
                9,
                3,
                None,
                Some("workers"),
                Some(1),
                EventKind::MaxRestartsExceeded {
                    max_restarts: 3,
                    within_ms: 5_000,
                },
            ),
            event(
                10,
                2,
                Some("cache"),
                Some("cache"),
                Some(1),
                EventKind::Unregistered {
                    registered_name: "cache".into(),
                },
            ),
            event(
                11,
                99,
                Some("a_rather_long_registered_name"),
                None,
                None,
                EventKind::Unknown,
            ),
            event(
                12,
                23,
                None,
                Some("worker-1"),
                Some(3),
                EventKind::Terminated {
                    reason: "killed".into(),
                },
            ),
            event(
                13,
                41,
                None,
                Some("job-8"),
                Some(3),
                EventKind::Terminated {
                    reason: "shutdown: draining".into(),
                },
            ),
            event(
                14,
                42,
                None,
                Some("job-9"),
                Some(3),
                EventKind::Terminated {
                    reason: "noproc".into(),
                },
            ),
        ]
    }

    #[test]
    fn event_lines() {
        let format = EventFormat {
            style: Style::PLAIN,
            zone: TimeZone::Utc,
        };
        let mut text: String = events()
            .iter()
            .map(|e| event_line(e, format) + "\n")
            .collect();
        text.push_str(&lagged_line(12, Style::PLAIN));
        text.push('\n');
        text.push_str(&lagged_line(1, Style::PLAIN));
        text.push('\n');
        crate::render::snapshot!("event_lines", text);
    }

    /// `noex events --all-agents`: the application after the time, and `app` and
    /// `os_pid` first in each JSON line.
    #[test]
    fn event_lines_of_many_applications() {
        let format = EventFormat {
            style: Style::PLAIN,
            zone: TimeZone::Utc,
        };
        let events = events();
        let mut text = String::new();
        for (app, pid, event) in [
            ("noex-demo:4242", 4242, &events[3]),
            ("billing:977", 977, &events[4]),
        ] {
            text.push_str(&app_event_line(app, event, format));
            text.push('\n');
            let name = app.split(':').next().unwrap();
            text.push_str(&app_event_json_line(name, pid, event));
            text.push('\n');
        }
        text.push_str(&app_lagged_line("billing:977", 3, Style::PLAIN));
        text.push('\n');
        text.push_str(&app_lagged_json_line("billing", 977, 3));
        text.push('\n');
        crate::render::snapshot!("event_lines_all_agents", text);
    }

    #[test]
    fn event_json_lines() {
        let mut text: String = events().iter().map(|e| event_json_line(e) + "\n").collect();
        text.push_str(&lagged_json_line(12));
        text.push('\n');
        crate::render::snapshot!("event_json_lines", text);
    }

    /// A kill is an abnormal exit (OTP): it reads, and is coloured, as one.
    #[test]
    fn a_killed_process_reads_as_killed_in_the_crash_colour() {
        let format = EventFormat {
            style: Style::COLOURED,
            zone: TimeZone::Utc,
        };
        let killed = events()
            .into_iter()
            .find(|e| matches!(&e.kind, EventKind::Terminated { reason } if reason == "killed"))
            .unwrap();
        let line = event_line(&killed, format);
        assert!(line.contains("\u{1b}[31"), "{line:?}");
        assert!(line.contains("killed"), "{line:?}");
        assert!(!line.contains("terminated"), "{line:?}");
    }

    #[test]
    fn crashes_are_coloured_on_a_terminal() {
        let format = EventFormat {
            style: Style::COLOURED,
            zone: TimeZone::Utc,
        };
        let crash = &events()[3];
        assert!(
            event_line(crash, format).contains("\u{1b}[31"),
            "{:?}",
            event_line(crash, format)
        );
    }
}
