//! A definition made ready to check records: patterns compiled, rules in place.

use serde_json::{Map, Value};

use super::BucketDef;
use super::field::{Field, FieldType, Generated};
use crate::error::StoreError;
use crate::filter::same;
use crate::key::Key;
use crate::record::json_type_name;
use crate::record::{CREATED_AT, UPDATED_AT, VERSION};

/// A bucket's definition, checked and compiled.
#[derive(Debug)]
pub(crate) struct Schema {
    pub(crate) bucket: String,
    pub(crate) key: String,
    fields: Vec<CompiledField>,
    pub(crate) def: BucketDef,
}

#[derive(Debug)]
struct CompiledField {
    name: String,
    field: Field,
    pattern: Option<regex_lite::Regex>,
}

/// Where generated values come from: the bucket's counters and the clock.
pub(crate) trait Generator {
    /// The next auto-increment value of `field`.
    /// The next auto-increment value of `field`; `None` once past the largest integer.
    fn next_int(&mut self, field: &str) -> Option<i64>;
    /// An explicit integer was given for an auto-increment `field`: later ones go past it.
    fn saw_int(&mut self, field: &str, value: i64);
}

impl Schema {
    pub(crate) fn compile(bucket: &str, def: BucketDef) -> Result<Schema, StoreError> {
        let invalid = |field: &str, message: String| {
            StoreError::InvalidArgument(format!("bucket {bucket}: field `{field}`: {message}"))
        };
        let mut fields = Vec::with_capacity(def.fields.len());
        for (name, field) in &def.fields {
            if [VERSION, CREATED_AT, UPDATED_AT].contains(&name.as_str()) {
                return Err(invalid(name, "the store keeps this field itself".into()));
            }
            let pattern = match &field.pattern {
                Some(pattern) => Some(
                    regex_lite::Regex::new(pattern)
                        .map_err(|error| invalid(name, format!("bad pattern: {error}")))?,
                ),
                None => None,
            };
            if field.generated == Some(Generated::AutoIncrement)
                && !matches!(
                    field.kind,
                    FieldType::Integer | FieldType::Number | FieldType::Any
                )
            {
                return Err(invalid(
                    name,
                    "auto-increment needs an integer field".into(),
                ));
            }
            if field.generated == Some(Generated::Timestamp)
                && !matches!(
                    field.kind,
                    FieldType::Integer | FieldType::Number | FieldType::Any
                )
            {
                return Err(invalid(
                    name,
                    "a timestamp needs a number or integer field".into(),
                ));
            }
            if field.generated == Some(Generated::Uuid)
                && !matches!(field.kind, FieldType::String | FieldType::Any)
            {
                return Err(invalid(name, "a uuid needs a string field".into()));
            }
            fields.push(CompiledField {
                name: name.clone(),
                field: field.clone(),
                pattern,
            });
        }
        if let Some(key) = fields.iter().find(|f| f.name == def.key)
            && !matches!(
                key.field.kind,
                FieldType::String | FieldType::Integer | FieldType::Any
            )
        {
            return Err(invalid(
                &def.key,
                "a key must be a string or an integer".into(),
            ));
        }
        let schema = Schema {
            bucket: bucket.to_string(),
            key: def.key.clone(),
            fields,
            def,
        };
        for compiled in &schema.fields {
            if let Some(default) = &compiled.field.default {
                schema.check_value(compiled, default)?;
            }
        }
        Ok(schema)
    }

    /// Fields with a unique rule.
    pub(crate) fn unique_fields(&self) -> impl Iterator<Item = &str> {
        self.fields
            .iter()
            .filter(|f| f.field.unique)
            .map(|f| f.name.as_str())
    }

    /// Fields whose values an auto-increment counter makes.
    pub(crate) fn auto_increment_fields(&self) -> impl Iterator<Item = &str> {
        self.fields
            .iter()
            .filter(|f| f.field.generated == Some(Generated::AutoIncrement))
            .map(|f| f.name.as_str())
    }

    /// Fields with a secondary index.
    pub(crate) fn indexed_fields(&self) -> impl Iterator<Item = &str> {
        self.fields
            .iter()
            .filter(|f| f.field.index)
            .map(|f| f.name.as_str())
    }

    /// An insert's fields made into a record's: meta fields given are dropped,
    /// generated and default values filled in, every rule checked, the key taken.
    pub(crate) fn prepare_insert(
        &self,
        mut fields: Map<String, Value>,
        generator: &mut dyn Generator,
        now_ms: u64,
    ) -> Result<(Key, Map<String, Value>), StoreError> {
        strip_meta(&mut fields);
        for compiled in &self.fields {
            let given = fields.get(&compiled.name).is_some_and(|v| !v.is_null());
            if given {
                // `5.0` counts as 5, as it does as a key.
                if compiled.field.generated == Some(Generated::AutoIncrement)
                    && let Some(Key::Int(value)) = Key::from_value(&fields[&compiled.name])
                {
                    generator.saw_int(&compiled.name, value);
                }
                continue;
            }
            let made = match compiled.field.generated {
                Some(Generated::Uuid) => Some(Value::from(uuid::Uuid::new_v4().to_string())),
                Some(Generated::AutoIncrement) => Some(Value::from(
                    generator.next_int(&compiled.name).ok_or_else(|| {
                        self.violation(
                            &compiled.name,
                            "generated",
                            "the auto-increment counter is past the largest integer".into(),
                        )
                    })?,
                )),
                Some(Generated::Timestamp) => Some(Value::from(now_ms)),
                None => compiled.field.default.clone(),
            };
            if let Some(value) = made {
                fields.insert(compiled.name.clone(), value);
            }
        }
        self.check(&fields)?;
        let key = self.key_of(&fields)?;
        // The record holds its key as the key is (`7`, not `7.0`).
        fields.insert(self.key.clone(), key.to_value());
        fields.insert(VERSION.into(), Value::from(1u64));
        fields.insert(CREATED_AT.into(), Value::from(now_ms));
        fields.insert(UPDATED_AT.into(), Value::from(now_ms));
        Ok((key, fields))
    }

    /// An update's patch applied to `old`: fields set (a null removes one), the key
    /// kept, every rule checked, the version one more.
    pub(crate) fn prepare_update(
        &self,
        old: &Map<String, Value>,
        mut patch: Map<String, Value>,
        now_ms: u64,
    ) -> Result<Map<String, Value>, StoreError> {
        strip_meta(&mut patch);
        if let Some(key) = patch.remove(&self.key)
            && Key::from_value(&key) != old.get(&self.key).and_then(Key::from_value)
        {
            return Err(self.violation(
                &self.key,
                "key",
                "the key of a record cannot change".into(),
            ));
        }
        let mut fields = old.clone();
        for (name, value) in patch {
            if value.is_null() {
                fields.remove(&name);
            } else {
                fields.insert(name, value);
            }
        }
        self.check(&fields)?;
        let version = old.get(VERSION).and_then(Value::as_u64).unwrap_or(0) + 1;
        fields.insert(VERSION.into(), Value::from(version));
        fields.insert(UPDATED_AT.into(), Value::from(now_ms));
        Ok(fields)
    }

    fn key_of(&self, fields: &Map<String, Value>) -> Result<Key, StoreError> {
        match fields.get(&self.key) {
            None | Some(Value::Null) => Err(self.violation(
                &self.key,
                "required",
                "the key field is missing (give it, or make it generated)".into(),
            )),
            Some(value) => Key::from_value(value).ok_or_else(|| {
                let given = match value {
                    Value::Number(n) => n.to_string(),
                    other => json_type_name(other).to_string(),
                };
                self.violation(
                    &self.key,
                    "key",
                    format!(
                        "a key must be a string or a whole number within 64-bit signed \
                         integers, not {given}"
                    ),
                )
            }),
        }
    }

    fn check(&self, fields: &Map<String, Value>) -> Result<(), StoreError> {
        for compiled in &self.fields {
            match fields.get(&compiled.name) {
                None | Some(Value::Null) => {
                    if compiled.field.required {
                        return Err(self.violation(
                            &compiled.name,
                            "required",
                            "is required".into(),
                        ));
                    }
                }
                Some(value) => self.check_value(compiled, value)?,
            }
        }
        Ok(())
    }

    fn check_value(&self, compiled: &CompiledField, value: &Value) -> Result<(), StoreError> {
        let field = &compiled.field;
        let name = &compiled.name;
        if !field.kind.accepts(value) {
            return Err(self.violation(
                name,
                "type",
                format!(
                    "must be {}, not {}",
                    field.kind.as_str(),
                    json_type_name(value)
                ),
            ));
        }
        // Numbers by value, as filters compare them: `1.0` is one of `[1, 2]`.
        if let Some(allowed) = &field.one_of
            && !allowed.iter().any(|a| same(a, value))
        {
            let list: Vec<String> = allowed.iter().map(Value::to_string).collect();
            return Err(self.violation(
                name,
                "enum",
                format!("must be one of {}", list.join(", ")),
            ));
        }
        if let Some(number) = value.as_f64() {
            if let Some(min) = field.min
                && number < min
            {
                return Err(self.violation(
                    name,
                    "min",
                    format!("must be at least {min}, not {number}"),
                ));
            }
            if let Some(max) = field.max
                && number > max
            {
                return Err(self.violation(
                    name,
                    "max",
                    format!("must be at most {max}, not {number}"),
                ));
            }
        }
        let length = match value {
            Value::String(s) => Some(s.chars().count()),
            Value::Array(items) => Some(items.len()),
            _ => None,
        };
        if let Some(length) = length {
            if let Some(min) = field.min_length
                && length < min
            {
                return Err(self.violation(
                    name,
                    "min_length",
                    format!("must be at least {min} long, not {length}"),
                ));
            }
            if let Some(max) = field.max_length
                && length > max
            {
                return Err(self.violation(
                    name,
                    "max_length",
                    format!("must be at most {max} long, not {length}"),
                ));
            }
        }
        if let (Some(pattern), Value::String(s)) = (&compiled.pattern, value)
            && !pattern.is_match(s)
        {
            return Err(self.violation(
                name,
                "pattern",
                format!("must match {}", pattern.as_str()),
            ));
        }
        Ok(())
    }

    fn violation(&self, field: &str, rule: &'static str, message: String) -> StoreError {
        StoreError::Validation {
            bucket: self.bucket.clone(),
            field: field.to_string(),
            rule,
            message,
        }
    }
}

/// The store keeps the meta fields itself: a caller's are ignored.
fn strip_meta(fields: &mut Map<String, Value>) {
    fields.remove(VERSION);
    fields.remove(CREATED_AT);
    fields.remove(UPDATED_AT);
}
