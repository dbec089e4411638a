//! `noex ps --json` into a pipe: one row per line, written field by field. A million
//! processes are a few hundred megabytes of JSON, and going through serde's
//! serializer for each row was most of the command's time; the document is the
//! same as `serde_json` makes of [`ProcessRow`] (a test compares them).

use std::io::{self, Write};

use serde::Serialize;

use super::table::ProcessRow;

/// The rows as a JSON array, one row per line, written to `out` as it is made, in
/// large pieces.
pub fn write_process_json_lines(
    rows: &[ProcessRow],
    out: &mut (impl Write + ?Sized),
) -> io::Result<()> {
    const PIECE: usize = 1 << 20;
    let mut piece = Vec::with_capacity(PIECE + 4096);
    piece.extend_from_slice(b"[\n");
    for (i, row) in rows.iter().enumerate() {
        write_row(&mut piece, row);
        piece.extend_from_slice(if i + 1 < rows.len() { b",\n" } else { b"\n" });
        if piece.len() >= PIECE {
            out.write_all(&piece)?;
            piece.clear();
        }
    }
    piece.extend_from_slice(b"]\n");
    out.write_all(&piece)
}

/// One row as one JSON object, its fields in [`ProcessRow`]'s order.
fn write_row(out: &mut Vec<u8>, row: &ProcessRow) {
    let mut object = Object { out, first: true };
    object.uint("pid", Some(row.pid));
    object.text("name", row.name.as_deref());
    object.text("child_id", row.child_id.as_deref());
    object.uint("parent", row.parent);
    object.text("kind", Some(row.kind));
    object.text("type_name", row.type_name.as_deref());
    object.value("strategy", &row.strategy);
    object.value("status", &row.status);
    object.uint("messages", row.messages);
    object.uint("queue_len", row.queue_len);
    object.uint("restarts", Some(row.restarts.into()));
    object.uint("child_restarts", row.child_restarts.map(u64::from));
    object.uint("busy_ns", row.busy_ns);
    object.uint("handler_running_ns", row.handler_running_ns);
    object.uint("started_at_ms", Some(row.started_at_ms));
    object.uint("uptime_ms", Some(row.uptime_ms));
    object.text("last_error", row.last_error.as_deref());
    object.key("system");
    object
        .out
        .extend_from_slice(if row.system { b"true" } else { b"false" });
    // Left out when none, as serde leaves it out.
    if let Some(state) = row.state.as_deref() {
        object.text("state", Some(state));
    }
    object.out.push(b'}');
}

struct Object<'o> {
    out: &'o mut Vec<u8>,
    first: bool,
}

impl Object<'_> {
    /// `"key":`, after a comma or the opening brace. Keys are ours: nothing to escape.
    fn key(&mut self, key: &str) {
        self.out.push(if std::mem::take(&mut self.first) {
            b'{'
        } else {
            b','
        });
        self.out.push(b'"');
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(b"\":");
    }

    fn uint(&mut self, key: &str, value: Option<u64>) {
        self.key(key);
        match value {
            Some(value) => self
                .out
                .extend_from_slice(itoa::Buffer::new().format(value).as_bytes()),
            None => self.out.extend_from_slice(b"null"),
        }
    }

    /// A string, escaped as serde_json escapes it; `None` is null.
    fn text(&mut self, key: &str, value: Option<&str>) {
        self.key(key);
        match value {
            // Most texts (ids, type names) need no escaping: copied as they are.
            Some(text) if !text.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') => {
                self.out.push(b'"');
                self.out.extend_from_slice(text.as_bytes());
                self.out.push(b'"');
            }
            Some(text) => self.value_unkeyed(&text),
            None => self.out.extend_from_slice(b"null"),
        }
    }

    /// Anything else (enumerations), through serde_json.
    fn value(&mut self, key: &str, value: &impl Serialize) {
        self.key(key);
        self.value_unkeyed(value);
    }

    fn value_unkeyed(&mut self, value: &impl Serialize) {
        serde_json::to_writer(&mut *self.out, value).expect("a Vec takes every byte");
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use noex_agent::types::{ProcessStatus, Strategy};

    use super::*;
    use crate::cli::SortKey;

    fn process_json_lines(rows: &[ProcessRow]) -> String {
        let mut out = Vec::new();
        write_process_json_lines(rows, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }
    use crate::render::fixtures;
    use crate::render::table::process_rows;

    #[test]
    fn each_line_is_what_serde_json_makes_of_the_row() {
        let snapshot = fixtures::snapshot();
        let mut rows = process_rows(&snapshot, true, SortKey::Pid);
        // Texts that need escaping, every status and strategy, and no optional field.
        rows[0].name = Some(Cow::Borrowed("quote \" back \\ tab \t nul \0 é 字"));
        rows[0].last_error = Some(Cow::Borrowed("line\nbreak \u{7f} \u{2028}"));
        rows[0].state = Some(Cow::Borrowed("Open { \"since\": 3 }"));
        let statuses = [
            ProcessStatus::Initializing,
            ProcessStatus::Running,
            ProcessStatus::Stopping,
            ProcessStatus::Stopped,
            ProcessStatus::Unknown,
        ];
        let strategies = [
            Strategy::OneForOne,
            Strategy::OneForAll,
            Strategy::RestForOne,
            Strategy::SimpleOneForOne,
            Strategy::Unknown,
        ];
        for (i, row) in rows.clone().into_iter().enumerate() {
            let mut bare = row;
            bare.status = statuses[i % statuses.len()];
            bare.strategy = Some(strategies[i % strategies.len()]);
            bare.name = None;
            bare.messages = None;
            bare.system = !bare.system;
            rows.push(bare);
        }
        let text = process_json_lines(&rows);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.first(), Some(&"["));
        assert_eq!(lines.last(), Some(&"]"));
        for (row, line) in rows.iter().zip(&lines[1..]) {
            let expected = serde_json::to_string(row).unwrap();
            assert_eq!(line.trim_end_matches(','), expected);
        }
        assert_eq!(lines.len(), rows.len() + 2);
        assert_eq!(process_json_lines(&[]), "[\n]\n");
    }

    #[test]
    fn ps_json_lines_is_the_same_document_as_the_indented_one() {
        let snapshot = fixtures::snapshot();
        let rows = process_rows(&snapshot, true, SortKey::Pid);
        let pretty: serde_json::Value =
            serde_json::from_str(&crate::render::table::process_json(&rows)).unwrap();
        let lines: serde_json::Value = serde_json::from_str(&process_json_lines(&rows)).unwrap();
        assert_eq!(pretty, lines);
        assert_eq!(process_json_lines(&[]), "[\n]\n");
        let empty: serde_json::Value = serde_json::from_str(&process_json_lines(&[])).unwrap();
        assert_eq!(empty, serde_json::json!([]));
    }
}
