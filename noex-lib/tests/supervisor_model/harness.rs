//! Running a case against noex, step by step, compared with the model after each.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use noex::events::{EventKind, EventStream};
use noex::observer::{self, Snapshot};
use noex::supervisor::{self, ChildSpec, RestartType, SupervisorSpec};
use noex::{ExitReason, ServerRef, SupervisorRef, registry};

use crate::case::*;
use crate::model::*;
use crate::workers::*;

pub(crate) static CASE: AtomicU64 = AtomicU64::new(0);

pub(crate) struct Harness {
    pub(crate) world: Arc<World>,
    pub(crate) prefix: String,
    pub(crate) root: SupervisorRef,
    pub(crate) nested_name: String,
    pub(crate) events: EventStream,
    /// This case's events so far, as the model writes them.
    pub(crate) seen: Vec<String>,
    pub(crate) start: tokio::time::Instant,
    /// The operations done so far, resolved.
    pub(crate) trace: Vec<String>,
}

pub(crate) fn spec_for(strategy: Strat, template: Option<ChildSpec>) -> SupervisorSpec {
    match strategy {
        Strat::OneForOne => SupervisorSpec::one_for_one(),
        Strat::OneForAll => SupervisorSpec::one_for_all(),
        Strat::RestForOne => SupervisorSpec::rest_for_one(),
        Strat::SimpleOneForOne => SupervisorSpec::simple_one_for_one(template.expect("a template")),
    }
}

pub(crate) fn worker_spec(
    world: &Arc<World>,
    id: String,
    restart: RestartType,
) -> ChildSpec<Worker> {
    let (world, worker_id) = (world.clone(), id.clone());
    ChildSpec::worker(id, move || Worker {
        id: worker_id.clone(),
        world: world.clone(),
    })
    .restart(restart)
}

pub(crate) fn root_spec(case: &Case, world: &Arc<World>, prefix: &str) -> SupervisorSpec {
    let nested = &case.nested;
    let template = {
        let world = world.clone();
        ChildSpec::worker_with(format!("{prefix}d"), move |id: &String| Worker {
            id: id.clone(),
            world: world.clone(),
        })
        .restart(case.template)
    };
    let nested_spec = spec_for(nested.strategy, Some(template.erase()))
        .max_restarts(nested.intensity, Duration::from_millis(nested.period_ms))
        .name(format!("{prefix}sup"))
        .children(
            nested
                .workers
                .iter()
                .enumerate()
                .filter(|_| nested.strategy != Strat::SimpleOneForOne)
                .map(|(i, &restart)| worker_spec(world, format!("{prefix}s{i}"), restart)),
        );
    let mut children: Vec<ChildSpec> = case
        .root
        .workers
        .iter()
        .enumerate()
        .map(|(i, &restart)| worker_spec(world, format!("{prefix}r{i}"), restart).erase())
        .collect();
    let position = case.nested_position.min(children.len());
    children.insert(
        position,
        ChildSpec::supervisor(format!("{prefix}s"), nested_spec).restart(case.nested_restart),
    );
    spec_for(case.root.strategy, None)
        .max_restarts(
            case.root.intensity,
            Duration::from_millis(case.root.period_ms),
        )
        .name(format!("{prefix}root"))
        .children(children)
}

/// Wait until every task is idle: the paused clock moves on only then.
pub(crate) async fn settle(model: &mut Model) {
    tokio::time::sleep(Duration::from_millis(1)).await;
    model.now += 1;
}

impl Harness {
    pub(crate) fn nested(&self) -> SupervisorRef {
        registry::lookup_supervisor(&self.nested_name).expect("the child supervisor is registered")
    }

    pub(crate) fn sup(&self, level: Level) -> SupervisorRef {
        match level {
            Level::Root => self.root.clone(),
            Level::Nested => self.nested(),
        }
    }

    pub(crate) fn worker(&self, id: &str) -> ServerRef<Worker> {
        self.world.workers.lock().unwrap()[id].clone()
    }

    /// This case's new events, written as the model writes them.
    pub(crate) fn drain_events(&mut self) {
        while let Some(event) = self.events.try_recv() {
            let event = event.expect("the event stream lagged");
            let who = if event.pid == self.root.pid() {
                Some("root".to_string())
            } else {
                event.child_id.filter(|id| id.starts_with(&self.prefix))
            };
            let Some(who) = who else { continue };
            match event.kind {
                EventKind::Restarted { attempt } => {
                    self.seen.push(format!("restarted {who} {attempt}"));
                }
                EventKind::MaxRestartsExceeded { .. } => self.seen.push(format!("gave_up {who}")),
                _ => {}
            }
        }
    }

    pub(crate) async fn check(&mut self, model: &Model) {
        let at = format!("after {:#?}", self.trace);
        assert_eq!(
            self.start.elapsed(),
            Duration::from_millis(model.now),
            "virtual clock; {at}"
        );
        assert_eq!(
            self.root.is_running(),
            model.root.is_some(),
            "root alive; {at}"
        );
        assert_eq!(
            registry::whereis(&self.nested_name).is_some(),
            model.nested.is_some(),
            "child supervisor alive; {at}"
        );
        let snapshot = observer::snapshot();
        for level in [Level::Root, Level::Nested] {
            if let Some(sup) = model.sup_ref(level) {
                check_children(&self.sup(level), sup, &snapshot, &model.name(level), &at).await;
            }
        }
        let log = self.world.log.lock().unwrap().clone();
        if !log_matches(&model.log, &log) {
            assert_eq!(
                log,
                flatten(&model.log),
                "start/stop log (noex, model); {at}"
            );
        }
        self.drain_events();
        assert_eq!(self.seen, model.events, "events (noex, model); {at}");
    }
}

/// The children (ids in order, running or not) and each running child's restart
/// count, as noex reports them.
pub(crate) async fn check_children(
    actual: &SupervisorRef,
    model: &MSup,
    snapshot: &Snapshot,
    name: &str,
    at: &str,
) {
    let children = actual.children().await.expect("children");
    let mut got: Vec<(String, bool)> = children
        .iter()
        .map(|child| (child.id.clone(), child.pid.is_some()))
        .collect();
    let mut want: Vec<(String, bool)> = model
        .children
        .iter()
        .map(|child| (child.id.clone(), child.running()))
        .collect();
    let mut got_restarts: Vec<(String, u32)> = children
        .iter()
        .filter_map(|child| {
            let pid = child.pid?;
            let restarts = snapshot
                .servers
                .iter()
                .find(|server| server.pid == pid)
                .map(|server| server.restarts)
                .or_else(|| {
                    snapshot
                        .supervisors
                        .iter()
                        .find(|sup| sup.pid == pid)
                        .map(|sup| sup.restarts)
                })
                .expect("a running child is in the snapshot");
            Some((child.id.clone(), restarts))
        })
        .collect();
    let mut want_restarts: Vec<(String, u32)> = model
        .children
        .iter()
        .filter(|child| child.running())
        .map(|child| (child.id.clone(), child.restarts))
        .collect();
    // OTP keeps simple_one_for_one children in no order.
    if model.strategy == Strat::SimpleOneForOne {
        got.sort();
        want.sort();
        got_restarts.sort();
        want_restarts.sort();
    }
    assert_eq!(got, want, "children of {name} (noex, model); {at}");
    assert_eq!(
        got_restarts, want_restarts,
        "restart counts of {name}'s children (noex, model); {at}"
    );
}

/// Do `op` on noex and on the model; `false` if it did not apply.
pub(crate) async fn apply(op: &Op, h: &mut Harness, model: &mut Model) -> bool {
    match *op {
        Op::Exit { nested, ref picks } => {
            let level = if nested { Level::Nested } else { Level::Root };
            let Some(sup) = model.sup_ref(level) else {
                return false;
            };
            let mut candidates: Vec<usize> = (0..sup.children.len())
                .filter(|&i| sup.children[i].running() && sup.children[i].alive)
                .collect();
            let mut targets = Vec::new();
            for &(pick, reason) in picks {
                if candidates.is_empty() {
                    break;
                }
                let index = candidates.remove(pick % candidates.len());
                if sup.children[index].supervisor {
                    // The child supervisor can only be killed, and alone: noex
                    // reports its exit once its children are gone, so the root may
                    // have handled the other exits of the step (and queued
                    // try_agains) before it.
                    if targets.is_empty() {
                        targets.push((index, Reason::Killed));
                        break;
                    }
                    continue;
                }
                targets.push((index, reason));
            }
            if targets.is_empty() {
                return false;
            }
            let mut done = Vec::new();
            for &(index, reason) in &targets {
                let child = &sup.children[index];
                if child.supervisor {
                    h.nested().kill();
                    done.push(format!("kill {}", child.id));
                    continue;
                }
                let worker = h.worker(&child.id);
                let order = match reason {
                    Reason::Killed => {
                        worker.kill();
                        None
                    }
                    Reason::Crash => Some(Order::Crash),
                    Reason::Normal => Some(Order::Exit(ExitReason::Normal)),
                    Reason::Shutdown => Some(Order::Exit(ExitReason::Shutdown)),
                    Reason::ShutdownWith => Some(Order::Exit(ExitReason::shutdown_with("bye"))),
                    Reason::MaxRestarts => unreachable!("not generated"),
                };
                if let Some(order) = order {
                    worker.cast(order).expect("the worker is running");
                }
                done.push(format!("{} exits {}", child.id, reason.tag()));
            }
            h.trace
                .push(format!("at {} ms: {}", model.now, done.join(", ")));
            for (index, reason) in targets {
                if model.sup(level).children[index].supervisor {
                    model.kill_nested();
                } else {
                    model.exit(level, index, reason);
                }
            }
            model.run_mailboxes();
            settle(model).await;
        }
        Op::FailNext { pick, times } => {
            let mut ids: Vec<String> = model.root.as_ref().map_or(Vec::new(), |root| {
                root.children
                    .iter()
                    .filter(|child| !child.supervisor)
                    .map(|child| child.id.clone())
                    .collect()
            });
            if model.nested_config.strategy == Strat::SimpleOneForOne {
                if let Some(nested) = &model.nested {
                    ids.extend(nested.children.iter().map(|child| child.id.clone()));
                    ids.push(format!("{}d-{}", model.prefix, nested.next_dynamic + 1));
                }
            } else {
                ids.extend(
                    (0..model.nested_config.workers.len()).map(|i| format!("{}s{i}", model.prefix)),
                );
            }
            if ids.is_empty() {
                return false;
            }
            let id = ids[pick % ids.len()].clone();
            h.trace.push(format!("{id} fails its next {times} inits"));
            h.world.fail.lock().unwrap().insert(id.clone(), times);
            model.fail.insert(id, times);
        }
        Op::Terminate { nested, pick } => {
            let level = if nested { Level::Nested } else { Level::Root };
            let Some(sup) = model.sup_ref(level) else {
                return false;
            };
            if sup.strategy == Strat::SimpleOneForOne || sup.children.is_empty() {
                return false;
            }
            let index = pick % sup.children.len();
            let id = sup.children[index].id.clone();
            h.trace
                .push(format!("at {} ms: terminate_child({id})", model.now));
            let result = h.sup(level).terminate_child(id.as_str()).await;
            assert!(result.is_ok(), "terminate_child({id}): {result:?}");
            model.terminate_child(level, index);
            model.run_mailboxes();
            settle(model).await;
        }
        Op::AddDynamic => {
            if model
                .nested
                .as_ref()
                .is_none_or(|sup| sup.strategy != Strat::SimpleOneForOne)
            {
                return false;
            }
            let (id, started) = model.add_dynamic();
            h.trace
                .push(format!("at {} ms: start_child({id})", model.now));
            let result = h.nested().start_child_with(id.clone()).await;
            assert_eq!(result.is_ok(), started, "start_child({id}): {result:?}");
            model.run_mailboxes();
            settle(model).await;
        }
        Op::Advance(advance) => {
            let by = match advance {
                Advance::By { nested, quarters } => {
                    let config_period = if nested {
                        model.nested_config.period_ms
                    } else {
                        model.sup_ref(Level::Root).map_or(0, |root| root.period)
                    };
                    config_period * quarters / 4
                }
                Advance::ToWindowEdge { nested, past } => {
                    let level = if nested { Level::Nested } else { Level::Root };
                    match model.oldest_restart(level) {
                        Some((oldest, period)) => {
                            (oldest + period + u64::from(past)).saturating_sub(model.now)
                        }
                        None => 0,
                    }
                }
            };
            if by == 0 {
                return false;
            }
            h.trace.push(format!("advance {by} ms"));
            tokio::time::advance(Duration::from_millis(by)).await;
            model.now += by;
        }
    }
    true
}

pub(crate) async fn run(case: Case) {
    let prefix = format!("c{}.", CASE.fetch_add(1, Ordering::Relaxed));
    let world = Arc::new(World::default());
    let events = noex::events::subscribe();
    let start = tokio::time::Instant::now();
    let root = supervisor::start(root_spec(&case, &world, &prefix))
        .await
        .expect("the root starts");
    let mut model = Model::new(&case, &prefix);
    let mut h = Harness {
        world,
        prefix: prefix.clone(),
        root,
        nested_name: format!("{prefix}sup"),
        events,
        seen: Vec::new(),
        start,
        trace: Vec::new(),
    };
    if case.nested.strategy == Strat::SimpleOneForOne {
        for _ in 0..case.dynamic {
            apply(&Op::AddDynamic, &mut h, &mut model).await;
        }
    }
    settle(&mut model).await;
    h.check(&model).await;

    for op in &case.ops {
        if model.root.is_none() {
            break;
        }
        if apply(op, &mut h, &mut model).await {
            h.check(&model).await;
        }
    }

    if model.root.is_some() {
        h.trace.push("stop the root".to_string());
        h.root.stop().await.expect("the root stops");
        model.terminate(Level::Root);
        h.check(&model).await;
    } else {
        let reason = h.root.wait().await;
        assert!(
            matches!(reason, ExitReason::MaxRestartsExceeded(_)),
            "the root gave up with {reason:?}"
        );
    }
}
