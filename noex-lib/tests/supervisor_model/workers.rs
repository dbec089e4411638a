//! The workers under test, and what they share with the test.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Once};

use noex::gen_server::{Context, GenServer, Reply};
use noex::{ExitReason, ServerRef};

/// The payload of an ordered crash (kept out of the test's output).
pub(crate) const CRASH: &str = "told to crash";

/// What the workers of one case share with the test.
#[derive(Default)]
pub(crate) struct World {
    /// Starts, failed starts and terminates, in order.
    pub(crate) log: Mutex<Vec<String>>,
    /// Child id → how many of its next `init`s fail.
    pub(crate) fail: Mutex<HashMap<String, u32>>,
    /// Child id → its latest instance.
    pub(crate) workers: Mutex<HashMap<String, ServerRef<Worker>>>,
}

impl World {
    pub(crate) fn log(&self, entry: String) {
        self.log.lock().unwrap().push(entry);
    }
}

pub(crate) struct Worker {
    pub(crate) id: String,
    pub(crate) world: Arc<World>,
}

pub(crate) enum Order {
    Exit(ExitReason),
    Crash,
}

impl GenServer for Worker {
    type Call = ();
    type Cast = Order;
    type Reply = ();

    async fn init(&mut self, ctx: &mut Context<Self>) -> Result<(), noex::error::BoxError> {
        let fail = match self.world.fail.lock().unwrap().get_mut(&self.id) {
            Some(left) if *left > 0 => {
                *left -= 1;
                true
            }
            _ => false,
        };
        if fail {
            self.world.log(format!("fail {}", self.id));
            return Err(format!("{} told to fail", self.id).into());
        }
        self.world.log(format!("start {}", self.id));
        let mut workers = self.world.workers.lock().unwrap();
        workers.insert(self.id.clone(), ctx.myself());
        Ok(())
    }

    async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<()> {
        Reply::Now(())
    }

    async fn handle_cast(&mut self, order: Order, ctx: &mut Context<Self>) {
        match order {
            Order::Exit(reason) => ctx.stop(reason),
            Order::Crash => std::panic::panic_any(CRASH),
        }
    }

    async fn terminate(&mut self, reason: &ExitReason, _: &mut Context<Self>) {
        let why = match reason {
            ExitReason::Normal => "normal".to_string(),
            ExitReason::Shutdown => "shutdown".to_string(),
            ExitReason::ShutdownWith(_) => "shutdown_with".to_string(),
            ExitReason::Error(_) => "crash".to_string(),
            other => format!("{other:?}"),
        };
        self.world.log(format!("stop {} {why}", self.id));
    }
}

/// Ordered crashes are expected: keep their panic messages out of the output.
pub(crate) fn quiet_ordered_crashes() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if info.payload().downcast_ref::<&str>() != Some(&CRASH) {
                default(info);
            }
        }));
    });
}
