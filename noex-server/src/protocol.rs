//! The wire of protocol 1.0.0 (PROTOCOL.md): JSON text frames, requests `{id, type,
//! ...}`, `result` and `error` replies echoing the id, `push` on a channel, and the
//! server's own `welcome`, `ping` and `system` messages.

use serde::Serialize;
use serde_json::{Map, Value, json};

/// The protocol version a server announces in its `welcome`.
pub const PROTOCOL_VERSION: &str = "1.0.0";

/// Every error a reply can carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    /// The frame is not JSON (or not text).
    ParseError,
    /// JSON, but not a request: not an object, or without `id` or `type`.
    InvalidRequest,
    /// A `type` the server does not serve.
    UnknownOperation,
    /// A field missing or of the wrong kind, or a record its schema refuses.
    ValidationError,
    /// No such record, subscription or process.
    NotFound,
    /// A key or unique value already taken.
    AlreadyExists,
    /// A record changed since it was read.
    Conflict,
    /// Not logged in, or a token refused, or a session expired.
    Unauthorized,
    /// Logged in, but not allowed this operation.
    Forbidden,
    /// Too many requests in the window.
    RateLimited,
    /// The client reads too slowly: its write buffer is full.
    Backpressure,
    /// The server failed.
    InternalError,
    /// No bucket of that name.
    BucketNotDefined,
    /// No query of that name.
    QueryNotDefined,
    /// `rules.*` without a rules engine.
    RulesNotAvailable,
}

impl ErrorCode {
    /// Every code, in the order PROTOCOL.md lists them.
    pub const ALL: [ErrorCode; 15] = [
        ErrorCode::ParseError,
        ErrorCode::InvalidRequest,
        ErrorCode::UnknownOperation,
        ErrorCode::ValidationError,
        ErrorCode::NotFound,
        ErrorCode::AlreadyExists,
        ErrorCode::Conflict,
        ErrorCode::Unauthorized,
        ErrorCode::Forbidden,
        ErrorCode::RateLimited,
        ErrorCode::Backpressure,
        ErrorCode::InternalError,
        ErrorCode::BucketNotDefined,
        ErrorCode::QueryNotDefined,
        ErrorCode::RulesNotAvailable,
    ];

    /// The code as written on the wire (`NOT_FOUND`).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::ParseError => "PARSE_ERROR",
            ErrorCode::InvalidRequest => "INVALID_REQUEST",
            ErrorCode::UnknownOperation => "UNKNOWN_OPERATION",
            ErrorCode::ValidationError => "VALIDATION_ERROR",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::AlreadyExists => "ALREADY_EXISTS",
            ErrorCode::Conflict => "CONFLICT",
            ErrorCode::Unauthorized => "UNAUTHORIZED",
            ErrorCode::Forbidden => "FORBIDDEN",
            ErrorCode::RateLimited => "RATE_LIMITED",
            ErrorCode::Backpressure => "BACKPRESSURE",
            ErrorCode::InternalError => "INTERNAL_ERROR",
            ErrorCode::BucketNotDefined => "BUCKET_NOT_DEFINED",
            ErrorCode::QueryNotDefined => "QUERY_NOT_DEFINED",
            ErrorCode::RulesNotAvailable => "RULES_NOT_AVAILABLE",
        }
    }
}

/// An operation's failure, as the `error` reply carries it.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct OpError {
    /// The code.
    pub code: ErrorCode,
    /// What a person reads.
    pub message: String,
    /// What a program reads (the field and rule of a validation error, say).
    pub details: Option<Value>,
}

impl OpError {
    /// An error with a message and no details.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> OpError {
        OpError {
            code,
            message: message.into(),
            details: None,
        }
    }

    /// With details.
    pub fn with_details(mut self, details: Value) -> OpError {
        self.details = Some(details);
        self
    }

    /// A field of the request missing or of the wrong kind.
    pub fn invalid(message: impl Into<String>) -> OpError {
        OpError::new(ErrorCode::ValidationError, message)
    }
}

impl From<noex_store::StoreError> for OpError {
    fn from(error: noex_store::StoreError) -> OpError {
        let code = match error.code() {
            "VALIDATION_ERROR" => ErrorCode::ValidationError,
            "ALREADY_EXISTS" => ErrorCode::AlreadyExists,
            "NOT_FOUND" => ErrorCode::NotFound,
            "BUCKET_NOT_DEFINED" => ErrorCode::BucketNotDefined,
            "QUERY_NOT_DEFINED" => ErrorCode::QueryNotDefined,
            "CONFLICT" => ErrorCode::Conflict,
            _ => ErrorCode::InternalError,
        };
        OpError {
            code,
            message: error.to_string(),
            details: error.details(),
        }
    }
}

impl From<crate::rules::RulesError> for OpError {
    fn from(error: crate::rules::RulesError) -> OpError {
        let code = match error {
            crate::rules::RulesError::Invalid(_) => ErrorCode::ValidationError,
            crate::rules::RulesError::Engine(_) => ErrorCode::InternalError,
        };
        OpError::new(code, error.to_string())
    }
}

/// The request's `id`, echoed as it came (a number or a string).
pub type RequestId = Value;

/// A parsed request: its id, its type, and the rest of its fields.
#[derive(Debug)]
pub struct Request {
    /// Echoed in the reply.
    pub id: RequestId,
    /// The operation (`store.insert`).
    pub kind: String,
    /// The whole object, for the operation's own fields.
    pub fields: Map<String, Value>,
}

/// Why a frame is not a request: the error reply to send (with the id, if one was read).
#[derive(Debug)]
pub struct Rejected {
    /// The id, when the frame had a usable one.
    pub id: Option<RequestId>,
    /// The error.
    pub error: OpError,
}

/// What a client sends: a request, or its answer to a `ping`.
#[derive(Debug)]
pub enum Incoming {
    /// A request to serve.
    Request(Request),
    /// `{"type": "pong"}`.
    Pong,
}

/// Read a text frame.
pub fn parse(text: &str) -> Result<Incoming, Rejected> {
    let value: Value = serde_json::from_str(text).map_err(|error| Rejected {
        id: None,
        error: OpError::new(ErrorCode::ParseError, format!("invalid JSON: {error}")),
    })?;
    if value.get("type").and_then(Value::as_str) == Some("pong") && value.get("id").is_none() {
        return Ok(Incoming::Pong);
    }
    request(value).map(Incoming::Request)
}

/// Read a text frame as a request.
pub fn parse_request(text: &str) -> Result<Request, Rejected> {
    match parse(text)? {
        Incoming::Request(request) => Ok(request),
        Incoming::Pong => Err(Rejected {
            id: None,
            error: OpError::new(ErrorCode::InvalidRequest, "a pong is not a request"),
        }),
    }
}

fn request(value: Value) -> Result<Request, Rejected> {
    let Value::Object(fields) = value else {
        return Err(Rejected {
            id: None,
            error: OpError::new(ErrorCode::InvalidRequest, "a request is a JSON object"),
        });
    };
    let id = match fields.get("id") {
        Some(id @ (Value::Number(_) | Value::String(_))) => id.clone(),
        _ => {
            return Err(Rejected {
                id: None,
                error: OpError::new(
                    ErrorCode::InvalidRequest,
                    "a request needs an `id` (a number or a string)",
                ),
            });
        }
    };
    let kind = match fields.get("type") {
        Some(Value::String(kind)) if !kind.is_empty() => kind.clone(),
        _ => {
            return Err(Rejected {
                id: Some(id),
                error: OpError::new(ErrorCode::InvalidRequest, "a request needs a `type`"),
            });
        }
    };
    Ok(Request { id, kind, fields })
}

/// `{"id", "type": "result", "data"}`.
pub fn result(id: &RequestId, data: Value) -> Value {
    json!({"id": id, "type": "result", "data": data})
}

/// `{"id", "type": "error", "code", "message", "details"?}`; no id when the frame had none.
pub fn error(id: Option<&RequestId>, error: &OpError) -> Value {
    let mut reply = Map::new();
    if let Some(id) = id {
        reply.insert("id".into(), id.clone());
    }
    reply.insert("type".into(), "error".into());
    reply.insert("code".into(), error.code.as_str().into());
    reply.insert("message".into(), error.message.clone().into());
    if let Some(details) = &error.details {
        reply.insert("details".into(), details.clone());
    }
    Value::Object(reply)
}

/// The push channel of a store subscription's results.
pub const SUBSCRIPTION_CHANNEL: &str = "subscription";
/// The push channel of events (rules, the EventBus, the Observer's lifecycle events).
pub const EVENT_CHANNEL: &str = "event";

/// `{"type": "push", "channel", "subscriptionId", "data"}`.
pub fn push(channel: &str, subscription_id: &str, data: Value) -> Value {
    json!({"type": "push", "channel": channel, "subscriptionId": subscription_id, "data": data})
}

/// The server's first message.
pub fn welcome(server_time_ms: u64, requires_auth: bool) -> Value {
    json!({
        "type": "welcome",
        "version": PROTOCOL_VERSION,
        "serverTime": server_time_ms,
        "requiresAuth": requires_auth,
    })
}

/// The heartbeat's question; the client answers `{"type": "pong", "timestamp"}`.
pub fn ping(timestamp_ms: u64) -> Value {
    json!({"type": "ping", "timestamp": timestamp_ms})
}

/// The notice every client gets before the server stops.
pub fn shutdown_notice(grace_period_ms: u64) -> Value {
    json!({"type": "system", "event": "shutdown", "gracePeriodMs": grace_period_ms})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_written_as_the_seed_spells_it() {
        for code in ErrorCode::ALL {
            let serialized = serde_json::to_value(code).unwrap();
            assert_eq!(serialized, Value::from(code.as_str()));
        }
    }

    #[test]
    fn bad_json_is_a_parse_error_without_an_id() {
        let rejected = parse_request("{nope").unwrap_err();
        assert_eq!(rejected.error.code, ErrorCode::ParseError);
        assert!(rejected.id.is_none());
    }

    #[test]
    fn a_request_without_a_type_is_invalid_and_keeps_its_id() {
        let rejected = parse_request(r#"{"id": 7}"#).unwrap_err();
        assert_eq!(rejected.error.code, ErrorCode::InvalidRequest);
        assert_eq!(rejected.id, Some(Value::from(7)));
    }

    #[test]
    fn a_request_without_an_id_is_invalid() {
        let rejected = parse_request(r#"{"type": "store.get"}"#).unwrap_err();
        assert_eq!(rejected.error.code, ErrorCode::InvalidRequest);
        assert!(rejected.id.is_none());
    }
}
