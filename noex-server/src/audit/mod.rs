//! Who did what: the gateway records the operations of the tiers configured
//! ([`AuditTier`]) in an [`AuditLog`], a ring buffer that drops its oldest entries at
//! capacity, and hands each entry to an `on_entry` hook that may keep it for good.
//!
//! ```
//! use noex_server::{AuditConfig, AuditLog, AuditOutcome, AuditQuery, AuditRecord, ErrorCode};
//!
//! let log = AuditLog::new(AuditConfig::default().capacity(1_000));
//! log.record(AuditRecord {
//!     connection_id: 7,
//!     remote: "203.0.113.7:51234",
//!     user_id: Some("victor"),
//!     operation: "observer.kill",
//!     resource: Some("worker-3"),
//!     outcome: AuditOutcome::Error { code: ErrorCode::Forbidden },
//! });
//! let refused = log.query(&AuditQuery { user_id: Some("victor".into()), ..AuditQuery::default() });
//! assert_eq!(refused[0].operation, "observer.kill");
//! ```

use std::collections::VecDeque;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use noex_agent::text::clip;
use parking_lot::Mutex;
use serde::Deserialize;

use crate::auth::OperationPattern;

mod entry;
#[cfg(test)]
mod tests;

pub use entry::{AuditEntry, AuditOutcome, AuditRecord, AuditTier};

/// The hook each recorded entry is handed to.
type EntryHook = Arc<dyn Fn(&AuditEntry) + Send + Sync>;

/// What an [`AuditLog`] records and keeps.
#[derive(Clone)]
pub struct AuditConfig {
    capacity: usize,
    tiers: u8,
    on_entry: Option<EntryHook>,
}

impl AuditConfig {
    /// How many entries a log keeps by default.
    pub const DEFAULT_CAPACITY: usize = 10_000;

    /// The default: 10,000 entries, tiers Admin and Write, no hook.
    pub fn new() -> AuditConfig {
        AuditConfig::default()
    }

    /// Keep the newest `capacity` entries. 0 keeps none: the hook still sees each.
    pub fn capacity(mut self, capacity: usize) -> AuditConfig {
        self.capacity = capacity;
        self
    }

    /// Record the operations of these tiers only (replacing the default Admin and Write).
    pub fn tiers(mut self, tiers: impl IntoIterator<Item = AuditTier>) -> AuditConfig {
        self.tiers = tiers.into_iter().fold(0, |bits, tier| bits | tier.bit());
        self
    }

    /// Hand each recorded entry to `hook` (to append it to a file, say). The hook runs on
    /// the recording task after the entry is in the log, outside the log's lock, so it
    /// may query the log; keep it quick, for it delays the request that was recorded.
    /// Hooks of entries recorded at once from two connections may run in either order:
    /// `seq` tells the true one. A hook that panics is logged and the entry kept.
    pub fn on_entry(mut self, hook: impl Fn(&AuditEntry) + Send + Sync + 'static) -> AuditConfig {
        self.on_entry = Some(Arc::new(hook));
        self
    }
}

impl Default for AuditConfig {
    fn default() -> AuditConfig {
        AuditConfig {
            capacity: AuditConfig::DEFAULT_CAPACITY,
            tiers: AuditTier::Admin.bit() | AuditTier::Write.bit(),
            on_entry: None,
        }
    }
}

impl fmt::Debug for AuditConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditConfig")
            .field("capacity", &self.capacity)
            .field("tiers", &tiers_of(self.tiers))
            .field("on_entry", &self.on_entry.is_some())
            .finish()
    }
}

fn tiers_of(bits: u8) -> Vec<AuditTier> {
    AuditTier::ALL
        .into_iter()
        .filter(|tier| bits & tier.bit() != 0)
        .collect()
}

/// Which entries [`AuditLog::query`] returns: those matching every filter given, at most
/// `limit` of them (and never more than [`AuditQuery::MAX_LIMIT`]), oldest first.
///
/// Without `since_seq` they are the newest matching entries (the tail of the log); with
/// it, the first matching entries after that number, so a client that asks again with the
/// last `seq` it got pages through the log without missing any still kept.
///
/// Deserializes from the fields of an `audit.query` request (`userId`, `operation`,
/// `sinceSeq`, `limit`), the absent ones taking their defaults.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct AuditQuery {
    /// Only this user's entries.
    pub user_id: Option<String>,
    /// Only these operations: a name (`store.insert`), a group (`observer.*`) or `*`.
    pub operation: Option<String>,
    /// Only entries numbered after this one.
    pub since_seq: Option<u64>,
    /// At most this many entries (capped at [`AuditQuery::MAX_LIMIT`]).
    pub limit: usize,
}

impl AuditQuery {
    /// The most entries a query returns, whatever its `limit`: a reply stays under about
    /// 1.2 MB.
    pub const MAX_LIMIT: usize = 1_000;
    /// The `limit` of a query that gives none.
    pub const DEFAULT_LIMIT: usize = 100;
}

impl Default for AuditQuery {
    fn default() -> AuditQuery {
        AuditQuery {
            user_id: None,
            operation: None,
            since_seq: None,
            limit: AuditQuery::DEFAULT_LIMIT,
        }
    }
}

/// The audit log: a ring buffer of [`AuditEntry`]s shared by every connection of a
/// gateway. Cloning it gives another handle to the same log.
#[derive(Clone)]
pub struct AuditLog {
    shared: Arc<Shared>,
}

struct Shared {
    capacity: usize,
    tiers: u8,
    on_entry: Option<EntryHook>,
    ring: Mutex<Ring>,
}

struct Ring {
    /// Oldest first; `seq`s are consecutive, so an entry's index is its `seq` minus the
    /// first's.
    entries: VecDeque<AuditEntry>,
    next_seq: u64,
    dropped: u64,
}

impl Ring {
    /// Appends `entry`, dropping the oldest at `capacity`. Grows by doubling, as a
    /// `VecDeque` would, but never past `capacity`: a log of 10,000 does not hold room for
    /// 16,384.
    fn push(&mut self, entry: AuditEntry, capacity: usize) {
        if self.entries.len() >= capacity {
            self.entries.pop_front();
            self.dropped += 1;
        } else if self.entries.len() == self.entries.capacity() {
            let room = (self.entries.len() * 2).max(16).min(capacity);
            self.entries.reserve_exact(room - self.entries.len());
        }
        self.entries.push_back(entry);
    }
}

impl AuditLog {
    /// An empty log recording as `config` says.
    pub fn new(config: AuditConfig) -> AuditLog {
        AuditLog {
            shared: Arc::new(Shared {
                capacity: config.capacity,
                tiers: config.tiers,
                on_entry: config.on_entry,
                // Grows as entries come: a log that records little costs little.
                ring: Mutex::new(Ring {
                    entries: VecDeque::new(),
                    next_seq: 1,
                    dropped: 0,
                }),
            }),
        }
    }

    /// Whether [`AuditLog::record`] would record `operation`: its tier is configured.
    pub fn records(&self, operation: &str) -> bool {
        self.shared.tiers & AuditTier::of(operation).bit() != 0
    }

    /// Records what happened if its operation's tier is configured: numbers and dates it,
    /// clips its texts, drops the oldest entry when the log is full, then hands it to the
    /// `on_entry` hook. Returns its `seq`, or `None` when its tier is not recorded.
    pub fn record(&self, record: AuditRecord<'_>) -> Option<u64> {
        if !self.records(record.operation) {
            return None;
        }
        let owned = |text: &str| clip(text, AuditEntry::TEXT_LIMIT).into_owned();
        let mut entry = AuditEntry {
            seq: 0,
            at_ms: 0,
            connection_id: record.connection_id,
            remote: owned(record.remote),
            user_id: record.user_id.map(owned),
            operation: owned(record.operation),
            resource: record.resource.map(owned),
            outcome: record.outcome,
        };
        let hook = self.shared.on_entry.as_ref();
        let (seq, handed) = {
            let mut ring = self.shared.ring.lock();
            // Numbered and dated under the lock: seq order is time order.
            let seq = ring.next_seq;
            ring.next_seq += 1;
            entry.seq = seq;
            entry.at_ms = noex_agent::process_start::now_ms();
            if self.shared.capacity == 0 {
                (seq, Some(entry))
            } else {
                let handed = hook.map(|_| entry.clone());
                ring.push(entry, self.shared.capacity);
                (seq, handed)
            }
        };
        if let (Some(hook), Some(entry)) = (hook, handed) {
            run_hook(hook, &entry);
        }
        Some(seq)
    }

    /// The entries `query` selects, oldest first (see [`AuditQuery`]).
    pub fn query(&self, query: &AuditQuery) -> Vec<AuditEntry> {
        let limit = query.limit.min(AuditQuery::MAX_LIMIT);
        let operation = query.operation.as_deref().map(OperationPattern::new);
        let selected = |entry: &&AuditEntry| {
            query
                .user_id
                .as_deref()
                .is_none_or(|user| entry.user_id.as_deref() == Some(user))
                && operation
                    .as_ref()
                    .is_none_or(|pattern| pattern.matches(&entry.operation))
        };
        let ring = self.shared.ring.lock();
        match query.since_seq {
            Some(since) => {
                let first_seq = ring.entries.front().map_or(ring.next_seq, |e| e.seq);
                let skip = usize::try_from(since.saturating_add(1).saturating_sub(first_seq))
                    .unwrap_or(usize::MAX);
                ring.entries
                    .iter()
                    .skip(skip)
                    .filter(selected)
                    .take(limit)
                    .cloned()
                    .collect()
            }
            None => {
                let mut newest: Vec<AuditEntry> = ring
                    .entries
                    .iter()
                    .rev()
                    .filter(selected)
                    .take(limit)
                    .cloned()
                    .collect();
                newest.reverse();
                newest
            }
        }
    }

    /// How many entries the log holds.
    pub fn len(&self) -> usize {
        self.shared.ring.lock().entries.len()
    }

    /// Whether the log holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many entries the log keeps at most.
    pub fn capacity(&self) -> usize {
        self.shared.capacity
    }

    /// How many entries were dropped, the oldest, to make room for newer ones.
    pub fn dropped(&self) -> u64 {
        self.shared.ring.lock().dropped
    }

    /// The tiers recorded.
    pub fn tiers(&self) -> Vec<AuditTier> {
        tiers_of(self.shared.tiers)
    }
}

impl Default for AuditLog {
    /// A log of [`AuditConfig::default`].
    fn default() -> AuditLog {
        AuditLog::new(AuditConfig::default())
    }
}

impl fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditLog")
            .field("len", &self.len())
            .field("capacity", &self.shared.capacity)
            .field("tiers", &self.tiers())
            .field("on_entry", &self.shared.on_entry.is_some())
            .finish()
    }
}

/// Runs the hook; a panic in it is the hook's bug, not the request's: it is logged, and
/// the entry stays in the log (it was put there first).
fn run_hook(hook: &EntryHook, entry: &AuditEntry) {
    if let Err(panic) = catch_unwind(AssertUnwindSafe(|| hook(entry))) {
        tracing::error!(
            seq = entry.seq,
            operation = %entry.operation,
            panic = %noex::process::panic_message(&*panic),
            "the audit log's on_entry hook panicked; the entry is kept in the log"
        );
    }
}
