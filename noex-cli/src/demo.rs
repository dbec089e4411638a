//! `noex demo`: a demo application to watch. Not built yet; this placeholder keeps the
//! command line complete.

use crate::cli::DemoArgs;
use crate::commands::Context;

pub async fn run(_ctx: &Context, _args: DemoArgs) -> anyhow::Result<()> {
    anyhow::bail!("`noex demo` is not available yet")
}
