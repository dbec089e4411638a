//! The pipeline: ingest produces records, parse parses them, archive writes them
//! away (and now and then falls behind).

use std::time::Duration;

use noex::gen_server::{Context, GenServer, Info, Reply};
use noex::registry;

use super::tick::tick_every;

/// The head of the pipeline: produces records.
pub(super) struct Ingest {
    pub(super) produced: u64,
}

impl GenServer for Ingest {
    type Call = ();
    type Cast = ();
    type Reply = u64;

    async fn init(&mut self, ctx: &mut Context<Self>) -> Result<(), noex::error::BoxError> {
        tick_every(ctx, Duration::from_millis(50));
        Ok(())
    }

    async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<u64> {
        Reply::Now(self.produced)
    }

    async fn handle_info(&mut self, _: Info, ctx: &mut Context<Self>) {
        self.produced += 1;
        if let Ok(parse) = registry::lookup::<Parse>("parse") {
            let _ = parse.cast(format!("record-{}", self.produced));
        }
        tick_every(ctx, Duration::from_millis(50));
    }
}

/// Parses records and hands them on.
pub(super) struct Parse;

impl GenServer for Parse {
    type Call = ();
    type Cast = String;
    type Reply = ();

    async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<()> {
        Reply::Now(())
    }

    async fn handle_cast(&mut self, record: String, _: &mut Context<Self>) {
        let id = record
            .trim_start_matches("record-")
            .parse::<u64>()
            .unwrap_or(0);
        if let Ok(archive) = registry::lookup::<Archive>("archive") {
            let _ = archive.cast(id);
        }
    }
}

/// Writes records away; now and then its disk is slow, and a backlog builds up.
pub(super) struct Archive {
    chaos: bool,
    stored: u64,
    slow_for: u32,
}

impl Archive {
    pub(super) fn new(chaos: bool) -> Self {
        Archive {
            chaos,
            stored: 0,
            slow_for: 0,
        }
    }
}

impl GenServer for Archive {
    type Call = ();
    type Cast = u64;
    type Reply = u64;

    async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<u64> {
        Reply::Now(self.stored)
    }

    async fn handle_cast(&mut self, _record: u64, _: &mut Context<Self>) {
        self.stored += 1;
        if self.chaos && self.slow_for == 0 && fastrand::u32(..400) == 0 {
            self.slow_for = 40; // a slow spell: 40 records at 120 ms
        }
        if self.slow_for > 0 {
            self.slow_for -= 1;
            tokio::time::sleep(Duration::from_millis(120)).await;
        }
    }
}
