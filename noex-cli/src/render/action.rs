//! What `noex kill` and `noex restart` did, in one sentence or one JSON object.

pub use noex_agent::protocol::Action;
use noex_agent::protocol::{ActionOutcome, ProcessRef};
use serde::Serialize;

use super::pid_number;
use super::style::{Role, Style};
use crate::error::process_ref;

/// `worker-1 <0.17> killed; restarted by app_sup <0.1> as <0.23>`, and its variants when
/// there was no supervisor or no new instance yet.
pub fn outcome_line(action: Action, outcome: &ActionOutcome, style: Style) -> String {
    let target = style.paint(Role::Name, &process_ref(&outcome.target));
    // The supervisor by its label alone: the sentence is about the target.
    let supervisor = outcome.supervisor.as_ref().map(ProcessRef::label);
    let new_pid = outcome
        .new_pid
        .map(|pid| style.paint(Role::Good, &pid.to_string()));
    match (action, supervisor, new_pid) {
        (Action::Kill, Some(sup), Some(new)) => {
            format!("{target} killed; restarted by {sup} as {new}")
        }
        (Action::Kill, Some(sup), None) => {
            format!("{target} killed; not restarted by {sup} (yet)")
        }
        (Action::Kill, None, Some(new)) => format!("{target} killed; restarted as {new}"),
        (Action::Kill, None, None) => {
            format!("{target} killed; it has no supervisor, so nothing restarts it")
        }
        (Action::Restart, Some(sup), Some(new)) => {
            format!("{target} restarted by {sup} as {new}")
        }
        (Action::Restart, Some(sup), None) => {
            format!("{target}: restart asked of {sup}; no new instance yet")
        }
        (Action::Restart, None, Some(new)) => format!("{target} restarted as {new}"),
        (Action::Restart, None, None) => format!("{target}: restart asked; no new instance yet"),
    }
}

/// `noex kill --json` / `noex restart --json`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OutcomeJson {
    pub action: Action,
    pub target: RefJson,
    pub supervisor: Option<RefJson>,
    pub new_pid: Option<u64>,
    /// Whether a new instance was running when the agent answered.
    pub restarted: bool,
}

/// A process as `{pid, name, child_id}`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RefJson {
    pub pid: u64,
    pub name: Option<String>,
    pub child_id: Option<String>,
}

impl From<&ProcessRef> for RefJson {
    fn from(process: &ProcessRef) -> RefJson {
        RefJson {
            pid: pid_number(process.pid),
            name: process.name.clone(),
            child_id: process.child_id.clone(),
        }
    }
}

pub fn outcome_json(action: Action, outcome: &ActionOutcome) -> String {
    let json = OutcomeJson {
        action,
        target: RefJson::from(&outcome.target),
        supervisor: outcome.supervisor.as_ref().map(RefJson::from),
        new_pid: outcome.new_pid.map(pid_number),
        restarted: outcome.new_pid.is_some(),
    };
    serde_json::to_string_pretty(&json).expect("outcome serialises") + "\n"
}

#[cfg(test)]
mod tests {
    use noex_agent::types::Pid;

    use super::*;

    fn outcome(supervisor: bool, new_pid: Option<u64>) -> ActionOutcome {
        ActionOutcome {
            target: ProcessRef {
                pid: Pid(17),
                name: None,
                child_id: Some("worker-1".into()),
            },
            supervisor: supervisor.then(|| ProcessRef {
                pid: Pid(1),
                name: Some("app_sup".into()),
                child_id: None,
            }),
            new_pid: new_pid.map(Pid),
        }
    }

    #[test]
    fn outcome_lines() {
        let mut text = String::new();
        for action in [Action::Kill, Action::Restart] {
            for (supervisor, new_pid) in [
                (true, Some(23)),
                (true, None),
                (false, Some(23)),
                (false, None),
            ] {
                let line = outcome_line(action, &outcome(supervisor, new_pid), Style::PLAIN);
                text.push_str(&line);
                text.push('\n');
            }
        }
        let unnamed = ActionOutcome {
            target: ProcessRef {
                pid: Pid(42),
                name: None,
                child_id: None,
            },
            ..outcome(true, Some(43))
        };
        text.push_str(&outcome_line(Action::Kill, &unnamed, Style::PLAIN));
        text.push('\n');
        crate::render::snapshot!("outcome_lines", text);
    }

    #[test]
    fn outcome_json_document() {
        crate::render::snapshot!(
            "outcome_json",
            outcome_json(Action::Kill, &outcome(true, Some(23)))
        );
    }
}
