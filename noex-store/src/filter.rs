//! Which records a query wants: field conditions, all of which must hold.

use std::cmp::Ordering;

use serde_json::{Map, Value};

use crate::error::StoreError;

/// How a condition compares a field with its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Equal (numbers by value: `1` equals `1.0`).
    Eq,
    /// Not equal (a missing field is not equal to anything but null).
    Ne,
    /// Greater than (numbers with numbers, strings with strings).
    Gt,
    /// Greater than or equal.
    Gte,
    /// Less than.
    Lt,
    /// Less than or equal.
    Lte,
    /// Equal to one of an array's values.
    In,
}

impl Op {
    fn from_name(name: &str) -> Option<Op> {
        Some(match name {
            "$eq" => Op::Eq,
            "$ne" => Op::Ne,
            "$gt" => Op::Gt,
            "$gte" => Op::Gte,
            "$lt" => Op::Lt,
            "$lte" => Op::Lte,
            "$in" => Op::In,
            _ => return None,
        })
    }
}

/// One condition: `field op value`. A field may be a dotted path (`address.city`).
#[derive(Clone, Debug, PartialEq)]
pub struct Condition {
    /// The field (or dotted path).
    pub field: String,
    /// The comparison.
    pub op: Op,
    /// What it is compared with.
    pub value: Value,
}

/// Conditions that must all hold; the empty filter matches every record.
///
/// As JSON (the seed's form): `{"role": "admin", "age": {"$gte": 18, "$lt": 65}}`.
/// ```
/// use noex_store::Filter;
/// use serde_json::json;
///
/// let built = Filter::gte("age", 18).and(Filter::eq("role", "admin"));
/// let parsed = Filter::from_json(&json!({"role": "admin", "age": {"$gte": 18}})).unwrap();
/// assert_eq!(built, parsed);
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Filter {
    pub(crate) conditions: Vec<Condition>,
}

impl Filter {
    /// Matches every record.
    pub fn all() -> Filter {
        Filter::default()
    }

    fn one(field: &str, op: Op, value: impl Into<Value>) -> Filter {
        Filter {
            conditions: vec![Condition {
                field: field.to_string(),
                op,
                value: value.into(),
            }],
        }
    }

    /// `field == value`.
    pub fn eq(field: &str, value: impl Into<Value>) -> Filter {
        Filter::one(field, Op::Eq, value)
    }

    /// `field != value`.
    pub fn ne(field: &str, value: impl Into<Value>) -> Filter {
        Filter::one(field, Op::Ne, value)
    }

    /// `field > value`.
    pub fn gt(field: &str, value: impl Into<Value>) -> Filter {
        Filter::one(field, Op::Gt, value)
    }

    /// `field >= value`.
    pub fn gte(field: &str, value: impl Into<Value>) -> Filter {
        Filter::one(field, Op::Gte, value)
    }

    /// `field < value`.
    pub fn lt(field: &str, value: impl Into<Value>) -> Filter {
        Filter::one(field, Op::Lt, value)
    }

    /// `field <= value`.
    pub fn lte(field: &str, value: impl Into<Value>) -> Filter {
        Filter::one(field, Op::Lte, value)
    }

    /// `field` equals one of `values`.
    pub fn is_in<V: Into<Value>>(field: &str, values: impl IntoIterator<Item = V>) -> Filter {
        let values: Vec<Value> = values.into_iter().map(Into::into).collect();
        Filter::one(field, Op::In, values)
    }

    /// Both this filter's conditions and `other`'s.
    pub fn and(mut self, other: Filter) -> Filter {
        self.conditions.extend(other.conditions);
        self
    }

    /// The conditions, in order.
    pub fn conditions(&self) -> &[Condition] {
        &self.conditions
    }

    /// The seed's JSON form: an object of `field: value` (equality) or
    /// `field: {"$op": value, ...}`; `$eq $ne $gt $gte $lt $lte $in`.
    pub fn from_json(json: &Value) -> Result<Filter, StoreError> {
        let Value::Object(fields) = json else {
            return Err(StoreError::InvalidArgument(format!(
                "a filter must be an object of field conditions, not {json}"
            )));
        };
        let mut filter = Filter::default();
        for (field, wanted) in fields {
            // `$or`, `$and` and the like are not supported: without this they would
            // quietly compare a field of that name and match nothing.
            if field.starts_with('$') {
                return Err(StoreError::InvalidArgument(format!(
                    "unknown operator {field} in place of a field (write {{\"field\": {{\"$gt\": 1}}}})"
                )));
            }
            match wanted {
                Value::Object(ops) if ops.keys().any(|k| k.starts_with('$')) => {
                    if let Some(plain) = ops.keys().find(|k| !k.starts_with('$')) {
                        return Err(StoreError::InvalidArgument(format!(
                            "field `{field}`: `{plain}` beside operators (an object is either all operators or a value)"
                        )));
                    }
                    for (name, value) in ops {
                        let op = Op::from_name(name).ok_or_else(|| {
                            StoreError::InvalidArgument(format!(
                                "field `{field}`: unknown operator {name} (use $eq $ne $gt $gte $lt $lte $in)"
                            ))
                        })?;
                        if op == Op::In && !value.is_array() {
                            return Err(StoreError::InvalidArgument(format!(
                                "field `{field}`: $in takes an array"
                            )));
                        }
                        filter.conditions.push(Condition {
                            field: field.clone(),
                            op,
                            value: value.clone(),
                        });
                    }
                }
                value => filter.conditions.push(Condition {
                    field: field.clone(),
                    op: Op::Eq,
                    value: value.clone(),
                }),
            }
        }
        Ok(filter)
    }

    /// Whether `record` meets every condition.
    pub fn matches(&self, record: &Map<String, Value>) -> bool {
        self.conditions.iter().all(|c| c.matches(record))
    }
}

impl Condition {
    /// Whether `record` meets this condition.
    pub fn matches(&self, record: &Map<String, Value>) -> bool {
        let field = lookup(record, &self.field).unwrap_or(&Value::Null);
        match self.op {
            Op::Eq => same(field, &self.value),
            Op::Ne => !same(field, &self.value),
            Op::In => self
                .value
                .as_array()
                .is_some_and(|values| values.iter().any(|v| same(field, v))),
            Op::Gt => compare(field, &self.value) == Some(Ordering::Greater),
            Op::Gte => matches!(
                compare(field, &self.value),
                Some(Ordering::Greater | Ordering::Equal)
            ),
            Op::Lt => compare(field, &self.value) == Some(Ordering::Less),
            Op::Lte => matches!(
                compare(field, &self.value),
                Some(Ordering::Less | Ordering::Equal)
            ),
        }
    }
}

/// A field by name or dotted path.
pub(crate) fn lookup<'a>(record: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    if let Some(value) = record.get(path) {
        return Some(value);
    }
    let mut parts = path.split('.');
    let mut value = record.get(parts.next()?)?;
    for part in parts {
        value = value.as_object()?.get(part)?;
    }
    Some(value)
}

/// Equality with numbers by value.
pub(crate) fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => Num::of(x) == Num::of(y),
        _ => a == b,
    }
}

/// Order between two numbers or two strings; `None` across types.
pub(crate) fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => Some(Num::of(x).cmp(&Num::of(y))),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

/// A JSON number by its exact value, as filters, indexes and unique rules compare
/// them: `1` equals `1.0`, and two integers past 2^53 that round to the same f64
/// (ids, often) stay two values.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Num {
    /// A whole number: every integer JSON holds, and every whole float that fits.
    Whole(i128),
    /// A number with a fraction, or a float too large for `Whole`.
    Float(f64),
}

impl Num {
    /// Below every number.
    pub(crate) const LOWEST: Num = Num::Float(f64::NEG_INFINITY);

    pub(crate) fn of(n: &serde_json::Number) -> Num {
        if let Some(i) = n.as_i64() {
            return Num::Whole(i.into());
        }
        if let Some(u) = n.as_u64() {
            return Num::Whole(u.into());
        }
        let f = n.as_f64().unwrap_or(f64::NAN);
        // One form per value, so that equal numbers are equal (and hash alike).
        if f.fract() == 0.0 && f.abs() < 1e38 {
            Num::Whole(f as i128)
        } else {
            Num::Float(f)
        }
    }
}

impl Ord for Num {
    fn cmp(&self, other: &Num) -> Ordering {
        match (*self, *other) {
            (Num::Whole(a), Num::Whole(b)) => a.cmp(&b),
            (Num::Float(a), Num::Float(b)) => a.total_cmp(&b),
            // A fraction (or a float past `Whole`) is never equal to a whole number,
            // and rounding the whole number to an f64 cannot carry it across.
            (Num::Whole(a), Num::Float(b)) => (a as f64).total_cmp(&b),
            (Num::Float(a), Num::Whole(b)) => a.total_cmp(&(b as f64)),
        }
    }
}

impl PartialOrd for Num {
    fn partial_cmp(&self, other: &Num) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Num {
    fn eq(&self, other: &Num) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Num {}

impl std::hash::Hash for Num {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        match self {
            Num::Whole(i) => (0u8, i).hash(state),
            Num::Float(f) => (1u8, f.to_bits()).hash(state),
        }
    }
}
