//! The quick start: a counter GenServer, started under a name and used by name.
//!
//! Run with `cargo run -p noex --example counter`.

use noex::gen_server::{self, Context, GenServer, Reply, StartOptions};
use noex::{ExitReason, registry};

/// The state is the struct; handlers get `&mut self`.
#[derive(Default)]
struct Counter {
    value: i64,
}

enum Call {
    Get,
}

enum Cast {
    Inc,
    Dec,
}

impl GenServer for Counter {
    type Call = Call;
    type Cast = Cast;
    type Reply = i64;

    async fn handle_call(&mut self, request: Call, _: &mut Context<Self>) -> Reply<i64> {
        match request {
            Call::Get => Reply::Now(self.value),
        }
    }

    async fn handle_cast(&mut self, message: Cast, _: &mut Context<Self>) {
        match message {
            Cast::Inc => self.value += 1,
            Cast::Dec => self.value -= 1,
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    gen_server::start(Counter::default(), StartOptions::new().name("counter")).await?;

    // Anywhere else in the app: find it by name, with its type.
    let counter = registry::lookup::<Counter>("counter")?;
    counter.cast(Cast::Inc)?;
    counter.cast(Cast::Inc)?;
    counter.cast(Cast::Dec)?;
    let value = counter.call(Call::Get).await?;
    println!("counter = {value}");
    assert_eq!(value, 1);

    counter.stop(ExitReason::Normal).await?;
    assert!(!registry::is_registered("counter"));
    Ok(())
}
