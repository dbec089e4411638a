//! The facts: values under `:`-separated keys, kept in key order so a query reads them
//! sorted, within a count and a byte budget.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{Limits, json_len_within};
use crate::rules::{Fact, RulesError};

/// The separator of a key's segments (`user:42:tier`).
const SEPARATOR: char = ':';
/// A pattern segment that matches any one segment.
const WILDCARD: &str = "*";

#[derive(Default)]
pub(super) struct Facts {
    by_key: BTreeMap<String, StoredFact>,
    /// Keys and values, as JSON text: what the budget counts.
    bytes: usize,
}

struct StoredFact {
    value: Value,
    /// The key's and the value's JSON length, counted once when set.
    bytes: usize,
}

impl Facts {
    pub(super) fn len(&self) -> usize {
        self.by_key.len()
    }

    pub(super) fn bytes(&self) -> usize {
        self.bytes
    }

    /// Sets `key` to `value`, or says which limit it would break (and changes nothing).
    pub(super) fn set(
        &mut self,
        key: &str,
        value: Value,
        limits: &Limits,
    ) -> Result<(), RulesError> {
        check_key(key, limits)?;
        let Some(value_bytes) = json_len_within(&value, limits.max_value_bytes) else {
            return Err(RulesError::Invalid(format!(
                "fact {key}: the value is larger than {} bytes as JSON",
                limits.max_value_bytes
            )));
        };
        let bytes = key.len() + value_bytes;
        let replaced = self.by_key.get(key).map(|fact| fact.bytes);
        if replaced.is_none() && self.by_key.len() >= limits.max_facts {
            return Err(RulesError::Invalid(format!(
                "fact {key}: the engine holds its maximum of {} facts; delete some first",
                limits.max_facts
            )));
        }
        let total = self.bytes - replaced.unwrap_or(0) + bytes;
        if total > limits.max_fact_bytes {
            return Err(RulesError::Invalid(format!(
                "fact {key}: the facts would take more than their {} bytes",
                limits.max_fact_bytes
            )));
        }
        self.bytes = total;
        self.by_key
            .insert(key.to_string(), StoredFact { value, bytes });
        Ok(())
    }

    pub(super) fn get(&self, key: &str, limits: &Limits) -> Result<Option<Value>, RulesError> {
        check_key(key, limits)?;
        Ok(self.by_key.get(key).map(|fact| fact.value.clone()))
    }

    pub(super) fn delete(&mut self, key: &str, limits: &Limits) -> Result<bool, RulesError> {
        check_key(key, limits)?;
        let Some(fact) = self.by_key.remove(key) else {
            return Ok(false);
        };
        self.bytes -= fact.bytes;
        Ok(true)
    }

    /// The facts whose key `pattern` matches, in key order. See [`KeyPattern`].
    pub(super) fn query(&self, pattern: &str, limits: &Limits) -> Result<Vec<Fact>, RulesError> {
        check_text("pattern", pattern, limits)?;
        let pattern = KeyPattern::parse(pattern);
        let Some(prefix) = pattern.literal_prefix() else {
            // No wildcard: the pattern is the key.
            return Ok(self
                .by_key
                .get_key_value(pattern.text)
                .map(fact)
                .into_iter()
                .collect());
        };
        // Keys that match start with the literal segments before the first `*`: read
        // only their range of the ordered map.
        Ok(self
            .by_key
            .range::<str, _>((
                std::ops::Bound::Included(prefix.as_str()),
                std::ops::Bound::Unbounded,
            ))
            .take_while(|(key, _)| key.starts_with(&prefix))
            .filter(|(key, _)| pattern.matches(key))
            .map(fact)
            .collect())
    }

    pub(super) fn all(&self) -> Vec<Fact> {
        self.by_key.iter().map(fact).collect()
    }
}

fn fact((key, stored): (&String, &StoredFact)) -> Fact {
    Fact {
        key: key.clone(),
        value: stored.value.clone(),
    }
}

/// A fact key: not empty, within the length limit, and with no `*` segment (a `*`
/// segment is the query wildcard, so such a key could not be asked for alone).
fn check_key(key: &str, limits: &Limits) -> Result<(), RulesError> {
    check_text("key", key, limits)?;
    if key.split(SEPARATOR).any(|segment| segment == WILDCARD) {
        return Err(RulesError::Invalid(format!(
            "fact key {key}: a `*` segment is the query wildcard, not part of a key"
        )));
    }
    Ok(())
}

/// A key, topic or pattern: not empty and at most `max_key_bytes` long.
pub(super) fn check_text(what: &str, text: &str, limits: &Limits) -> Result<(), RulesError> {
    if text.is_empty() {
        return Err(RulesError::Invalid(format!("the {what} is empty")));
    }
    if text.len() > limits.max_key_bytes {
        return Err(RulesError::Invalid(format!(
            "the {what} is {} bytes long; at most {} are allowed",
            text.len(),
            limits.max_key_bytes
        )));
    }
    Ok(())
}

/// A `queryFacts` pattern: `:`-separated segments, where a segment that is exactly
/// `*` matches any one segment of a key and any other segment matches itself. So
/// `user:*:tier` matches `user:42:tier` but neither `user:42` nor `user:42:x:tier`,
/// and a pattern without a `*` segment is an exact key. There is no multi-segment
/// wildcard (`getAllFacts` reads every fact).
struct KeyPattern<'a> {
    text: &'a str,
    /// `None` when no segment is `*`.
    segments: Option<Vec<&'a str>>,
}

impl<'a> KeyPattern<'a> {
    fn parse(text: &'a str) -> KeyPattern<'a> {
        let wild = text.split(SEPARATOR).any(|segment| segment == WILDCARD);
        KeyPattern {
            text,
            segments: wild.then(|| text.split(SEPARATOR).collect()),
        }
    }

    /// The literal segments before the first `*`, each followed by `:` (`user:` for
    /// `user:*:tier`, empty for `*:tier`); `None` for an exact key.
    fn literal_prefix(&self) -> Option<String> {
        let segments = self.segments.as_ref()?;
        let mut prefix = String::new();
        for segment in segments.iter().take_while(|segment| **segment != WILDCARD) {
            prefix.push_str(segment);
            prefix.push(SEPARATOR);
        }
        Some(prefix)
    }

    fn matches(&self, key: &str) -> bool {
        let Some(segments) = &self.segments else {
            return self.text == key;
        };
        let mut parts = key.split(SEPARATOR);
        for segment in segments {
            match parts.next() {
                None => return false,
                Some(part) if *segment != WILDCARD && *segment != part => return false,
                Some(_) => {}
            }
        }
        parts.next().is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_pattern_star_matches_exactly_one_segment() {
        let table = [
            ("user:*", "user:42", true),
            ("user:*", "user:", true),
            ("user:*", "user", false),
            ("user:*", "user:42:tier", false),
            ("user:*:tier", "user:42:tier", true),
            ("user:*:tier", "user:42:name", false),
            ("*:tier", "user:tier", true),
            ("*:tier", "a:b:tier", false),
            ("*", "user", true),
            ("*", "user:42", false),
            ("user:42", "user:42", true),
            ("user:4*", "user:42", false),
            ("user:4*", "user:4*", true),
        ];
        for (pattern, key, expected) in table {
            assert_eq!(
                KeyPattern::parse(pattern).matches(key),
                expected,
                "{pattern:?} on {key:?}"
            );
        }
    }

    #[test]
    fn the_literal_prefix_stops_at_the_first_star() {
        assert_eq!(
            KeyPattern::parse("user:*:tier").literal_prefix().as_deref(),
            Some("user:")
        );
        assert_eq!(
            KeyPattern::parse("a:b:*").literal_prefix().as_deref(),
            Some("a:b:")
        );
        assert_eq!(
            KeyPattern::parse("*:b").literal_prefix().as_deref(),
            Some("")
        );
        assert_eq!(KeyPattern::parse("a:b").literal_prefix(), None);
    }
}
