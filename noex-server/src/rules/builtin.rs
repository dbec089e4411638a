//! A small rules engine of facts, events and topic subscriptions (to be written).

/// The built-in rules engine.
pub struct BuiltinRules;
