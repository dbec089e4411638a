//! The floor: a `std::sync::Mutex<HashMap<i64, serde_json::Value>>` per bucket, the
//! least a program keeping JSON records in memory does. No schema, no index (a
//! `where` scans), no versions, no undo; a reader gets a copy of the record (the map
//! holds plain values), where noex-store hands out a shared one.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};

use serde_json::{Value, json};

use crate::contender::{Contender, RECORDS, user};

type Map = Mutex<HashMap<i64, Value>>;

pub struct Floor {
    users: Map,
    signups: Map,
    accounts: Map,
    ledger: Map,
    /// The auto-increment keys of `signups` and `ledger`.
    next_signup: AtomicI64,
    next_entry: AtomicI64,
}

impl Floor {
    pub fn new() -> Floor {
        let mut users = HashMap::new();
        let mut accounts = HashMap::new();
        for key in 1..=RECORDS {
            let mut record = user(key);
            record["id"] = json!(key);
            users.insert(key, record);
            accounts.insert(
                key,
                json!({"id": key, "owner": format!("user {key}"), "balance": 0}),
            );
        }
        Floor {
            users: Mutex::new(users),
            signups: Mutex::default(),
            accounts: Mutex::new(accounts),
            ledger: Mutex::default(),
            next_signup: AtomicI64::new(0),
            next_entry: AtomicI64::new(0),
        }
    }
}

impl Contender for Floor {
    const NAME: &'static str = "floor";

    async fn insert(&self, record: &Value) {
        let key = self.next_signup.fetch_add(1, Ordering::Relaxed) + 1;
        let mut record = record.clone();
        record["id"] = json!(key);
        self.signups.lock().unwrap().insert(key, record);
    }

    fn get(&self, key: i64) -> bool {
        let found = self.users.lock().unwrap().get(&key).cloned();
        std::hint::black_box(found).is_some()
    }

    fn find(&self, _indexed: bool, group: i64) -> usize {
        let found: Vec<Value> = self
            .users
            .lock()
            .unwrap()
            .values()
            .filter(|record| record["group"].as_i64() == Some(group))
            .cloned()
            .collect();
        std::hint::black_box(found).len()
    }

    async fn transfer(&self, key: i64) {
        // Both locks, in one order, for the three operations: all or nothing.
        let mut accounts = self.accounts.lock().unwrap();
        let mut ledger = self.ledger.lock().unwrap();
        let account = accounts.get_mut(&key).expect("an account");
        let balance = account["balance"].as_i64().expect("a balance");
        account["balance"] = json!(balance + 1);
        let entry = self.next_entry.fetch_add(1, Ordering::Relaxed) + 1;
        ledger.insert(entry, json!({"id": entry, "account": key, "amount": 1}));
    }

    fn written(&self) -> usize {
        self.signups.lock().unwrap().len() + self.ledger.lock().unwrap().len()
    }

    async fn trim(&self) {
        self.signups.lock().unwrap().clear();
        self.ledger.lock().unwrap().clear();
    }
}
