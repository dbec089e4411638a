//! `server.*` and `audit.*`: the gateway's own figures, clients and audit log.

use serde_json::Value;

use super::Op;
use crate::audit::AuditQuery;
use crate::protocol::OpError;

pub(super) fn run(op: &mut Op<'_>) -> Result<Value, OpError> {
    Ok(match op.kind {
        "server.stats" => serde_json::to_value(op.gateway.stats()).unwrap_or(Value::Null),
        "server.connections" => {
            let connections: Vec<_> = op
                .gateway
                .registry
                .clients()
                .iter()
                .map(|client| client.info())
                .collect();
            serde_json::to_value(connections).unwrap_or(Value::Null)
        }
        "audit.query" => {
            let query: AuditQuery = serde_json::from_value(Value::Object(op.fields.clone()))
                .map_err(|error| OpError::invalid(format!("audit.query: {error}")))?;
            serde_json::to_value(op.gateway.audit.query(&query)).unwrap_or(Value::Null)
        }
        _ => return Err(super::store::unknown(op.kind)),
    })
}
