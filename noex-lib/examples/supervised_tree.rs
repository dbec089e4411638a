//! A supervision tree with a worker that sometimes crashes: watch the supervisor
//! restart it, and the lifecycle events that tell the story.
//!
//! Run with `cargo run -p noex --example supervised_tree`.

use std::time::Duration;

use noex::events::{self, EventKind};
use noex::gen_server::{Context, GenServer, Info, Reply};
use noex::supervisor::{self, ChildSpec, SupervisorSpec};
use noex::{observer, registry};

/// Does a unit of work every 100 ms; every 7th one fails.
struct Flaky {
    done: u64,
}

struct Tick;

impl GenServer for Flaky {
    type Call = ();
    type Cast = ();
    type Reply = u64;

    async fn init(&mut self, ctx: &mut Context<Self>) -> Result<(), noex::error::BoxError> {
        ctx.send_after(Duration::from_millis(100), Tick);
        Ok(())
    }

    async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<u64> {
        Reply::Now(self.done)
    }

    async fn handle_info(&mut self, _: Info, ctx: &mut Context<Self>) {
        self.done += 1;
        if self.done.is_multiple_of(7) {
            panic!("unit {} failed", self.done);
        }
        ctx.send_after(Duration::from_millis(100), Tick);
    }
}

/// Counts what it is told; never crashes.
#[derive(Default)]
struct Tally(u64);

impl GenServer for Tally {
    type Call = ();
    type Cast = u64;
    type Reply = u64;

    async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<u64> {
        Reply::Now(self.0)
    }

    async fn handle_cast(&mut self, amount: u64, _: &mut Context<Self>) {
        self.0 += amount;
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut stream = events::subscribe();
    let app = supervisor::start(
        SupervisorSpec::one_for_one()
            .name("app_sup")
            .max_restarts(5, Duration::from_secs(10))
            .child(ChildSpec::worker("tally", Tally::default).name("tally"))
            .child(ChildSpec::supervisor(
                "workers",
                SupervisorSpec::rest_for_one()
                    .child(ChildSpec::worker("flaky", || Flaky { done: 0 }).name("flaky"))
                    .child(ChildSpec::worker("steady", Tally::default)),
            )),
    )
    .await?;

    // Two crashes of `flaky` (after 7 units each), each restarted.
    let mut restarts = 0;
    while restarts < 2 {
        let event = stream.recv().await?;
        match &event.kind {
            EventKind::Crashed { error } => println!("{} crashed: {error}", event.pid),
            EventKind::Restarted { attempt } => {
                restarts += 1;
                println!(
                    "{} restarted as {} (attempt {attempt})",
                    event.child_id.unwrap_or_default(),
                    event.pid
                );
            }
            _ => {}
        }
    }
    registry::lookup::<Tally>("tally")?.cast(restarts)?;

    print_tree(&observer::process_tree().roots, 0);
    app.stop().await?;
    Ok(())
}

fn print_tree(nodes: &[observer::TreeNode], depth: usize) {
    for node in nodes {
        let indent = "  ".repeat(depth);
        match node {
            observer::TreeNode::Supervisor { info, children } => {
                let label = info
                    .name
                    .clone()
                    .or(info.child_id.clone())
                    .unwrap_or_default();
                println!("{indent}{label} {} ({})", info.pid, info.strategy);
                print_tree(children, depth + 1);
            }
            observer::TreeNode::Worker { info } => {
                let label = info
                    .name
                    .clone()
                    .or(info.child_id.clone())
                    .unwrap_or_default();
                println!("{indent}{label} {} restarts={}", info.pid, info.restarts);
            }
            other => println!("{indent}{other:?}"),
        }
    }
}
