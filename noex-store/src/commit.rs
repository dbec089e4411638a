//! Every write goes through here: the buckets it touches locked in name order, what
//! it read checked (optimistic concurrency), its changes applied all or none, handed
//! to persistence in commit order, and announced to the reactive queries.

use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::RwLockWriteGuard;

use crate::bucket::{Bucket, BucketData};
use crate::error::StoreError;
use crate::key::Key;
use crate::persistence::{Mutation, PersistenceError};
use crate::query::Changed;
use crate::record::Record;
use crate::shared::StoreInner;

/// What a transaction read, to be unchanged when it commits.
#[derive(Clone, Debug)]
pub(crate) enum ReadMark {
    /// A record's version when read; 0 when it was absent.
    Key {
        bucket: Arc<Bucket>,
        key: Key,
        version: u64,
    },
    /// The whole bucket (a filter, a count), by its generation when read.
    Whole {
        bucket: Arc<Bucket>,
        generation: u64,
    },
}

/// A change to a record, or to a whole bucket: what a commit applies, and what the
/// queries and the storage engine then learn of.
#[derive(Clone, Debug)]
pub(crate) enum Effect {
    Put {
        bucket: Arc<Bucket>,
        key: Key,
        record: Record,
    },
    Delete {
        bucket: Arc<Bucket>,
        key: Key,
    },
    Clear {
        bucket: Arc<Bucket>,
    },
}

impl Effect {
    fn bucket(&self) -> &Arc<Bucket> {
        match self {
            Effect::Put { bucket, .. }
            | Effect::Delete { bucket, .. }
            | Effect::Clear { bucket } => bucket,
        }
    }

    fn changed(&self) -> Changed {
        Changed {
            bucket: self.bucket().name.clone(),
            key: match self {
                Effect::Put { key, .. } | Effect::Delete { key, .. } => Some(key.clone()),
                Effect::Clear { .. } => None,
            },
        }
    }

    fn mutation(&self) -> Mutation {
        let bucket = self.bucket().name.clone();
        match self {
            Effect::Put { key, record, .. } => Mutation::Put {
                bucket,
                key: key.to_bytes(),
                value: serde_json::to_vec(record.fields()).expect("a JSON map always serializes"),
            },
            Effect::Delete { key, .. } => Mutation::Delete {
                bucket,
                key: key.to_bytes(),
            },
            Effect::Clear { .. } => Mutation::Clear { bucket },
        }
    }
}

impl Effect {
    /// Applies it to `data`, its bucket's: a unique value taken is `ALREADY_EXISTS`
    /// and leaves `data` as it was.
    fn apply(&self, data: &mut BucketData) -> Result<Undo, StoreError> {
        match self {
            Effect::Put {
                bucket,
                key,
                record,
            } => {
                data.check_unique(&bucket.name, key, record)?;
                Ok(Undo::Record(
                    key.clone(),
                    data.put(key.clone(), record.clone()),
                ))
            }
            Effect::Delete { key, .. } => Ok(Undo::Record(key.clone(), data.remove(key))),
            Effect::Clear { .. } => Ok(Undo::Bucket(data.clear())),
        }
    }
}

/// What an applied effect replaced, to put back when a later one of its commit fails.
enum Undo {
    Record(Key, Option<Record>),
    Bucket(BTreeMap<Key, Record>),
}

impl Undo {
    /// Puts `data` back as it was; undone in reverse order, so later effects are gone.
    fn undo(self, data: &mut BucketData) {
        match self {
            Undo::Record(key, Some(record)) => {
                data.put(key, record);
            }
            Undo::Record(key, None) => {
                data.remove(&key);
            }
            Undo::Bucket(records) => {
                for (key, record) in records {
                    data.put(key, record);
                }
            }
        }
    }
}

/// Write locks on the buckets of one commit, taken in name order so two commits
/// never wait on each other in a cycle.
struct Locked<'a> {
    guards: Vec<(&'a Arc<Bucket>, RwLockWriteGuard<'a, BucketData>)>,
}

impl<'a> Locked<'a> {
    fn lock(buckets: &'a [Arc<Bucket>]) -> Locked<'a> {
        let mut order: Vec<&Arc<Bucket>> = buckets.iter().collect();
        order.sort_by(|a, b| a.name.cmp(&b.name));
        order.dedup_by(|a, b| Arc::ptr_eq(a, b));
        Locked {
            guards: order.into_iter().map(|b| (b, b.data.write())).collect(),
        }
    }

    /// The write lock of one bucket.
    fn one(bucket: &'a Arc<Bucket>) -> Locked<'a> {
        Locked {
            guards: vec![(bucket, bucket.data.write())],
        }
    }

    fn data(&mut self, bucket: &Bucket) -> &mut BucketData {
        &mut self
            .guards
            .iter_mut()
            .find(|(b, _)| std::ptr::eq(Arc::as_ptr(b), bucket))
            .expect("a commit locks every bucket it touches")
            .1
    }
}

/// The receiver of a commit's durability, when the store persists.
pub(crate) type DurableAck = tokio::sync::oneshot::Receiver<Result<(), PersistenceError>>;

/// Commits a transaction: its reads checked, its writes applied all or none; then
/// waits until they are durable.
pub(crate) async fn commit_transaction(
    store: &StoreInner,
    reads: &[ReadMark],
    effects: Vec<Effect>,
) -> Result<(), StoreError> {
    if effects.is_empty() {
        return Ok(());
    }
    let mut buckets: Vec<Arc<Bucket>> = reads
        .iter()
        .map(|read| match read {
            ReadMark::Key { bucket, .. } | ReadMark::Whole { bucket, .. } => bucket.clone(),
        })
        .collect();
    buckets.extend(effects.iter().map(|effect| effect.bucket().clone()));
    let ack = {
        let mut locked = Locked::lock(&buckets);
        for read in reads {
            check_read(&mut locked, read)?;
        }
        apply_all(store, locked, effects)?
    };
    durable(store, ack).await
}

/// One write to one bucket, a commit of its own: under the bucket's lock, `decide`
/// looks at its data and says what to apply (nothing, or an error, writes nothing)
/// and what to return; then it waits until the write is durable.
pub(crate) async fn write_one<R>(
    store: &StoreInner,
    bucket: &Arc<Bucket>,
    decide: impl FnOnce(&BucketData) -> Result<(Option<Effect>, R), StoreError>,
) -> Result<R, StoreError> {
    store.check_running()?;
    let (ack, value) = {
        let mut locked = Locked::one(bucket);
        let (effect, value) = decide(locked.data(bucket))?;
        let ack = match effect {
            Some(effect) => apply_all(store, locked, vec![effect])?,
            None => None,
        };
        (ack, value)
    };
    durable(store, ack).await?;
    Ok(value)
}

/// Applies `effects` to the locked buckets, all or none, and seals the commit.
fn apply_all(
    store: &StoreInner,
    mut locked: Locked<'_>,
    effects: Vec<Effect>,
) -> Result<Option<DurableAck>, StoreError> {
    let mut applied: Vec<(&Arc<Bucket>, Undo)> = Vec::with_capacity(effects.len());
    for effect in &effects {
        match effect.apply(locked.data(effect.bucket())) {
            Ok(undo) => applied.push((effect.bucket(), undo)),
            Err(error) => {
                for (bucket, undo) in applied.into_iter().rev() {
                    undo.undo(locked.data(bucket));
                }
                return Err(error);
            }
        }
    }
    drop(applied);
    Ok(seal(store, locked, effects))
}

fn check_read(locked: &mut Locked<'_>, read: &ReadMark) -> Result<(), StoreError> {
    match read {
        ReadMark::Key {
            bucket,
            key,
            version,
        } => {
            let found = locked.data(bucket).get(key).map_or(0, Record::version);
            if found != *version {
                return Err(StoreError::Conflict {
                    bucket: bucket.name.clone(),
                    key: key.to_string(),
                    expected: *version,
                    found,
                });
            }
        }
        ReadMark::Whole { bucket, generation } => {
            let now = locked.data(bucket).generation;
            if now != *generation {
                return Err(StoreError::Conflict {
                    bucket: bucket.name.clone(),
                    key: "*".into(),
                    expected: *generation,
                    found: now,
                });
            }
        }
    }
    Ok(())
}

/// Finishes a commit whose effects are applied: hands them to persistence while the
/// locks still hold (so the engine sees commits in their order), releases the
/// locks, and tells the reactive queries.
fn seal(store: &StoreInner, locked: Locked<'_>, effects: Vec<Effect>) -> Option<DurableAck> {
    if effects.is_empty() {
        return None;
    }
    let ack = store
        .durable
        .as_ref()
        .map(|durable| durable.submit(effects.iter().map(Effect::mutation).collect()));
    drop(locked);
    for effect in &effects {
        effect.bucket().counted_write();
    }
    store.queries.changed(effects.iter().map(Effect::changed));
    ack
}

/// Waits until a commit is durable (at once without persistence).
/// A commit that could not be made durable stops the store's writes: memory holds
/// it and the disk does not, and later writes must not build on that.
async fn durable(store: &StoreInner, ack: Option<DurableAck>) -> Result<(), StoreError> {
    let Some(ack) = ack else {
        return Ok(());
    };
    let failure = match ack.await {
        Ok(Ok(())) => return Ok(()),
        Ok(Err(error)) => error.to_string(),
        Err(_) => "the storage writer stopped before the commit".to_string(),
    };
    store.refuse_writes(&failure);
    Err(StoreError::Persistence(failure))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::schema::{BucketDef, Schema};

    fn bucket() -> Arc<Bucket> {
        let schema = Schema::compile("things", BucketDef::new("id")).unwrap();
        Arc::new(Bucket::new("things", schema))
    }

    fn record(id: i64) -> Record {
        match json!({"id": id, "_version": 1}) {
            serde_json::Value::Object(fields) => Record::new(fields),
            _ => unreachable!(),
        }
    }

    #[test]
    fn undo_puts_each_kind_of_effect_back() {
        let bucket = bucket();
        let mut data = bucket.data.write();
        data.put(Key::Int(1), record(1));
        data.put(Key::Int(2), record(2));
        let before: Vec<Record> = data.all();

        let effects = [
            Effect::Put {
                bucket: bucket.clone(),
                key: Key::Int(3),
                record: record(3),
            },
            Effect::Delete {
                bucket: bucket.clone(),
                key: Key::Int(1),
            },
            Effect::Clear {
                bucket: bucket.clone(),
            },
            Effect::Put {
                bucket: bucket.clone(),
                key: Key::Int(9),
                record: record(9),
            },
        ];
        let undos: Vec<Undo> = effects
            .iter()
            .map(|e| e.apply(&mut data).unwrap())
            .collect();
        assert_eq!(data.all(), vec![record(9)]);
        for undo in undos.into_iter().rev() {
            undo.undo(&mut data);
        }
        assert_eq!(data.all(), before);
    }
}
