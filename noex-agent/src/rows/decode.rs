//! Reading a snapshot reply in either form, named maps or compact rows, straight into
//! its types.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use serde::de::value::MapAccessDeserializer;
use serde::de::{DeserializeSeed, Deserializer, Error, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, de};

use super::{CHILD_ROW, SERVER_ROW, SERVER_ROW_REQUIRED, SUPERVISOR_ROW};
use crate::types::{
    ChildInfo, ChildKind, Intensity, Pid, ProcessStatus, RestartType, ServerInfo, Snapshot,
    Strategy, SupervisorInfo,
};

/// The most a list's announced length reserves up front. A frame may hold up to
/// 256 MiB anyway, so trusting the count this far costs nothing a hostile agent
/// could not already cause, and saves regrowing a list of 100k servers.
const PREALLOCATE_BYTES: usize = 32 << 20;

/// Decodes a [`Snapshot`] in the named form or the compact one (since 2.1): what
/// a snapshot reply's `snapshot` field holds.
pub fn deserialize_snapshot<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Snapshot, D::Error> {
    deserializer.deserialize_map(SnapshotVisitor)
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum Field {
    TakenAtMs,
    App,
    OsPid,
    UptimeMs,
    ProcessCount,
    TotalMessages,
    MemoryRssBytes,
    Strings,
    Servers,
    Supervisors,
    #[serde(other)]
    Other,
}

struct SnapshotVisitor;

/// Sets a field once: a key given twice is an error, as for any derived struct.
fn once<T, E: Error>(slot: &mut Option<T>, name: &'static str, value: T) -> Result<(), E> {
    if slot.is_some() {
        return Err(E::duplicate_field(name));
    }
    *slot = Some(value);
    Ok(())
}

fn required<T, E: Error>(slot: Option<T>, name: &'static str) -> Result<T, E> {
    slot.ok_or_else(|| E::missing_field(name))
}

impl<'de> Visitor<'de> for SnapshotVisitor {
    type Value = Snapshot;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a snapshot (a map)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Snapshot, A::Error> {
        let mut taken_at_ms = None;
        let mut app = None;
        let mut os_pid = None;
        let mut uptime_ms = None;
        let mut process_count = None;
        let mut total_messages = None;
        let mut memory_rss_bytes: Option<Option<u64>> = None;
        let mut strings: Option<Vec<Arc<str>>> = None;
        let mut servers = None;
        let mut supervisors = None;
        while let Some(key) = map.next_key::<Field>()? {
            match key {
                Field::TakenAtMs => once(&mut taken_at_ms, "taken_at_ms", map.next_value()?)?,
                Field::App => once(&mut app, "app", map.next_value()?)?,
                Field::OsPid => once(&mut os_pid, "os_pid", map.next_value()?)?,
                Field::UptimeMs => once(&mut uptime_ms, "uptime_ms", map.next_value()?)?,
                Field::ProcessCount => {
                    once(&mut process_count, "process_count", map.next_value()?)?
                }
                Field::TotalMessages => {
                    once(&mut total_messages, "total_messages", map.next_value()?)?
                }
                Field::MemoryRssBytes => {
                    once(&mut memory_rss_bytes, "memory_rss_bytes", map.next_value()?)?
                }
                Field::Strings => once(&mut strings, "strings", map.next_value()?)?,
                Field::Servers => {
                    if servers.is_some() {
                        return Err(A::Error::duplicate_field("servers"));
                    }
                    servers = Some(map.next_value_seed(List::new(strings.as_deref()))?);
                }
                Field::Supervisors => {
                    if supervisors.is_some() {
                        return Err(A::Error::duplicate_field("supervisors"));
                    }
                    supervisors = Some(map.next_value_seed(List::new(strings.as_deref()))?);
                }
                Field::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Snapshot {
            taken_at_ms: required(taken_at_ms, "taken_at_ms")?,
            app: required(app, "app")?,
            os_pid: required(os_pid, "os_pid")?,
            uptime_ms: required(uptime_ms, "uptime_ms")?,
            process_count: required(process_count, "process_count")?,
            total_messages: required(total_messages, "total_messages")?,
            memory_rss_bytes: memory_rss_bytes.flatten(),
            servers: required(servers, "servers")?,
            supervisors: required(supervisors, "supervisors")?,
        })
    }
}

/// Something that is sent as a named map or as a row.
trait Element<'de>: Deserialize<'de> {
    /// What a row of it is called in errors.
    const WHAT: &'static str;
    /// The positions a row may have, those it must have first.
    const POSITIONS: &'static [&'static str];
    /// How many of [`Element::POSITIONS`] a row must have (those of 2.1); a row may
    /// end before the others.
    const REQUIRED: usize = Self::POSITIONS.len();

    fn from_row<A: SeqAccess<'de>>(row: &mut Row<'_, A>) -> Result<Self, A::Error>;
}

impl<'de> Element<'de> for ServerInfo {
    const WHAT: &'static str = "server";
    const POSITIONS: &'static [&'static str] = &SERVER_ROW;
    const REQUIRED: usize = SERVER_ROW_REQUIRED;

    fn from_row<A: SeqAccess<'de>>(row: &mut Row<'_, A>) -> Result<Self, A::Error> {
        // Fields are evaluated in the order written: the row's order.
        Ok(ServerInfo {
            pid: Pid(row.next()?),
            name: row.optional_text()?,
            child_id: row.optional_text()?,
            parent: row.next::<Option<u64>>()?.map(Pid),
            type_name: row.shared_text()?,
            status: row.enumeration(ProcessStatus::from_wire_name)?,
            messages: row.next()?,
            queue_len: row.next()?,
            started_at_ms: row.next()?,
            restarts: row.next()?,
            busy_ns: row.next()?,
            handler_running_ns: row.next()?,
            last_error: row.optional_text()?,
            system: row.next()?,
            // Since 2.3; a row of 2.1 or 2.2 ends before it.
            state: row.trailing_text()?,
        })
    }
}

impl<'de> Element<'de> for SupervisorInfo {
    const WHAT: &'static str = "supervisor";
    const POSITIONS: &'static [&'static str] = &SUPERVISOR_ROW;

    fn from_row<A: SeqAccess<'de>>(row: &mut Row<'_, A>) -> Result<Self, A::Error> {
        Ok(SupervisorInfo {
            pid: Pid(row.next()?),
            name: row.optional_text()?,
            child_id: row.optional_text()?,
            parent: row.next::<Option<u64>>()?.map(Pid),
            status: row.enumeration(ProcessStatus::from_wire_name)?,
            strategy: row.enumeration(Strategy::from_wire_name)?,
            intensity: Intensity {
                max_restarts: row.next()?,
                within_ms: row.next()?,
            },
            children: row.list()?,
            child_restarts: row.next()?,
            restarts: row.next()?,
            started_at_ms: row.next()?,
            last_error: row.optional_text()?,
            system: row.next()?,
        })
    }
}

impl<'de> Element<'de> for ChildInfo {
    const WHAT: &'static str = "child";
    const POSITIONS: &'static [&'static str] = &CHILD_ROW;

    fn from_row<A: SeqAccess<'de>>(row: &mut Row<'_, A>) -> Result<Self, A::Error> {
        Ok(ChildInfo {
            id: row.text()?,
            pid: row.next::<Option<u64>>()?.map(Pid),
            restart: row.enumeration(RestartType::from_wire_name)?,
            kind: row.enumeration(ChildKind::from_wire_name)?,
        })
    }
}

/// A list of elements, each a map or a row.
struct List<'s, T> {
    strings: &'s [Arc<str>],
    elements: PhantomData<fn() -> T>,
}

impl<'s, T> List<'s, T> {
    fn new(strings: Option<&'s [Arc<str>]>) -> Self {
        List {
            strings: strings.unwrap_or_default(),
            elements: PhantomData,
        }
    }
}

impl<'de, T: Element<'de>> DeserializeSeed<'de> for List<'_, T> {
    type Value = Vec<T>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Vec<T>, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de, T: Element<'de>> Visitor<'de> for List<'_, T> {
    type Value = Vec<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a list of {}s", T::WHAT)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
        let most = PREALLOCATE_BYTES / size_of::<T>().max(1);
        let mut list = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(most));
        let each = ElementSeed::<T> {
            strings: self.strings,
            element: PhantomData,
        };
        while let Some(element) = seq.next_element_seed(each.clone())? {
            list.push(element);
        }
        Ok(list)
    }
}

struct ElementSeed<'s, T> {
    strings: &'s [Arc<str>],
    element: PhantomData<fn() -> T>,
}

impl<T> Clone for ElementSeed<'_, T> {
    fn clone(&self) -> Self {
        ElementSeed {
            strings: self.strings,
            element: PhantomData,
        }
    }
}

impl<'de, T: Element<'de>> DeserializeSeed<'de> for ElementSeed<'_, T> {
    type Value = T;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<T, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de, T: Element<'de>> Visitor<'de> for ElementSeed<'_, T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a {} as a map or a row", T::WHAT)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        T::deserialize(MapAccessDeserializer::new(map))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<T, A::Error> {
        let mut row = Row {
            seq,
            strings: self.strings,
            at: 0,
            what: T::WHAT,
            positions: T::POSITIONS,
            required: T::REQUIRED,
        };
        let element = T::from_row(&mut row)?;
        // Positions of a newer agent.
        while row.seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(element)
    }
}

/// One row being read, position by position.
struct Row<'s, A> {
    seq: A,
    strings: &'s [Arc<str>],
    at: usize,
    what: &'static str,
    positions: &'static [&'static str],
    required: usize,
}

impl<'s, 'de, A: SeqAccess<'de>> Row<'s, A> {
    fn short(&self) -> A::Error {
        let name = self.positions.get(self.at).copied().unwrap_or("?");
        A::Error::custom(format_args!(
            "a {} row ends before position {} (`{name}`): it needs {} positions",
            self.what, self.at, self.required
        ))
    }

    fn seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, A::Error> {
        let value = self
            .seq
            .next_element_seed(seed)
            .map_err(|error| {
                A::Error::custom(format_args!(
                    "a {} row's `{}` (position {}): {error}",
                    self.what, self.positions[self.at], self.at
                ))
            })?
            .ok_or_else(|| self.short())?;
        self.at += 1;
        Ok(value)
    }

    fn next<T: Deserialize<'de>>(&mut self) -> Result<T, A::Error> {
        self.seed(PhantomData)
    }

    fn list<T: Element<'de>>(&mut self) -> Result<Vec<T>, A::Error> {
        self.seed(List::new(Some(self.strings)))
    }

    fn optional_text(&mut self) -> Result<Option<String>, A::Error> {
        let strings = self.strings;
        Ok(self.seed(TextSeed { strings })?.map(Text::into_string))
    }

    /// A string position added after 2.1: `None` when the row ends before it.
    fn trailing_text(&mut self) -> Result<Option<String>, A::Error> {
        debug_assert!(self.at >= self.required, "a required position");
        let strings = self.strings;
        let what = self.what;
        let name = self.positions[self.at];
        let at = self.at;
        let text = self
            .seq
            .next_element_seed(TextSeed { strings })
            .map_err(|error| {
                A::Error::custom(format_args!(
                    "a {what} row's `{name}` (position {at}): {error}"
                ))
            })?;
        self.at += 1;
        Ok(text.flatten().map(Text::into_string))
    }

    fn text(&mut self) -> Result<String, A::Error> {
        Ok(self.required_text()?.into_string())
    }

    /// A text that repeats from row to row: one from the table is shared, not copied.
    fn shared_text(&mut self) -> Result<Arc<str>, A::Error> {
        Ok(self.required_text()?.into_shared())
    }

    fn enumeration<E>(&mut self, from_wire_name: fn(&str) -> E) -> Result<E, A::Error> {
        Ok(from_wire_name(self.required_text()?.as_str()))
    }

    fn required_text(&mut self) -> Result<Text<'s, 'de>, A::Error> {
        let at = self.at;
        let strings = self.strings;
        self.seed(TextSeed { strings })?.ok_or_else(|| {
            A::Error::custom(format_args!(
                "a {} row's `{}` is nil: it must be a string or an index into `strings`",
                self.what, self.positions[at]
            ))
        })
    }
}

/// A string position: the string itself, or its index in the snapshot's `strings`.
pub(super) enum Text<'s, 'de> {
    Table(&'s Arc<str>),
    Borrowed(&'de str),
    Owned(String),
}

impl Text<'_, '_> {
    pub(super) fn as_str(&self) -> &str {
        match self {
            Text::Table(text) => text,
            Text::Borrowed(text) => text,
            Text::Owned(text) => text,
        }
    }

    pub(super) fn into_string(self) -> String {
        match self {
            Text::Owned(text) => text,
            other => other.as_str().to_string(),
        }
    }

    pub(super) fn into_shared(self) -> Arc<str> {
        match self {
            Text::Table(text) => Arc::clone(text),
            Text::Borrowed(text) => Arc::from(text),
            Text::Owned(text) => Arc::from(text),
        }
    }
}

/// Reads a string position; nil is `None`.
struct TextSeed<'s> {
    strings: &'s [Arc<str>],
}

impl<'de, 's> DeserializeSeed<'de> for TextSeed<'s> {
    type Value = Option<Text<'s, 'de>>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de, 's> Visitor<'de> for TextSeed<'s> {
    type Value = Option<Text<'s, 'de>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string, an index into `strings`, or nil")
    }

    fn visit_borrowed_str<E: Error>(self, text: &'de str) -> Result<Self::Value, E> {
        Ok(Some(Text::Borrowed(text)))
    }

    fn visit_str<E: Error>(self, text: &str) -> Result<Self::Value, E> {
        Ok(Some(Text::Owned(text.to_string())))
    }

    fn visit_string<E: Error>(self, text: String) -> Result<Self::Value, E> {
        Ok(Some(Text::Owned(text)))
    }

    fn visit_u64<E: Error>(self, index: u64) -> Result<Self::Value, E> {
        let text = usize::try_from(index)
            .ok()
            .and_then(|index| self.strings.get(index))
            .ok_or_else(|| {
                E::custom(format_args!(
                    "string index {index} is not in the snapshot's table of {} strings",
                    self.strings.len()
                ))
            })?;
        Ok(Some(Text::Table(text)))
    }

    fn visit_i64<E: Error>(self, index: i64) -> Result<Self::Value, E> {
        // A writer may give a small index a signed width: read it by value.
        match u64::try_from(index) {
            Ok(index) => self.visit_u64(index),
            Err(_) => Err(E::invalid_value(de::Unexpected::Signed(index), &self)),
        }
    }

    fn visit_unit<E: Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_none<E: Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}
