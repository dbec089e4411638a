//! The agent at scale: one snapshot request, and `noex ps --json` end to end (a new
//! `noex` process each time), against an application with 10k and 100k servers.
//! `cargo bench -p noex-cli --bench agent_scale`.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use noex::agent::{self, AgentOptions};
use noex::gen_server::{self, ServerRef, StartOptions};
use noex_agent::client::Client;
use noex_cli::demo::Idle;

fn agent_scale(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = std::env::temp_dir().join(format!("noex-bench-{}", std::process::id()));
    let socket = dir.join("agent.sock");
    agent::start(AgentOptions::new("bench").socket_path(&socket)).unwrap();

    let mut group = c.benchmark_group("agent_scale");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    let mut servers: Vec<ServerRef<Idle>> = Vec::new();
    for count in [10_000usize, 100_000] {
        runtime.block_on(async {
            while servers.len() < count {
                servers.push(gen_server::start(Idle, StartOptions::new()).await.unwrap());
            }
        });
        let mut client = runtime.block_on(Client::connect(&socket)).unwrap();
        group.bench_function(BenchmarkId::new("snapshot_request", count), |b| {
            b.iter(|| runtime.block_on(client.snapshot()).unwrap())
        });
        group.bench_function(BenchmarkId::new("noex_ps_json", count), |b| {
            b.iter(|| ps_json(&socket))
        });
    }
    group.finish();
    agent::shutdown();
    let _ = std::fs::remove_dir_all(dir);
}

fn ps_json(socket: &Path) -> usize {
    let output = Command::new(env!("CARGO_BIN_EXE_noex"))
        .args(["ps", "--json", "--socket"])
        .arg(socket)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout.len()
}

criterion_group!(benches, agent_scale);
criterion_main!(benches);
