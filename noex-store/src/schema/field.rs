//! One field of a schema, built step by step.

use serde_json::Value;

/// The type a field's value must have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldType {
    /// A JSON string.
    String,
    /// Any JSON number.
    Number,
    /// A whole number.
    Integer,
    /// `true` or `false`.
    Boolean,
    /// A JSON object.
    Object,
    /// A JSON array.
    Array,
    /// Anything.
    Any,
}

impl FieldType {
    /// The name the schema and its errors use.
    pub fn as_str(self) -> &'static str {
        match self {
            FieldType::String => "string",
            FieldType::Number => "number",
            FieldType::Integer => "integer",
            FieldType::Boolean => "boolean",
            FieldType::Object => "object",
            FieldType::Array => "array",
            FieldType::Any => "any",
        }
    }

    pub(crate) fn accepts(self, value: &Value) -> bool {
        match self {
            FieldType::String => value.is_string(),
            FieldType::Number => value.is_number(),
            FieldType::Integer => {
                value.is_i64() || value.is_u64() || value.as_f64().is_some_and(|f| f.fract() == 0.0)
            }
            FieldType::Boolean => value.is_boolean(),
            FieldType::Object => value.is_object(),
            FieldType::Array => value.is_array(),
            FieldType::Any => true,
        }
    }
}

/// A value the store makes when an insert leaves the field out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Generated {
    /// A random UUID (v4), as a string.
    Uuid,
    /// One more than the largest integer this field has held in the bucket.
    AutoIncrement,
    /// The insert's time, in ms since the Unix epoch.
    Timestamp,
}

/// A field's type and rules.
#[derive(Clone, Debug)]
pub struct Field {
    pub(crate) kind: FieldType,
    pub(crate) required: bool,
    pub(crate) default: Option<Value>,
    pub(crate) generated: Option<Generated>,
    pub(crate) unique: bool,
    pub(crate) index: bool,
    pub(crate) one_of: Option<Vec<Value>>,
    pub(crate) min: Option<f64>,
    pub(crate) max: Option<f64>,
    pub(crate) min_length: Option<usize>,
    pub(crate) max_length: Option<usize>,
    pub(crate) pattern: Option<String>,
}

impl Field {
    /// A field of type `kind`, optional, with no rules.
    pub fn of(kind: FieldType) -> Field {
        Field {
            kind,
            required: false,
            default: None,
            generated: None,
            unique: false,
            index: false,
            one_of: None,
            min: None,
            max: None,
            min_length: None,
            max_length: None,
            pattern: None,
        }
    }

    /// A string field.
    pub fn string() -> Field {
        Field::of(FieldType::String)
    }

    /// A number field.
    pub fn number() -> Field {
        Field::of(FieldType::Number)
    }

    /// A whole-number field.
    pub fn integer() -> Field {
        Field::of(FieldType::Integer)
    }

    /// A boolean field.
    pub fn boolean() -> Field {
        Field::of(FieldType::Boolean)
    }

    /// An object field.
    pub fn object() -> Field {
        Field::of(FieldType::Object)
    }

    /// An array field.
    pub fn array() -> Field {
        Field::of(FieldType::Array)
    }

    /// A field of any type.
    pub fn any() -> Field {
        Field::of(FieldType::Any)
    }

    /// Every record must have it (after defaults and generation), not null.
    pub fn required(mut self) -> Field {
        self.required = true;
        self
    }

    /// The value an insert that leaves the field out gets.
    pub fn default(mut self, value: Value) -> Field {
        self.default = Some(value);
        self
    }

    /// The store makes the value when an insert leaves the field out.
    pub fn generated(mut self, generated: Generated) -> Field {
        self.generated = Some(generated);
        self
    }

    /// No two records hold the same value here (`ALREADY_EXISTS` otherwise); records
    /// without the field do not count.
    pub fn unique(mut self) -> Field {
        self.unique = true;
        self
    }

    /// Keep a secondary index, which `find` uses for equality and range filters.
    pub fn index(mut self) -> Field {
        self.index = true;
        self
    }

    /// The value must be one of these.
    pub fn one_of<V: Into<Value>>(mut self, values: impl IntoIterator<Item = V>) -> Field {
        self.one_of = Some(values.into_iter().map(Into::into).collect());
        self
    }

    /// A number must be at least this.
    pub fn min(mut self, min: f64) -> Field {
        self.min = Some(min);
        self
    }

    /// A number must be at most this.
    pub fn max(mut self, max: f64) -> Field {
        self.max = Some(max);
        self
    }

    /// A string (in characters) or an array must be at least this long.
    pub fn min_length(mut self, min: usize) -> Field {
        self.min_length = Some(min);
        self
    }

    /// A string (in characters) or an array must be at most this long.
    pub fn max_length(mut self, max: usize) -> Field {
        self.max_length = Some(max);
        self
    }

    /// A string must match this regular expression (searched, not anchored: write
    /// `^...$` for the whole string). A bad expression fails `define_bucket`.
    pub fn pattern(mut self, pattern: impl Into<String>) -> Field {
        self.pattern = Some(pattern.into());
        self
    }

    /// The field's type.
    pub fn kind(&self) -> FieldType {
        self.kind
    }
}
