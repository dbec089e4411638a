//! The killer: at random intervals, a random process at a random level, killed locally
//! (`ServerRef::kill`, a crash-inducing cast, `SupervisorRef::kill`) or through the
//! agent's socket exactly as `noex kill` does.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use noex::{Pid, process, registry};
use noex_agent::client::{Client, ClientError};

use super::Details;
use super::tree::{Crash, Echo, Keeper, Kind, Level, Target};

/// How the levels are drawn: workers most, then leaf supervisors, then mids.
const LEVEL_WEIGHTS: [(Level, f64); 3] = [
    (Level::Worker, 0.60),
    (Level::Leaf, 0.25),
    (Level::Mid, 0.15),
];

/// What the killer did.
#[derive(Debug, Default)]
pub(crate) struct KillCounts {
    /// Kills delivered (the process was there and was killed or sent its crash).
    pub kills: u64,
    pub by_agent: u64,
    pub by_kill: u64,
    pub by_crash: u64,
    pub workers: u64,
    pub leaves: u64,
    pub mids: u64,
    /// Targets not found at that moment (between their exit and their restart).
    pub missed: u64,
    pub details: Details,
}

pub(crate) struct KillConfig {
    pub seed: u64,
    /// The pause before each kill is drawn from this range.
    pub interval: (Duration, Duration),
    /// The share of kills sent through the agent (unnamed workers always are).
    pub agent_share: f64,
    /// How long to wait for a killed process to be gone.
    pub exit_deadline: Duration,
}

pub(crate) struct Killer {
    config: KillConfig,
    rng: fastrand::Rng,
    targets: Vec<(Level, Vec<Target>)>,
    socket: PathBuf,
    client: Option<Client>,
    /// Processes killed in this period, to wait for their exits before the check.
    killed: Vec<Pid>,
    pub counts: KillCounts,
}

enum Method {
    Agent,
    Kill,
    Crash,
}

impl Killer {
    pub(crate) fn new(config: KillConfig, targets: Vec<Target>, socket: PathBuf) -> Killer {
        let targets = LEVEL_WEIGHTS
            .iter()
            .map(|&(level, _)| {
                let at_level = targets.iter().filter(|t| t.level == level).cloned();
                (level, at_level.collect())
            })
            .collect();
        Killer {
            rng: fastrand::Rng::with_seed(config.seed),
            config,
            targets,
            socket,
            client: None,
            killed: Vec::new(),
            counts: KillCounts::default(),
        }
    }

    /// Kills for `period`, then waits until every process it killed has exited, so
    /// that the check that follows sees the tree after all of them.
    pub(crate) async fn rampage(&mut self, period: Duration) {
        let end = Instant::now() + period;
        let (shortest, longest) = self.config.interval;
        loop {
            let pause = shortest + (longest - shortest).mul_f64(self.rng.f64());
            if Instant::now() + pause >= end {
                break;
            }
            tokio::time::sleep(pause).await;
            self.kill_one().await;
        }
        for pid in std::mem::take(&mut self.killed) {
            let exited = tokio::time::timeout(self.config.exit_deadline, process::monitor(pid));
            if exited.await.is_err() {
                self.counts.details.push(format!(
                    "{pid} was killed but has not exited after {:?}",
                    self.config.exit_deadline
                ));
            }
        }
    }

    fn pick(&mut self) -> Target {
        let mut draw = self.rng.f64();
        let mut level = LEVEL_WEIGHTS[0].0;
        for &(candidate, weight) in &LEVEL_WEIGHTS {
            level = candidate;
            if draw < weight {
                break;
            }
            draw -= weight;
        }
        let (_, targets) = self
            .targets
            .iter()
            .find(|(l, targets)| *l == level && !targets.is_empty())
            .or_else(|| self.targets.iter().find(|(_, targets)| !targets.is_empty()))
            .expect("something to kill");
        targets[self.rng.usize(..targets.len())].clone()
    }

    async fn kill_one(&mut self) {
        let target = self.pick();
        let by_agent = target.name.is_none() || self.rng.f64() < self.config.agent_share;
        let result = if by_agent {
            self.by_agent(&target).await.map(|pid| (pid, Method::Agent))
        } else {
            self.locally(&target)
        };
        let counts = &mut self.counts;
        match result {
            Ok((pid, method)) => {
                counts.kills += 1;
                match method {
                    Method::Agent => counts.by_agent += 1,
                    Method::Kill => counts.by_kill += 1,
                    Method::Crash => counts.by_crash += 1,
                }
                match target.level {
                    Level::Worker => counts.workers += 1,
                    Level::Leaf => counts.leaves += 1,
                    Level::Mid => counts.mids += 1,
                }
                self.killed.push(pid);
            }
            Err(Miss::Absent) => counts.missed += 1,
            Err(Miss::Failed(why)) => {
                counts.missed += 1;
                counts.details.push(why);
            }
        }
    }

    fn locally(&mut self, target: &Target) -> Result<(Pid, Method), Miss> {
        let name = target
            .name
            .as_deref()
            .expect("only named targets are killed locally");
        let crash = self.rng.bool();
        match &target.kind {
            Kind::Supervisor(_) => {
                let supervisor = registry::lookup_supervisor(name).map_err(|_| Miss::Absent)?;
                supervisor.kill();
                Ok((supervisor.pid(), Method::Kill))
            }
            Kind::Echo => {
                let server = registry::lookup::<Echo>(name).map_err(|_| Miss::Absent)?;
                if crash {
                    server.cast(Crash).map_err(|_| Miss::Absent)?;
                    return Ok((server.pid(), Method::Crash));
                }
                server.kill();
                Ok((server.pid(), Method::Kill))
            }
            Kind::Keeper { .. } => {
                let server = registry::lookup::<Keeper>(name).map_err(|_| Miss::Absent)?;
                if crash {
                    server.cast(Crash).map_err(|_| Miss::Absent)?;
                    return Ok((server.pid(), Method::Crash));
                }
                server.kill();
                Ok((server.pid(), Method::Kill))
            }
        }
    }

    /// As `noex kill TARGET --reason chaos`: by registered name, or by pid for a worker
    /// known by its child id only (a child id alone is ambiguous across leaves).
    async fn by_agent(&mut self, target: &Target) -> Result<Pid, Miss> {
        let text = match &target.name {
            Some(name) => name.clone(),
            None => {
                let parent =
                    registry::lookup_supervisor(&target.parent).map_err(|_| Miss::Absent)?;
                let child = parent
                    .child_info(&target.id)
                    .await
                    .map_err(|_| Miss::Absent)?;
                child
                    .and_then(|child| child.pid)
                    .ok_or(Miss::Absent)?
                    .to_string()
            }
        };
        let client = match &mut self.client {
            Some(client) => client,
            slot => slot.insert(
                Client::connect(&self.socket)
                    .await
                    .map_err(|e| Miss::Failed(format!("cannot connect to the agent: {e}")))?,
            ),
        };
        match client.kill(&text, Some("chaos"), false).await {
            Ok(outcome) => Ok(outcome.target.pid),
            Err(ClientError::Agent(error))
                if error.code == noex_agent::protocol::ErrorCode::NotFound =>
            {
                Err(Miss::Absent)
            }
            Err(ClientError::Agent(error)) => {
                Err(Miss::Failed(format!("noex kill {text}: {error}")))
            }
            Err(error) => {
                self.client = None;
                Err(Miss::Failed(format!("noex kill {text}: {error}")))
            }
        }
    }
}

enum Miss {
    /// Not there now: it is being restarted.
    Absent,
    /// Anything else: worth reporting.
    Failed(String),
}
