//! A bucket's records and indexes, changed only under its write lock.

use std::collections::BTreeMap;
use std::ops::Bound;

use serde_json::Value;

use super::index::{IndexValue, SecondaryIndex, UniqueIndex};
use crate::error::StoreError;
use crate::filter::{Filter, compare, lookup};
use crate::key::Key;
use crate::record::Record;
use crate::schema::Schema;

/// The records in key order, their indexes, and what a reader needs to know
/// whether anything changed since it looked (`generation`).
#[derive(Debug)]
pub(crate) struct BucketData {
    records: BTreeMap<Key, Record>,
    indexes: Vec<(String, SecondaryIndex)>,
    uniques: Vec<(String, UniqueIndex)>,
    /// One more on every change: a transaction that read the whole bucket conflicts
    /// with any write after its read.
    pub(crate) generation: u64,
    bytes: usize,
}

/// One page of [`paginate`](crate::BucketRef::paginate): records in key order and
/// the cursor of the next page (`None` on the last).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Page {
    /// The records of this page.
    pub records: Vec<Record>,
    /// Pass as `after` for the next page; `None` when this is the last.
    pub next: Option<Key>,
}

/// Which aggregate to compute.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Aggregate {
    Sum,
    Avg,
    Min,
    Max,
}

impl BucketData {
    pub(crate) fn new(schema: &Schema) -> BucketData {
        BucketData {
            records: BTreeMap::new(),
            indexes: schema
                .indexed_fields()
                .map(|f| (f.to_string(), SecondaryIndex::default()))
                .collect(),
            uniques: schema
                .unique_fields()
                .map(|f| (f.to_string(), UniqueIndex::default()))
                .collect(),
            generation: 0,
            bytes: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.records.len()
    }

    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    pub(crate) fn get(&self, key: &Key) -> Option<&Record> {
        self.records.get(key)
    }

    /// `ALREADY_EXISTS` when a unique field of `record` is held by another key.
    pub(crate) fn check_unique(
        &self,
        bucket: &str,
        key: &Key,
        record: &Record,
    ) -> Result<(), StoreError> {
        for (field, unique) in &self.uniques {
            let value = IndexValue::of(record.get(field));
            if unique.taken_by(&value, key).is_some() {
                return Err(StoreError::AlreadyExists {
                    bucket: bucket.to_string(),
                    what: format!(
                        "{field} {} (unique)",
                        record.get(field).map(Value::to_string).unwrap_or_default()
                    ),
                });
            }
        }
        Ok(())
    }

    /// Stores `record` under `key`, returning the record it replaced.
    pub(crate) fn put(&mut self, key: Key, record: Record) -> Option<Record> {
        let old = self.remove(&key);
        // An index lists what a filter on its field reads, a dotted path included.
        for (field, index) in &mut self.indexes {
            index.add(IndexValue::of(lookup(record.fields(), field)), key.clone());
        }
        for (field, unique) in &mut self.uniques {
            unique.add(IndexValue::of(record.get(field)), key.clone());
        }
        self.bytes += record.approximate_bytes();
        self.records.insert(key, record);
        self.generation += 1;
        old
    }

    /// Takes the record under `key` out.
    pub(crate) fn remove(&mut self, key: &Key) -> Option<Record> {
        let old = self.records.remove(key)?;
        for (field, index) in &mut self.indexes {
            index.remove(&IndexValue::of(lookup(old.fields(), field)), key);
        }
        for (field, unique) in &mut self.uniques {
            unique.remove(&IndexValue::of(old.get(field)), key);
        }
        self.bytes -= old.approximate_bytes();
        self.generation += 1;
        Some(old)
    }

    /// Takes every record out.
    pub(crate) fn clear(&mut self) -> BTreeMap<Key, Record> {
        self.indexes.iter_mut().for_each(|(_, index)| index.clear());
        self.uniques
            .iter_mut()
            .for_each(|(_, unique)| unique.clear());
        self.bytes = 0;
        self.generation += 1;
        std::mem::take(&mut self.records)
    }

    pub(crate) fn all(&self) -> Vec<Record> {
        self.records.values().cloned().collect()
    }

    /// The records meeting `filter`, in key order; through an index when one of the
    /// filter's fields has one.
    pub(crate) fn matching<'a>(
        &'a self,
        filter: &'a Filter,
    ) -> Box<dyn Iterator<Item = &'a Record> + 'a> {
        for (answered, condition) in filter.conditions.iter().enumerate() {
            let index = self
                .indexes
                .iter()
                .find(|(field, _)| *field == condition.field)
                .and_then(|(_, index)| index.candidates(condition));
            if let Some(keys) = index {
                // The index gives exactly the records meeting its condition: only
                // the others are left to check.
                let rest = move |record: &&Record| {
                    let fields = record.fields();
                    filter
                        .conditions
                        .iter()
                        .enumerate()
                        .all(|(i, c)| i == answered || c.matches(fields))
                };
                return Box::new(
                    keys.into_iter()
                        .filter_map(|key| self.records.get(&key))
                        .filter(rest),
                );
            }
        }
        Box::new(
            self.records
                .values()
                .filter(move |record| filter.matches(record.fields())),
        )
    }

    pub(crate) fn first(&self, n: usize) -> Vec<Record> {
        self.records.values().take(n).cloned().collect()
    }

    pub(crate) fn last(&self, n: usize) -> Vec<Record> {
        let mut last: Vec<Record> = self.records.values().rev().take(n).cloned().collect();
        last.reverse();
        last
    }

    pub(crate) fn paginate(&self, limit: usize, after: Option<&Key>) -> Page {
        let start = match after {
            Some(key) => Bound::Excluded(key.clone()),
            None => Bound::Unbounded,
        };
        let mut range = self.records.range((start, Bound::Unbounded));
        let page: Vec<(&Key, &Record)> = range.by_ref().take(limit).collect();
        let next = match range.next() {
            Some(_) => page.last().map(|(key, _)| (*key).clone()),
            None => None,
        };
        let records = page.into_iter().map(|(_, record)| record.clone()).collect();
        Page { records, next }
    }

    /// Sum, average, minimum or maximum of `field` over the records meeting
    /// `filter`; records whose field is not a number are left out. Min and max
    /// take strings when no record holds a number there, so the answer does not
    /// depend on which record comes first.
    pub(crate) fn aggregate(&self, field: &str, filter: &Filter, kind: Aggregate) -> Value {
        let values: Vec<&Value> = self
            .matching(filter)
            .filter_map(|r| lookup(r.fields(), field))
            .collect();
        let numbers = values.iter().filter_map(|v| match v {
            Value::Number(n) => Some(n),
            _ => None,
        });
        match kind {
            Aggregate::Sum => sum(numbers),
            Aggregate::Avg => {
                let (total, count) = numbers.fold((0f64, 0usize), |(total, count), n| {
                    (total + n.as_f64().unwrap_or(0.0), count + 1)
                });
                if count == 0 {
                    Value::Null
                } else {
                    Value::from(total / count as f64)
                }
            }
            Aggregate::Min | Aggregate::Max => {
                let wanted = if matches!(kind, Aggregate::Min) {
                    std::cmp::Ordering::Less
                } else {
                    std::cmp::Ordering::Greater
                };
                let kind_of: fn(&&Value) -> bool = if values.iter().any(|v| v.is_number()) {
                    |v| v.is_number()
                } else {
                    |v| v.is_string()
                };
                values
                    .into_iter()
                    .filter(kind_of)
                    .fold(None::<&Value>, |best, v| match best {
                        Some(b) if compare(v, b) != Some(wanted) => Some(b),
                        _ => Some(v),
                    })
                    .cloned()
                    .unwrap_or(Value::Null)
            }
        }
    }
}

/// The sum of numbers: exact while they are all integers (an i64 or u64 result
/// stays an integer, however large), a float once one is not; 0 for none.
fn sum<'a>(numbers: impl Iterator<Item = &'a serde_json::Number>) -> Value {
    let mut whole: Option<i128> = Some(0);
    let mut float = 0f64;
    for n in numbers {
        let exact = n
            .as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from));
        whole = match (whole, exact) {
            (Some(total), Some(i)) => total.checked_add(i),
            _ => None,
        };
        float += n.as_f64().unwrap_or(0.0);
    }
    match whole {
        Some(total) => i64::try_from(total)
            .map(Value::from)
            .or_else(|_| u64::try_from(total).map(Value::from))
            .unwrap_or_else(|_| Value::from(total as f64)),
        None => Value::from(float),
    }
}
