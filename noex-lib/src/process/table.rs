//! The runtime-wide table of live processes, keyed by pid.

use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use dashmap::DashMap;

use super::CellRef;
use crate::Pid;

/// Sharded, so starting and stopping processes on many threads does not contend
/// on one lock; the Observer iterates it only when asked for a snapshot.
pub(crate) struct ProcessTable {
    next_pid: AtomicU64,
    cells: DashMap<Pid, CellRef, BuildHasherDefault<PidHasher>>,
}

/// Shards of the table: a fixed number, so [`PidHasher`] knows where dashmap looks
/// for the shard index.
const SHARDS: usize = 16;
const SHARD_BITS: u32 = SHARDS.trailing_zeros();
/// Consecutive pids that share a shard.
const RUN_BITS: u32 = 4;

impl Default for ProcessTable {
    fn default() -> Self {
        ProcessTable {
            next_pid: AtomicU64::new(0),
            cells: DashMap::with_hasher_and_shard_amount(BuildHasherDefault::default(), SHARDS),
        }
    }
}

/// Pids are ours, sequential and never chosen by an attacker, so the hash keeps
/// them in order: the low bits are the pid itself (hashbrown's bucket), so a run
/// of new processes fills neighbouring buckets instead of a cold cache line each
/// (with 100k processes a random bucket cost a cache miss per start); runs of 16
/// pids share a shard (the bits dashmap reads just below the top seven); the top
/// seven bits (hashbrown's tag, compared before keys) are a multiplicative mix.
#[derive(Default)]
pub(crate) struct PidHasher(u64);

impl PidHasher {
    fn hash_pid(pid: u64) -> u64 {
        let tag = pid.wrapping_mul(0x517c_c1b7_2722_0a95) >> 57 << 57;
        let shard = ((pid >> RUN_BITS) & (SHARDS as u64 - 1)) << (57 - SHARD_BITS);
        let low = pid & ((1 << (57 - SHARD_BITS)) - 1);
        tag | shard | low
    }
}

impl Hasher for PidHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0 << 8) | u64::from(byte);
        }
        self.0 = Self::hash_pid(self.0);
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = Self::hash_pid(value);
    }
}

impl ProcessTable {
    /// A fresh pid; pids are never reused within a run.
    pub(crate) fn next_pid(&self) -> Pid {
        Pid(self.next_pid.fetch_add(1, Ordering::Relaxed) + 1)
    }

    pub(crate) fn insert(&self, cell: CellRef) {
        self.cells.insert(cell.pid, cell);
    }

    pub(crate) fn remove(&self, pid: Pid) {
        self.cells.remove(&pid);
    }

    pub(crate) fn get(&self, pid: Pid) -> Option<CellRef> {
        self.cells.get(&pid).map(|entry| entry.value().clone())
    }

    pub(crate) fn len(&self) -> usize {
        self.cells.len()
    }

    /// Every live cell, in pid order.
    pub(crate) fn cells(&self) -> Vec<CellRef> {
        let mut cells: Vec<_> = self.cells.iter().map(|e| e.value().clone()).collect();
        cells.sort_unstable_by_key(|cell| cell.pid);
        cells
    }
}

/// Wall-clock milliseconds from the coarse clock (a memory read on Linux, a few ns;
/// ticks a millisecond or a few apart): for the timestamps every start and every
/// event carries, where the precise clock (~25 ns) was a visible part of the cost.
#[cfg(target_os = "linux")]
pub(crate) fn coarse_now_ms() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_REALTIME_COARSE always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME_COARSE, &mut ts) };
    ts.tv_sec as u64 * 1000 + ts.tv_nsec as u64 / 1_000_000
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn coarse_now_ms() -> u64 {
    now_ms()
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
