//! A fixed table of tokens (to be written).

/// Tokens known in advance, each with its session.
pub struct StaticTokens;
