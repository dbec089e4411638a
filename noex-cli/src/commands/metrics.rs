//! `noex metrics`: one scrape, printed. The application the target flags name, or
//! with `--all-agents` every live one (an agent that does not answer is
//! `noex_agent_up 0`, not an error).

use std::time::Instant;

use crate::cli::MetricsArgs;
use crate::commands::{Context, write_out};
use crate::error::CliError;
use crate::metrics::collect::{scrape_agents, scrape_client};
use crate::metrics::exposition::encode;
use crate::metrics::families::{AgentScrape, families};
use crate::target;

pub async fn run(ctx: &Context, args: &MetricsArgs) -> Result<(), CliError> {
    let began = Instant::now();
    let scrapes = if args.all_agents {
        crate::commands::fleet::refuse_a_target(ctx)?;
        scrape_agents(&target::list_agents()?, args.scrape.agent_timeout).await
    } else {
        // One application: not finding it, or it not answering, is an error here.
        let mut client = target::connect(&ctx.target).await?;
        let deadline = tokio::time::Instant::now() + args.scrape.agent_timeout;
        let mut scrape = AgentScrape {
            pid: client.hello().pid,
            app: String::new(),
            snapshot: Err(String::new()),
        };
        scrape_client(&mut client, deadline, &mut scrape).await;
        if let Err(error) = &scrape.snapshot {
            return Err(CliError::failed(format!(
                "the agent of process {} gave no snapshot: {error}",
                scrape.pid
            )));
        }
        vec![scrape]
    };
    let families = families(&scrapes, args.scrape.max_process_series, began.elapsed());
    write_out(&encode(&families, args.format))
}
