//! Secondary and unique indexes: field values in an order filters can range over.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Bound;

use serde_json::Value;

use crate::filter::{Condition, Num, Op};
use crate::key::Key;

/// A field's value as an index orders it: null, booleans, numbers, strings, then
/// anything else (by its JSON text). Numbers compare by their exact value, as filters do.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum IndexValue {
    Null,
    Bool(bool),
    Num(Num),
    Str(String),
    Other(String),
}

impl IndexValue {
    pub(crate) fn of(value: Option<&Value>) -> IndexValue {
        match value {
            None | Some(Value::Null) => IndexValue::Null,
            Some(Value::Bool(b)) => IndexValue::Bool(*b),
            Some(Value::Number(n)) => IndexValue::Num(Num::of(n)),
            Some(Value::String(s)) => IndexValue::Str(s.clone()),
            Some(other) => IndexValue::Other(other.to_string()),
        }
    }

    /// The first value past every value of this one's kind, for ranges that stop
    /// where the kind does (a filter compares numbers with numbers only).
    fn end_of_kind(&self) -> Bound<IndexValue> {
        match self {
            IndexValue::Null => Bound::Excluded(IndexValue::Bool(false)),
            IndexValue::Bool(_) => Bound::Excluded(IndexValue::Num(Num::LOWEST)),
            IndexValue::Num(_) => Bound::Excluded(IndexValue::Str(String::new())),
            IndexValue::Str(_) => Bound::Excluded(IndexValue::Other(String::new())),
            IndexValue::Other(_) => Bound::Unbounded,
        }
    }

    fn start_of_kind(&self) -> Bound<IndexValue> {
        match self {
            IndexValue::Null => Bound::Included(IndexValue::Null),
            IndexValue::Bool(_) => Bound::Included(IndexValue::Bool(false)),
            IndexValue::Num(_) => Bound::Included(IndexValue::Num(Num::LOWEST)),
            IndexValue::Str(_) => Bound::Included(IndexValue::Str(String::new())),
            IndexValue::Other(_) => Bound::Included(IndexValue::Other(String::new())),
        }
    }
}

/// A secondary index: every record's value of one field (null when it has none).
#[derive(Debug, Default)]
pub(crate) struct SecondaryIndex {
    entries: BTreeMap<IndexValue, BTreeSet<Key>>,
}

impl SecondaryIndex {
    pub(crate) fn add(&mut self, value: IndexValue, key: Key) {
        self.entries.entry(value).or_default().insert(key);
    }

    pub(crate) fn remove(&mut self, value: &IndexValue, key: &Key) {
        if let Some(keys) = self.entries.get_mut(value) {
            keys.remove(key);
            if keys.is_empty() {
                self.entries.remove(value);
            }
        }
    }

    pub(crate) fn clear(&mut self) {
        self.entries.clear();
    }

    /// The keys that may meet `condition`, in key order; `None` when the index
    /// cannot narrow it (`$ne`, an ordering on null or an object).
    pub(crate) fn candidates(&self, condition: &Condition) -> Option<Vec<Key>> {
        let wanted = IndexValue::of(Some(&condition.value));
        let mut keys: Vec<Key> = match condition.op {
            Op::Eq => self
                .entries
                .get(&wanted)
                .into_iter()
                .flatten()
                .cloned()
                .collect(),
            Op::In => condition
                .value
                .as_array()?
                .iter()
                .filter_map(|v| self.entries.get(&IndexValue::of(Some(v))))
                .flatten()
                .cloned()
                .collect(),
            Op::Gt | Op::Gte | Op::Lt | Op::Lte => {
                if !matches!(
                    wanted,
                    IndexValue::Bool(_) | IndexValue::Num(_) | IndexValue::Str(_)
                ) {
                    return None;
                }
                let range = match condition.op {
                    Op::Gt => (Bound::Excluded(wanted.clone()), wanted.end_of_kind()),
                    Op::Gte => (Bound::Included(wanted.clone()), wanted.end_of_kind()),
                    Op::Lt => (wanted.start_of_kind(), Bound::Excluded(wanted.clone())),
                    _ => (wanted.start_of_kind(), Bound::Included(wanted.clone())),
                };
                self.entries
                    .range(range)
                    .flat_map(|(_, keys)| keys)
                    .cloned()
                    .collect()
            }
            Op::Ne => return None,
        };
        keys.sort_unstable();
        keys.dedup();
        Some(keys)
    }
}

/// A unique rule's index: which record holds each value (null and missing are free).
#[derive(Debug, Default)]
pub(crate) struct UniqueIndex {
    holders: HashMap<IndexValue, Key>,
}

impl UniqueIndex {
    /// Who holds `value` other than `key`, if anyone.
    pub(crate) fn taken_by(&self, value: &IndexValue, key: &Key) -> Option<&Key> {
        if *value == IndexValue::Null {
            return None;
        }
        self.holders.get(value).filter(|holder| *holder != key)
    }

    pub(crate) fn add(&mut self, value: IndexValue, key: Key) {
        if value != IndexValue::Null {
            self.holders.insert(value, key);
        }
    }

    pub(crate) fn remove(&mut self, value: &IndexValue, key: &Key) {
        if self.holders.get(value) == Some(key) {
            self.holders.remove(value);
        }
    }

    pub(crate) fn clear(&mut self) {
        self.holders.clear();
    }
}
