//! `noex top`: the live dashboard. Not built yet; this placeholder keeps the command
//! line complete.

use crate::cli::TopArgs;
use crate::commands::Context;

pub async fn run(_ctx: &Context, _args: TopArgs) -> anyhow::Result<()> {
    anyhow::bail!("`noex top` is not available yet")
}
