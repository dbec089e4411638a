//! Every flag of `noex`, with its help text, in one place.
//!
//! Parsing only: commands live in `commands/`, and nothing here talks to an agent.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::ssh::host::SshHost;

const ABOUT: &str =
    "Attach to a running noex application: list, inspect, kill, restart, watch it live";

const LONG_ABOUT: &str = "\
Attach to a running noex application: list, inspect, kill, restart, watch it live.

Every application built with noex embeds a small agent that serves its Observer data
(processes, supervision tree, lifecycle events) over a local socket only its own user can
reach. `noex` finds that socket by the application's OS process id: with one noex
application running no flags are needed; with several, pick one with --pid. Every read
command takes --json for scripts.";

const EXAMPLES: &str = "\
Examples:
  noex list                          every running noex application
  noex ps                            processes of the one running application
  noex ps --pid 4242 --sort queue    processes of app 4242, longest mailbox first
  noex tree                          the supervision tree
  noex kill worker-1                 crash a process; its supervisor restarts it
  noex restart '<0.17>'              ask a process's supervisor to restart it
  noex events --follow               lifecycle events as they happen (Ctrl-C stops)
  noex ps --all-agents --sort queue  every application's processes, longest mailbox first
  noex events -f --all-agents        the events of every application, as they happen
  noex top                           the live dashboard
  noex --host ssh://ana@box ps       processes of the one application on box, over ssh
  noex record -o demo.noexrec        record snapshots and events until Ctrl-C
  noex top --replay demo.noexrec     play a recording in the dashboard
  noex demo                          start a demo application and watch it
  noex metrics --all-agents          OpenMetrics text for every application
  noex exporter                      serve /metrics on 127.0.0.1:9464 for Prometheus
  noex ps --json | jq '.[] | select(.restarts > 0)'

Exit status: 0 success; 1 the operation failed (no such process, read-only agent, ...);
2 usage error, or no noex application found.";

const TOP_KEYS: &str = "\
Keys (? in the dashboard lists them all):
  e      only the problems in the event log: ✖ crash or abnormal exit, ↻ restart,
         ‼ max restarts exceeded (a banner also warns of a crash loop: a process
         restarted 3 times within a minute)
  A      the running noex applications: Enter switches to one, Esc cancels
  s, S   sort by the next column (counters largest first), reverse it";

/// The `noex` command line.
#[derive(Debug, Parser)]
#[command(
    name = "noex",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = EXAMPLES,
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub target: TargetArgs,

    /// When to colour the output
    #[arg(
        long,
        global = true,
        value_enum,
        value_name = "WHEN",
        default_value_t = ColorChoice::Auto,
        display_order = 100
    )]
    pub color: ColorChoice,

    #[command(subcommand)]
    pub command: Command,
}

/// Which application to attach to. With neither flag: the one running noex application.
#[derive(Debug, Clone, Default, Args)]
pub struct TargetArgs {
    /// Attach to the noex application with this OS process id
    #[arg(
        long,
        global = true,
        value_name = "PID",
        conflicts_with = "socket",
        help_heading = "Target"
    )]
    pub pid: Option<u32>,

    /// Attach through this agent socket instead of looking one up by pid
    #[arg(long, global = true, value_name = "PATH", help_heading = "Target")]
    pub socket: Option<PathBuf>,

    /// Attach to an application on another machine, over ssh: ssh://[user@]host[:port]
    ///
    /// Runs the system ssh and `noex dial-stdio` there: the remote needs only the noex
    /// binary, and nothing listens on the network. --pid and --socket then name a remote
    /// process or socket. NOEX_SSH sets the ssh command and its options (default `ssh`;
    /// noex adds BatchMode=yes, so nothing prompts)
    #[arg(
        long,
        global = true,
        value_name = "URL",
        env = "NOEX_HOST",
        value_parser = SshHost::parse,
        help_heading = "Target"
    )]
    pub host: Option<SshHost>,

    /// The noex command on the --host machine, as its shell reads it [default: noex]
    #[arg(
        long,
        global = true,
        value_name = "PATH",
        env = "NOEX_REMOTE_BIN",
        help_heading = "Target"
    )]
    pub remote_noex: Option<String>,

    #[command(flatten)]
    pub cluster: ClusterArgs,
}

impl TargetArgs {
    /// The noex command to run on the `--host` machine.
    pub fn remote_noex(&self) -> &str {
        self.remote_noex.as_deref().unwrap_or("noex")
    }
}

/// Colour on a terminal (`auto`, honouring NO_COLOR), always, or never.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// On a terminal, unless NO_COLOR is set or TERM is dumb
    Auto,
    /// Always, even in a pipe
    Always,
    /// Never
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List every running noex application
    #[command(visible_alias = "ls")]
    List(ListArgs),
    /// Show the processes (GenServers and supervisors) of an application
    Ps(PsArgs),
    /// Show the supervision tree of an application
    Tree(TreeArgs),
    /// Kill a process with an abnormal exit; its supervisor applies its restart policy
    Kill(KillArgs),
    /// Ask a process's supervisor to restart it
    Restart(RestartArgs),
    /// Show a process's state, if its server shows it (GenServer::format_status)
    State(StateArgs),
    /// Show lifecycle events: starts, crashes, restarts, ...
    Events(EventsArgs),
    /// Open the live dashboard (or play a recording in it: --replay)
    #[command(after_help = TOP_KEYS)]
    Top(TopArgs),
    /// Record snapshots and every lifecycle event to a file, to play back later
    ///
    /// Snapshots every --interval and every lifecycle event go to a compact file
    /// (zstd; about 2 MB an hour for a thousand processes at one snapshot a second)
    /// that stays readable if the application or this command is killed. Play it with
    /// `noex top --replay FILE` or print its events with `noex events --replay FILE`.
    Record(RecordArgs),
    /// Start a demo application (a second process) and open the dashboard on it
    ///
    /// The demo is a small shop backend: supervisors, workers doing steady work, a
    /// pipeline that backs up now and then, a worker that crashes, and a noex-store
    /// named `store` whose buckets (`store/customers`, `store/orders`, `store/audit`)
    /// show their records, bytes, operations per second and subscribers in `noex ps`;
    /// try `noex state store/orders` and `noex kill store/orders`.
    Demo(DemoArgs),
    /// Print the application's metrics in the OpenMetrics text format, for Prometheus
    Metrics(MetricsArgs),
    /// Serve /metrics over HTTP for every noex application of this user, for Prometheus
    Exporter(ExporterArgs),
    /// Print a shell completion script: `noex completions bash > /etc/bash_completion.d/noex`
    Completions(CompletionsArgs),
    /// Relay stdin and stdout to the agent's socket: what `--host` runs on the remote
    /// machine, through ssh
    #[command(hide = true)]
    DialStdio,
}

/// How many processes an application may have series of its own, how long to wait
/// for each agent: shared by `noex metrics` and `noex exporter`.
#[derive(Debug, Clone, Args)]
pub struct ScrapeArgs {
    /// Per-process series only for the N most active processes of each application
    /// (messages handled + mailbox length + restarts); the rest are summed under
    /// name="(other)"
    #[arg(long, value_name = "N",
          default_value_t = crate::metrics::families::DEFAULT_MAX_PROCESS_SERIES)]
    pub max_process_series: usize,

    /// Give up on an application that has not answered within this time: with
    /// --all-agents and in the exporter it is reported as noex_agent_up 0, beside the
    /// others; one application named alone is an error
    #[arg(long, value_name = "DURATION", default_value = "3s",
          value_parser = humantime::parse_duration)]
    pub agent_timeout: std::time::Duration,
}

#[derive(Debug, Clone, Args)]
pub struct MetricsArgs {
    /// Every live noex application of this user, instead of one
    #[arg(long)]
    pub all_agents: bool,

    /// The text format: OpenMetrics 1.0, or the Prometheus text format 0.0.4 that
    /// promtool and node_exporter's textfile collector read
    #[arg(long, value_enum, default_value_t = crate::metrics::exposition::Format::OpenMetrics)]
    pub format: crate::metrics::exposition::Format,

    #[command(flatten)]
    pub scrape: ScrapeArgs,
}

#[derive(Debug, Clone, Args)]
pub struct ExporterArgs {
    /// The address to serve on (port 0 picks a free one; the address is printed)
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:9464")]
    pub listen: std::net::SocketAddr,

    /// Listen on an address other hosts can reach. The metrics name every process of
    /// every application of this user, and the exporter asks for no credentials: put
    /// it behind a firewall or a proxy that does
    #[arg(long)]
    pub allow_remote: bool,

    #[command(flatten)]
    pub scrape: ScrapeArgs,
}

#[derive(Debug, Clone, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Clone, Args)]
pub struct ListArgs {
    /// Print JSON (an array of objects) instead of a table
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Args)]
pub struct PsArgs {
    /// Sort by this column; counters sort largest first
    #[arg(long, short, value_enum, value_name = "COLUMN", default_value_t = SortKey::Pid)]
    pub sort: SortKey,

    /// Include noex's own system processes (the agent's connections, ...)
    #[arg(long, short)]
    pub all: bool,

    /// Every live noex application of this user on this host, with an APP column
    /// (`name:os-pid`); an application that does not answer is named on stderr and
    /// the exit status is 1
    #[arg(long)]
    pub all_agents: bool,

    /// Print JSON (an array of objects) instead of a table
    #[arg(long)]
    pub json: bool,
}

/// Where a noex cluster's nodes meet: its NATS servers, its name, the credentials,
/// and the node to attach to.
#[derive(Debug, Clone, Args)]
pub struct ClusterArgs {
    /// Reach the nodes of the noex cluster on these NATS servers (`nats://host:4222`,
    /// comma-separated) instead of a local socket. `noex ps` lists every node's
    /// processes with a NODE column (a node that does not answer is named on stderr
    /// and the exit status is 1); other commands attach to one node (--node)
    #[arg(
        long,
        global = true,
        value_name = "NATS_URL",
        env = "NOEX_CLUSTER",
        help_heading = "Cluster"
    )]
    pub cluster: Option<String>,

    /// The node of the --cluster to attach to, through NATS to its agent: every
    /// command that attaches to one application (tree, kill, restart, events, top,
    /// ps) then works on that node
    #[arg(long, global = true, value_name = "NODE", help_heading = "Cluster")]
    pub node: Option<String>,

    /// The cluster's name, as its nodes joined it
    #[arg(
        long,
        global = true,
        value_name = "NAME",
        default_value = "noex",
        env = "NOEX_CLUSTER_NAME",
        help_heading = "Cluster"
    )]
    pub cluster_name: String,

    /// A NATS credentials file, where NATS asks for one
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        env = "NOEX_NATS_CREDS",
        help_heading = "Cluster"
    )]
    pub nats_creds: Option<std::path::PathBuf>,
}

impl Default for ClusterArgs {
    fn default() -> ClusterArgs {
        ClusterArgs {
            cluster: None,
            node: None,
            cluster_name: "noex".to_string(),
            nats_creds: None,
        }
    }
}

/// A column `noex ps` sorts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SortKey {
    /// Process id, ascending
    Pid,
    /// Registered name or child id, alphabetical
    Name,
    /// Messages handled, most first
    Messages,
    /// Mailbox length, longest first
    Queue,
    /// Times restarted, most first
    Restarts,
    /// Time spent in handlers, most first
    Busy,
    /// Status, then pid
    Status,
}

#[derive(Debug, Clone, Args)]
pub struct TreeArgs {
    /// Include noex's own system processes
    #[arg(long, short)]
    pub all: bool,

    /// Print the tree as nested JSON objects
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Args)]
pub struct KillArgs {
    /// The process: a registered name, a child id, or a pid (`<0.42>` or `42`)
    #[arg(value_name = "TARGET")]
    pub target: String,

    /// The exit reason the process and its supervisor see
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,

    /// Kill it even if nothing would restart it (a root supervisor, a temporary child)
    #[arg(long)]
    pub force: bool,

    /// Print the outcome as a JSON object
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Args)]
pub struct RestartArgs {
    /// The process: a registered name, a child id, or a pid (`<0.42>` or `42`)
    #[arg(value_name = "TARGET")]
    pub target: String,

    /// Print the outcome as a JSON object
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Args)]
pub struct StateArgs {
    /// The process: a registered name, a child id, or a pid (`<0.42>` or `42`)
    #[arg(value_name = "TARGET")]
    pub target: String,

    /// Print a JSON object: the process and its state's text
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Args)]
pub struct EventsArgs {
    /// Keep printing events as they happen, until Ctrl-C or the application exits
    #[arg(long, short)]
    pub follow: bool,

    /// How many recent events to print first
    #[arg(long, short = 'n', value_name = "N", default_value_t = 20)]
    pub history: u32,

    /// Print times in UTC instead of the local time zone
    #[arg(long)]
    pub utc: bool,

    /// Include events of noex's own system processes
    #[arg(long, short)]
    pub all: bool,

    /// Merge the events of every live noex application of this user, by time, with
    /// an APP column; with --follow, applications that start later join and ones
    /// that exit are noted on stderr
    #[arg(long)]
    pub all_agents: bool,

    /// Print one JSON object per line
    #[arg(long)]
    pub json: bool,

    /// Print the events of a recording (`noex record`) instead, every one of them
    #[arg(long, value_name = "FILE", conflicts_with = "follow")]
    pub replay: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct TopArgs {
    /// What the dashboard shows (switch later with 1/2/3)
    #[arg(long, value_enum, default_value_t = Layout::Full)]
    pub layout: Layout,

    /// Milliseconds between refreshes
    #[arg(long, value_name = "MS", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(50..))]
    pub refresh: u64,

    /// Colours for a dark or a light terminal background
    #[arg(long, value_enum, default_value_t = Theme::Dark)]
    pub theme: Theme,

    /// Play a recording (`noex record`) instead of attaching: space pauses, , and .
    /// step, [ and ] jump a minute, + and - change the speed, g goes to a time
    #[arg(long, value_name = "FILE")]
    pub replay: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct RecordArgs {
    /// The file to write (an existing file is refused unless --overwrite)
    #[arg(long, short, value_name = "FILE")]
    pub output: PathBuf,

    /// Stop after this long (`90s`, `10m`, `2h`); without it, at Ctrl-C or when the
    /// application exits
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub duration: Option<std::time::Duration>,

    /// Time between snapshots (`1s`, `500ms`); events are recorded as they happen
    #[arg(long, value_name = "DURATION", default_value = "1s",
          value_parser = parse_interval)]
    pub interval: std::time::Duration,

    /// Replace the output file if it exists
    #[arg(long)]
    pub overwrite: bool,
}

/// A snapshot interval: at least 50 ms, as `noex top --refresh`.
fn parse_interval(text: &str) -> Result<std::time::Duration, String> {
    let interval = humantime::parse_duration(text).map_err(|e| e.to_string())?;
    if interval < std::time::Duration::from_millis(50) {
        return Err("the interval must be at least 50ms".into());
    }
    Ok(interval)
}

/// The dashboard's layouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Layout {
    /// Process tree, stats table, memory gauge, event log
    Full,
    /// Process tree and stats table
    Compact,
    /// Stats table only
    Minimal,
}

/// The dashboard's colour themes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Theme {
    Dark,
    Light,
}

#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Start the demo application and print its pid, without opening the dashboard
    #[arg(long)]
    pub no_ui: bool,

    /// No random crashes, slow-downs or session churn (for reproducible output)
    #[arg(long, hide = true)]
    pub steady: bool,

    /// Start the demo's agent read-only (kill and restart are refused)
    #[arg(long)]
    pub read_only: bool,

    /// Also start N idle servers under the simple_one_for_one supervisor `idle`, to see
    /// how `noex ps`, `tree` and `top` handle many processes (try 1000000)
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub scale: u32,

    /// Exit when the process that started the demo has gone (set by `noex demo`)
    #[arg(long, hide = true)]
    pub watch_parent: bool,

    /// Also serve the web dashboard and the WebSocket gateway on this address, without
    /// a token, so loopback only (port 0 picks a free one; the address is printed)
    #[arg(long, value_name = "ADDR:PORT")]
    pub web: Option<std::net::SocketAddr>,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn clap_definitions_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn pid_and_socket_conflict() {
        let err = Cli::try_parse_from(["noex", "ps", "--pid", "1", "--socket", "/x"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
    }

    #[test]
    fn global_target_flags_go_before_or_after_the_command() {
        let before = Cli::try_parse_from(["noex", "--pid", "7", "ps"]).unwrap();
        let after = Cli::try_parse_from(["noex", "ps", "--pid", "7"]).unwrap();
        assert_eq!(before.target.pid, Some(7));
        assert_eq!(after.target.pid, Some(7));
    }

    #[test]
    fn events_history_defaults_to_twenty() {
        let cli = Cli::try_parse_from(["noex", "events"]).unwrap();
        let Command::Events(args) = cli.command else {
            panic!("not events")
        };
        assert_eq!(args.history, 20);
        assert!(!args.follow);
    }

    #[test]
    fn help_text() {
        let help = Cli::command().render_long_help().to_string();
        crate::render::snapshot!("help", help);
    }
}
