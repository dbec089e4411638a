//! The rules a gateway proxies `rules.*` to: a [`RulesEngine`] an application plugs in,
//! and [`BuiltinRules`], a small one of facts, events and topic subscriptions (bounded
//! as its [`RulesOptions`] say).
//!
//! `rules.unsubscribe` has no method of its own: the gateway drops the receiver
//! [`RulesEngine::subscribe`] gave, and the engine forgets the subscription.

use futures_util::future::BoxFuture;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::mpsc;

/// A fact: a value under a key (`user:42:tier`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Fact {
    /// Its key.
    pub key: String,
    /// Its value.
    pub value: Value,
}

/// An event a subscriber on a matching pattern receives.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RulesEvent {
    /// The topic it was emitted on (`order.created`).
    pub topic: String,
    /// The event as recorded: `{id, topic, data, timestamp, correlationId?}`.
    pub event: Value,
}

/// Why a rules operation failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RulesError {
    /// The input was wrong (an empty key or topic, a bad pattern): VALIDATION_ERROR.
    #[error("{0}")]
    Invalid(String),
    /// The engine failed: INTERNAL_ERROR.
    #[error("rules engine failed: {0}")]
    Engine(String),
}

/// A rules engine behind the gateway's `rules.*` operations.
pub trait RulesEngine: Send + Sync + 'static {
    /// Emit an event on `topic`; returns the event as recorded.
    fn emit(
        &self,
        topic: String,
        data: Value,
        correlation_id: Option<String>,
    ) -> BoxFuture<'_, Result<Value, RulesError>>;
    /// Set a fact; returns it.
    fn set_fact(&self, key: String, value: Value) -> BoxFuture<'_, Result<Fact, RulesError>>;
    /// A fact's value, if set.
    fn get_fact(&self, key: String) -> BoxFuture<'_, Result<Option<Value>, RulesError>>;
    /// Delete a fact; whether it was there.
    fn delete_fact(&self, key: String) -> BoxFuture<'_, Result<bool, RulesError>>;
    /// The facts whose key matches `pattern`, by key.
    fn query_facts(&self, pattern: String) -> BoxFuture<'_, Result<Vec<Fact>, RulesError>>;
    /// Every fact, by key.
    fn all_facts(&self) -> BoxFuture<'_, Result<Vec<Fact>, RulesError>>;
    /// The events emitted from now on whose topic matches `pattern`. Dropping the
    /// receiver ends the subscription; a subscriber that does not keep up loses events
    /// (the engine never waits for one).
    fn subscribe(
        &self,
        pattern: String,
    ) -> BoxFuture<'_, Result<mpsc::Receiver<RulesEvent>, RulesError>>;
    /// The engine's figures, as JSON.
    fn stats(&self) -> BoxFuture<'_, Result<Value, RulesError>>;
}

mod builtin;
pub use builtin::{BuiltinRules, RuleFacts, RulesOptions};
