//! Instruction counts of noex's hot paths, for `valgrind --tool=callgrind`, which
//! counts the same on a busy machine as on an idle one (criterion's times do not).
//!
//! ```text
//! cargo build --release -p noex-bench --bin costs
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/costs call 10000
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/costs call 20000
//! ```
//!
//! The difference of the two totals over the difference of the counts is the cost of
//! one operation, the start-up and the runtime's shutdown cancelled out. Operations:
//! `call` (a round trip on a current-thread runtime), `process_call` (the same from
//! a process's handler, which also records its wait for deadlock detection), `cast`
//! (a cast, handled), `spawn` (a start, and the exit at the runtime's shutdown);
//! and noex-store's in memory: `store_get` (a record by key from a bucket of 1,000)
//! and `store_insert` (a record with a generated key and an indexed field).

use noex::gen_server::{self, Context, GenServer, Reply, StartOptions};
use noex_store::{BucketDef, BucketRef, Field, Generated, Store, StoreOptions};
use serde_json::json;

struct Counter(u64);

impl GenServer for Counter {
    type Call = ();
    type Cast = u64;
    type Reply = u64;

    async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<u64> {
        Reply::Now(self.0)
    }

    async fn handle_cast(&mut self, n: u64, _: &mut Context<Self>) {
        self.0 += n;
    }
}

/// Calls the counter `count` times from its handler: a process as the caller.
struct Caller(gen_server::ServerRef<Counter>);

impl GenServer for Caller {
    type Call = u64;
    type Cast = ();
    type Reply = ();

    async fn handle_call(&mut self, count: u64, _: &mut Context<Self>) -> Reply<()> {
        for _ in 0..count {
            std::hint::black_box(self.0.call(()).await.expect("a reply"));
        }
        Reply::Now(())
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let operation = args.next().unwrap_or_default();
    let count: u64 = args.next().and_then(|n| n.parse().ok()).unwrap_or(10_000);
    // SAFETY: set before any thread of ours exists.
    unsafe { std::env::set_var(noex::agent::AGENT_ENV, "off") };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async move {
        let server = gen_server::start(Counter(0), StartOptions::new())
            .await
            .expect("a server");
        match operation.as_str() {
            "call" => {
                for _ in 0..count {
                    std::hint::black_box(server.call(()).await.expect("a reply"));
                }
            }
            "process_call" => {
                let caller = gen_server::start(Caller(server), StartOptions::new())
                    .await
                    .expect("a server");
                caller
                    .call_timeout(count, std::time::Duration::from_secs(3600))
                    .await
                    .expect("a reply");
            }
            "cast" => {
                for _ in 0..count {
                    server.cast(1).expect("a running server");
                }
                server.call(()).await.expect("a reply");
            }
            "spawn" => {
                for _ in 0..count {
                    let started = gen_server::start(Counter(0), StartOptions::new()).await;
                    std::hint::black_box(started.expect("a server"));
                }
            }
            "store_get" => {
                let (store, users) = store().await;
                for n in 0..count {
                    let key = 1 + (n % STORE_RECORDS) as i64;
                    std::hint::black_box(users.get(key).expect("a record"));
                }
                store.stop().await;
            }
            "store_insert" => {
                let (store, users) = store().await;
                // Made beforehand: the count is the store's work, not the caller's.
                let records: Vec<_> = (0..100).map(user).collect();
                for n in 0..count {
                    let record = &records[(n % 100) as usize];
                    std::hint::black_box(users.insert(record).await.expect("an insert"));
                }
                store.stop().await;
            }
            other => {
                eprintln!(
                    "costs: unknown operation {other:?} \
                     (call, process_call, cast, spawn, store_get or store_insert)"
                );
                std::process::exit(2);
            }
        }
    });
}

/// Records in the store's bucket before the counted operations.
const STORE_RECORDS: u64 = 1_000;

/// A user record of four typed fields.
fn user(n: u64) -> serde_json::Value {
    json!({"name": format!("user {n}"), "email": format!("user{n}@example.com"),
           "age": 18 + n % 70, "group": n % 100})
}

/// An in-memory store with a bucket of [`STORE_RECORDS`] users: an auto-increment
/// key, `group` indexed.
async fn store() -> (Store, BucketRef) {
    let store = Store::start(StoreOptions::new("store"))
        .await
        .expect("a store");
    let users = store
        .define_bucket(
            "users",
            BucketDef::new("id")
                .field("id", Field::integer().generated(Generated::AutoIncrement))
                .field("name", Field::string().required())
                .field("email", Field::string())
                .field("age", Field::integer().min(0.0))
                .field("group", Field::integer().required().index()),
        )
        .await
        .expect("a bucket");
    for n in 0..STORE_RECORDS {
        users.insert(&user(n)).await.expect("an insert");
    }
    (store, users)
}
