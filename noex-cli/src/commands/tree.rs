//! `noex tree`: the supervision tree, drawn or as JSON.

use crate::cli::TreeArgs;
use crate::commands::{Context, write_out};
use crate::error::CliError;
use crate::render::tree::{tree_json, tree_text};
use crate::target;

pub async fn run(ctx: &Context, args: &TreeArgs) -> Result<(), CliError> {
    let mut client = target::connect(&ctx.target).await?;
    let tree = target::request("tree", client.tree()).await?;
    let text = if args.json {
        tree_json(&tree, args.all)
    } else {
        tree_text(&tree, args.all, ctx.stdout)
    };
    write_out(&text)
}
