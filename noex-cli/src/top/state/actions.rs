//! Kill and restart: what K or R would act on (refused up front when the agent would
//! refuse it), and the outcome when the request comes back.

use noex_agent::protocol::{ActionOutcome, ProcessRef};
use noex_agent::types::{Pid, TreeNode};

use super::{App, Focus, Tone, describe};
use crate::render::action::{Action, outcome_line};
use crate::render::style::Style as TextStyle;

/// A kill or restart waiting for the user's yes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pending {
    pub action: Action,
    pub pid: Pid,
    /// `worker-1 <0.23>`.
    pub label: String,
    /// The supervisor's label, to say who will restart it.
    pub supervisor: Option<String>,
    /// Why nothing would restart it, if so: the prompt says it, and a yes is sent
    /// with `force`.
    pub nothing_restarts: Option<String>,
}

impl App {
    /// What K or R would act on: the selected live process, with its supervisor.
    pub fn pending(&self, action: Action) -> Result<Pending, String> {
        let Some(pid) = self.selected_pid() else {
            return Err(match self.tree_node() {
                Some((TreeNode::Stopped { child_id, .. }, _)) if self.focus == Focus::Tree => {
                    format!("{child_id} is not running")
                }
                _ => "no process selected".to_string(),
            });
        };
        let row = self.row(pid).ok_or_else(|| format!("{pid} has gone"))?;
        let supervisor = row
            .process
            .parent
            .and_then(|p| self.row(Pid(p)))
            .map(|s| s.label.clone());
        let target = ProcessRef {
            pid,
            name: row.process.name.as_deref().map(str::to_string),
            child_id: row.process.child_id.as_deref().map(str::to_string),
        };
        // The agent refuses these anyway; say so before asking to confirm.
        if let Some(why) = self
            .snapshot()
            .and_then(|snapshot| noex_agent::target::belongs_to_agent(snapshot, &target))
        {
            return Err(why);
        }
        let nothing_restarts = self
            .snapshot()
            .and_then(|snapshot| noex_agent::target::nothing_restarts(snapshot, &target));
        Ok(Pending {
            action,
            pid,
            label: describe(row),
            supervisor,
            nothing_restarts,
        })
    }

    /// A kill or restart came back.
    pub fn action_done(&mut self, action: Action, result: Result<ActionOutcome, String>) {
        self.action_in_flight = false;
        match result {
            Ok(outcome) => {
                let text = outcome_line(action, &outcome, TextStyle::PLAIN);
                self.set_message(Tone::Good, text);
            }
            Err(error) => {
                self.set_message(Tone::Bad, format!("{} failed: {error}", action.verb()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Layout;
    use crate::top::testing;

    fn app() -> App {
        testing::app(Layout::Full)
    }

    #[test]
    fn a_kill_outcome_reads_like_noex_kill() {
        let mut app = app();
        let outcome = noex_agent::protocol::ActionOutcome {
            target: noex_agent::protocol::ProcessRef {
                pid: Pid(17),
                name: None,
                child_id: Some("worker-1".into()),
            },
            supervisor: Some(noex_agent::protocol::ProcessRef {
                pid: Pid(1),
                name: Some("app_sup".into()),
                child_id: None,
            }),
            new_pid: Some(Pid(23)),
        };
        app.action_done(Action::Kill, Ok(outcome));
        let message = app.message.clone().unwrap();
        assert_eq!(
            message.text,
            "worker-1 <0.17> killed; restarted by app_sup as <0.23>"
        );
        assert_eq!(message.tone, Tone::Good);
        app.action_done(Action::Restart, Err("no process named \"x\"".into()));
        assert_eq!(
            app.message.unwrap().text,
            "restart failed: no process named \"x\""
        );
    }
}
