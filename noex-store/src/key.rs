//! A record's primary key: an integer or a string, ordered (integers first).

use std::fmt;

use serde_json::Value;

/// A primary key. Buckets keep records in key order, which `all`, `first`, `last` and
/// `paginate` follow: integers ascending, then strings by their bytes.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Key {
    /// An integer key (an auto-increment key is one).
    Int(i64),
    /// A string key (a uuid key is one).
    Str(String),
}

impl Key {
    /// The key held in a record's key field, if it is an integer or a string.
    pub fn from_value(value: &Value) -> Option<Key> {
        match value {
            Value::String(s) => Some(Key::Str(s.clone())),
            // A whole float (`7.0`) is the integer key an integer field holds.
            Value::Number(n) => n.as_i64().map(Key::Int).or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && (i64::MIN as f64..i64::MAX as f64).contains(f))
                    .map(|f| Key::Int(f as i64))
            }),
            _ => None,
        }
    }

    /// The key as a record holds it.
    pub fn to_value(&self) -> Value {
        match self {
            Key::Int(i) => Value::from(*i),
            Key::Str(s) => Value::from(s.as_str()),
        }
    }

    /// An encoding that sorts as the keys do (for a storage engine's byte keys).
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Key::Int(i) => {
                let mut bytes = vec![0u8];
                // Flipping the sign bit makes the big-endian bytes sort as the integers.
                bytes.extend_from_slice(&((*i as u64) ^ (1 << 63)).to_be_bytes());
                bytes
            }
            Key::Str(s) => {
                let mut bytes = vec![1u8];
                bytes.extend_from_slice(s.as_bytes());
                bytes
            }
        }
    }

    /// The key [`to_bytes`](Key::to_bytes) encoded; `None` for bytes it never makes.
    pub fn from_bytes(bytes: &[u8]) -> Option<Key> {
        match bytes.split_first()? {
            (0, rest) => {
                let raw: [u8; 8] = rest.try_into().ok()?;
                Some(Key::Int((u64::from_be_bytes(raw) ^ (1 << 63)) as i64))
            }
            (1, rest) => String::from_utf8(rest.to_vec()).ok().map(Key::Str),
            _ => None,
        }
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Int(i) => write!(f, "{i}"),
            Key::Str(s) => write!(f, "{s:?}"),
        }
    }
}

impl serde::Serialize for Key {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Key::Int(i) => serializer.serialize_i64(*i),
            Key::Str(s) => serializer.serialize_str(s),
        }
    }
}

impl<'de> serde::Deserialize<'de> for Key {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Key, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Key::from_value(&value)
            .ok_or_else(|| serde::de::Error::custom("a key is a string or an integer"))
    }
}

impl From<i64> for Key {
    fn from(i: i64) -> Key {
        Key::Int(i)
    }
}

impl From<i32> for Key {
    fn from(i: i32) -> Key {
        Key::Int(i.into())
    }
}

impl From<u32> for Key {
    fn from(i: u32) -> Key {
        Key::Int(i.into())
    }
}

impl From<&str> for Key {
    fn from(s: &str) -> Key {
        Key::Str(s.to_string())
    }
}

impl From<String> for Key {
    fn from(s: String) -> Key {
        Key::Str(s)
    }
}

impl From<&String> for Key {
    fn from(s: &String) -> Key {
        Key::Str(s.clone())
    }
}

impl From<&Key> for Key {
    fn from(key: &Key) -> Key {
        key.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_encoding_sorts_as_keys_do() {
        let mut keys = vec![
            Key::Str("b".into()),
            Key::Int(5),
            Key::Int(-3),
            Key::Str("a".into()),
            Key::Int(i64::MAX),
            Key::Int(i64::MIN),
        ];
        let mut by_bytes = keys.clone();
        keys.sort();
        by_bytes.sort_by_key(Key::to_bytes);
        assert_eq!(keys, by_bytes);
        for key in keys {
            assert_eq!(Key::from_bytes(&key.to_bytes()), Some(key));
        }
    }
}
