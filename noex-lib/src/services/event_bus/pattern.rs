//! Topic patterns: which subscriptions a published topic reaches.
//!
//! Topics are dot-separated segments (`user.created`). In a pattern, a segment that
//! is exactly `*` matches any one segment, and the pattern `*` alone matches every
//! topic. Anything else matches itself: `user*` is a literal segment, and there is
//! no multi-level wildcard, so `user.*` does not match `user.a.b` (nor `user`).

use std::sync::Arc;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Pattern {
    /// `*`: every topic.
    All,
    /// No wildcard segment: the topic must be equal (found by hash, not by scan).
    Exact(Arc<str>),
    /// At least one `*` segment: same number of segments, literals equal.
    Segments(Box<[Segment]>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Segment {
    Any,
    Literal(Box<str>),
}

impl Pattern {
    pub(crate) fn parse(text: &str) -> Pattern {
        if text == "*" {
            return Pattern::All;
        }
        if !text.split('.').any(|segment| segment == "*") {
            return Pattern::Exact(Arc::from(text));
        }
        Pattern::Segments(
            text.split('.')
                .map(|segment| match segment {
                    "*" => Segment::Any,
                    literal => Segment::Literal(literal.into()),
                })
                .collect(),
        )
    }

    pub(crate) fn matches(&self, topic: &str) -> bool {
        match self {
            Pattern::All => true,
            Pattern::Exact(exact) => **exact == *topic,
            Pattern::Segments(segments) => {
                let mut parts = topic.split('.');
                for segment in segments.iter() {
                    match (segment, parts.next()) {
                        (_, None) => return false,
                        (Segment::Literal(literal), Some(part)) if **literal != *part => {
                            return false;
                        }
                        _ => {}
                    }
                }
                parts.next().is_none()
            }
        }
    }
}

/// Whether `topic` is delivered to a subscription on `pattern`: the rule the bus
/// uses, for code that wants to check a pattern before subscribing.
///
/// ```
/// use noex::event_bus::topic_matches;
///
/// assert!(topic_matches("user.*", "user.created"));
/// assert!(!topic_matches("user.*", "user.a.b"));
/// assert!(topic_matches("*", "user.a.b"));
/// ```
pub fn topic_matches(pattern: &str, topic: &str) -> bool {
    Pattern::parse(pattern).matches(topic)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_without_a_star_segment_are_exact() {
        assert_eq!(
            Pattern::parse("user.created"),
            Pattern::Exact("user.created".into())
        );
        assert_eq!(Pattern::parse("user*"), Pattern::Exact("user*".into()));
        assert_eq!(Pattern::parse("*"), Pattern::All);
        assert!(matches!(Pattern::parse("*.created"), Pattern::Segments(_)));
    }

    #[test]
    fn a_star_segment_matches_exactly_one_segment() {
        let table = [
            ("user.*", "user.created", true),
            ("user.*", "user.", true),
            ("user.*", "user", false),
            ("user.*", "user.a.b", false),
            ("user.*", "order.created", false),
            ("*.created", "user.created", true),
            ("*.created", "a.b.created", false),
            ("a.*.c", "a.b.c", true),
            ("a.*.c", "a.b.d", false),
            ("*.*", "a.b", true),
            ("*.*", "a", false),
            ("*", "", true),
            ("*", "a.b.c", true),
        ];
        for (pattern, topic, expected) in table {
            assert_eq!(
                topic_matches(pattern, topic),
                expected,
                "{pattern:?} on {topic:?}"
            );
        }
    }
}
