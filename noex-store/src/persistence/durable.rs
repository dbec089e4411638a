//! Group commit: one thread makes the store's batches durable, many at a time.
//!
//! The commit path hands each transaction's batch to [`Durable::submit`] while it still holds
//! the bucket locks, so the order batches arrive in is the order transactions committed in.
//! The writer thread takes one batch, then everything already queued behind it, and commits
//! them together in one [`Storage::commit`]: while one fsync runs, the next group gathers.
//! Each submitter then learns the outcome of the commit that contained its batch.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;

use tokio::sync::oneshot;

use super::{Mutation, PersistenceError, Storage};

/// What the writer has done so far: monotonic counters, except `queued`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DurableStats {
    /// Successful engine commits (each one fsync with redb).
    pub commits: u64,
    /// Batches made durable; `batches / commits` is how much group commit merged.
    pub batches: u64,
    /// Mutations made durable.
    pub mutations: u64,
    /// Key and value bytes made durable.
    pub bytes: u64,
    /// Batches submitted and not yet answered.
    pub queued: u64,
}

struct Job {
    batch: Vec<Mutation>,
    reply: oneshot::Sender<Result<(), PersistenceError>>,
}

#[derive(Default)]
struct Counters {
    commits: AtomicU64,
    batches: AtomicU64,
    mutations: AtomicU64,
    bytes: AtomicU64,
    queued: AtomicU64,
}

/// Makes batches durable on a dedicated thread (`noex-store-writer`), merging those that
/// queue up during a commit. Cheap to clone.
///
/// The thread commits what is queued and ends when the last clone is dropped, and that drop
/// blocks until it has, so the storage (a redb file and its lock) is closed once it returns.
/// The wait is short when writers await their acks: the queue is then empty or nearly so.
#[derive(Clone)]
pub struct Durable {
    writer: Arc<Writer>,
}

struct Writer {
    // The queue has no bound in count, by design: a writer awaits the ack of its batch before
    // it writes again, so each writer has at most one batch queued, and the queue holds at
    // most as many batches as there are concurrent writers. A bound would only make `submit`
    // block under the commit path's bucket locks.
    jobs: parking_lot::RwLock<Option<mpsc::Sender<Job>>>,
    thread: parking_lot::Mutex<Option<JoinHandle<()>>>,
    counters: Arc<Counters>,
}

impl Durable {
    /// Starts the writer thread for `storage`.
    pub fn new(storage: Arc<dyn Storage>) -> Durable {
        let (jobs, queue) = mpsc::channel();
        let counters = Arc::new(Counters::default());
        let thread = std::thread::Builder::new()
            .name("noex-store-writer".into())
            .spawn({
                let counters = counters.clone();
                move || run(&*storage, &queue, &counters)
            })
            .expect("cannot start the store's writer thread");
        Durable {
            writer: Arc::new(Writer {
                jobs: parking_lot::RwLock::new(Some(jobs)),
                thread: parking_lot::Mutex::new(Some(thread)),
                counters,
            }),
        }
    }

    /// Non-blocking; batches queued while a commit runs are committed together in one engine
    /// transaction; the receiver gets the outcome of the commit that contained this batch.
    pub fn submit(&self, batch: Vec<Mutation>) -> oneshot::Receiver<Result<(), PersistenceError>> {
        let (reply, ack) = oneshot::channel();
        let counters = &self.writer.counters;
        counters.queued.fetch_add(1, Ordering::Relaxed);
        let job = Job { batch, reply };
        let refused = match &*self.writer.jobs.read() {
            Some(jobs) => jobs.send(job).err().map(|mpsc::SendError(job)| job),
            None => Some(job),
        };
        if let Some(job) = refused {
            counters.queued.fetch_sub(1, Ordering::Relaxed);
            let _ = job.reply.send(Err(PersistenceError::WriterStopped));
        }
        ack
    }

    /// Commits what is queued, ends the writer thread and closes the storage (a
    /// redb file and its lock), blocking until done; batches submitted after this
    /// fail with [`PersistenceError::WriterStopped`]. Dropping the last clone does
    /// the same.
    pub fn close(&self) {
        self.writer.close();
    }

    /// What the writer has done so far.
    pub fn stats(&self) -> DurableStats {
        let c = &self.writer.counters;
        DurableStats {
            commits: c.commits.load(Ordering::Relaxed),
            batches: c.batches.load(Ordering::Relaxed),
            mutations: c.mutations.load(Ordering::Relaxed),
            bytes: c.bytes.load(Ordering::Relaxed),
            queued: c.queued.load(Ordering::Relaxed),
        }
    }
}

impl Writer {
    fn close(&self) {
        // Closing the channel lets the thread commit what is queued and end; waiting for it
        // means the storage (a redb file's lock) is released when this returns.
        drop(self.jobs.write().take());
        if let Some(thread) = self.thread.lock().take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.close();
    }
}

fn run(storage: &dyn Storage, queue: &mpsc::Receiver<Job>, counters: &Counters) {
    // After a failed commit nothing more is written: the storage keeps a prefix of
    // the history, never later writes without the ones that failed.
    let mut broken: Option<PersistenceError> = None;
    while let Ok(first) = queue.recv() {
        let mut group = vec![first];
        group.extend(queue.try_iter());

        if let Some(error) = &broken {
            counters
                .queued
                .fetch_sub(group.len() as u64, Ordering::Relaxed);
            for job in group {
                let _ = job.reply.send(Err(error.clone()));
            }
            continue;
        }

        let mut batch = Vec::with_capacity(group.iter().map(|job| job.batch.len()).sum());
        for job in &mut group {
            batch.append(&mut job.batch);
        }

        // Nothing to write is durable already, and everything before it was committed.
        if batch.is_empty() {
            counters
                .queued
                .fetch_sub(group.len() as u64, Ordering::Relaxed);
            for job in group {
                let _ = job.reply.send(Ok(()));
            }
            continue;
        }

        // A panicking engine fails this group like an error would.
        let outcome =
            catch_unwind(AssertUnwindSafe(|| storage.commit(&batch))).unwrap_or_else(|panic| {
                Err(PersistenceError::commit(Panicked(
                    noex::process::panic_message(&*panic),
                )))
            });

        match &outcome {
            Ok(()) => {
                let bytes: usize = batch.iter().map(Mutation::payload_len).sum();
                counters.commits.fetch_add(1, Ordering::Relaxed);
                counters
                    .batches
                    .fetch_add(group.len() as u64, Ordering::Relaxed);
                counters
                    .mutations
                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
                counters.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
            }
            Err(error) => {
                tracing::warn!(
                    %error,
                    batches = group.len(),
                    mutations = batch.len(),
                    "store commit failed; its writers and every later one get the error"
                );
                broken = Some(error.clone());
            }
        }

        counters
            .queued
            .fetch_sub(group.len() as u64, Ordering::Relaxed);
        for job in group {
            // A submitter that stopped waiting is no concern of the writer's.
            let _ = job.reply.send(outcome.clone());
        }
    }
}

/// A panic inside [`Storage::commit`], as an error.
#[derive(Debug, thiserror::Error)]
#[error("the storage panicked: {0}")]
struct Panicked(String);

#[cfg(test)]
mod tests {
    use std::sync::mpsc as std_mpsc;

    use parking_lot::Mutex;
    use tokio::sync::oneshot::error::TryRecvError;

    use super::*;
    use crate::persistence::{FailingStorage, MemoryStorage, Row, put, row};

    /// Wraps a storage, records the batch of every commit and the thread it ran on, and holds
    /// the first commit until the test releases it: what is submitted meanwhile queues up.
    struct Gated<S> {
        inner: S,
        commits: Mutex<Vec<(Vec<Mutation>, Option<String>)>>,
        gate: Mutex<Option<(std_mpsc::Sender<()>, std_mpsc::Receiver<()>)>>,
    }

    /// The test's side of the gate. Dropping it opens the gate, so a failing test ends
    /// rather than waits: declare it after the `Durable`, whose drop waits for the writer.
    struct Gate {
        entered: std_mpsc::Receiver<()>,
        release: std_mpsc::Sender<()>,
    }

    impl Gate {
        /// Waits until the writer is inside the first commit.
        fn wait_entered(&self) {
            self.entered.recv().expect("the first commit starts");
        }
        fn release(&self) {
            self.release.send(()).unwrap();
        }
    }

    fn gated<S: Storage>(inner: S) -> Arc<Gated<S>> {
        Arc::new(Gated {
            inner,
            commits: Mutex::new(Vec::new()),
            gate: Mutex::new(None),
        })
    }

    impl<S: Storage> Gated<S> {
        /// Makes the next commit wait until the gate is released.
        fn close_gate(&self) -> Gate {
            let (entered_tx, entered) = std_mpsc::channel();
            let (release, release_rx) = std_mpsc::channel();
            *self.gate.lock() = Some((entered_tx, release_rx));
            Gate { entered, release }
        }

        fn batches(&self) -> Vec<Vec<Mutation>> {
            self.commits.lock().iter().map(|(b, _)| b.clone()).collect()
        }
    }

    impl<S: Storage> Storage for Gated<S> {
        fn load(&self) -> Result<Vec<Row>, PersistenceError> {
            self.inner.load()
        }

        fn commit(&self, batch: &[Mutation]) -> Result<(), PersistenceError> {
            let thread = std::thread::current().name().map(str::to_owned);
            self.commits.lock().push((batch.to_vec(), thread));
            let gate = self.gate.lock().take();
            if let Some((entered, release)) = gate {
                let _ = entered.send(());
                let _ = release.recv();
            }
            self.inner.commit(batch)
        }
    }

    #[tokio::test]
    async fn group_commit_merges_queued_batches() {
        let storage = gated(MemoryStorage::new());
        let durable = Durable::new(storage.clone());
        let gate = storage.close_gate();
        let first = durable.submit(vec![put("users", "a", "1")]);
        gate.wait_entered();
        let b = durable.submit(vec![put("users", "b", "2")]);
        let c = durable.submit(vec![put("users", "c", "3"), put("orders", "x", "4")]);
        let d = durable.submit(vec![put("users", "d", "5")]);
        gate.release();
        for ack in [first, b, c, d] {
            ack.await.unwrap().unwrap();
        }

        assert_eq!(
            storage.batches(),
            vec![
                vec![put("users", "a", "1")],
                vec![
                    put("users", "b", "2"),
                    put("users", "c", "3"),
                    put("orders", "x", "4"),
                    put("users", "d", "5"),
                ],
            ]
        );
        let threads: Vec<_> = storage
            .commits
            .lock()
            .iter()
            .map(|(_, t)| t.clone())
            .collect();
        assert_eq!(threads, vec![Some("noex-store-writer".to_owned()); 2]);
        let stats = durable.stats();
        assert_eq!((stats.commits, stats.batches, stats.queued), (2, 4, 0));
    }

    #[tokio::test]
    async fn commit_is_all_or_nothing() {
        let storage = gated(FailingStorage::new("poison"));
        let durable = Durable::new(storage.clone());
        let gate = storage.close_gate();
        let first = durable.submit(vec![put("users", "a", "1")]);
        gate.wait_entered();
        let good = durable.submit(vec![put("users", "b", "2")]);
        let poisoned = durable.submit(vec![put("users", "c", "3"), put("poison", "p", "0")]);
        let also_good = durable.submit(vec![Mutation::Delete {
            bucket: "users".into(),
            key: b"a".to_vec(),
        }]);
        gate.release();
        first.await.unwrap().unwrap();

        // The three shared one commit, so all three learn it failed.
        for ack in [good, poisoned, also_good] {
            let err = ack.await.unwrap().unwrap_err();
            assert_eq!(
                err.to_string(),
                "store commit failed, nothing of it was written: bucket \"poison\" is poisoned"
            );
        }
        assert_eq!(storage.load().unwrap(), vec![row("users", "a", "1")]);
        let stats = durable.stats();
        assert_eq!((stats.commits, stats.batches, stats.queued), (1, 1, 0));

        // Nothing after a failed commit is written: the storage keeps a prefix of
        // the history.
        let later = durable.submit(vec![put("users", "e", "5")]).await.unwrap();
        assert!(later.is_err(), "a batch after a failed commit was written");
        assert_eq!(storage.load().unwrap(), vec![row("users", "a", "1")]);
        assert_eq!(durable.stats().queued, 0);
    }

    #[tokio::test]
    async fn later_batch_overwrites_earlier() {
        let storage = gated(MemoryStorage::new());
        let durable = Durable::new(storage.clone());
        let gate = storage.close_gate();
        let first = durable.submit(vec![put("users", "gone", "1")]);
        gate.wait_entered();
        let acks = [
            durable.submit(vec![put("users", "k", "old")]),
            durable.submit(vec![put("users", "k", "new")]),
            durable.submit(vec![Mutation::Delete {
                bucket: "users".into(),
                key: b"gone".to_vec(),
            }]),
            durable.submit(vec![put("orders", "x", "1")]),
            durable.submit(vec![Mutation::Clear {
                bucket: "orders".into(),
            }]),
            durable.submit(vec![put("orders", "y", "2")]),
        ];
        gate.release();
        first.await.unwrap().unwrap();
        for ack in acks {
            ack.await.unwrap().unwrap();
        }
        assert_eq!(
            storage.batches().len(),
            2,
            "the six batches shared a commit"
        );
        assert_eq!(
            storage.load().unwrap(),
            vec![row("orders", "y", "2"), row("users", "k", "new")]
        );
    }

    #[tokio::test]
    async fn ack_waits_for_its_commit() {
        let storage = gated(MemoryStorage::new());
        let durable = Durable::new(storage.clone());
        let gate = storage.close_gate();
        let mut first = durable.submit(vec![put("users", "a", "1")]);
        gate.wait_entered();
        let mut second = durable.submit(vec![put("users", "b", "2")]);
        assert!(matches!(first.try_recv(), Err(TryRecvError::Empty)));
        assert!(matches!(second.try_recv(), Err(TryRecvError::Empty)));
        assert_eq!(durable.stats().queued, 2);
        assert_eq!(durable.stats().commits, 0);
        gate.release();
        first.await.unwrap().unwrap();
        second.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn stats_count_what_was_made_durable() {
        let storage = Arc::new(MemoryStorage::new());
        let durable = Durable::new(storage);
        assert_eq!(durable.stats(), DurableStats::default());
        durable
            .submit(vec![
                put("users", "ab", "12345"),
                Mutation::Delete {
                    bucket: "users".into(),
                    key: b"xyz".to_vec(),
                },
                Mutation::Clear {
                    bucket: "orders".into(),
                },
            ])
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            durable.stats(),
            DurableStats {
                commits: 1,
                batches: 1,
                mutations: 3,
                bytes: 2 + 5 + 3,
                queued: 0,
            }
        );
    }

    #[tokio::test]
    async fn empty_batches_are_acked_without_an_engine_commit() {
        let storage = gated(MemoryStorage::new());
        let durable = Durable::new(storage.clone());
        durable.submit(vec![]).await.unwrap().unwrap();
        durable
            .submit(vec![put("users", "a", "1")])
            .await
            .unwrap()
            .unwrap();
        durable.submit(vec![]).await.unwrap().unwrap();
        assert_eq!(storage.batches(), vec![vec![put("users", "a", "1")]]);
        assert_eq!(durable.stats().commits, 1);
        assert_eq!(durable.stats().queued, 0);
    }

    /// Panics in its first commit.
    struct PanicsOnce {
        inner: MemoryStorage,
        panicked: std::sync::atomic::AtomicBool,
    }

    impl Storage for PanicsOnce {
        fn load(&self) -> Result<Vec<Row>, PersistenceError> {
            self.inner.load()
        }

        fn commit(&self, batch: &[Mutation]) -> Result<(), PersistenceError> {
            if !self.panicked.swap(true, Ordering::SeqCst) {
                panic!("disk on fire");
            }
            self.inner.commit(batch)
        }
    }

    #[tokio::test]
    async fn a_panicking_storage_fails_its_group_and_every_later_one() {
        let storage = Arc::new(PanicsOnce {
            inner: MemoryStorage::new(),
            panicked: Default::default(),
        });
        let durable = Durable::new(storage.clone());
        let err = durable
            .submit(vec![put("users", "a", "1")])
            .await
            .expect("the writer answers even when the storage panics")
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "store commit failed, nothing of it was written: the storage panicked: disk on fire"
        );
        // The writer still answers, and writes nothing after the failure.
        let later = durable.submit(vec![put("users", "b", "2")]).await.unwrap();
        assert_eq!(later.unwrap_err().to_string(), err.to_string());
        assert_eq!(storage.load().unwrap(), vec![]);
        assert_eq!(durable.stats().queued, 0);
    }

    #[tokio::test]
    async fn dropping_the_last_durable_commits_what_is_queued() {
        let storage = gated(MemoryStorage::new());
        let durable = Durable::new(storage.clone());
        let gate = storage.close_gate();
        let clone = durable.clone();
        let first = durable.submit(vec![put("users", "a", "1")]);
        gate.wait_entered();
        let queued = clone.submit(vec![put("users", "b", "2")]);
        drop(durable);
        // The clone keeps the writer; dropping it blocks until the queue is committed.
        let dropper = std::thread::spawn(move || drop(clone));
        gate.release();
        dropper.join().unwrap();

        assert_eq!(
            storage.load().unwrap(),
            vec![row("users", "a", "1"), row("users", "b", "2")]
        );
        // The thread has ended and let go of the storage.
        assert_eq!(Arc::strong_count(&storage), 1);
        first.await.unwrap().unwrap();
        queued.await.unwrap().unwrap();
    }
}
