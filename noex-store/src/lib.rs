//! noex-store: a reactive in-memory store on noex processes.
//!
//! Buckets of JSON-like records with schemas (types, required fields, defaults,
//! generated keys, unique fields, value rules), CRUD and aggregate queries with
//! secondary indexes, transactions over several buckets (optimistic: all or
//! nothing, `CONFLICT` when something read changed), reactive queries whose new
//! results are pushed to subscribers, and optional persistence through an embedded
//! engine (redb), where an acknowledged write survives a crash.
//!
//! Every bucket is a supervised noex process: `noex ps` shows each with its record
//! count, bytes, operations per second and subscribers.
//!
//! ```
//! use noex_store::{BucketDef, Field, Filter, Generated, Store, StoreOptions};
//! use serde_json::json;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), noex_store::StoreError> {
//! # unsafe { std::env::set_var("NOEX_AGENT", "off") }
//! let store = Store::start(StoreOptions::new("store")).await?;
//! let users = store
//!     .define_bucket("users", BucketDef::new("id")
//!         .field("id", Field::string().generated(Generated::Uuid))
//!         .field("name", Field::string().required())
//!         .field("role", Field::string().default(json!("user")).index()))
//!     .await?;
//!
//! let alice = users.insert(&json!({"name": "Alice"})).await?;
//! assert_eq!(alice.get("role"), Some(&json!("user")));
//! assert_eq!(alice.version(), 1);
//!
//! store.define_query("admins", |ctx, _params| {
//!     let admins = ctx.bucket("users")?.find(&Filter::eq("role", "admin"));
//!     Ok(json!(admins.len()))
//! })?;
//! let mut admins = store.subscribe("admins", json!({}))?;
//! assert_eq!(admins.next().await.unwrap()?, json!(0));
//!
//! let key = alice.get("id").unwrap().as_str().unwrap();
//! users.update(key, &json!({"role": "admin"})).await?;
//! assert_eq!(admins.next().await.unwrap()?, json!(1));
//! # store.stop().await;
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

mod bucket;
mod commit;
mod error;
mod filter;
mod key;
pub mod persistence;
mod query;
mod record;
mod schema;
mod store;
mod transaction;

pub use bucket::{BucketRef, Page, TypedBucket};
pub use error::StoreError;
pub use filter::{Condition, Filter, Op};
pub use key::Key;
pub use query::{QueryContext, Subscription};
pub use record::{CREATED_AT, Record, UPDATED_AT, VERSION};
pub use schema::{BucketDef, Field, FieldType, Generated};
pub use store::{BucketStats, Store, StoreOptions, StoreStats};
pub use transaction::{Transaction, TxOp};
