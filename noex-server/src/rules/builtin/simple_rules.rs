//! Simple rules: the application's reactions to events, which set facts. A rule runs
//! inside `emit`, after the event reached the subscribers and before `emit` returns,
//! so a client that emits and then reads a fact sees what the rule did.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use serde_json::Value;

use super::Limits;
use super::facts::Facts;
use crate::rules::RulesError;

type Action = dyn Fn(&Value, &mut RuleFacts<'_>) + Send + Sync;

struct Rule {
    pattern: String,
    action: Box<Action>,
}

/// The rules the application added (clients cannot add any, so they are not bounded).
#[derive(Default)]
pub(super) struct Rules {
    rules: RwLock<Vec<Arc<Rule>>>,
}

impl Rules {
    pub(super) fn add(
        &self,
        pattern: String,
        action: impl Fn(&Value, &mut RuleFacts<'_>) + Send + Sync + 'static,
    ) {
        self.rules.write().push(Arc::new(Rule {
            pattern,
            action: Box::new(action),
        }));
    }

    pub(super) fn len(&self) -> usize {
        self.rules.read().len()
    }

    /// Runs, in the order they were added, the rules whose pattern `event`'s topic
    /// matches. A rule that panics is logged and the others still run: the client
    /// that emitted is not to blame.
    pub(super) fn apply(&self, event: &Value, facts: &Mutex<Facts>, limits: &Limits) {
        let topic = event["topic"].as_str().unwrap_or_default();
        let matching: Vec<Arc<Rule>> = self
            .rules
            .read()
            .iter()
            .filter(|rule| noex::event_bus::topic_matches(&rule.pattern, topic))
            .cloned()
            .collect();
        for rule in matching {
            let mut facts = facts.lock();
            let mut view = RuleFacts {
                facts: &mut facts,
                limits,
            };
            let ran =
                std::panic::catch_unwind(AssertUnwindSafe(|| (rule.action)(event, &mut view)));
            if let Err(panic) = ran {
                tracing::error!(
                    pattern = %rule.pattern,
                    topic,
                    panic = %noex::process::panic_message(&*panic),
                    "a rule panicked; the event was delivered and the other rules ran"
                );
            }
        }
    }
}

/// The facts as a rule sees them: each change is whole (a refused one changes
/// nothing) and bounded as a client's is.
pub struct RuleFacts<'a> {
    facts: &'a mut Facts,
    limits: &'a Limits,
}

impl RuleFacts<'_> {
    /// A fact's value, if set (`None` too for a key no fact can have).
    pub fn get(&self, key: &str) -> Option<Value> {
        self.facts.get(key, self.limits).ok().flatten()
    }

    /// Sets a fact, within the engine's limits.
    pub fn set(&mut self, key: &str, value: Value) -> Result<(), RulesError> {
        self.facts.set(key, value, self.limits)
    }

    /// Deletes a fact; whether it was there.
    pub fn delete(&mut self, key: &str) -> bool {
        self.facts.delete(key, self.limits).unwrap_or(false)
    }
}
