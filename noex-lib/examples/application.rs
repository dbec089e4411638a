//! A program as an application: its supervision tree runs until SIGTERM or Ctrl-C,
//! then stops, children in reverse start order, and `main` exits 0.
//!
//! Run with `cargo run -p noex --example application`, watch it with `noex ps`, and
//! stop it with Ctrl-C (twice to stop at once). Two switches show the other ends:
//! `--crash` makes a child crash until its supervisor gives up (exit 1), and
//! `--slow-stop` makes a child take a minute to stop (past the 2 s grace period,
//! it is killed: exit 1).

use std::time::Duration;

use noex::ExitReason;
use noex::application::{AppExit, Application};
use noex::error::BoxError;
use noex::gen_server::{Context, GenServer, Info, Reply};
use noex::supervisor::{ChildSpec, Shutdown, SupervisorSpec};

#[tokio::main]
async fn main() -> AppExit {
    // The application's own log (starting, stopping, stopped in N ms) on stderr.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();

    Application::new("shop")
        .supervisor(shop())
        .shutdown_grace(Duration::from_secs(2))
        .run()
        .await
}

/// The shop's tree: a database pool, a cache in front of it, and the HTTP front
/// that uses both, started in that order (and stopped in the reverse one).
fn shop() -> SupervisorSpec {
    let crash = std::env::args().any(|arg| arg == "--crash");
    let slow_stop = std::env::args().any(|arg| arg == "--slow-stop");
    SupervisorSpec::one_for_one()
        .child(ChildSpec::worker("db", || Service::new("db")))
        .child(ChildSpec::worker("cache", move || Service {
            crashes: crash,
            ..Service::new("cache")
        }))
        .child(
            ChildSpec::worker("http", move || Service {
                slow_stop,
                ..Service::new("http")
            })
            // As long as it takes: the application's grace period is the limit.
            .shutdown(Shutdown::Infinity),
        )
}

/// A stand-in for a real service: says when it starts and stops.
struct Service {
    name: &'static str,
    /// Crashes soon after every start.
    crashes: bool,
    /// Takes a minute to stop.
    slow_stop: bool,
}

impl Service {
    fn new(name: &'static str) -> Self {
        Service {
            name,
            crashes: false,
            slow_stop: false,
        }
    }
}

struct Crash;

impl GenServer for Service {
    type Call = ();
    type Cast = ();
    type Reply = ();

    async fn init(&mut self, ctx: &mut Context<Self>) -> Result<(), BoxError> {
        println!("{}: started", self.name);
        if self.crashes {
            ctx.send_after(Duration::from_millis(50), Crash);
        }
        Ok(())
    }

    async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<()> {
        Reply::Now(())
    }

    async fn handle_info(&mut self, _: Info, ctx: &mut Context<Self>) {
        ctx.stop(ExitReason::error(format!(
            "{}: lost its connection",
            self.name
        )));
    }

    async fn terminate(&mut self, _: &ExitReason, _: &mut Context<Self>) {
        println!("{}: stopping", self.name);
        if self.slow_stop {
            tokio::time::sleep(Duration::from_secs(60)).await;
        }
        println!("{}: stopped", self.name);
    }
}
