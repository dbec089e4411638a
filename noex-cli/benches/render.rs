//! The dashboard at scale: drawing one 160x48 frame of `noex top` for an application
//! with 10k processes, into ratatui's `TestBackend`.
//! `cargo bench -p noex-cli --bench render`.
//!
//! - `frame_10k`: a frame between snapshots (what every key press and event costs).
//! - `snapshot_and_frame_10k`: taking in a new snapshot (rates, warnings, sorting, the
//!   tree) and drawing the frame after it, which rebuilds the tree widget's items.

use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use noex_agent::protocol::{Hello, ProtocolVersion};
use noex_agent::types::*;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use noex_cli::cli::{Layout, Theme};
use noex_cli::render::format::TimeZone;
use noex_cli::top::state::{App, Column};
use noex_cli::top::view;

const POOLS: u64 = 100;
const WORKERS_PER_POOL: u64 = 100;
const T0: u64 = 1_709_301_807_512;

/// `app_sup` over 100 pools of 100 workers: 10,101 processes. Snapshot `k` is taken
/// `k` seconds after the first; every worker handled `pid * k` messages by then.
fn snapshot(k: u64) -> Snapshot {
    let taken_at_ms = T0 + k * 1_000;
    let mut servers = Vec::new();
    let mut supervisors = Vec::new();
    let mut pools = Vec::new();
    for pool in 0..POOLS {
        let pool_pid = 2 + pool * (WORKERS_PER_POOL + 1);
        let mut children = Vec::new();
        for w in 0..WORKERS_PER_POOL {
            let pid = pool_pid + 1 + w;
            let id = format!("worker-{pool}-{w}");
            children.push(ChildInfo {
                id: id.clone(),
                pid: Some(Pid(pid)),
                restart: RestartType::Permanent,
                kind: ChildKind::Worker,
            });
            servers.push(ServerInfo {
                pid: Pid(pid),
                name: None,
                child_id: Some(id),
                parent: Some(Pid(pool_pid)),
                type_name: "Worker".into(),
                status: ProcessStatus::Running,
                messages: pid * k,
                queue_len: pid % 7,
                started_at_ms: T0 - 60_000,
                restarts: 0,
                busy_ns: pid * k * 1_000,
                handler_running_ns: None,
                last_error: None,
                system: false,
                state: None,
            });
        }
        pools.push(ChildInfo {
            id: format!("pool-{pool}"),
            pid: Some(Pid(pool_pid)),
            restart: RestartType::Permanent,
            kind: ChildKind::Supervisor,
        });
        supervisors.push(supervisor(
            pool_pid,
            &format!("pool-{pool}"),
            Some(1),
            children,
        ));
    }
    supervisors.push(supervisor(1, "app_sup", None, pools));
    Snapshot {
        taken_at_ms,
        app: "bench".into(),
        os_pid: 4242,
        uptime_ms: 60_000 + k * 1_000,
        process_count: (servers.len() + supervisors.len()) as u64,
        total_messages: 0,
        memory_rss_bytes: Some(512 << 20),
        servers,
        supervisors,
    }
}

fn supervisor(pid: u64, id: &str, parent: Option<u64>, children: Vec<ChildInfo>) -> SupervisorInfo {
    SupervisorInfo {
        pid: Pid(pid),
        name: None,
        child_id: Some(id.to_string()),
        parent: parent.map(Pid),
        status: ProcessStatus::Running,
        strategy: Strategy::OneForOne,
        intensity: Intensity {
            max_restarts: 3,
            within_ms: 5_000,
        },
        children,
        child_restarts: 0,
        restarts: 0,
        started_at_ms: T0 - 60_000,
        last_error: None,
        system: false,
    }
}

fn app() -> App {
    let mut app = App::new(Layout::Full, Theme::Dark, true);
    app.zone = TimeZone::Utc;
    app.system_memory = Some(16 << 30);
    app.connected(
        Hello {
            protocol_version: ProtocolVersion::CURRENT,
            noex_version: "0.1.0".into(),
            app: "bench".into(),
            pid: 4242,
            started_at_ms: T0 - 60_000,
            read_only: false,
        },
        Vec::new(),
    );
    app.ingest(snapshot(0));
    app.ingest(snapshot(1));
    app.sort_by(Column::Rate);
    app
}

fn render(c: &mut Criterion) {
    let mut group = c.benchmark_group("top_render");
    let mut terminal = Terminal::new(TestBackend::new(160, 48)).unwrap();

    let mut steady = app();
    assert!(steady.rows().len() > 10_000);
    terminal
        .draw(|frame| view::render(frame, &mut steady))
        .unwrap();
    group.bench_function("frame_10k", |b| {
        b.iter(|| {
            terminal
                .draw(|frame| view::render(frame, black_box(&mut steady)))
                .unwrap();
        })
    });

    let next = snapshot(2);
    group.bench_function("snapshot_and_frame_10k", |b| {
        b.iter_batched(
            || (app(), next.clone()),
            |(mut app, snapshot)| {
                app.ingest(snapshot);
                terminal
                    .draw(|frame| view::render(frame, &mut app))
                    .unwrap();
                app
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, render);
criterion_main!(benches);
