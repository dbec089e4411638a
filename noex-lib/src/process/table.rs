//! The runtime-wide table of live processes, keyed by pid.
//!
//! Pids are ours and sequential, and processes are started in runs, so the table is
//! an array of pages of consecutive pids rather than a hash map of single pids: a
//! start writes the next slot of a page it has just used (a warm cache line), and
//! removing a pid leaves nothing behind to clean up later. A hash map keyed by pid
//! costs a probe of cold memory per start and collects tombstones that every few
//! thousand starts are swept in one pass: counted in the spawn benchmark, about
//! 100 ns of a start, where a page takes about 30.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::CellRef;
use super::cell::prefetch;
use crate::Pid;
use crate::sync::Mutex;

/// Pids per page. A page lives while any of its pids does, so a long-lived process
/// among short-lived ones keeps at most one page (32 slots, 512 bytes) alive.
const PAGE_BITS: u32 = 5;
const PAGE_SLOTS: usize = 1 << PAGE_BITS;
/// Shards, each with its own lock, so starts on many threads rarely meet; a run of
/// a page's pids shares a shard.
const SHARDS: usize = 16;

pub(crate) struct ProcessTable {
    next_pid: AtomicU64,
    shards: [Shard; SHARDS],
    /// When the table was made: with the application's first process.
    started: Instant,
}

/// The runtime's one process table, created with the first process.
static PROCESSES: LazyLock<ProcessTable> = LazyLock::new(ProcessTable::default);

/// The table of every live process in this OS process.
#[inline]
pub(crate) fn processes() -> &'static ProcessTable {
    &PROCESSES
}

/// Aligned to a cache line, so two threads starting processes in neighbouring pages
/// do not write to one line.
#[derive(Default)]
#[repr(align(64))]
struct Shard(Mutex<Pages>);

#[derive(Default)]
struct Pages {
    by_number: HashMap<u64, Box<Page>, BuildHasherDefault<PidHasher>>,
    live: usize,
}

struct Page {
    live: u32,
    slots: [Option<CellRef>; PAGE_SLOTS],
}

/// Page numbers are sequential too: hashed as pids are.
pub(crate) use noex_agent::types::PidHasher;

impl Default for ProcessTable {
    fn default() -> Self {
        ProcessTable {
            next_pid: AtomicU64::new(0),
            shards: Default::default(),
            started: Instant::now(),
        }
    }
}

/// Where a pid lives: its shard, its page's number, its slot in the page.
fn locate(pid: Pid) -> (usize, u64, usize) {
    let page = pid.0 >> PAGE_BITS;
    (
        page as usize % SHARDS,
        page,
        pid.0 as usize & (PAGE_SLOTS - 1),
    )
}

impl ProcessTable {
    /// How long the runtime has run: since its first process.
    pub(crate) fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// A fresh pid; pids are never reused within a run.
    pub(crate) fn next_pid(&self) -> Pid {
        Pid(self.next_pid.fetch_add(1, Ordering::Relaxed) + 1)
    }

    pub(crate) fn insert(&self, cell: CellRef) {
        let (shard, number, slot) = locate(cell.pid);
        let mut pages = self.shards[shard].0.lock();
        let page = pages.by_number.entry(number).or_insert_with(|| {
            Box::new(Page {
                live: 0,
                slots: Default::default(),
            })
        });
        if page.slots[slot].replace(cell).is_none() {
            page.live += 1;
            pages.live += 1;
        }
    }

    pub(crate) fn remove(&self, pid: Pid) {
        let (shard, number, slot) = locate(pid);
        let mut pages = self.shards[shard].0.lock();
        let Some(page) = pages.by_number.get_mut(&number) else {
            return;
        };
        let Some(cell) = page.slots[slot].take() else {
            return;
        };
        page.live -= 1;
        let empty = (page.live == 0).then_some(number);
        pages.live -= 1;
        let page = empty.and_then(|number| pages.by_number.remove(&number));
        drop(pages);
        // Outside the lock: the last reference to a cell frees its process.
        drop(cell);
        drop(page);
    }

    pub(crate) fn get(&self, pid: Pid) -> Option<CellRef> {
        let (shard, number, slot) = locate(pid);
        let pages = self.shards[shard].0.lock();
        pages.by_number.get(&number)?.slots[slot].clone()
    }

    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|shard| shard.0.lock().live).sum()
    }

    /// Every live cell, in pid order.
    pub(crate) fn cells(&self) -> Vec<CellRef> {
        let mut gathered: Vec<Option<CellRef>> = Vec::with_capacity(self.len());
        // Each page's number and where its cells went in `gathered`.
        let mut pages = Vec::new();
        for shard in &self.shards {
            let shard = shard.0.lock();
            let in_shard: Vec<(&u64, &Box<Page>)> = shard.by_number.iter().collect();
            if let Some((_, first)) = in_shard.first() {
                first
                    .slots
                    .iter()
                    .flatten()
                    .for_each(CellRef::prefetch_count);
            }
            for (at, &(&number, page)) in in_shard.iter().enumerate() {
                // Each clone writes a cold reference count with a locked instruction,
                // which waits for it: the counts are fetched a page ahead, and the
                // pages two ahead, so the waits overlap the work.
                if let Some((_, later)) = in_shard.get(at + 2) {
                    prefetch(later.slots.as_ptr().cast(), size_of_val(&later.slots));
                }
                if let Some((_, next)) = in_shard.get(at + 1) {
                    next.slots
                        .iter()
                        .flatten()
                        .for_each(CellRef::prefetch_count);
                }
                let start = gathered.len();
                gathered.extend(page.slots.iter().flatten().cloned().map(Some));
                pages.push((number, start..gathered.len()));
            }
        }
        // A slot's pid is its page's number and its place in the page: sorting the
        // pages (a thirty-second as many) orders the cells without reading one.
        pages.sort_unstable_by_key(|(number, _)| *number);
        let mut cells = Vec::with_capacity(gathered.len());
        for (_, range) in pages {
            cells.extend(gathered[range].iter_mut().filter_map(Option::take));
        }
        cells
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::process::{CellInit, ProcessCell, ProcessRecord};

    struct Record(ProcessCell);

    impl ProcessRecord for Record {
        fn cell(&self) -> &ProcessCell {
            &self.0
        }

        fn enqueued(&self) -> u64 {
            0
        }

        fn send_info(&self, _: crate::process::Info) -> bool {
            false
        }

        fn request_stop(&self, _: crate::ExitReason) {}

        fn format_status(&self) -> Option<oneshot::Receiver<Option<String>>> {
            None
        }

        fn into_any(self: Arc<Self>) -> Arc<dyn std::any::Any + Send + Sync> {
            self
        }
    }

    fn cell(pid: u64) -> CellRef {
        CellRef::new(record(pid))
    }

    fn record(pid: u64) -> Arc<Record> {
        Arc::new(Record(ProcessCell::new(CellInit::bare(
            Pid(pid),
            || "test",
        ))))
    }

    fn pages(table: &ProcessTable) -> usize {
        table
            .shards
            .iter()
            .map(|shard| shard.0.lock().by_number.len())
            .sum()
    }

    #[test]
    fn cells_are_found_by_pid_and_listed_in_pid_order() {
        let table = ProcessTable::default();
        // Across pages and shards, inserted out of order.
        let pids = [5_000, 3, 40, 1, 33, 31, 32, 700];
        for pid in pids {
            table.insert(cell(pid));
        }
        assert_eq!(table.len(), pids.len());
        for pid in pids {
            assert_eq!(table.get(Pid(pid)).map(|c| c.pid), Some(Pid(pid)));
        }
        assert!(table.get(Pid(2)).is_none(), "a free slot in a live page");
        assert!(table.get(Pid(64_000)).is_none(), "a page never used");
        let listed: Vec<u64> = table.cells().iter().map(|c| c.pid.0).collect();
        assert_eq!(listed, [1, 3, 31, 32, 33, 40, 700, 5_000]);
    }

    #[test]
    fn a_removed_pid_is_gone_and_its_cell_released() {
        let table = ProcessTable::default();
        let kept = record(7);
        table.insert(CellRef::new(kept.clone()));
        table.insert(cell(8));
        table.remove(Pid(7));
        assert!(table.get(Pid(7)).is_none());
        assert_eq!(table.len(), 1);
        assert_eq!(
            Arc::strong_count(&kept),
            1,
            "the table let go of its reference"
        );
        // Removing twice, or a pid never there, changes nothing.
        table.remove(Pid(7));
        table.remove(Pid(9_999));
        assert_eq!(table.len(), 1);
        assert!(table.get(Pid(8)).is_some());
    }

    #[test]
    fn a_page_is_freed_with_its_last_process_and_only_then() {
        let table = ProcessTable::default();
        for pid in 0..PAGE_SLOTS as u64 * 3 {
            table.insert(cell(pid));
        }
        assert_eq!(pages(&table), 3);
        // A long-lived process keeps its page (and only its page) alive.
        for pid in 0..PAGE_SLOTS as u64 * 3 {
            if pid != 40 {
                table.remove(Pid(pid));
            }
        }
        assert_eq!(pages(&table), 1);
        assert_eq!(table.len(), 1);
        table.remove(Pid(40));
        assert_eq!(pages(&table), 0);
        assert_eq!(table.len(), 0);
        assert!(table.cells().is_empty());
    }

    #[test]
    fn pids_are_sequential_and_never_reused() {
        let table = ProcessTable::default();
        let first = table.next_pid();
        table.insert(cell(first.0));
        table.remove(first);
        assert_eq!(table.next_pid(), Pid(first.0 + 1));
    }
}
