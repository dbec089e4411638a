//! A request's own fields, read with errors that name them.

use serde_json::{Map, Value};

use crate::protocol::OpError;

pub(crate) struct Fields<'a>(pub &'a Map<String, Value>);

impl<'a> Fields<'a> {
    pub(crate) fn str(&self, name: &str) -> Result<&'a str, OpError> {
        match self.0.get(name) {
            Some(Value::String(text)) if !text.is_empty() => Ok(text),
            Some(_) => Err(OpError::invalid(format!(
                "`{name}` must be a non-empty string"
            ))),
            None => Err(OpError::invalid(format!("`{name}` is required"))),
        }
    }

    pub(crate) fn opt_str(&self, name: &str) -> Result<Option<&'a str>, OpError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(_) => self.str(name).map(Some),
        }
    }

    pub(crate) fn value(&self, name: &str) -> Result<&'a Value, OpError> {
        self.0
            .get(name)
            .ok_or_else(|| OpError::invalid(format!("`{name}` is required")))
    }

    pub(crate) fn object(&self, name: &str) -> Result<&'a Value, OpError> {
        match self.value(name)? {
            value @ Value::Object(_) => Ok(value),
            _ => Err(OpError::invalid(format!("`{name}` must be an object"))),
        }
    }

    pub(crate) fn opt_value(&self, name: &str) -> Option<&'a Value> {
        self.0.get(name).filter(|value| !value.is_null())
    }

    pub(crate) fn count(&self, name: &str) -> Result<usize, OpError> {
        match self.value(name)?.as_u64() {
            Some(n) => Ok(usize::try_from(n).unwrap_or(usize::MAX)),
            None => Err(OpError::invalid(format!(
                "`{name}` must be a non-negative integer"
            ))),
        }
    }

    pub(crate) fn opt_count(&self, name: &str) -> Result<Option<usize>, OpError> {
        match self.opt_value(name) {
            None => Ok(None),
            Some(_) => self.count(name).map(Some),
        }
    }
}
