//! A stored record: a JSON object with its version and times, cheap to clone.

use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

use crate::error::StoreError;

/// The field holding a record's version: 1 on insert, one more on every update.
pub const VERSION: &str = "_version";
/// The field holding when the record was inserted, in ms since the Unix epoch.
pub const CREATED_AT: &str = "_created_at";
/// The field holding when the record last changed, in ms since the Unix epoch.
pub const UPDATED_AT: &str = "_updated_at";

/// A record as stored: its fields plus `_version`, `_created_at` and `_updated_at`.
/// Clones share the fields; a record never changes once stored (an update stores a
/// new one).
#[derive(Clone, Debug, PartialEq)]
pub struct Record(Arc<Map<String, Value>>);

impl Record {
    pub(crate) fn new(fields: Map<String, Value>) -> Record {
        Record(Arc::new(fields))
    }

    /// A field's value.
    pub fn get(&self, field: &str) -> Option<&Value> {
        self.0.get(field)
    }

    /// All fields, the meta fields included.
    pub fn fields(&self) -> &Map<String, Value> {
        &self.0
    }

    /// The record's version (1 after insert).
    pub fn version(&self) -> u64 {
        self.0.get(VERSION).and_then(Value::as_u64).unwrap_or(0)
    }

    /// When it was inserted, in ms since the Unix epoch.
    pub fn created_at(&self) -> u64 {
        self.0.get(CREATED_AT).and_then(Value::as_u64).unwrap_or(0)
    }

    /// When it last changed, in ms since the Unix epoch.
    pub fn updated_at(&self) -> u64 {
        self.0.get(UPDATED_AT).and_then(Value::as_u64).unwrap_or(0)
    }

    /// The record as a JSON value (a copy).
    pub fn to_value(&self) -> Value {
        Value::Object((*self.0).clone())
    }

    /// The record as the caller's type; the meta fields are there for a struct that
    /// names them (`#[serde(rename = "_version")]`), and ignored otherwise.
    pub fn to<T: DeserializeOwned>(&self) -> Result<T, StoreError> {
        T::deserialize(&Value::Object((*self.0).clone()))
            .map_err(|error| StoreError::Serde(error.to_string()))
    }

    /// Roughly what the record takes in memory, for the bucket's byte count.
    pub(crate) fn approximate_bytes(&self) -> usize {
        fn size(value: &Value) -> usize {
            std::mem::size_of::<Value>()
                + match value {
                    Value::String(s) => s.len(),
                    Value::Array(items) => items.iter().map(size).sum(),
                    Value::Object(map) => map.iter().map(|(k, v)| k.len() + 32 + size(v)).sum(),
                    _ => 0,
                }
        }
        self.0.iter().map(|(k, v)| k.len() + 32 + size(v)).sum()
    }
}

impl Serialize for Record {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl From<Record> for Value {
    fn from(record: Record) -> Value {
        match Arc::try_unwrap(record.0) {
            Ok(map) => Value::Object(map),
            Err(shared) => Value::Object((*shared).clone()),
        }
    }
}

/// A caller's value as a record's fields: a JSON object, or a type that serializes
/// to one.
pub(crate) fn object_of<T: Serialize + ?Sized>(
    value: &T,
) -> Result<Map<String, Value>, StoreError> {
    match serde_json::to_value(value).map_err(|error| StoreError::Serde(error.to_string()))? {
        Value::Object(map) => Ok(map),
        other => Err(StoreError::InvalidArgument(format!(
            "a record must be an object, not {}",
            json_type_name(&other)
        ))),
    }
}

/// Milliseconds since the Unix epoch: a record's times.
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A JSON value's type, as an error names it.
pub(crate) fn json_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
