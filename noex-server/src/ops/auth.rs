//! `auth.*`: log in with a token, log out, ask who one is.

use serde_json::{Value, json};

use super::Op;
use super::fields::Fields;
use crate::clock::now_ms;
use crate::protocol::{ErrorCode, OpError};

pub(super) async fn run(op: &mut Op<'_>) -> Result<Value, OpError> {
    let Some(auth) = op.gateway.config.auth.clone() else {
        return match op.kind {
            "auth.whoami" => Ok(json!({"authenticated": false})),
            _ => Err(OpError::new(
                ErrorCode::UnknownOperation,
                "auth is not configured on this server",
            )),
        };
    };
    match op.kind {
        "auth.login" => {
            let token = Fields(op.fields).str("token")?.to_string();
            let session = auth
                .validator
                .validate(token)
                .await
                .filter(|session| !session.is_expired(now_ms()))
                .ok_or_else(|| OpError::new(ErrorCode::Unauthorized, "invalid or expired token"))?;
            *op.client.user_id.lock() = Some(session.user_id.clone());
            let reply = serde_json::to_value(&session).unwrap_or(Value::Null);
            *op.session = Some(session);
            Ok(reply)
        }
        "auth.logout" => {
            *op.session = None;
            *op.client.user_id.lock() = None;
            Ok(json!({"loggedOut": true}))
        }
        "auth.whoami" => Ok(match op.session.as_ref() {
            Some(session) => {
                let mut reply = serde_json::to_value(session).unwrap_or(Value::Null);
                reply["authenticated"] = true.into();
                reply
            }
            None => json!({"authenticated": false}),
        }),
        _ => Err(super::store::unknown(op.kind)),
    }
}
