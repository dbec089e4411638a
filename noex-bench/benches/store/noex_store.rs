//! noex-store, in memory or with its writes persisted (redb, group commit).

use std::path::Path;

use noex_store::{BucketDef, BucketRef, Field, Filter, Generated, Store, StoreError, StoreOptions};
use serde_json::{Value, json};

use crate::contender::{Contender, RECORDS, user};

pub struct NoexStore<const PERSISTENT: bool> {
    pub store: Store,
    users: BucketRef,
    users_plain: BucketRef,
    signups: BucketRef,
    ledger: BucketRef,
}

/// The users' schema: an auto-increment key, four typed fields, `group` indexed
/// or not.
fn user_bucket(indexed: bool) -> BucketDef {
    let group = Field::integer().required();
    BucketDef::new("id")
        .field("id", Field::integer().generated(Generated::AutoIncrement))
        .field("name", Field::string().required())
        .field("email", Field::string())
        .field("age", Field::integer().min(0.0))
        .field("group", if indexed { group.index() } else { group })
}

impl NoexStore<false> {
    pub async fn in_memory() -> Self {
        Self::start(StoreOptions::new("bench-memory")).await
    }
}

impl NoexStore<true> {
    /// Persisted to a redb file in `dir`.
    pub async fn persistent(dir: &Path) -> Self {
        let storage = noex_store::RedbStorage::open(dir.join("store.redb")).expect("a redb file");
        Self::start(StoreOptions::new("bench-redb").persistence(storage)).await
    }
}

impl<const PERSISTENT: bool> NoexStore<PERSISTENT> {
    async fn start(options: StoreOptions) -> Self {
        let store = Store::start(options).await.expect("a store");
        let users = store
            .define_bucket("users", user_bucket(true))
            .await
            .unwrap();
        let users_plain = store
            .define_bucket("users_plain", user_bucket(false))
            .await
            .unwrap();
        let signups = store
            .define_bucket("signups", user_bucket(true))
            .await
            .unwrap();
        store
            .define_bucket(
                "accounts",
                BucketDef::new("id")
                    .field("id", Field::integer().generated(Generated::AutoIncrement))
                    .field("owner", Field::string().required())
                    .field("balance", Field::integer().required()),
            )
            .await
            .unwrap();
        let ledger = store
            .define_bucket(
                "ledger",
                BucketDef::new("id")
                    .field("id", Field::integer().generated(Generated::AutoIncrement))
                    .field("account", Field::integer().required())
                    .field("amount", Field::integer().required()),
            )
            .await
            .unwrap();
        // One transaction: one commit (one fsync when persistent) for the lot.
        let began = std::time::Instant::now();
        store
            .transaction(|tx| {
                for n in 1..=RECORDS {
                    tx.insert("users", &user(n))?;
                    tx.insert("users_plain", &user(n))?;
                    tx.insert(
                        "accounts",
                        &json!({"owner": format!("user {n}"), "balance": 0}),
                    )?;
                }
                Ok::<_, StoreError>(())
            })
            .await
            .expect("the records");
        if std::env::var_os("STORE_BENCH_DEBUG").is_some() {
            eprintln!(
                "{}: {} records in one transaction: {:?}",
                Self::NAME,
                3 * RECORDS,
                began.elapsed()
            );
        }
        NoexStore {
            store,
            users,
            users_plain,
            signups,
            ledger,
        }
    }
}

impl<const PERSISTENT: bool> Contender for NoexStore<PERSISTENT> {
    const NAME: &'static str = if PERSISTENT {
        "noex-store (redb)"
    } else {
        "noex-store"
    };

    async fn insert(&self, record: &Value) {
        self.signups.insert(record).await.expect("an insert");
    }

    fn get(&self, key: i64) -> bool {
        std::hint::black_box(self.users.get(key)).is_some()
    }

    fn find(&self, indexed: bool, group: i64) -> usize {
        let bucket = if indexed {
            &self.users
        } else {
            &self.users_plain
        };
        std::hint::black_box(bucket.find(&Filter::eq("group", group))).len()
    }

    async fn transfer(&self, key: i64) {
        self.store
            .transaction(|tx| {
                let account = tx.get("accounts", key)?.expect("an account");
                let balance = account.get("balance").and_then(Value::as_i64).unwrap();
                tx.update("accounts", key, &json!({"balance": balance + 1}))?;
                tx.insert("ledger", &json!({"account": key, "amount": 1}))?;
                Ok::<_, StoreError>(())
            })
            .await
            .expect("a transaction");
    }

    fn written(&self) -> usize {
        self.signups.len() + self.ledger.len()
    }

    async fn trim(&self) {
        self.signups.clear().await.unwrap();
        self.ledger.clear().await.unwrap();
    }
}
