//! The metrics server: it owns the `work` table the workers count into.

use noex::ets::{Table, TableOptions};
use noex::gen_server::{Context, GenServer, Reply};

pub(super) enum Metric {
    WorkDone,
}

/// The workers under `workers`, `worker-1` to `worker-3`.
pub(super) const WORKERS: u64 = 3;

/// The table of work done per worker, which each worker updates itself.
pub(super) const WORK_TABLE: &str = "work";

/// Counts what the workers report, and owns the table they count in (it goes with
/// this process; its row in `noex ps` shows it).
#[derive(Default)]
pub(super) struct Metrics {
    work_done: u64,
    work_by_worker: Option<Table<String, u64>>,
}

impl GenServer for Metrics {
    type Call = ();
    type Cast = Metric;
    type Reply = u64;

    async fn init(&mut self, ctx: &mut Context<Self>) -> Result<(), noex::error::BoxError> {
        let table = Table::new(ctx.pid(), TableOptions::set().public().named(WORK_TABLE))?;
        for n in 1..=WORKERS {
            table.insert(format!("worker-{n}"), 0)?;
        }
        self.work_by_worker = Some(table);
        Ok(())
    }

    async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<u64> {
        Reply::Now(self.work_done)
    }

    async fn handle_cast(&mut self, Metric::WorkDone: Metric, _: &mut Context<Self>) {
        self.work_done += 1;
    }
}
