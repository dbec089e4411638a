//! `observer.*`: the Observer over WebSocket: snapshot, tree, lifecycle events, a
//! process's state, and kill and restart exactly as `noex kill` and `noex restart`.

use noex_agent::backend::Backend;
use noex_agent::protocol::{ErrorBody, ErrorCode as AgentCode, ProcessRef};
use noex_agent::target;
use noex_agent::types::Snapshot;
use serde_json::{Value, json};

use super::fields::Fields;
use super::{Op, Subscribed};
use crate::protocol::{ErrorCode, OpError};

/// The most past events a subscription asks to be sent first.
const MAX_HISTORY: usize = 1_000;

fn to_json(value: impl serde::Serialize) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

fn from_agent(error: ErrorBody) -> OpError {
    let code = match error.code {
        AgentCode::NotFound => ErrorCode::NotFound,
        AgentCode::AmbiguousTarget | AgentCode::NotSupervised | AgentCode::NotShown => {
            ErrorCode::ValidationError
        }
        AgentCode::ReadOnly | AgentCode::Protected | AgentCode::PermissionDenied => {
            ErrorCode::Forbidden
        }
        _ => ErrorCode::InternalError,
    };
    OpError::new(code, error.message)
}

/// Built off the runtime's workers: a snapshot of a large application takes a while.
async fn blocking<T: Send + 'static>(
    build: impl FnOnce() -> T + Send + 'static,
) -> Result<T, OpError> {
    tokio::task::spawn_blocking(build)
        .await
        .map_err(|_| OpError::new(ErrorCode::InternalError, "the Observer failed"))
}

/// What resolving `target` needs: a pid, that process and its supervisor; a name, all.
async fn view_for(text: &str) -> Result<Snapshot, OpError> {
    let backend = noex::agent::runtime_backend();
    match target::pid_form(text) {
        Some(pid) => blocking(move || backend.process_view(pid))
            .await?
            .ok_or_else(|| from_agent(target::not_found(text))),
        None => blocking(move || backend.snapshot()).await,
    }
}

/// Whether `process` is one of the gateway's own: its supervisor, listener, event bus,
/// rate limiter or connections supervisor (all named `NAME` or `NAME/...`). A client
/// ending them through the gateway would cut everyone off. Another client's connection
/// may be ended (an operator showing a client out; it is temporary, so with `force`).
fn belongs_to_server(process: &ProcessRef, server: &str) -> bool {
    process.name.as_deref().is_some_and(|name| {
        name == server
            || name
                .strip_prefix(server)
                .is_some_and(|rest| rest.starts_with('/'))
    })
}

pub(super) async fn run(op: &mut Op<'_>) -> Result<Value, OpError> {
    let fields = Fields(op.fields);
    let backend = noex::agent::runtime_backend();
    Ok(match op.kind {
        "observer.snapshot" => to_json(blocking(move || backend.snapshot()).await?),
        "observer.tree" => to_json(blocking(move || backend.tree()).await?),
        "observer.state" => {
            let text = fields.str("target")?;
            let process = target::resolve(&view_for(text).await?, text).map_err(from_agent)?;
            if process.pid == op.pid {
                // Busy serving this very request, it could not answer in time.
                let figures = serde_json::to_value(op.client.info()).unwrap_or(Value::Null);
                return Ok(json!({"target": to_json(&process), "state": figures.to_string()}));
            }
            let state = backend.state(process.pid).await.map_err(from_agent)?;
            json!({"target": to_json(&process), "state": state})
        }
        "observer.kill" | "observer.restart" => {
            let text = fields.str("target")?;
            let force = fields.opt_value("force").and_then(Value::as_bool) == Some(true);
            let reason = fields.opt_str("reason")?.map(str::to_string);
            let snapshot = view_for(text).await?;
            let process = target::resolve(&snapshot, text).map_err(from_agent)?;
            if let Some(why) = target::belongs_to_agent(&snapshot, &process) {
                return Err(OpError::new(ErrorCode::Forbidden, why));
            }
            if process.pid == op.pid || belongs_to_server(&process, &op.gateway.config.name) {
                return Err(OpError::new(
                    ErrorCode::Forbidden,
                    format!(
                        "{} {} is part of this server: it cannot be killed or restarted \
                         through it (`noex kill` can)",
                        process.label(),
                        process.pid
                    ),
                ));
            }
            let kill = op.kind == "observer.kill";
            if kill
                && !force
                && let Some(why) = target::nothing_restarts(&snapshot, &process)
            {
                return Err(OpError::new(ErrorCode::ValidationError, why)
                    .with_details(json!({"retryWith": {"force": true}})));
            }
            drop(snapshot);
            let done = if kill {
                backend.kill(process.pid, reason)
            } else {
                backend.restart(process.pid)
            };
            // Its own task: once begun, an action runs to its end even if the client goes.
            let outcome = tokio::spawn(done)
                .await
                .map_err(|_| OpError::new(ErrorCode::InternalError, "the action failed"))?
                .map_err(from_agent)?;
            to_json(outcome)
        }
        "observer.subscribe" => {
            op.check_room()?;
            let history = fields.opt_count("history")?.unwrap_or(0).min(MAX_HISTORY);
            let (past, mut live) = backend.subscribe(history);
            op.subscribe_with(Subscribed::events, |pusher| async move {
                let send =
                    |event| pusher.event(json!({"topic": "lifecycle", "event": to_json(event)}));
                for event in past {
                    send(event);
                }
                loop {
                    match live.recv().await {
                        Ok(event) => send(event),
                        // Missed events are missed; the next ones still come.
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                    }
                }
            })
        }
        "observer.unsubscribe" => op.unsubscribe().await?,
        _ => return Err(super::store::unknown(op.kind)),
    })
}
