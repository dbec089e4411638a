//! The engine's process: it gives the engine a place in the supervision tree and
//! says, in the Observer, how the engine is doing. The engine's data is not in it, so
//! operations never wait on its mailbox and a restart loses nothing.

use std::sync::Arc;

use noex::error::BoxError;
use noex::gen_server::{Context, GenServer, Reply};
use noex::process::Description;

use super::{Engine, Figures};

/// Subscription patterns `noex state` lists before it only counts the rest.
const PATTERNS_SHOWN: usize = 20;

pub(crate) struct RulesServer {
    engine: Arc<Engine>,
    _shown: Option<Description>,
}

impl RulesServer {
    pub(super) fn new(engine: Arc<Engine>) -> RulesServer {
        RulesServer {
            engine,
            _shown: None,
        }
    }
}

impl GenServer for RulesServer {
    type Call = ();
    type Cast = ();
    type Reply = ();

    async fn init(&mut self, ctx: &mut Context<Self>) -> Result<(), BoxError> {
        let engine = self.engine.clone();
        self._shown = Some(noex::process::describe(ctx.pid(), move || {
            Some(describe(&engine.figures()))
        }));
        Ok(())
    }

    async fn handle_call(&mut self, (): (), _: &mut Context<Self>) -> Reply<()> {
        Reply::Now(())
    }

    fn format_status(&self) -> Option<String> {
        let engine = &self.engine;
        let figures = engine.figures();
        let limits = &engine.limits;
        let mut lines = vec![
            format!("rules {}", engine.name),
            format!(
                "facts: {} of {}, {} of {}",
                figures.facts,
                limits.max_facts,
                noex::process::readable_bytes(figures.fact_bytes),
                noex::process::readable_bytes(limits.max_fact_bytes),
            ),
            format!(
                "events: {} emitted, {} dropped by slow subscribers",
                figures.events.emitted, figures.events.dropped
            ),
            format!("rules: {}", engine.rules.len()),
            format!(
                "subscriptions: {} of {} (each holds up to {} events, {})",
                figures.events.subscriptions,
                limits.max_subscriptions,
                limits.subscriber_capacity,
                noex::process::readable_bytes(limits.subscriber_bytes),
            ),
        ];
        let events = engine.events.lock();
        let mut patterns = events.patterns();
        lines.extend(
            patterns
                .by_ref()
                .take(PATTERNS_SHOWN)
                .map(|pattern| format!("  {pattern}")),
        );
        let more = patterns.count();
        if more > 0 {
            lines.push(format!("  ... and {more} more"));
        }
        Some(lines.join("\n"))
    }
}

/// `rules: 12 facts, 340 events, 3 subscribers`, and `, 5 events dropped` once a
/// slow subscriber has lost some.
pub(super) fn describe(figures: &Figures) -> String {
    let plural = |n: u64, one: &'static str, many: &'static str| {
        format!("{n} {}", if n == 1 { one } else { many })
    };
    let mut text = format!(
        "rules: {}, {}, {}",
        plural(figures.facts as u64, "fact", "facts"),
        plural(figures.events.emitted, "event", "events"),
        plural(
            figures.events.subscriptions as u64,
            "subscriber",
            "subscribers"
        ),
    );
    if figures.events.dropped > 0 {
        text.push_str(&format!(
            ", {} dropped",
            plural(figures.events.dropped, "event", "events")
        ));
    }
    text
}
