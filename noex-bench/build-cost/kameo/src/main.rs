//! Hello world on kameo: one actor, one ask, print.

use kameo::Actor;
use kameo::actor::Spawn;
use kameo::message::{Context, Message};

#[derive(Actor)]
struct Greeter;

impl Message<String> for Greeter {
    type Reply = String;

    async fn handle(&mut self, name: String, _: &mut Context<Self, Self::Reply>) -> String {
        format!("hello, {name}")
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let greeter = Greeter::spawn(Greeter);
    println!("{}", greeter.ask("world".to_string()).await?);
    Ok(())
}
