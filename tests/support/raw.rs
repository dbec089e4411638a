//! A client written from PROTOCOL.md alone, on a plain blocking socket: frames are a
//! big-endian length and a MessagePack map, built and read as generic JSON-like values,
//! not with the project's own types or client (which would hide a bug they share).

use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

pub struct Raw {
    pub stream: UnixStream,
}

impl Raw {
    /// Connects; every read waits at most `HANG` (only against a hang).
    pub fn connect(socket: &Path) -> Raw {
        let stream = UnixStream::connect(socket).expect("connect to the agent");
        stream.set_read_timeout(Some(super::HANG)).unwrap();
        Raw { stream }
    }

    /// Connects and reads the agent's first frame, which must be `hello`.
    pub fn greeted(socket: &Path) -> Raw {
        let mut raw = Raw::connect(socket);
        let hello = raw.read().expect("the agent speaks first");
        assert_eq!(hello["type"], "hello", "{hello}");
        raw
    }

    pub fn set_read_timeout(&self, timeout: Duration) {
        self.stream.set_read_timeout(Some(timeout)).unwrap();
    }

    /// Sends `{id, request: {type, ...fields}}`.
    pub fn send(&mut self, id: u64, kind: &str, fields: Value) {
        self.write(&request(id, kind, fields));
    }

    pub fn write(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write to the agent");
    }

    /// The next frame, or `None` once the agent has closed the connection.
    pub fn read(&mut self) -> Option<Value> {
        self.read_unless_quiet(super::HANG)
    }

    /// The next frame, or `None` if none starts within `quiet` or the connection closed.
    pub fn read_unless_quiet(&mut self, quiet: Duration) -> Option<Value> {
        self.set_read_timeout(quiet);
        let mut len = [0u8; 4];
        let header = self.stream.read_exact(&mut len);
        self.set_read_timeout(super::HANG);
        match header {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::UnexpectedEof => return None,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return None;
            }
            Err(e) => panic!("reading a frame: {e}"),
        }
        let mut body = vec![0; u32::from_be_bytes(len) as usize];
        self.stream.read_exact(&mut body).expect("a whole frame");
        Some(rmp_serde::from_slice(&body).expect("the agent's frame is MessagePack"))
    }

    /// The next frame that is not a push (event, lagged).
    pub fn answer(&mut self) -> Value {
        loop {
            let frame = self.read().expect("an answer before the close");
            if frame["type"] != "event" && frame["type"] != "lagged" {
                return frame;
            }
        }
    }

    /// Reads until the agent closes the connection; the frames before the close.
    pub fn until_closed(&mut self) -> Vec<Value> {
        let mut frames = Vec::new();
        while let Some(frame) = self.read() {
            frames.push(frame);
        }
        frames
    }
}

/// One request frame: `{id, request: {type, ...fields}}`, MessagePack with named keys.
pub fn request(id: u64, kind: &str, fields: Value) -> Vec<u8> {
    let mut request = json!({ "type": kind });
    if let Value::Object(extra) = fields {
        request.as_object_mut().unwrap().extend(extra);
    }
    frame(&json!({ "id": id, "request": request }))
}

/// Any value as one frame.
pub fn frame(value: &Value) -> Vec<u8> {
    let body = rmp_serde::to_vec_named(value).unwrap();
    let mut bytes = (body.len() as u32).to_be_bytes().to_vec();
    bytes.extend_from_slice(&body);
    bytes
}

/// The error code and message of an `error` frame for request `id` (`None`: about the
/// connection).
pub fn error_of(frame: &Value, id: Option<u64>) -> (String, String) {
    assert_eq!(frame["type"], "error", "{frame}");
    assert_eq!(frame["id"].as_u64(), id, "{frame}");
    let error = &frame["error"];
    (
        error["code"].as_str().unwrap().to_string(),
        error["message"].as_str().unwrap().to_string(),
    )
}

/// The resident memory of process `pid`, in bytes (Linux).
pub fn rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/<pid>/status");
    kb * 1024
}
