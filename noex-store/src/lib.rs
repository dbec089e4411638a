#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

mod bucket;
mod bucket_ref;
mod catalog;
mod commit;
mod error;
mod filter;
mod key;
pub mod persistence;
mod query;
mod record;
mod schema;
mod shared;
mod store;
mod transaction;

pub use bucket::{BucketReader, BucketStats, Page};
pub use bucket_ref::{BucketRef, TypedBucket};
pub use error::StoreError;
pub use filter::{Condition, Filter, Op};
pub use key::Key;
pub use query::{QueryContext, Subscription};
pub use record::{CREATED_AT, Record, UPDATED_AT, VERSION};
pub use schema::{BucketDef, Field, FieldType, Generated};
pub use store::{Store, StoreOptions, StoreStats};
pub use transaction::{Transaction, TxOp};

#[cfg(feature = "redb")]
pub use persistence::RedbStorage;
pub use persistence::{MemoryStorage, Mutation, PersistenceError, Storage};
