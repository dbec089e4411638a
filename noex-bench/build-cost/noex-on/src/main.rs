//! Hello world on noex: one GenServer, one call, print.

use noex::gen_server::{self, Context, GenServer, Reply, StartOptions};

struct Greeter;

impl GenServer for Greeter {
    type Call = String;
    type Cast = ();
    type Reply = String;

    async fn handle_call(&mut self, name: String, _: &mut Context<Self>) -> Reply<String> {
        Reply::Now(format!("hello, {name}"))
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let greeter = gen_server::start(Greeter, StartOptions::new()).await?;
    println!("{}", greeter.call("world".to_string()).await?);
    Ok(())
}
