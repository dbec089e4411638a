//! Background jobs: a scheduler that runs a round of tasks under the task
//! supervisor every few seconds.

use std::time::Duration;

use noex::gen_server::{Context, GenServer, Info, Reply};
use noex::task::{self, TaskSupervisor};

/// How often the scheduler starts a round of jobs.
const SCHEDULE_EVERY: Duration = Duration::from_secs(2);
/// How long the scheduler waits for a round of jobs before it kills the rest.
const JOB_TIMEOUT: Duration = Duration::from_secs(1);
/// Background jobs, by what they do.
const JOB_KINDS: [&str; 3] = ["send receipts", "resize images", "rebuild search index"];

/// A message sent to oneself: time for a round of jobs.
#[derive(Clone)]
struct Round;

/// Every couple of seconds, runs a few short background jobs as tasks under
/// `jobs`, and waits for them a second at most: a job that has not finished by
/// then is killed. Now and then a job fails, or hangs.
#[derive(Debug, Default)]
pub(super) struct Scheduler {
    started: u64,
    done: u64,
    failed: u64,
    timed_out: u64,
}

impl GenServer for Scheduler {
    type Call = ();
    type Cast = ();
    type Reply = u64;

    async fn init(&mut self, ctx: &mut Context<Self>) -> Result<(), noex::error::BoxError> {
        ctx.send_interval(SCHEDULE_EVERY, Round);
        Ok(())
    }

    async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<u64> {
        Reply::Now(self.done)
    }

    async fn handle_info(&mut self, _: Info, _: &mut Context<Self>) {
        let Ok(jobs) = TaskSupervisor::lookup("jobs") else {
            return;
        };
        let mut round = Vec::new();
        for _ in 0..fastrand::usize(1..=3) {
            self.started += 1;
            let kind = *fastrand::choice(&JOB_KINDS).unwrap_or(&JOB_KINDS[0]);
            if let Ok(task) = jobs.async_nolink(job(self.started, kind)).await {
                round.push(task);
            }
        }
        // Elixir's `Task.yield_many`, then `Task.shutdown(task, :brutal_kill)` for
        // the ones without a result: one deadline for the whole round.
        let results = task::yield_many(&mut round, JOB_TIMEOUT).await;
        for (task, result) in round.into_iter().zip(results) {
            let result = match result {
                Some(result) => Some(result),
                None => task.brutal_kill().await,
            };
            match result {
                Some(Ok(_)) => self.done += 1,
                Some(Err(_)) => self.failed += 1,
                None => self.timed_out += 1,
            }
        }
    }

    // Nothing secret: `noex state scheduler` shows it.
    fn format_status(&self) -> Option<String> {
        Some(format!("{self:#?}"))
    }
}

/// One background job: a little computing and some waiting, as on a disk or a
/// network. One in ten fails, one in fifteen hangs.
async fn job(id: u64, kind: &'static str) -> u64 {
    let checksum = (0..10_000_u64).fold(id, |sum, n| sum.wrapping_mul(31).wrapping_add(n));
    let hangs = fastrand::u32(..15) == 0;
    let wait = if hangs {
        Duration::from_secs(30)
    } else {
        Duration::from_millis(fastrand::u64(50..500))
    };
    tokio::time::sleep(wait).await;
    if fastrand::u32(..10) == 0 {
        panic!("job {id} ({kind}) failed: the disk is full (simulated)");
    }
    checksum
}
