//! One process per client: a temporary child of the server's `simple_one_for_one`
//! connections supervisor. A crashed (or killed) connection is cleaned up — its
//! subscriptions dropped, its socket closed — and not restarted.
//!
//! The process serves the client's requests one at a time, in order; a reader task
//! hands it each frame and waits for it to be served (so a client that floods waits
//! on its own socket, never in an unbounded mailbox), a writer task drains the
//! [`Outbox`], and a heartbeat task pings.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::{SinkExt, StreamExt};
use noex::error::BoxError;
use noex::gen_server::{Context, GenServer, Info, Reply};
use noex::process::Description;
use noex::rate_limiter::ConsumeError;
use noex::{ExitReason, registry};
use parking_lot::Mutex;
use serde_json::json;
use tokio::task::AbortHandle;

use crate::audit::AuditRecord;
use crate::auth::Session;
use crate::clock::now_ms;
use crate::gateway::Gateway;
use crate::ops::{self, Op};
use crate::outbox::{self, Close, Next, Outbox};
use crate::protocol::{self, ErrorCode, Incoming, OpError, Request};
use crate::registry::Client;
use crate::subscriptions::Subscriptions;

/// How long the reader waits for one request to be served before giving up on it.
const SERVE_WAIT: Duration = Duration::from_secs(120);
/// After its close frame, how long the server reads on, for the client's close,
/// before it drops the socket. Dropped with unread frames (a client still sending),
/// the socket is reset, and the client never reads the close frame and its code.
const CLOSE_LINGER: Duration = Duration::from_secs(2);
/// The writer hands the socket what the outbox holds in one write, up to about this
/// much (a pipelining client, a burst of pushes): one system call instead of one a
/// message. Past the outbox, unaccounted for by its bound, is at most one batch.
const WRITE_BATCH_BYTES: usize = 64 * 1024;
/// A frame larger than the limit (tungstenite's capacity error).
const CLOSE_TOO_BIG: Close = Close {
    code: 1009,
    reason: "message too big",
};

pub(crate) struct Accepted {
    gateway: Arc<Gateway>,
    socket: WebSocket,
    client: Arc<Client>,
}

pub(crate) type Pending = Arc<Mutex<Option<Accepted>>>;

/// Serve an upgraded socket as a child of the connections supervisor.
pub(crate) async fn accept(gateway: Arc<Gateway>, socket: WebSocket, remote: SocketAddr) {
    let client = Arc::new(Client {
        id: gateway.registry.next_id(),
        remote,
        connected_at_ms: now_ms(),
        pid: Mutex::new(None),
        user_id: Mutex::new(None),
        messages_in: AtomicU64::new(0),
        store_subscriptions: Default::default(),
        event_subscriptions: Default::default(),
        outbox: Outbox::new(gateway.config.backpressure),
    });
    let supervisor = match registry::lookup_supervisor(&gateway.connections_name()) {
        Ok(supervisor) => supervisor,
        Err(error) => {
            tracing::warn!(%error, "noex-server: no connections supervisor; client dropped");
            return;
        }
    };
    let pending: Pending = Arc::new(Mutex::new(Some(Accepted {
        gateway,
        socket,
        client,
    })));
    if let Err(error) = supervisor.start_child_with(pending).await {
        tracing::warn!(%error, "noex-server: a connection did not start");
    }
}

pub(crate) struct Connection {
    accepted: Option<Accepted>,
    gateway: Option<Arc<Gateway>>,
    client: Option<Arc<Client>>,
    session: Option<Session>,
    subscriptions: Subscriptions,
    pongs: Arc<AtomicU64>,
    tasks: Vec<AbortHandle>,
    _shown: Option<Description>,
}

/// A frame from the client, to serve.
pub(crate) enum Frame {
    Text(String),
    Binary,
}

struct WriterEnded;
struct ReaderEnded;

impl Connection {
    pub(crate) fn from_pending(pending: &Pending) -> Connection {
        Connection {
            accepted: pending.lock().take(),
            gateway: None,
            client: None,
            session: None,
            subscriptions: Subscriptions::default(),
            pongs: Arc::new(AtomicU64::new(0)),
            tasks: Vec::new(),
            _shown: None,
        }
    }

    fn reply(&self, text: String) {
        if let Some(client) = &self.client {
            client.outbox.reply(text);
        }
    }

    async fn serve(&mut self, request: Request, ctx: &mut Context<Self>) {
        let (Some(gateway), Some(client)) = (self.gateway.clone(), self.client.clone()) else {
            return;
        };
        let result = if client.outbox.is_behind() {
            Err(OpError::new(
                ErrorCode::Backpressure,
                "the client is not reading its replies: slow down",
            ))
        } else {
            self.admit(&gateway, &client, &request).await
        };
        let result = match result {
            Ok(()) => {
                let mut op = Op {
                    kind: &request.kind,
                    fields: &request.fields,
                    gateway: &gateway,
                    client: &client,
                    pid: ctx.pid(),
                    session: &mut self.session,
                    subscriptions: &mut self.subscriptions,
                };
                ops::run(&mut op).await
            }
            Err(error) => Err(error),
        };
        if gateway.audit.records(&request.kind) {
            let remote = client.remote.to_string();
            gateway.audit.record(AuditRecord {
                connection_id: client.id,
                remote: &remote,
                user_id: self
                    .session
                    .as_ref()
                    .map(|session| session.user_id.as_str()),
                operation: &request.kind,
                resource: ops::resource(&request.fields),
                outcome: result
                    .as_ref()
                    .map(|_| ())
                    .map_err(|error| error.code)
                    .into(),
            });
        }
        let reply = match result {
            Ok(data) => protocol::result(&request.id, data),
            Err(error) => protocol::error(Some(&request.id), &error),
        };
        client.outbox.reply(reply.to_string());
        self.subscriptions.start_pending();
    }

    /// Auth, permissions, rate limit: whether the request may run at all.
    async fn admit(
        &mut self,
        gateway: &Gateway,
        client: &Client,
        request: &Request,
    ) -> Result<(), OpError> {
        if let Some(auth) = &gateway.config.auth {
            if self
                .session
                .as_ref()
                .is_some_and(|s| s.is_expired(now_ms()))
            {
                self.session = None;
                *client.user_id.lock() = None;
                if !request.kind.starts_with("auth.") {
                    return Err(OpError::new(
                        ErrorCode::Unauthorized,
                        "the session has expired",
                    ));
                }
            }
            if !request.kind.starts_with("auth.") {
                let anonymous = Session {
                    user_id: "anonymous".into(),
                    roles: Vec::new(),
                    expires_at: None,
                };
                let session = match &self.session {
                    Some(session) => session,
                    None if auth.required => {
                        return Err(OpError::new(
                            ErrorCode::Unauthorized,
                            "log in first: auth.login with a token",
                        ));
                    }
                    None => &anonymous,
                };
                if let Some(permissions) = &auth.permissions
                    && !permissions.check(session, &request.kind, ops::resource(&request.fields))
                {
                    return Err(OpError::new(
                        ErrorCode::Forbidden,
                        format!(
                            "{} may not run {}",
                            session.user_id,
                            noex_agent::text::clip(&request.kind, 100)
                        ),
                    ));
                }
            }
        }
        if let Some(limiter) = gateway.limiter() {
            let key = match &self.session {
                Some(session) => format!("user:{}", session.user_id),
                None => format!("ip:{}", client.remote.ip()),
            };
            match limiter.consume(&key).await {
                Ok(_) => {}
                Err(ConsumeError::Exceeded(exceeded)) => {
                    return Err(OpError::new(
                        ErrorCode::RateLimited,
                        format!(
                            "rate limit of {} requests per {:?} exceeded",
                            exceeded.limit, exceeded.window
                        ),
                    )
                    .with_details(
                        json!({"retryAfterMs": exceeded.retry_after.as_millis() as u64}),
                    ));
                }
                Err(ConsumeError::Call(error)) => {
                    tracing::warn!(%error, "noex-server: the rate limiter did not answer");
                }
            }
        }
        Ok(())
    }
}

impl GenServer for Connection {
    type Call = Frame;
    type Cast = ();
    type Reply = ();

    async fn init(&mut self, ctx: &mut Context<Self>) -> Result<(), BoxError> {
        let Accepted {
            gateway,
            socket,
            client,
        } = self.accepted.take().ok_or("connection already taken")?;
        *client.pid.lock() = Some(ctx.pid());
        gateway.registry.add(client.clone());
        let shown = client.clone();
        self._shown = Some(noex::process::describe(ctx.pid(), move || {
            Some(shown.describe())
        }));
        let (mut sink, mut stream) = socket.split();

        let reader_done = Arc::new(tokio::sync::Notify::new());
        let outbox = client.outbox.clone();
        let myself = ctx.myself();
        let read_all = reader_done.clone();
        self.tasks.push(
            tokio::spawn(async move {
                'writing: loop {
                    let mut next = outbox.next().await;
                    let (mut batched, mut bytes) = (0, 0);
                    loop {
                        match next {
                            Next::Text(text) => {
                                bytes += text.len();
                                // A client that stops reading blocks this write for good:
                                // a close (4002, 4001, 1001) must not wait behind it.
                                tokio::select! {
                                    fed = sink.feed(Message::Text(text.into())) => {
                                        if fed.is_err() {
                                            break 'writing;
                                        }
                                    }
                                    () = outbox.until_closing() => continue 'writing,
                                }
                                batched += 1;
                            }
                            Next::Close(close) => {
                                let frame = CloseFrame {
                                    code: close.code,
                                    reason: close.reason.into(),
                                };
                                // Sent after what was fed before it; then the client's
                                // close is read, for a while.
                                let _ = tokio::time::timeout(CLOSE_LINGER, async {
                                    let _ = sink.send(Message::Close(Some(frame))).await;
                                    read_all.notified().await;
                                })
                                .await;
                                break 'writing;
                            }
                        }
                        // What queued meanwhile goes out in the same write, so long as
                        // the batch stays small beside the outbox's own bound.
                        match (bytes < WRITE_BATCH_BYTES).then(|| outbox.try_next()) {
                            Some(Some(more)) => next = more,
                            _ => break,
                        }
                    }
                    tokio::select! {
                        flushed = sink.flush() => {
                            if flushed.is_err() {
                                break;
                            }
                        }
                        () = outbox.until_closing() => continue,
                    }
                    outbox.sent.fetch_add(batched, Ordering::Relaxed);
                }
                let _ = myself.send_info(WriterEnded);
            })
            .abort_handle(),
        );

        let myself = ctx.myself();
        let outbox = client.outbox.clone();
        self.tasks.push(
            tokio::spawn(async move {
                while let Some(message) = stream.next().await {
                    // Closing: read on for the client's close, serving nothing more.
                    if outbox.is_closing() {
                        if matches!(message, Ok(Message::Close(_)) | Err(_)) {
                            break;
                        }
                        continue;
                    }
                    let frame = match message {
                        Ok(Message::Text(text)) => Frame::Text(text.to_string()),
                        Ok(Message::Binary(_)) => Frame::Binary,
                        Ok(Message::Close(_)) => break,
                        Ok(_) => continue,
                        Err(error) => {
                            if error.to_string().contains("too long") {
                                outbox.close(CLOSE_TOO_BIG);
                            }
                            break;
                        }
                    };
                    if myself.call_timeout(frame, SERVE_WAIT).await.is_err() {
                        break;
                    }
                }
                reader_done.notify_one();
                let _ = myself.send_info(ReaderEnded);
            })
            .abort_handle(),
        );

        let heartbeat = gateway.config.heartbeat;
        let outbox = client.outbox.clone();
        let pongs = self.pongs.clone();
        self.tasks.push(
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(heartbeat.interval).await;
                    let answered = pongs.load(Ordering::Relaxed);
                    outbox.reply(protocol::ping(now_ms()).to_string());
                    tokio::time::sleep(heartbeat.timeout).await;
                    if pongs.load(Ordering::Relaxed) == answered {
                        outbox.close(outbox::CLOSE_HEARTBEAT);
                        break;
                    }
                }
            })
            .abort_handle(),
        );

        let requires_auth = gateway
            .config
            .auth
            .as_ref()
            .is_some_and(|auth| auth.required);
        client
            .outbox
            .reply(protocol::welcome(now_ms(), requires_auth).to_string());
        self.gateway = Some(gateway);
        self.client = Some(client);
        Ok(())
    }

    async fn handle_call(&mut self, frame: Frame, ctx: &mut Context<Self>) -> Reply<()> {
        if let Some(client) = &self.client {
            client.messages_in.fetch_add(1, Ordering::Relaxed);
        }
        let text = match frame {
            Frame::Text(text) => text,
            Frame::Binary => {
                let error = OpError::new(ErrorCode::ParseError, "frames are JSON text, not binary");
                self.reply(protocol::error(None, &error).to_string());
                return Reply::Now(());
            }
        };
        match protocol::parse(&text) {
            Ok(Incoming::Pong) => {
                self.pongs.fetch_add(1, Ordering::Relaxed);
            }
            Ok(Incoming::Request(request)) => self.serve(request, ctx).await,
            Err(rejected) => {
                self.reply(protocol::error(rejected.id.as_ref(), &rejected.error).to_string())
            }
        }
        Reply::Now(())
    }

    async fn handle_info(&mut self, message: Info, ctx: &mut Context<Self>) {
        if message.is::<WriterEnded>() {
            ctx.stop(ExitReason::Normal);
        } else if message.is::<ReaderEnded>()
            && let Some(client) = &self.client
        {
            // The client has gone: let the writer finish a close frame, if one is due.
            if !client.outbox.is_closing() {
                ctx.stop(ExitReason::Normal);
            }
        }
    }

    fn format_status(&self) -> Option<String> {
        let client = self.client.as_ref()?;
        let info = client.info();
        Some(format!(
            "client {} from {}\nuser: {}\nmessages in: {}, out: {}\nsubscriptions: store {}, events {}\nbuffered: {} bytes, events dropped: {}",
            info.id,
            info.remote_address,
            info.user_id.as_deref().unwrap_or("(not logged in)"),
            info.messages_in,
            info.messages_out,
            info.store_subscriptions,
            info.event_subscriptions,
            info.buffered_bytes,
            info.dropped_events,
        ))
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        for task in self.tasks.drain(..) {
            task.abort();
        }
        if let (Some(gateway), Some(client)) = (&self.gateway, &self.client) {
            gateway.registry.remove(client.id);
        }
    }
}
