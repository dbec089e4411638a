//! Persistence through redb: an acknowledged write survives `kill -9` of the app,
//! and nothing half-written appears.
//!
//! The writer is this test binary run again as a child (`writer_child`, ignored in
//! a normal run): it writes in a loop and prints each write once it is
//! acknowledged; the parent kills it with SIGKILL after a varying number of
//! acknowledgements, then opens the file and checks every acknowledged write is
//! there and every transaction is whole.

#![cfg(feature = "redb")]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use noex_store::persistence::{Mutation, PersistenceError, RedbStorage, Storage};
use noex_store::{BucketDef, Field, Filter, Generated, Store, StoreError, StoreOptions};
use serde_json::{Value, json};

mod fixture;

const WRITER_DIR: &str = "NOEX_STORE_WRITER_DIR";

async fn open(dir: &Path) -> Store {
    fixture::agent_off();
    let storage = RedbStorage::open(dir.join("store.redb")).expect("the file opens");
    // Tests of one binary run side by side: each store its own name.
    static OPENED: AtomicUsize = AtomicUsize::new(0);
    let name = format!("durable-{}", OPENED.fetch_add(1, Ordering::Relaxed));
    let store = Store::start(StoreOptions::new(name).persistence(storage))
        .await
        .expect("the store starts");
    store
        .define_bucket(
            "items",
            BucketDef::new("id")
                .field("id", Field::integer().generated(Generated::AutoIncrement))
                .field("batch", Field::integer().required().index())
                .field("n", Field::integer().required()),
        )
        .await
        .unwrap();
    store
        .define_bucket(
            "batches",
            BucketDef::new("id").field("id", Field::integer()),
        )
        .await
        .unwrap();
    store
        .define_bucket(
            "counter",
            BucketDef::new("id").field("value", Field::integer()),
        )
        .await
        .unwrap();
    store
}

/// The child: continues from the last batch on disk, forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run as a child by acknowledged_write_survives_kill"]
async fn writer_child() {
    let Ok(dir) = std::env::var(WRITER_DIR) else {
        return;
    };
    let store = open(Path::new(&dir)).await;
    let batches = store.bucket("batches").unwrap();
    let counter = store.bucket("counter").unwrap();
    let mut batch = batches
        .last(1)
        .first()
        .map_or(0, |r| r.get("id").and_then(Value::as_i64).unwrap())
        + 1;
    if counter.get("c").is_none() {
        counter
            .insert(&json!({"id": "c", "value": 0}))
            .await
            .unwrap();
    }
    loop {
        // A transaction over two buckets: three items and the batch's mark.
        store
            .transaction(|tx| {
                for n in 0..3 {
                    tx.insert("items", &json!({"batch": batch, "n": n}))?;
                }
                tx.insert("batches", &json!({"id": batch}))?;
                Ok::<_, StoreError>(())
            })
            .await
            .unwrap();
        println!("tx {batch}");
        // A single update, acknowledged on its own.
        counter.update("c", &json!({"value": batch})).await.unwrap();
        println!("counter {batch}");
        batch += 1;
    }
}

/// What the parent saw acknowledged before the kill.
#[derive(Default)]
struct Acked {
    batch: i64,
    counter: i64,
}

fn run_writer_until(dir: &Path, acks: usize) -> Acked {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "writer_child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(WRITER_DIR, dir)
        .env("NOEX_AGENT", "off")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the writer starts");
    let mut acked = Acked::default();
    let mut seen = 0;
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    for line in lines {
        let line = line.unwrap();
        let mut words = line.split_whitespace();
        match (
            words.next(),
            words.next().and_then(|n| n.parse::<i64>().ok()),
        ) {
            (Some("tx"), Some(n)) => acked.batch = n,
            (Some("counter"), Some(n)) => acked.counter = n,
            _ => continue,
        }
        seen += 1;
        if seen >= acks {
            break;
        }
    }
    assert!(
        seen >= acks,
        "the writer stopped by itself after {seen} acknowledgements"
    );
    // SIGKILL: no destructor, no flush, no goodbye.
    child.kill().unwrap();
    child.wait().unwrap();
    acked
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_write_survives_kill() {
    let dir = tempfile::tempdir().unwrap();
    let mut last = Acked::default();
    // Kill points that differ from round to round (a fixed sequence, so a failure
    // repeats): early, late, right after a transaction, right after an update.
    for acks in [1, 37, 4, 120, 9, 64, 2, 200] {
        let acked = run_writer_until(dir.path(), acks);
        assert!(acked.batch >= last.batch);
        last = acked;

        let store = open(dir.path()).await;
        let items = store.bucket("items").unwrap();
        let batches = store.bucket("batches").unwrap();
        let marks: Vec<i64> = batches
            .all()
            .iter()
            .map(|r| r.get("id").and_then(Value::as_i64).unwrap())
            .collect();
        // Every acknowledged transaction is there, and the batches are 1..=n.
        assert!(
            marks.len() as i64 >= last.batch,
            "acknowledged batch {} lost: {} on disk",
            last.batch,
            marks.len()
        );
        assert_eq!(marks, (1..=marks.len() as i64).collect::<Vec<_>>());
        // Nothing half-written: each batch on disk has its three items, and no
        // item belongs to a batch that is not there.
        for batch in &marks {
            let found = items.count(&Filter::eq("batch", *batch));
            assert_eq!(found, 3, "batch {batch} has {found} of its 3 items");
        }
        assert_eq!(items.len(), marks.len() * 3);
        let counter = store
            .bucket("counter")
            .unwrap()
            .get("c")
            .and_then(|r| r.get("value").and_then(Value::as_i64))
            .unwrap_or(0);
        assert!(
            counter >= last.counter,
            "acknowledged counter {} lost: {counter}",
            last.counter
        );
        store.stop().await;
        drop(store);
    }
}

#[tokio::test]
async fn records_come_back_with_their_indexes_and_counters() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path()).await;
        let items = store.bucket("items").unwrap();
        for n in 0..5 {
            items
                .insert(&json!({"batch": n % 2, "n": n}))
                .await
                .unwrap();
        }
        items.delete(2).await.unwrap();
        items.update(1, &json!({"n": 10})).await.unwrap();
        store.stop().await;
    }
    let store = open(dir.path()).await;
    let items = store.bucket("items").unwrap();
    assert_eq!(items.len(), 4);
    assert_eq!(
        items.count(&Filter::eq("batch", 0)),
        3,
        "the index is rebuilt"
    );
    assert_eq!(items.get(1).unwrap().get("n"), Some(&json!(10)));
    assert_eq!(items.get(1).unwrap().version(), 2);
    let next = items.insert(&json!({"batch": 9, "n": 9})).await.unwrap();
    assert_eq!(
        next.get("id"),
        Some(&json!(6)),
        "auto-increment carries on past the stored keys"
    );
    store.stop().await;
}

/// A storage that fails its commits once told to.
struct Failing {
    commits: Arc<AtomicUsize>,
    fail_from: usize,
}

impl Storage for Failing {
    fn load(&self) -> Result<Vec<(String, Vec<u8>, Vec<u8>)>, PersistenceError> {
        Ok(Vec::new())
    }

    fn commit(&self, _: &[Mutation]) -> Result<(), PersistenceError> {
        if self.commits.fetch_add(1, Ordering::SeqCst) >= self.fail_from {
            let disk_full = std::io::Error::other("disk full");
            Err(PersistenceError::commit(disk_full))
        } else {
            Ok(())
        }
    }
}

#[tokio::test]
async fn failed_commit_is_an_error_and_stops_writes() {
    fixture::agent_off();
    let commits = Arc::new(AtomicUsize::new(0));
    let store = Store::start(StoreOptions::new("durable-failing").persistence(Failing {
        commits: commits.clone(),
        fail_from: 1,
    }))
    .await
    .unwrap();
    let notes = store
        .define_bucket(
            "notes",
            BucketDef::new("id").field("id", Field::integer().generated(Generated::AutoIncrement)),
        )
        .await
        .unwrap();
    notes.insert(&json!({"text": "kept"})).await.unwrap();
    let error = notes.insert(&json!({"text": "lost"})).await.unwrap_err();
    assert_eq!(error.code(), "INTERNAL_ERROR");
    assert!(matches!(error, StoreError::Persistence(_)), "{error}");
    let refused = notes.insert(&json!({"text": "after"})).await.unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("writes are refused until the store restarts"),
        "{refused}"
    );
    assert_eq!(
        commits.load(Ordering::SeqCst),
        2,
        "the refused write never reached the disk"
    );
    store.stop().await;
}

#[tokio::test]
async fn stop_commits_and_releases_the_file_while_handles_live_on() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let items = store.bucket("items").unwrap();
    items.insert(&json!({"batch": 1, "n": 1})).await.unwrap();
    store.stop().await;
    // The store and a bucket handle are still alive here: the file is released all
    // the same, and holds what was written.
    let storage = RedbStorage::open(dir.path().join("store.redb")).expect("the file is free");
    assert_eq!(storage.load().unwrap().len(), 1);
    assert_eq!(
        items
            .insert(&json!({"batch": 2, "n": 2}))
            .await
            .unwrap_err(),
        StoreError::Stopped
    );
}
