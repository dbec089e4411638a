//! What the agent needs from the application it serves.
//!
//! The agent is only the wire: it knows nothing of GenServers or supervisors. The
//! runtime (`noex`) implements [`Backend`]; tests implement it with fixed data.

use std::pin::Pin;

use tokio::sync::broadcast;

use crate::protocol::{ActionOutcome, ErrorBody};
use crate::rows::{Envelope, RowsWriter};
use crate::table::{TableMemory, TableQuery, TableView};
use crate::types::{LifecycleEvent, Pid, ProcessTree, Snapshot};

/// A boxed, sendable future, as `futures` names it.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The application side of the agent.
pub trait Backend: Send + Sync + 'static {
    /// A fresh snapshot. May take a while for a very large application: the agent
    /// calls it on a blocking thread, never on the app's async workers.
    fn snapshot(&self) -> Snapshot;

    /// A fresh snapshot for a compact reply (since 2.1): its processes written into
    /// `rows`, the rest returned. Called on a blocking thread, like `snapshot`. The
    /// default writes [`Backend::snapshot`]; the runtime writes each process as it
    /// reads it, so no [`Snapshot`] is built only to be encoded.
    fn snapshot_rows(&self, rows: &mut RowsWriter) -> Envelope {
        let snapshot = self.snapshot();
        rows.snapshot(&snapshot);
        Envelope::of(&snapshot)
    }

    /// The supervision tree. Called on a blocking thread, like `snapshot`.
    fn tree(&self) -> ProcessTree;

    /// Up to `history` recent events, oldest first, and a receiver for every event
    /// after them. The receiver is bounded: a slow reader loses events (`Lagged`),
    /// never slows the app.
    fn subscribe(
        &self,
        history: usize,
    ) -> (Vec<LifecycleEvent>, broadcast::Receiver<LifecycleEvent>);

    /// A window of the process table, as `query` asks, with rates against `memory`
    /// (the agent's, updated here). Called on a blocking thread. The default cuts
    /// a whole snapshot down.
    fn table(&self, query: &TableQuery, memory: &mut TableMemory) -> TableView {
        crate::table::build_table(self.snapshot(), query, memory)
    }

    /// Just process `pid` and its supervisor, as a snapshot of at most those two
    /// (`None` if `pid` is not running): what the agent checks before acting on a
    /// target given as a pid (`<0.42>`, as the dashboard sends it), without the cost
    /// of a whole snapshot. Called on a blocking thread. The default cuts a whole
    /// snapshot down; the runtime reads the two processes alone.
    fn process_view(&self, pid: Pid) -> Option<Snapshot> {
        crate::target::narrow_to(self.snapshot(), pid)
    }

    /// End the process with an abnormal reason, so its supervisor applies its policy;
    /// resolves once the supervisor restarted it (with the new pid) or gave up waiting.
    fn kill(
        &self,
        pid: Pid,
        reason: Option<String>,
    ) -> BoxFuture<'static, Result<ActionOutcome, ErrorBody>>;

    /// Ask the process's supervisor to restart it.
    fn restart(&self, pid: Pid) -> BoxFuture<'static, Result<ActionOutcome, ErrorBody>>;

    /// The state of process `pid` as it chooses to show it (OTP's `format_status`),
    /// clipped; `not_shown` if it keeps it to itself. The default shows none.
    fn state(&self, pid: Pid) -> BoxFuture<'static, Result<String, ErrorBody>> {
        Box::pin(async move {
            Err(ErrorBody::new(
                crate::protocol::ErrorCode::NotShown,
                format!("{pid} does not show its state"),
            ))
        })
    }

    /// Run one client connection. The default spawns a plain task; the runtime
    /// runs it as a (system) process of its own so it shows in `--all` views.
    fn spawn_connection(&self, connection: BoxFuture<'static, ()>) {
        tokio::spawn(connection);
    }
}
