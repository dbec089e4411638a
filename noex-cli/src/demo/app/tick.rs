//! The beat the demo's servers work to.

use std::time::Duration;

use noex::gen_server::{Context, GenServer};

/// A message sent to oneself on a timer.
struct Tick;

pub(super) fn tick_every(ctx: &Context<impl GenServer>, period: Duration) {
    ctx.send_after(period, Tick);
}
