//! The agent on a real socket in a private temp directory, with a fake backend of
//! fixed data and an event stream the test feeds; raw frames for what a well-behaved
//! client never sends. Shared by the agent's socket tests.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::{SinkExt, StreamExt};
use noex_agent::backend::Backend;
use noex_agent::client::Client;
use noex_agent::codec::FrameCodec;
use noex_agent::discovery;
use noex_agent::protocol::{
    ActionOutcome, ErrorBody, ErrorCode, MAX_REPLY_FRAME, ProcessRef, Request, RequestKind,
    ServerFrame,
};
use noex_agent::server::{Agent, AgentHandle, AgentOptions};
use noex_agent::types::{
    ChildInfo, ChildKind, EventKind, Intensity, LifecycleEvent, Pid, ProcessStatus, ProcessTree,
    RestartType, ServerInfo, Snapshot, Strategy, SupervisorInfo, TreeNode,
};
use tokio::net::UnixStream;
use tokio::sync::broadcast;
use tokio::time::timeout;
use tokio_util::codec::Framed;

/// This binary's private agent directory (`$NOEX_AGENT_DIR`), as every test binary's.
#[path = "../../../noex-lib/tests/support/sandbox.rs"]
mod sandbox;

pub const WAIT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------------
// A private directory per test.

pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        // Short: a socket path must fit in 108 bytes.
        let dir = std::env::temp_dir().join(format!("noex-t-{}-{n}-{nanos}", std::process::id()));
        discovery::ensure_agent_dir(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn socket(&self) -> PathBuf {
        self.0.join("agent.sock")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// ---------------------------------------------------------------------------------------
// A backend with fixed data.

pub fn server(pid: u64, name: Option<&str>, child_id: Option<&str>) -> ServerInfo {
    ServerInfo {
        pid: Pid(pid),
        name: name.map(Into::into),
        child_id: child_id.map(Into::into),
        parent: Some(Pid(1)),
        type_name: "Worker".into(),
        status: ProcessStatus::Running,
        messages: pid * 10,
        queue_len: 0,
        started_at_ms: 1_700_000_000_000,
        restarts: 0,
        busy_ns: 1234,
        handler_running_ns: None,
        last_error: None,
        system: false,
        state: None,
    }
}

pub fn fixed_snapshot(extra_servers: usize) -> Snapshot {
    let mut servers = vec![
        server(3, Some("cache"), Some("cache")),
        server(4, None, Some("worker")),
        server(7, Some("worker"), Some("w2")),
        server(42, None, Some("job")),
    ];
    // Padding for tests that need large replies.
    servers.extend((0..extra_servers).map(|i| {
        let mut s = server(1000 + i as u64, None, None);
        s.last_error = Some("x".repeat(100));
        s
    }));
    let root = SupervisorInfo {
        pid: Pid(1),
        name: Some("root".into()),
        child_id: None,
        parent: None,
        status: ProcessStatus::Running,
        strategy: Strategy::OneForOne,
        intensity: Intensity {
            max_restarts: 3,
            within_ms: 5000,
        },
        children: vec![ChildInfo {
            id: "cache".into(),
            pid: Some(Pid(3)),
            restart: RestartType::Permanent,
            kind: ChildKind::Worker,
        }],
        child_restarts: 2,
        restarts: 0,
        started_at_ms: 1_700_000_000_000,
        last_error: None,
        system: false,
    };
    Snapshot {
        taken_at_ms: 1_700_000_001_000,
        app: "test-app".into(),
        os_pid: std::process::id(),
        uptime_ms: 1000,
        process_count: (servers.len() + 1) as u64,
        total_messages: 560,
        memory_rss_bytes: Some(1 << 20),
        servers,
        supervisors: vec![root],
    }
}

pub fn fixed_tree(snapshot: &Snapshot) -> ProcessTree {
    ProcessTree {
        roots: vec![TreeNode::Supervisor {
            info: snapshot.supervisors[0].clone(),
            children: vec![
                TreeNode::Worker {
                    info: snapshot.servers[0].clone(),
                },
                TreeNode::Stopped {
                    child_id: "gone".into(),
                    restart: RestartType::Temporary,
                    kind: ChildKind::Worker,
                },
            ],
        }],
    }
}

pub fn event(seq: u64) -> LifecycleEvent {
    LifecycleEvent {
        seq,
        at_ms: 1_700_000_000_000 + seq,
        pid: Pid(3),
        name: Some("cache".into()),
        child_id: Some("cache".into()),
        parent: Some(Pid(1)),
        system: false,
        kind: if seq.is_multiple_of(2) {
            EventKind::Started
        } else {
            EventKind::Crashed {
                error: format!("boom {seq}").into(),
            }
        },
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum BackendCall {
    Kill(Pid, Option<String>),
    Restart(Pid),
}

pub struct Fake {
    pub snapshot: Snapshot,
    pub tree: ProcessTree,
    pub history: Vec<LifecycleEvent>,
    pub events: broadcast::Sender<LifecycleEvent>,
    pub actions: Mutex<Vec<BackendCall>>,
    pub connections: AtomicUsize,
    /// Whole snapshots taken, to tell them from the one-process views.
    pub snapshots: AtomicUsize,
}

impl Fake {
    pub fn new() -> Fake {
        Fake::with(0, 1024)
    }

    pub fn with(extra_servers: usize, event_capacity: usize) -> Fake {
        let snapshot = fixed_snapshot(extra_servers);
        let tree = fixed_tree(&snapshot);
        Fake {
            snapshot,
            tree,
            history: (0..5).map(event).collect(),
            events: broadcast::channel(event_capacity).0,
            actions: Mutex::new(Vec::new()),
            connections: AtomicUsize::new(0),
            snapshots: AtomicUsize::new(0),
        }
    }

    pub fn actions(&self) -> Vec<BackendCall> {
        self.actions.lock().unwrap().clone()
    }

    pub fn outcome(pid: Pid) -> ActionOutcome {
        ActionOutcome {
            target: ProcessRef {
                pid,
                name: None,
                child_id: None,
            },
            supervisor: Some(ProcessRef {
                pid: Pid(1),
                name: Some("root".into()),
                child_id: None,
            }),
            new_pid: Some(Pid(pid.0 + 100)),
        }
    }
}

impl Backend for Fake {
    fn snapshot(&self) -> Snapshot {
        self.snapshots.fetch_add(1, Ordering::SeqCst);
        self.snapshot.clone()
    }

    fn process_view(&self, pid: Pid) -> Option<Snapshot> {
        // Cut down without counting as a whole snapshot taken.
        noex_agent::target::narrow_to(self.snapshot.clone(), pid)
    }

    fn tree(&self) -> ProcessTree {
        self.tree.clone()
    }

    fn subscribe(
        &self,
        history: usize,
    ) -> (Vec<LifecycleEvent>, broadcast::Receiver<LifecycleEvent>) {
        let skip = self.history.len().saturating_sub(history);
        (self.history[skip..].to_vec(), self.events.subscribe())
    }

    fn kill(
        &self,
        pid: Pid,
        reason: Option<String>,
    ) -> BoxFuture<'static, Result<ActionOutcome, ErrorBody>> {
        self.actions
            .lock()
            .unwrap()
            .push(BackendCall::Kill(pid, reason));
        Box::pin(async move { Ok(Fake::outcome(pid)) })
    }

    fn restart(&self, pid: Pid) -> BoxFuture<'static, Result<ActionOutcome, ErrorBody>> {
        self.actions.lock().unwrap().push(BackendCall::Restart(pid));
        Box::pin(async move { Ok(Fake::outcome(pid)) })
    }

    fn spawn_connection(&self, connection: BoxFuture<'static, ()>) {
        self.connections.fetch_add(1, Ordering::SeqCst);
        tokio::spawn(connection);
    }
}

pub fn options(dir: &TempDir) -> AgentOptions {
    AgentOptions::new("test-app")
        .noex_version("9.9.9")
        .socket_path(dir.socket())
}

pub fn start(dir: &TempDir, fake: &Arc<Fake>, options: AgentOptions) -> AgentHandle {
    let _ = dir;
    Agent::start(options, Arc::clone(fake) as Arc<dyn Backend>).expect("agent starts")
}

// ---------------------------------------------------------------------------------------
// Raw frames, for what the real client never sends.

pub type Raw = Framed<UnixStream, FrameCodec<ServerFrame>>;

pub async fn raw(path: &Path) -> Raw {
    let stream = UnixStream::connect(path).await.expect("connect");
    Framed::new(stream, FrameCodec::new(MAX_REPLY_FRAME))
}

/// A raw connection past the agent's greeting.
pub async fn raw_after_hello(path: &Path) -> Raw {
    let mut conn = raw(path).await;
    assert!(matches!(read(&mut conn).await, ServerFrame::Hello(_)));
    conn
}

pub async fn read(conn: &mut Raw) -> ServerFrame {
    match timeout(WAIT, conn.next()).await {
        Err(_) => panic!("no frame from the agent within {WAIT:?}"),
        Ok(None) => panic!("the agent closed the connection"),
        Ok(Some(Err(e))) => panic!("connection error: {e}"),
        Ok(Some(Ok(Err(e)))) => panic!("undecodable frame: {e}"),
        Ok(Some(Ok(Ok(frame)))) => frame,
    }
}

pub async fn expect_closed(conn: &mut Raw) {
    match timeout(WAIT, conn.next()).await {
        Err(_) => panic!("the agent kept the connection open"),
        Ok(None) | Ok(Some(Err(_))) => {}
        Ok(Some(Ok(frame))) => panic!("expected the connection to close, got {frame:?}"),
    }
}

pub fn expect_error(frame: ServerFrame, id: Option<u64>, code: ErrorCode) -> ErrorBody {
    match frame {
        ServerFrame::Error { id: got, error } => {
            assert_eq!(got, id, "error id");
            assert_eq!(error.code, code, "error code ({})", error.message);
            error
        }
        other => panic!("expected a {code:?} error, got {other:?}"),
    }
}

pub async fn request(conn: &mut Raw, id: u64, request: RequestKind) {
    conn.send(Request { id, request }).await.expect("send");
}

/// The agent still serves a newcomer: nothing a bad client did harmed it.
pub async fn assert_new_connection_works(path: &Path, fake: &Fake) {
    let mut client = timeout(WAIT, Client::connect(path))
        .await
        .expect("connect in time")
        .expect("a new connection still works");
    assert_eq!(client.snapshot().await.unwrap(), fake.snapshot);
}
