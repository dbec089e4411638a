//! What can go wrong, with the seed's error codes.

use serde_json::Value;

/// An error from the store. Each has a stable [`code`](StoreError::code), the seed
/// protocol's, which the gateway sends as is.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StoreError {
    /// A record broke its bucket's schema.
    #[error("bucket {bucket}: field `{field}` {rule}: {message}")]
    Validation {
        /// The bucket.
        bucket: String,
        /// The field that broke a rule.
        field: String,
        /// The rule: `required`, `type`, `enum`, `min`, `max`, `min_length`,
        /// `max_length`, `pattern`, `key`, `generated`.
        rule: &'static str,
        /// What was wrong, for a person.
        message: String,
    },
    /// A record with this key, or this value of a unique field, exists already.
    #[error("bucket {bucket}: {what} already exists")]
    AlreadyExists {
        /// The bucket.
        bucket: String,
        /// `key 42`, or `email "a@b.c" (unique)`.
        what: String,
    },
    /// No record with this key.
    #[error("bucket {bucket}: no record with key {key}")]
    NotFound {
        /// The bucket.
        bucket: String,
        /// The key asked for.
        key: String,
    },
    /// No bucket of this name.
    #[error("bucket {0} is not defined")]
    BucketNotDefined(String),
    /// A bucket of this name exists already, with another definition.
    #[error("bucket {0} is already defined")]
    BucketAlreadyDefined(String),
    /// No query of this name.
    #[error("query {0} is not defined")]
    QueryNotDefined(String),
    /// A record read (or a version given) changed before the write committed.
    #[error("bucket {bucket}: record {key} changed (expected version {expected}, found {found})")]
    Conflict {
        /// The bucket.
        bucket: String,
        /// The record's key; `*` when a query over the whole bucket was invalidated.
        key: String,
        /// The version read or given; 0 for "absent".
        expected: u64,
        /// The version now; 0 for "absent".
        found: u64,
    },
    /// A filter, a field name or an argument the store cannot use.
    #[error("{0}")]
    InvalidArgument(String),
    /// A record could not be turned into (or from) the caller's type.
    #[error("record does not fit the type: {0}")]
    Serde(String),
    /// The write was applied in memory but could not be made durable.
    #[error("persistence failed: {0}")]
    Persistence(String),
    /// A reactive query's function failed.
    #[error("query {query} failed: {message}")]
    Query {
        /// The query's name.
        query: String,
        /// What it said.
        message: String,
    },
    /// The store has stopped.
    #[error("the store has stopped")]
    Stopped,
}

impl StoreError {
    /// The seed protocol's error code.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::Validation { .. } | StoreError::InvalidArgument(_) => "VALIDATION_ERROR",
            StoreError::Serde(_) => "VALIDATION_ERROR",
            StoreError::AlreadyExists { .. } | StoreError::BucketAlreadyDefined(_) => {
                "ALREADY_EXISTS"
            }
            StoreError::NotFound { .. } => "NOT_FOUND",
            StoreError::BucketNotDefined(_) => "BUCKET_NOT_DEFINED",
            StoreError::QueryNotDefined(_) => "QUERY_NOT_DEFINED",
            StoreError::Conflict { .. } => "CONFLICT",
            StoreError::Persistence(_) | StoreError::Query { .. } | StoreError::Stopped => {
                "INTERNAL_ERROR"
            }
        }
    }

    /// The details the seed sends beside the message (`field`, `rule`, ...).
    pub fn details(&self) -> Option<Value> {
        match self {
            StoreError::Validation {
                bucket,
                field,
                rule,
                ..
            } => Some(serde_json::json!({"bucket": bucket, "field": field, "rule": rule})),
            StoreError::Conflict {
                bucket,
                key,
                expected,
                found,
            } => Some(serde_json::json!({
                "bucket": bucket, "key": key, "expected": expected, "found": found
            })),
            _ => None,
        }
    }
}
