//! Property test: random crash sequences against a model of OTP's supervisor,
//! comparing the children, their restart counts, the start/stop order and whether
//! the supervisor gave up.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use noex::gen_server::{Context, GenServer, Reply};
use noex::observer;
use noex::registry;
use noex::supervisor::{self, ChildSpec, RestartType, SupervisorSpec};
use noex::{ExitReason, ServerRef};
use proptest::prelude::*;

type Log = Arc<Mutex<Vec<String>>>;

struct Child {
    id: String,
    log: Log,
}

impl GenServer for Child {
    type Call = bool; // true: crash, false: exit normally
    type Cast = ();
    type Reply = ();

    async fn init(&mut self, _: &mut Context<Self>) -> Result<(), noex::error::BoxError> {
        self.log.lock().unwrap().push(format!("start {}", self.id));
        Ok(())
    }

    async fn handle_call(&mut self, crash: bool, ctx: &mut Context<Self>) -> Reply<()> {
        if crash {
            panic!("crash");
        }
        ctx.stop(ExitReason::Normal);
        Reply::Now(())
    }

    async fn terminate(&mut self, _: &ExitReason, _: &mut Context<Self>) {
        self.log.lock().unwrap().push(format!("stop {}", self.id));
    }
}

#[derive(Clone, Copy, Debug)]
enum Strategy {
    OneForOne,
    OneForAll,
    RestForOne,
}

#[derive(Clone, Debug)]
struct ModelChild {
    id: String,
    restart: RestartType,
    running: bool,
    restarts: u32,
}

struct Model {
    strategy: Strategy,
    max_restarts: u32,
    restarts_in_window: u32,
    children: Vec<ModelChild>,
    alive: bool,
    log: Vec<String>,
}

impl Model {
    /// Child `index` exits (`crash`: abnormally); the supervisor reacts.
    fn exit(&mut self, index: usize, crash: bool) {
        let child = &mut self.children[index];
        // `terminate` runs on a crash too, as in OTP's gen_server.
        self.log.push(format!("stop {}", child.id));
        child.running = false;
        let restart = match child.restart {
            RestartType::Permanent => true,
            RestartType::Transient => crash,
            _ => false,
        };
        if !restart {
            if child.restart == RestartType::Temporary {
                self.children.remove(index);
            }
            return;
        }
        self.restarts_in_window += 1;
        if self.restarts_in_window > self.max_restarts {
            for c in self.children.iter_mut().rev() {
                if c.running {
                    self.log.push(format!("stop {}", c.id));
                    c.running = false;
                }
            }
            self.alive = false;
            return;
        }
        let group: Vec<usize> = match self.strategy {
            Strategy::OneForOne => vec![index],
            Strategy::OneForAll => (0..self.children.len()).collect(),
            Strategy::RestForOne => (index..self.children.len()).collect(),
        };
        let group: Vec<usize> = group
            .into_iter()
            .filter(|&i| i == index || self.children[i].running)
            .collect();
        for &i in group.iter().rev() {
            if i != index {
                self.log.push(format!("stop {}", self.children[i].id));
                self.children[i].running = false;
            }
        }
        let failed = self.children[index].id.clone();
        let ids: Vec<String> = group.iter().map(|&i| self.children[i].id.clone()).collect();
        self.children.retain(|c| {
            c.id == failed || !ids.contains(&c.id) || c.restart != RestartType::Temporary
        });
        for id in ids {
            if let Some(c) = self.children.iter_mut().find(|c| c.id == id) {
                c.running = true;
                c.restarts += 1;
                self.log.push(format!("start {}", c.id));
            }
        }
    }
}

fn restart_type() -> impl proptest::strategy::Strategy<Value = RestartType> {
    prop_oneof![
        Just(RestartType::Permanent),
        Just(RestartType::Transient),
        Just(RestartType::Temporary)
    ]
}

fn strategy() -> impl proptest::strategy::Strategy<Value = Strategy> {
    prop_oneof![
        Just(Strategy::OneForOne),
        Just(Strategy::OneForAll),
        Just(Strategy::RestForOne)
    ]
}

static CASE: AtomicU64 = AtomicU64::new(0);

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn supervisor_matches_the_otp_model_under_random_crashes(
        strategy in strategy(),
        restarts in proptest::collection::vec(restart_type(), 1..5),
        max_restarts in 0u32..6,
        ops in proptest::collection::vec((0usize..5, any::<bool>()), 1..12),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async move {
            let case = CASE.fetch_add(1, Ordering::Relaxed);
            let log: Log = Arc::new(Mutex::new(Vec::new()));
            let mut spec = match strategy {
                Strategy::OneForOne => SupervisorSpec::one_for_one(),
                Strategy::OneForAll => SupervisorSpec::one_for_all(),
                Strategy::RestForOne => SupervisorSpec::rest_for_one(),
            }
            .max_restarts(max_restarts, Duration::from_secs(3600));
            let mut model = Model {
                strategy,
                max_restarts,
                restarts_in_window: 0,
                children: Vec::new(),
                alive: true,
                log: Vec::new(),
            };
            for (i, restart) in restarts.iter().enumerate() {
                let id = format!("c{i}");
                let (child_id, child_log) = (id.clone(), log.clone());
                spec = spec.child(
                    ChildSpec::worker(id.clone(), move || Child { id: child_id.clone(), log: child_log.clone() })
                        .restart(*restart)
                        .name(format!("model{case}.{id}")),
                );
                model.children.push(ModelChild { id: id.clone(), restart: *restart, running: true, restarts: 0 });
                model.log.push(format!("start {id}"));
            }
            let sup = supervisor::start(spec).await.unwrap();

            for (pick, crash) in ops {
                if !model.alive {
                    break;
                }
                let running: Vec<usize> = (0..model.children.len()).filter(|&i| model.children[i].running).collect();
                if running.is_empty() {
                    break;
                }
                let index = running[pick % running.len()];
                let id = model.children[index].id.clone();
                let server: ServerRef<Child> = registry::lookup(&format!("model{case}.{id}")).unwrap();
                let _ = server.call(crash).await;
                server.wait().await;
                model.exit(index, crash);
                if model.alive {
                    // Queued behind the exit notice, so the supervisor has acted by now.
                    let children = sup.children().await.unwrap();
                    let actual: Vec<(String, bool)> = children.iter().map(|c| (c.id.clone(), c.pid.is_some())).collect();
                    let expected: Vec<(String, bool)> = model.children.iter().map(|c| (c.id.clone(), c.running)).collect();
                    assert_eq!(actual, expected);
                } else {
                    sup.wait().await;
                }
            }

            assert_eq!(sup.is_running(), model.alive, "supervisor alive");
            assert_eq!(*log.lock().unwrap(), model.log, "start/stop order");
            if model.alive {
                let snapshot = observer::snapshot();
                for child in model.children.iter().filter(|c| c.running) {
                    let pid = registry::whereis(&format!("model{case}.{}", child.id)).unwrap();
                    let info = snapshot.servers.iter().find(|s| s.pid == pid).unwrap();
                    assert_eq!(info.restarts, child.restarts, "restarts of {}", child.id);
                }
                sup.stop().await.unwrap();
            }
        });
    }
}
