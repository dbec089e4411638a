//! What every contender does, and the data they all start from.

use std::future::Future;

/// Records in `users`, `users_plain` and `accounts` at the start.
pub const RECORDS: i64 = 10_000;
/// Values of `group`: a `where` on one of them matches 1% of the records.
pub const GROUPS: i64 = 100;

/// The user record every contender stores: a generated integer key, four typed
/// fields, `group` indexed (in `users` and `signups`; not in `users_plain`).
pub fn user(n: i64) -> serde_json::Value {
    serde_json::json!({
        "name": format!("user {n}"),
        "email": format!("user{n}@example.com"),
        "age": 18 + n % 70,
        "group": n % GROUPS,
    })
}

/// A store as the bench uses one. Every contender holds the same buckets (tables):
/// `users` and `users_plain` with [`RECORDS`] users each (keys 1 to `RECORDS`), the
/// same but for `group`'s index; `accounts` with [`RECORDS`] accounts of balance 0;
/// `signups` and `ledger`, empty, which the writes fill.
pub trait Contender: Send + Sync + 'static {
    /// The column's name in the summary.
    const NAME: &'static str;

    /// Inserts `record` (one of [`user`]'s) into `signups`, its key generated.
    fn insert(&self, record: &serde_json::Value) -> impl Future<Output = ()> + Send;

    /// The user under `key` in `users`, handed to the caller; whether there was one.
    fn get(&self, key: i64) -> bool;

    /// The users of `group` (from `users`, or from `users_plain` unless `indexed`),
    /// handed to the caller; how many.
    fn find(&self, indexed: bool, group: i64) -> usize;

    /// One transaction: reads account `key`, adds 1 to its balance, and inserts a
    /// record of it in `ledger`.
    fn transfer(&self, key: i64) -> impl Future<Output = ()> + Send;

    /// Records in `signups` plus records in `ledger`.
    fn written(&self) -> usize;

    /// Empties `signups` and `ledger` (between timed stretches, so that the writes
    /// never fill memory).
    fn trim(&self) -> impl Future<Output = ()> + Send;
}
