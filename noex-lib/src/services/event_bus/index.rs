//! The subscription index: a bus's subscriptions filed by pattern, so that a
//! published topic finds its subscriptions without testing each one.
//!
//! Exact patterns are found by hashing the topic; wildcard patterns are matched
//! once per distinct pattern, however many subscriptions share it. The index is
//! generic over what it files, so matching stays apart from delivery (the server
//! files each subscription's queue and task).

use std::collections::HashMap;
use std::sync::Arc;

use slab::Slab;

use super::SubscriptionId;
use super::pattern::Pattern;

/// Subscriptions of type `S`, by pattern.
pub(super) struct SubscriptionIndex<S> {
    exact: HashMap<Arc<str>, Slab<S>>,
    wildcards: Vec<WildcardGroup<S>>,
    /// Where each subscription is, to remove it.
    slots: HashMap<SubscriptionId, Slot>,
}

struct WildcardGroup<S> {
    text: Arc<str>,
    pattern: Pattern,
    subscribers: Slab<S>,
}

struct Slot {
    pattern: Arc<str>,
    exact: bool,
    key: usize,
}

impl<S> SubscriptionIndex<S> {
    pub(super) fn new() -> Self {
        SubscriptionIndex {
            exact: HashMap::new(),
            wildcards: Vec::new(),
            slots: HashMap::new(),
        }
    }

    /// How many subscriptions there are.
    pub(super) fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether subscription `id` is filed here.
    pub(super) fn contains(&self, id: SubscriptionId) -> bool {
        self.slots.contains_key(&id)
    }

    pub(super) fn insert(&mut self, id: SubscriptionId, text: Arc<str>, subscriber: S) {
        let slot = match Pattern::parse(&text) {
            Pattern::Exact(topic) => Slot {
                key: self
                    .exact
                    .entry(topic.clone())
                    .or_default()
                    .insert(subscriber),
                pattern: topic,
                exact: true,
            },
            pattern => {
                let at = self.wildcard_group(&text).unwrap_or_else(|| {
                    self.wildcards.push(WildcardGroup {
                        text: text.clone(),
                        pattern,
                        subscribers: Slab::new(),
                    });
                    self.wildcards.len() - 1
                });
                Slot {
                    key: self.wildcards[at].subscribers.insert(subscriber),
                    pattern: text,
                    exact: false,
                }
            }
        };
        self.slots.insert(id, slot);
    }

    /// Where the group of subscriptions on wildcard `pattern` is, if it has any.
    fn wildcard_group(&self, pattern: &str) -> Option<usize> {
        self.wildcards
            .iter()
            .position(|group| *group.text == *pattern)
    }

    /// Remove a subscription; returns whether it was there.
    pub(super) fn remove(&mut self, id: SubscriptionId) -> bool {
        let Some(slot) = self.slots.remove(&id) else {
            return false;
        };
        if slot.exact {
            if let Some(group) = self.exact.get_mut(&slot.pattern) {
                group.try_remove(slot.key);
                if group.is_empty() {
                    self.exact.remove(&slot.pattern);
                }
            }
        } else if let Some(at) = self.wildcard_group(&slot.pattern) {
            let group = &mut self.wildcards[at];
            group.subscribers.try_remove(slot.key);
            if group.subscribers.is_empty() {
                self.wildcards.swap_remove(at);
            }
        }
        true
    }

    /// Call `deliver` on every subscription whose pattern matches `topic`, exact
    /// patterns first.
    pub(super) fn for_each_match(&self, topic: &str, mut deliver: impl FnMut(&S)) {
        if let Some(group) = self.exact.get(topic) {
            group.iter().for_each(|(_, subscriber)| deliver(subscriber));
        }
        for group in &self.wildcards {
            if group.pattern.matches(topic) {
                group
                    .subscribers
                    .iter()
                    .for_each(|(_, subscriber)| deliver(subscriber));
            }
        }
    }

    /// Remove every subscription, handing each one out.
    pub(super) fn drain(&mut self) -> impl Iterator<Item = S> + '_ {
        self.slots.clear();
        self.exact
            .drain()
            .flat_map(|(_, group)| group.into_iter().map(|(_, s)| s))
            .chain(
                self.wildcards
                    .drain(..)
                    .flat_map(|group| group.subscribers.into_iter().map(|(_, s)| s)),
            )
    }
}
