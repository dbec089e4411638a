//! A bucket's definition: its key field and its typed fields with their rules.

mod field;
pub(crate) mod validate;

pub use field::{Field, FieldType, Generated};
pub(crate) use validate::Schema;

/// A bucket's definition: which field is the key, and the fields' types and rules.
/// Fields not named here are kept as given, unchecked (records are JSON-like).
///
/// ```
/// use noex_store::{BucketDef, Field, Generated};
/// use serde_json::json;
///
/// let users = BucketDef::new("id")
///     .field("id", Field::string().generated(Generated::Uuid))
///     .field("name", Field::string().required().min_length(1))
///     .field("role", Field::string().default(json!("user")).one_of(["user", "admin"]))
///     .field("age", Field::integer().min(0.0).index());
/// # let _ = users;
/// ```
#[derive(Clone, Debug)]
pub struct BucketDef {
    pub(crate) key: String,
    pub(crate) fields: Vec<(String, Field)>,
}

impl BucketDef {
    /// A bucket keyed by the field `key` (which must hold an integer or a string).
    pub fn new(key: impl Into<String>) -> BucketDef {
        BucketDef {
            key: key.into(),
            fields: Vec::new(),
        }
    }

    /// Adds (or replaces) a field.
    pub fn field(mut self, name: impl Into<String>, field: Field) -> BucketDef {
        let name = name.into();
        self.fields.retain(|(existing, _)| *existing != name);
        self.fields.push((name, field));
        self
    }

    /// The key field's name.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The fields, in the order they were added.
    pub fn fields(&self) -> impl Iterator<Item = (&str, &Field)> {
        self.fields
            .iter()
            .map(|(name, field)| (name.as_str(), field))
    }
}
