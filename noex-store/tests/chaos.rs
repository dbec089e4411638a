//! A chaos soak of the store: writers move money between accounts in transactions
//! (each with a log record in a second bucket), subscribers watch the total and the
//! log, and a killer kills the store's processes — bucket processes and the queries
//! process — at random, by count of commits (no clock). Nothing the writers were
//! told committed may be lost, no subscriber may ever see money appear or vanish,
//! and every process is back at the end.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use noex_store::{BucketDef, Field, Filter, Generated, Store, StoreError, StoreOptions};
use serde_json::{Value, json};

mod fixture;

const ACCOUNTS: i64 = 8;
const OPENING: i64 = 1_000;
const WRITERS: u64 = 4;
const TRANSFERS_PER_WRITER: u64 = 1_500;
/// A kill after this many commits.
const KILL_EVERY: u64 = 20;

/// A small xorshift: the kills' choices repeat from run to run.
struct Choices(u64);

impl Choices {
    fn next(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % below
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_survives_random_kills_under_load() {
    fixture::agent_off();
    // Intensity well above the kills: the soak checks recovery, not giving up
    // (tests/processes.rs has that).
    let options = StoreOptions::new("chaos").max_restarts(10_000, Duration::from_secs(60));
    let store = Store::start(options).await.unwrap();
    // Half the accounts in each of two buckets: a transfer between them is a
    // transaction over both, and a total over both must never see one half of it.
    let balances = || {
        BucketDef::new("id")
            .field("id", Field::integer())
            .field("balance", Field::integer().min(0.0).required())
    };
    let accounts = store.define_bucket("accounts", balances()).await.unwrap();
    let savings = store.define_bucket("savings", balances()).await.unwrap();
    store
        .define_bucket(
            "log",
            BucketDef::new("id")
                .field("id", Field::integer().generated(Generated::AutoIncrement))
                .field("amount", Field::integer().required().index()),
        )
        .await
        .unwrap();
    for id in 0..ACCOUNTS {
        let bucket = if id < ACCOUNTS / 2 {
            &accounts
        } else {
            &savings
        };
        bucket
            .insert(&json!({"id": id, "balance": OPENING}))
            .await
            .unwrap();
    }
    store
        .define_query("total", |ctx, _| {
            let sum = |bucket: &str| -> Result<i64, StoreError> {
                let total = ctx.bucket(bucket)?.sum("balance", &Filter::all());
                Ok(total.as_i64().unwrap_or(0))
            };
            Ok(json!(sum("accounts")? + sum("savings")?))
        })
        .unwrap();
    store
        .define_query("log-count", |ctx, _| Ok(json!(ctx.bucket("log")?.len())))
        .unwrap();

    // Watches every total pushed: each must be the whole of the money.
    let mut total = store.subscribe("total", json!({})).unwrap();
    let totals_seen = Arc::new(AtomicU64::new(0));
    let watcher = {
        let seen = totals_seen.clone();
        tokio::spawn(async move {
            while let Some(result) = total.next().await {
                assert_eq!(
                    result.unwrap(),
                    json!(ACCOUNTS * OPENING),
                    "a subscriber saw money appear or vanish"
                );
                seen.fetch_add(1, Ordering::Relaxed);
            }
        })
    };

    // Every KILL_EVERY-th commit, the writer that made it kills a store process
    // chosen at random: the kills keep pace with the load however fast it runs.
    let commits = Arc::new(AtomicU64::new(0));
    let kills = Arc::new(AtomicU64::new(0));
    let mut writers = Vec::new();
    for writer in 0..WRITERS {
        let store = store.clone();
        let commits = commits.clone();
        let kills = kills.clone();
        writers.push(tokio::spawn(async move {
            let mut choices = Choices(writer * 7919 + 1);
            let mut moved = 0u64;
            for _ in 0..TRANSFERS_PER_WRITER {
                let from = choices.next(ACCOUNTS as u64) as i64;
                let to = choices.next(ACCOUNTS as u64) as i64;
                let amount = 1 + choices.next(50) as i64;
                loop {
                    let outcome = store
                        .transaction(|tx| {
                            let balance = |r: Option<noex_store::Record>| {
                                r.and_then(|r| r.get("balance").and_then(Value::as_i64))
                                    .unwrap()
                            };
                            let home = |id: i64| {
                                if id < ACCOUNTS / 2 {
                                    "accounts"
                                } else {
                                    "savings"
                                }
                            };
                            let from_balance = balance(tx.get(home(from), from)?);
                            if from_balance < amount || from == to {
                                return Ok(false);
                            }
                            let to_balance = balance(tx.get(home(to), to)?);
                            let debit = json!({"balance": from_balance - amount});
                            tx.update(home(from), from, &debit)?;
                            tx.update(home(to), to, &json!({"balance": to_balance + amount}))?;
                            tx.insert("log", &json!({"amount": amount}))?;
                            Ok::<_, StoreError>(true)
                        })
                        .await;
                    match outcome {
                        Ok(done) => {
                            moved += u64::from(done);
                            break;
                        }
                        Err(StoreError::Conflict { .. }) => tokio::task::yield_now().await,
                        Err(other) => panic!("a transfer failed: {other}"),
                    }
                }
                if (commits.fetch_add(1, Ordering::Relaxed) + 1).is_multiple_of(KILL_EVERY) {
                    let targets = [
                        "chaos/accounts",
                        "chaos/savings",
                        "chaos/log",
                        "chaos/queries",
                    ];
                    let target = targets[choices.next(targets.len() as u64) as usize];
                    if let Some(pid) = noex::registry::whereis(target) {
                        fixture::kill(pid).await;
                        kills.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            moved
        }));
    }
    let mut moved = 0;
    for writer in writers {
        moved += writer.await.unwrap();
    }

    // The log's count reaches every transfer made, through the restarted processes.
    let mut log_count = store.subscribe("log-count", json!({})).unwrap();
    loop {
        let count = log_count.next().await.unwrap().unwrap();
        if count == json!(moved) {
            break;
        }
    }
    let sum = |bucket: &noex_store::BucketRef| {
        let total = bucket.sum("balance", &Filter::all());
        total.as_i64().expect("balances are integers")
    };
    assert_eq!(sum(&accounts) + sum(&savings), ACCOUNTS * OPENING);
    assert_eq!(store.bucket("log").unwrap().len() as u64, moved);
    assert!(
        kills.load(Ordering::Relaxed) >= 10,
        "the soak killed too little to mean anything"
    );
    assert!(totals_seen.load(Ordering::Relaxed) >= 1);
    for name in [
        "chaos/accounts",
        "chaos/savings",
        "chaos/log",
        "chaos/queries",
    ] {
        // The last kill may have come with the last transfer: its restart is on
        // its way, not necessarily done.
        let back = tokio::time::timeout(Duration::from_secs(30), async {
            while noex::registry::whereis(name).is_none() {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        });
        assert!(back.await.is_ok(), "{name} is not back");
    }
    store.stop().await;
    drop(store);
    watcher.await.unwrap();
}
