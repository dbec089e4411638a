//! Links, monitors and exit signals: how processes learn of each other's exits.
//!
//! As in OTP: a link is two-way, and the exit of either end sends the other an exit
//! signal with the exit reason; a process that traps exits receives it as an
//! [`Exit`] message, one that does not dies of it (unless the reason is `normal`). A
//! monitor is one-way and delivers one [`Down`] message. Supervisors are built on
//! these: each child is linked to its supervisor, which traps exits.
//!
//! Each process keeps its links and monitors in a box of its own, made at the first
//! link or monitor (most processes have none). Two processes' boxes are never
//! locked at once, so signals cannot deadlock.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::future::Future;
use std::hash::BuildHasherDefault;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use super::cell::{LINKED_TO_PARENT, SIGNALS_CLOSED};
use super::processes;
use super::table::PidHasher;
use super::{CellRef, ProcessCell};
use crate::error::ServerNotRunningError;
use crate::{ExitReason, Pid};

type PidSet = HashSet<Pid, BuildHasherDefault<PidHasher>>;
/// By monitor id: ids are ours and sequential, as pids are, and a hasher without
/// state keeps each map 16 bytes smaller in every linked process.
type ByMonitorId<V> = HashMap<u64, V, BuildHasherDefault<PidHasher>>;

/// A monitor, as [`monitor`] and [`Context::monitor`](crate::gen_server::Context::monitor)
/// return it; every [`Down`] names the monitor it answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MonitorRef {
    id: u64,
    target: Pid,
}

impl MonitorRef {
    fn new(target: Pid) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        MonitorRef {
            id: NEXT.fetch_add(1, Ordering::Relaxed),
            target,
        }
    }

    /// The monitored process.
    pub fn target(&self) -> Pid {
        self.target
    }
}

impl fmt::Display for MonitorRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#Ref<{}>", self.id)
    }
}

/// A monitored process ended, or was not alive when the monitor was set
/// (`reason` is then [`ExitReason::NoProc`]). Delivered once per monitor, to
/// `handle_info` of the process that set it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Down {
    /// The monitor this message answers, as returned when it was set.
    pub monitor: MonitorRef,
    /// The process that was monitored.
    pub pid: Pid,
    /// Why it ended ([`ExitReason::NoProc`] if it was not alive).
    pub reason: ExitReason,
}

/// A linked process exited: what a process that traps exits receives in
/// `handle_info` instead of dying (OTP's `{'EXIT', Pid, Reason}`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exit {
    /// The linked process that exited.
    pub pid: Pid,
    /// Why it exited.
    pub reason: ExitReason,
}

/// Who is told when a monitored process ends.
pub(crate) enum Watcher {
    /// A process: a [`Down`] message in its mailbox.
    Process(Pid),
    /// Code outside any process, awaiting a [`Monitor`].
    Channel(oneshot::Sender<Down>),
    /// Runtime code run as the process exits, before its links and monitors hear
    /// of it: what OTP does for a process's ETS tables (`ets` passes them on or
    /// deletes them here). It must be short and must not block.
    Hook(Box<dyn FnOnce(Down) + Send>),
}

/// A process's links and monitors.
#[derive(Default)]
pub(crate) struct Signals {
    links: Links,
    /// Boxed apart and made at the first monitor: a process linked to others has
    /// no monitors as a rule, and would carry three empty maps.
    monitoring: Option<Box<Monitoring>>,
}

impl Signals {
    fn monitoring(&mut self) -> &mut Monitoring {
        self.monitoring.get_or_insert_default()
    }

    fn monitoring_if_any(&mut self) -> Option<&mut Monitoring> {
        self.monitoring.as_deref_mut()
    }
}

/// A process's links but the one to its parent (a flag of the cell): a short list
/// while there are few, a hash set once there are many (a supervisor of a million
/// children).
enum Links {
    Few(Vec<Pid>),
    Many(PidSet),
}

impl Default for Links {
    fn default() -> Self {
        Links::Few(Vec::new())
    }
}

impl Links {
    /// Links kept in a list: searching it costs less than hashing, up to about here.
    const FEW: usize = 8;

    /// Whether `pid` was not linked yet.
    fn insert(&mut self, pid: Pid) -> bool {
        match self {
            Links::Few(few) if few.contains(&pid) => false,
            Links::Few(few) if few.len() < Self::FEW => {
                // One to begin with: most linked processes have one or two.
                few.reserve_exact(1);
                few.push(pid);
                true
            }
            Links::Few(few) => {
                let mut many: PidSet = few.drain(..).collect();
                many.insert(pid);
                *self = Links::Many(many);
                true
            }
            Links::Many(many) => many.insert(pid),
        }
    }

    fn remove(&mut self, pid: &Pid) -> bool {
        match self {
            Links::Few(few) => match few.iter().position(|p| p == pid) {
                Some(at) => {
                    few.swap_remove(at);
                    true
                }
                None => false,
            },
            Links::Many(many) => many.remove(pid),
        }
    }

    fn to_vec(&self) -> Vec<Pid> {
        match self {
            Links::Few(few) => few.clone(),
            Links::Many(many) => many.iter().copied().collect(),
        }
    }

    fn into_vec(self) -> Vec<Pid> {
        match self {
            Links::Few(few) => few,
            Links::Many(many) => many.into_iter().collect(),
        }
    }
}

/// Monitors held on a process and by it.
#[derive(Default)]
struct Monitoring {
    /// Monitors others hold on this process, by monitor id.
    monitors: ByMonitorId<Watcher>,
    /// Monitors this process holds on others, until their `Down` is sent or they
    /// are taken back: what its exit takes back.
    watching: ByMonitorId<Pid>,
    /// `Down`s sent to this process and not yet taken from its mailbox, each with
    /// whether it was taken back meanwhile (then it is dropped on arrival: OTP's
    /// `demonitor(Ref, [flush])`). Each entry lives only while its `Down` is queued.
    queued_downs: ByMonitorId<bool>,
}

impl ProcessCell {
    /// Run `f` on this process's signals, made if need be; `None` once it has exited.
    fn with_signals<R>(&self, f: impl FnOnce(&mut Signals) -> R) -> Option<R> {
        let mut notes = self.notes();
        if self.has_flag(SIGNALS_CLOSED) {
            return None;
        }
        Some(f(notes.signals.get_or_insert_default()))
    }

    /// Run `f` on this process's signals if it has any.
    fn with_existing_signals<R>(&self, f: impl FnOnce(&mut Signals) -> R) -> Option<R> {
        self.notes().signals.as_deref_mut().map(f)
    }

    /// Link this process to `pid`, one way: whether it was not linked yet, `None`
    /// once it has exited.
    fn add_link(&self, pid: Pid) -> Option<bool> {
        let mut notes = self.notes();
        if self.has_flag(SIGNALS_CLOSED) {
            return None;
        }
        if self.parent() == Some(pid) {
            return Some(!self.set_flag(LINKED_TO_PARENT, true));
        }
        Some(notes.signals.get_or_insert_default().links.insert(pid))
    }

    /// Remove this process's link to `pid`, one way.
    fn remove_link(&self, pid: Pid) {
        let mut notes = self.notes();
        if self.parent() == Some(pid) {
            self.set_flag(LINKED_TO_PARENT, false);
        } else if let Some(signals) = notes.signals.as_deref_mut() {
            signals.links.remove(&pid);
        }
    }

    /// Its signals, for the last time: later links and monitors see it as exited.
    pub(crate) fn close_signals(&self) -> ClosedSignals {
        let mut notes = self.notes();
        self.set_flag(SIGNALS_CLOSED, true);
        let parent = self.linked_parent();
        self.set_flag(LINKED_TO_PARENT, false);
        ClosedSignals {
            parent,
            signals: notes.signals.take(),
        }
    }

    /// The pids linked to this process: its parent first.
    pub(crate) fn links(&self) -> Vec<Pid> {
        let notes = self.notes();
        let mut links: Vec<Pid> = self.linked_parent().into_iter().collect();
        if let Some(signals) = notes.signals.as_deref() {
            links.extend(signals.links.to_vec());
        }
        links
    }

    /// Its parent, if they are linked; read under the notes' lock.
    fn linked_parent(&self) -> Option<Pid> {
        self.parent().filter(|_| self.has_flag(LINKED_TO_PARENT))
    }

    /// A `Down` for `monitor` is taken from the mailbox: whether to drop it (its
    /// monitor was taken back while it was queued).
    pub(crate) fn take_flushed(&self, monitor: &MonitorRef) -> bool {
        self.with_existing_signals(|signals| {
            (signals.monitoring_if_any()).and_then(|m| m.queued_downs.remove(&monitor.id))
        })
        .flatten()
        .unwrap_or(false)
    }
}

/// What an exiting process's links and monitors were, taken at its exit.
pub(crate) struct ClosedSignals {
    /// Its parent, if they were linked.
    parent: Option<Pid>,
    signals: Option<Box<Signals>>,
}

/// Link `me` and `other` both ways. If `other` is not alive, as OTP's `link/1`:
/// a process that traps exits gets an `Exit` with `noproc`, one that does not gets
/// the error (OTP raises `noproc` in the caller then).
pub(crate) fn link(me: &CellRef, other: Pid) -> Result<(), ServerNotRunningError> {
    if other == me.pid {
        return Ok(());
    }
    let linked = processes()
        .get(other)
        .and_then(|target| target.add_link(me.pid));
    if linked.is_none() {
        if !me.traps_exits() {
            return Err(ServerNotRunningError { pid: other });
        }
        exit_signal(me, other, &ExitReason::NoProc, Sent::ByLink);
        return Ok(());
    }
    if me.add_link(other).is_none() {
        // `me` exited meanwhile; its exit did not see this link.
        unlink_one_way(other, me.pid);
    }
    Ok(())
}

/// Remove the link between `me` and `other`, if there is one.
pub(crate) fn unlink(me: &ProcessCell, other: Pid) {
    me.remove_link(other);
    unlink_one_way(other, me.pid);
}

fn unlink_one_way(from: Pid, to: Pid) {
    if let Some(cell) = processes().get(from) {
        cell.remove_link(to);
    }
}

/// Link a new child to its supervisor, before anyone else can see the child.
pub(crate) fn link_child(child: &ProcessCell, parent: &ProcessCell) -> bool {
    if parent.add_link(child.pid).is_none() {
        return false;
    }
    child.add_link(parent.pid);
    true
}

/// Monitor `target` for `watcher`. A target that is not alive is reported at once.
pub(crate) fn add_monitor(
    target: Pid,
    watcher: Watcher,
    watcher_cell: Option<&ProcessCell>,
) -> MonitorRef {
    let monitor = MonitorRef::new(target);
    if let Some(cell) = watcher_cell {
        cell.with_signals(|signals| signals.monitoring().watching.insert(monitor.id, target));
    }
    let watcher = match processes().get(target) {
        Some(cell) => {
            let mut watcher = Some(watcher);
            let set = cell.with_signals(|signals| {
                (signals.monitoring().monitors).insert(monitor.id, watcher.take().expect("once"));
            });
            match set {
                Some(()) => return monitor,
                None => watcher.expect("not taken when the target had exited"),
            }
        }
        None => watcher,
    };
    deliver_down(
        watcher,
        Down {
            monitor,
            pid: target,
            reason: ExitReason::NoProc,
        },
    );
    monitor
}

/// Take a monitor back. Returns whether it was still active; if not, its `Down`
/// may be queued already, and is dropped when it arrives.
pub(crate) fn remove_monitor(monitor: MonitorRef, watcher_cell: Option<&ProcessCell>) -> bool {
    let removed = processes()
        .get(monitor.target)
        .and_then(|cell| {
            cell.with_existing_signals(|signals| {
                (signals.monitoring_if_any()).and_then(|m| m.monitors.remove(&monitor.id))
            })
        })
        .flatten()
        .is_some();
    if let Some(cell) = watcher_cell {
        cell.with_existing_signals(|signals| {
            if let Some(monitoring) = signals.monitoring_if_any() {
                monitoring.watching.remove(&monitor.id);
                if let Some(flushed) = monitoring.queued_downs.get_mut(&monitor.id) {
                    *flushed = true;
                }
            }
        });
    }
    removed
}

/// How an exit signal came: from a link (the exit of a linked process), or sent
/// on purpose with `exit/2`, where `Killed` is OTP's untrappable `kill`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sent {
    ByLink,
    ByExit,
}

/// Send `target` an exit signal from `from`, as OTP delivers one.
///
/// A process that traps exits gets an [`Exit`] message, and one that does not dies
/// of any reason but `Normal`. `Killed` sent with `exit/2` (OTP's `kill`) cannot be
/// trapped; `killed` that a link passes on can.
pub(crate) fn exit_signal(target: &CellRef, from: Pid, reason: &ExitReason, sent: Sent) {
    if !target.is_alive() {
        return;
    }
    if sent == Sent::ByExit && *reason == ExitReason::Killed {
        target.kill(ExitReason::Killed);
    } else if target.traps_exits() {
        target.send_info(Box::new(Exit {
            pid: from,
            reason: reason.clone(),
        }));
    } else if *reason != ExitReason::Normal {
        target.kill(reason.clone());
    }
}

impl ClosedSignals {
    /// Tell everyone linked to or monitoring `cell` that it exited with `reason`.
    /// `tell_parent` is false when `init` failed: the starter reports that.
    pub(crate) fn deliver(self, cell: &ProcessCell, reason: &ExitReason, tell_parent: bool) {
        let ClosedSignals { parent, signals } = self;
        let Signals { links, monitoring } = signals.map(|signals| *signals).unwrap_or_default();
        let Monitoring {
            mut monitors,
            watching,
            ..
        } = monitoring.map(|monitoring| *monitoring).unwrap_or_default();
        let down = |id| Down {
            monitor: MonitorRef {
                id,
                target: cell.pid,
            },
            pid: cell.pid,
            reason: reason.clone(),
        };
        // Exit hooks first: as in OTP, the tables of a process are passed on or
        // deleted before anyone linked to it or monitoring it hears of its exit.
        if monitors.values().any(|w| matches!(w, Watcher::Hook(_))) {
            let hooks: Vec<u64> = (monitors.iter())
                .filter(|(_, w)| matches!(w, Watcher::Hook(_)))
                .map(|(id, _)| *id)
                .collect();
            for id in hooks {
                if let Some(hook) = monitors.remove(&id) {
                    deliver_down(hook, down(id));
                }
            }
        }
        for pid in parent.into_iter().chain(links.into_vec()) {
            let Some(other) = processes().get(pid) else {
                continue;
            };
            other.remove_link(cell.pid);
            if tell_parent || parent != Some(pid) {
                exit_signal(&other, cell.pid, reason, Sent::ByLink);
            }
        }
        for (id, watcher) in monitors {
            deliver_down(watcher, down(id));
        }
        for (id, target) in watching {
            if let Some(target) = processes().get(target) {
                target.with_existing_signals(|signals| {
                    (signals.monitoring_if_any()).and_then(|m| m.monitors.remove(&id))
                });
            }
        }
    }
}

fn deliver_down(watcher: Watcher, down: Down) {
    match watcher {
        Watcher::Process(pid) => {
            let Some(cell) = processes().get(pid) else {
                return;
            };
            // Recorded before it is sent, so it is there when the `Down` is taken.
            let id = down.monitor.id;
            cell.with_existing_signals(|signals| {
                let monitoring = signals.monitoring();
                monitoring.watching.remove(&id);
                monitoring.queued_downs.insert(id, false);
            });
            cell.send_info(Box::new(down));
        }
        Watcher::Channel(sender) => {
            let _ = sender.send(down);
        }
        Watcher::Hook(hook) => hook(down),
    }
}

/// A monitor set from outside any process: resolves with the [`Down`] once the
/// process ends (at once if it is not alive). Dropping it takes the monitor back.
pub struct Monitor {
    monitor: MonitorRef,
    down: oneshot::Receiver<Down>,
    settled: bool,
}

impl Monitor {
    /// The reference of this monitor; the [`Down`] it resolves with carries it.
    pub fn monitor_ref(&self) -> MonitorRef {
        self.monitor
    }
}

impl Future for Monitor {
    type Output = Down;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Down> {
        match Pin::new(&mut self.down).poll(cx) {
            Poll::Ready(Ok(down)) => {
                self.settled = true;
                Poll::Ready(down)
            }
            // Every exit delivers its monitors; should a sender still be lost, the
            // target is gone, and waiting would be forever.
            Poll::Ready(Err(_)) => {
                self.settled = true;
                Poll::Ready(Down {
                    monitor: self.monitor,
                    pid: self.monitor.target,
                    reason: ExitReason::NoProc,
                })
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        if !self.settled {
            remove_monitor(self.monitor, None);
        }
    }
}

/// Monitor `pid` from outside any process (from a process, use
/// [`Context::monitor`](crate::gen_server::Context::monitor)).
///
/// ```
/// use noex::gen_server::{self, Context, GenServer, Reply, StartOptions};
/// use noex::{ExitReason, process};
/// # struct Worker;
/// # impl GenServer for Worker { type Call = (); type Cast = (); type Reply = ();
/// #   async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<()> { Reply::Now(()) } }
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # // As a doc test, leave no agent socket behind (`NOEX_AGENT=off`); one thread, so sound.
/// # unsafe { std::env::set_var("NOEX_AGENT", "off") }
/// let worker = gen_server::start(Worker, StartOptions::new()).await?;
/// let down = process::monitor(worker.pid());
/// worker.stop(ExitReason::Normal).await?;
/// assert_eq!(down.await.reason, ExitReason::Normal);
/// # Ok(()) }
/// ```
pub fn monitor(pid: Pid) -> Monitor {
    let (sender, down) = oneshot::channel();
    let monitor = add_monitor(pid, Watcher::Channel(sender), None);
    Monitor {
        monitor,
        down,
        settled: false,
    }
}

/// Whether the process is alive (initializing, running or stopping).
pub fn is_alive(pid: Pid) -> bool {
    processes().get(pid).is_some_and(|cell| cell.is_alive())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_a_set_whether_few_or_many() {
        let mut links = Links::default();
        for round in 0..2 {
            for pid in 1..=20 {
                assert_eq!(
                    links.insert(Pid(pid)),
                    round == 0,
                    "pid {pid}, round {round}"
                );
            }
        }
        assert!(matches!(links, Links::Many(_)), "past {} a set", Links::FEW);
        assert!(links.remove(&Pid(7)));
        assert!(!links.remove(&Pid(7)));
        let mut left = links.into_vec();
        left.sort();
        assert_eq!(
            left,
            (1..=20).filter(|&p| p != 7).map(Pid).collect::<Vec<_>>()
        );

        let mut one = Links::default();
        assert!(one.insert(Pid(3)));
        assert!(!one.insert(Pid(3)));
        assert_eq!(one.to_vec(), [Pid(3)]);
        assert!(one.remove(&Pid(3)));
        assert!(one.to_vec().is_empty());
    }
    use crate::gen_server::{self, Context, GenServer, Info, Reply, StartOptions};

    /// Handles every message; answers calls with nothing.
    struct Sink;

    impl GenServer for Sink {
        type Call = ();
        type Cast = ();
        type Reply = ();

        async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<()> {
            Reply::Now(())
        }

        async fn handle_info(&mut self, _: Info, _: &mut Context<Self>) {}
    }

    fn sizes(cell: &ProcessCell) -> (usize, usize, usize) {
        cell.with_existing_signals(|s| {
            s.monitoring.as_ref().map_or((0, 0, 0), |m| {
                (m.watching.len(), m.queued_downs.len(), m.monitors.len())
            })
        })
        .unwrap_or_default()
    }

    /// A monitor from outside any process, dropped before its `Down`, is taken
    /// back: the target keeps nothing of it.
    #[tokio::test]
    async fn a_dropped_monitor_is_taken_back() {
        let target = gen_server::start(Sink, StartOptions::new()).await.unwrap();
        let cell = processes().get(target.pid()).unwrap();
        let watching = monitor(target.pid());
        assert_eq!(sizes(&cell).2, 1);
        drop(watching);
        assert_eq!(sizes(&cell).2, 0);
    }

    /// A long-lived process that monitors many short-lived ones keeps nothing of
    /// them once their `Down`s are handled, and a monitor taken back after its
    /// `Down` was handled leaves nothing behind either.
    #[tokio::test]
    async fn monitors_of_the_dead_leave_nothing_behind_in_the_watcher() {
        let watcher = gen_server::start(Sink, StartOptions::new()).await.unwrap();
        let cell = processes().get(watcher.pid()).unwrap();
        let mut monitors = Vec::new();
        for _ in 0..100 {
            let target = gen_server::start(Sink, StartOptions::new()).await.unwrap();
            let watched = Watcher::Process(watcher.pid());
            monitors.push(add_monitor(target.pid(), watched, Some(&cell)));
            target.stop(ExitReason::Normal).await.unwrap();
        }
        // Queued behind every Down: they are all handled when it is answered.
        watcher.call(()).await.unwrap();
        assert_eq!(sizes(&cell), (0, 0, 0));
        for monitor in monitors {
            assert!(!remove_monitor(monitor, Some(&cell)));
        }
        assert_eq!(sizes(&cell), (0, 0, 0));
    }
}
