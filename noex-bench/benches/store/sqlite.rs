//! SQLite through rusqlite (bundled): WAL, `synchronous=FULL`, so that a write is
//! on disk when its statement (or transaction) returns, as noex-store's with redb
//! (`Durability::Immediate`). One table per bucket, typed columns, an index on
//! `users.grp` (none on `users_plain`), prepared statements (the connection's
//! cache). One connection behind a mutex: SQLite writes one at a time anyway.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, TransactionBehavior, params};
use serde_json::Value;

use crate::contender::{Contender, RECORDS, user};

pub struct Sqlite {
    pub conn: Mutex<Connection>,
}

/// A user row, as a caller of SQLite reads one.
#[allow(dead_code)] // read by black_box only
struct User {
    id: i64,
    name: String,
    email: String,
    age: i64,
    group: i64,
}

fn user_of(row: &rusqlite::Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: row.get(0)?,
        name: row.get(1)?,
        email: row.get(2)?,
        age: row.get(3)?,
        group: row.get(4)?,
    })
}

const USERS_TABLE: &str = "(id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL,
    email TEXT, age INTEGER, grp INTEGER NOT NULL)";

/// Binds one of [`user`]'s records to `?1..?4`.
fn user_params(record: &Value) -> (&str, &str, i64, i64) {
    (
        record["name"].as_str().unwrap(),
        record["email"].as_str().unwrap(),
        record["age"].as_i64().unwrap(),
        record["group"].as_i64().unwrap(),
    )
}

impl Sqlite {
    /// A database in `dir`, filled as every contender's.
    pub fn open(dir: &Path) -> Sqlite {
        let mut conn = Connection::open(dir.join("bench.sqlite")).expect("a database");
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.pragma_update(None, "synchronous", "FULL").unwrap();
        conn.set_prepared_statement_cache_capacity(32);
        for table in ["users", "users_plain", "signups"] {
            conn.execute(&format!("CREATE TABLE {table} {USERS_TABLE}"), [])
                .unwrap();
        }
        conn.execute_batch(
            "CREATE INDEX users_grp ON users(grp);
             CREATE INDEX signups_grp ON signups(grp);
             CREATE TABLE accounts (id INTEGER PRIMARY KEY AUTOINCREMENT,
                 owner TEXT NOT NULL, balance INTEGER NOT NULL);
             CREATE TABLE ledger (id INTEGER PRIMARY KEY AUTOINCREMENT,
                 account INTEGER NOT NULL, amount INTEGER NOT NULL);",
        )
        .unwrap();
        let tx = conn.transaction().unwrap();
        for n in 1..=RECORDS {
            let record = user(n);
            for table in ["users", "users_plain"] {
                tx.prepare_cached(&format!(
                    "INSERT INTO {table} (name, email, age, grp) VALUES (?1, ?2, ?3, ?4)"
                ))
                .unwrap()
                .execute(user_params(&record))
                .unwrap();
            }
            tx.prepare_cached("INSERT INTO accounts (owner, balance) VALUES (?1, 0)")
                .unwrap()
                .execute([format!("user {n}")])
                .unwrap();
        }
        tx.commit().unwrap();
        Sqlite {
            conn: Mutex::new(conn),
        }
    }

    /// Inserts into `signups` through `conn` (also for the concurrent writers).
    pub fn insert_with(conn: &Connection, record: &Value) {
        conn.prepare_cached("INSERT INTO signups (name, email, age, grp) VALUES (?1, ?2, ?3, ?4)")
            .unwrap()
            .execute(user_params(record))
            .unwrap();
    }
}

impl Contender for Sqlite {
    const NAME: &'static str = "SQLite";

    async fn insert(&self, record: &Value) {
        Sqlite::insert_with(&self.conn.lock().unwrap(), record);
    }

    fn get(&self, key: i64) -> bool {
        let conn = self.conn.lock().unwrap();
        let mut statement = conn
            .prepare_cached("SELECT id, name, email, age, grp FROM users WHERE id = ?1")
            .unwrap();
        let found = statement.query_row([key], user_of);
        std::hint::black_box(found).is_ok()
    }

    fn find(&self, indexed: bool, group: i64) -> usize {
        let conn = self.conn.lock().unwrap();
        let mut statement = conn
            .prepare_cached(if indexed {
                "SELECT id, name, email, age, grp FROM users WHERE grp = ?1"
            } else {
                "SELECT id, name, email, age, grp FROM users_plain WHERE grp = ?1"
            })
            .unwrap();
        let found: Vec<User> = statement
            .query_map([group], user_of)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        std::hint::black_box(found).len()
    }

    async fn transfer(&self, key: i64) {
        let mut conn = self.conn.lock().unwrap();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .unwrap();
        let balance: i64 = tx
            .prepare_cached("SELECT balance FROM accounts WHERE id = ?1")
            .unwrap()
            .query_row([key], |row| row.get(0))
            .unwrap();
        tx.prepare_cached("UPDATE accounts SET balance = ?1 WHERE id = ?2")
            .unwrap()
            .execute(params![balance + 1, key])
            .unwrap();
        tx.prepare_cached("INSERT INTO ledger (account, amount) VALUES (?1, 1)")
            .unwrap()
            .execute([key])
            .unwrap();
        tx.commit().unwrap();
    }

    fn written(&self) -> usize {
        let conn = self.conn.lock().unwrap();
        let count = |table: &str| -> usize {
            conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |row| {
                row.get::<_, i64>(0)
            })
            .unwrap() as usize
        };
        count("signups") + count("ledger")
    }

    async fn trim(&self) {
        self.conn
            .lock()
            .unwrap()
            .execute_batch("DELETE FROM signups; DELETE FROM ledger;")
            .unwrap();
    }
}
