//! `cargo run --release -p noex-bench --bin ws_load -- --clients 100 --secs 10`: load on
//! noex-server over WebSocket, `store.get` and `store.insert`, with two floors beside it
//! in the same run (BENCHMARKS.md, "noex-server over WebSocket").
//!
//! Every client has its own connection and keeps `--pipeline` requests outstanding
//! (closed loop: the next request goes when a reply comes). After `--warmup` seconds
//! unrecorded, every reply's latency (from just before the send to the reply read) goes
//! into the client's HDR histogram for `--secs` seconds. Rows:
//!
//! - `store` — the same operation straight on the store from as many tasks: no socket, no
//!   JSON, no connection process (the floor of what the gateway adds);
//! - `echo` — an axum WebSocket server that answers every frame with one fixed `result`
//!   the size of a `store.get` reply, without reading it, its read buffer the gateway's
//!   (8 KiB): the transport's own floor;
//! - `gateway` — noex-server with the store.
//!
//! By default all of it runs in this process (server and clients share the runtime's
//! two workers). `--serve-only ADDR` starts only the gateway (and the echo server on the
//! next port) and serves until killed, printing their addresses and its pid; `--url
//! ws://ADDR/ [--echo-url ws://ADDR/] [--server-pid PID]` loads such a server from
//! another process.
//!
//! Besides requests/s and latencies, each row gives the CPU time a request of this
//! process (clients and, in-process, the server) and, with `--server-pid`, of the
//! server's: on a shared machine these move much less than requests/s.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{Message as AxumMessage, WebSocket, WebSocketUpgrade};
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use noex_store::{BucketDef, BucketRef, Field, Generated, Store, StoreError, StoreOptions};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

const USAGE: &str = "usage: ws_load [--clients N] [--secs N] [--warmup N] [--pipeline K] \
[--records N] [--ops get,insert] [--no-floors] [--json] \
[--url ws://ADDR/ [--echo-url ws://ADDR/] [--server-pid PID]] [--serve-only ADDR]";

/// Records in `users` (keys 1 to N), where `store.get` reads.
const DEFAULT_RECORDS: i64 = 10_000;
/// Values of `group`, as in the store bench.
const GROUPS: i64 = 100;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Get,
    Insert,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Get => "store.get",
            Op::Insert => "store.insert",
        }
    }
}

#[derive(Clone, Debug)]
struct Config {
    clients: usize,
    secs: u64,
    warmup: u64,
    pipeline: usize,
    records: i64,
    ops: Vec<Op>,
    floors: bool,
    json: bool,
    url: Option<String>,
    echo_url: Option<String>,
    /// The server's process, when it is another: its CPU time is read too.
    server_pid: Option<u32>,
    serve_only: Option<SocketAddr>,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Option<Config>, String> {
    let mut config = Config {
        clients: 100,
        secs: 10,
        warmup: 2,
        pipeline: 1,
        records: DEFAULT_RECORDS,
        ops: vec![Op::Get, Op::Insert],
        floors: true,
        json: false,
        url: None,
        echo_url: None,
        server_pid: None,
        serve_only: None,
    };
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--help" | "-h" => return Ok(None),
            "--json" => {
                config.json = true;
                continue;
            }
            "--no-floors" => {
                config.floors = false;
                continue;
            }
            _ => {}
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = || {
            value
                .parse::<u64>()
                .map_err(|_| format!("{flag}: not a number: {value:?}"))
        };
        match flag.as_str() {
            "--clients" => config.clients = number()?.max(1) as usize,
            "--secs" => config.secs = number()?.max(1),
            "--warmup" => config.warmup = number()?,
            "--pipeline" => config.pipeline = number()?.max(1) as usize,
            "--records" => config.records = number()?.max(1) as i64,
            "--ops" => {
                config.ops = value
                    .split(',')
                    .map(|op| match op {
                        "get" => Ok(Op::Get),
                        "insert" => Ok(Op::Insert),
                        _ => Err(format!("--ops: get or insert, not {op:?}")),
                    })
                    .collect::<Result<_, _>>()?
            }
            "--url" => config.url = Some(value),
            "--echo-url" => config.echo_url = Some(value),
            "--server-pid" => config.server_pid = Some(number()? as u32),
            "--serve-only" => {
                config.serve_only = Some(
                    value
                        .parse()
                        .map_err(|_| format!("--serve-only: not an address: {value:?}"))?,
                )
            }
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    Ok(Some(config))
}

fn main() -> std::process::ExitCode {
    let config = match parse(std::env::args().skip(1)) {
        Ok(Some(config)) => config,
        Ok(None) => {
            println!("{USAGE}");
            return std::process::ExitCode::SUCCESS;
        }
        Err(error) => {
            eprintln!("ws_load: {error}\n{USAGE}");
            return std::process::ExitCode::from(2);
        }
    };
    // SAFETY: before the runtime and any process start; nothing else reads the environment yet.
    unsafe { std::env::set_var("NOEX_AGENT", "off") }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    match runtime.block_on(run(config)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("ws_load: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The user record of the store bench: four typed fields.
fn user(n: i64) -> Value {
    json!({
        "name": format!("user {n}"),
        "email": format!("user{n}@example.com"),
        "age": 18 + n % 70,
        "group": n % GROUPS,
    })
}

/// The store bench's users schema: an auto-increment key, `group` indexed.
fn user_bucket() -> BucketDef {
    BucketDef::new("id")
        .field("id", Field::integer().generated(Generated::AutoIncrement))
        .field("name", Field::string().required())
        .field("email", Field::string())
        .field("age", Field::integer().min(0.0))
        .field("group", Field::integer().required().index())
}

struct Data {
    users: BucketRef,
    signups: BucketRef,
}

/// A store with `users` (the records `store.get` reads) and `signups` (which the
/// inserts fill; emptied before each row, never during one, where it would stall the
/// writer for a second).
async fn store(records: i64) -> Result<(Store, Data), StoreError> {
    let store = Store::start(StoreOptions::new("ws-load")).await?;
    let users = store.define_bucket("users", user_bucket()).await?;
    let signups = store.define_bucket("signups", user_bucket()).await?;
    store
        .transaction(|tx| {
            for n in 1..=records {
                tx.insert("users", &user(n))?;
            }
            Ok::<_, StoreError>(())
        })
        .await?;
    Ok((store, Data { users, signups }))
}

async fn start_gateway(store: Store, bind: SocketAddr) -> Result<String, String> {
    let server = noex_server::start(
        noex_server::ServerConfig::new()
            .name("ws-load-gateway")
            .store(store)
            .bind(bind),
    )
    .await
    .map_err(|error| error.to_string())?;
    Ok(format!("ws://{}/", server.local_addr()))
}

/// The echo server: every text frame is answered with `reply`, unread.
async fn start_echo(bind: SocketAddr, reply: String) -> Result<String, String> {
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .map_err(|error| format!("echo: cannot listen on {bind}: {error}"))?;
    let address = listener.local_addr().map_err(|error| error.to_string())?;
    let reply: Arc<str> = reply.into();
    let router = axum::Router::new().route(
        "/",
        axum::routing::get(move |upgrade: WebSocketUpgrade| {
            let reply = reply.clone();
            async move {
                upgrade
                    .read_buffer_size(8 * 1024)
                    .on_upgrade(move |socket| echo(socket, reply))
            }
        }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Ok(format!("ws://{address}/"))
}

async fn echo(mut socket: WebSocket, reply: Arc<str>) {
    while let Some(Ok(message)) = socket.recv().await {
        if let AxumMessage::Text(_) = message
            && socket
                .send(AxumMessage::Text(reply.as_ref().into()))
                .await
                .is_err()
        {
            break;
        }
    }
}

/// A `store.get` reply as the gateway writes it, for the echo server to send.
fn get_reply(users: &BucketRef) -> String {
    let record = users.get(1).map_or(Value::Null, |r| r.to_value());
    json!({"id": 1, "type": "result", "data": record}).to_string()
}

async fn run(config: Config) -> Result<(), String> {
    if let Some(bind) = config.serve_only {
        let (store, data) = store(config.records).await.map_err(|e| e.to_string())?;
        let gateway = start_gateway(store, bind).await?;
        let echo_bind = SocketAddr::new(
            bind.ip(),
            if bind.port() == 0 { 0 } else { bind.port() + 1 },
        );
        let echo = start_echo(echo_bind, get_reply(&data.users)).await?;
        println!("gateway {gateway}");
        println!("echo {echo}");
        println!("pid {}", std::process::id());
        std::future::pending::<()>().await;
        return Ok(());
    }
    let mut rows = Vec::new();
    let mode = if config.url.is_some() {
        "separate processes"
    } else {
        "in-process"
    };
    let (gateway, echo, data) = match &config.url {
        Some(url) => (url.clone(), config.echo_url.clone(), None),
        None => {
            let (store, data) = store(config.records).await.map_err(|e| e.to_string())?;
            let loopback: SocketAddr = "127.0.0.1:0".parse().expect("an address");
            let gateway = start_gateway(store, loopback).await?;
            let echo = if config.floors {
                Some(start_echo(loopback, get_reply(&data.users)).await?)
            } else {
                None
            };
            (gateway, echo, Some(data))
        }
    };
    eprintln!(
        "ws_load: {mode}, {} clients, pipeline {}, {} s warm-up + {} s per row",
        config.clients, config.pipeline, config.warmup, config.secs
    );
    if let Some(echo) = &echo {
        let row = load(&config, echo, Op::Get, "echo").await?;
        rows.push(row.report(&config, mode));
    }
    for &op in &config.ops {
        if let Some(data) = &data {
            data.signups.clear().await.map_err(|e| e.to_string())?;
        }
        if config.floors
            && let Some(data) = &data
        {
            let row = direct(&config, data, op).await;
            rows.push(row.report(&config, mode));
        }
        if let Some(data) = &data {
            data.signups.clear().await.map_err(|e| e.to_string())?;
        }
        let row = load(&config, &gateway, op, "gateway").await?;
        rows.push(row.report(&config, mode));
    }
    print(&config, mode, &rows);
    Ok(())
}

/// One row's measurements.
struct Measured {
    target: &'static str,
    op: Op,
    latencies: Histogram<u64>,
    errors: u64,
    first_error: Option<String>,
    /// This process's CPU time while recording.
    cpu_micros: u64,
    /// The server's, when it is another process.
    server_cpu_micros: Option<u64>,
}

fn histogram() -> Histogram<u64> {
    // Nanoseconds, 1 ns to 100 s, three significant digits.
    Histogram::new_with_bounds(1, 100_000_000_000, 3).expect("a histogram")
}

/// When recording starts and when the row ends.
#[derive(Clone, Copy)]
struct Window {
    from: Instant,
    until: Instant,
}

/// This process's CPU time (user and system, every thread), in microseconds.
fn cpu_micros() -> u64 {
    // SAFETY: rusage is plain integers, for which all zeroes is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage only writes the struct it is given, which lives through the call.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let micros = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    micros(usage.ru_utime) + micros(usage.ru_stime)
}

/// Another process's CPU time (user and system), in microseconds, from /proc.
fn process_cpu_micros(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After the command's closing parenthesis: the state, then utime and stime are
    // the 12th and 13th fields, in clock ticks.
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace().skip(11);
    let ticks = fields.next()?.parse::<u64>().ok()? + fields.next()?.parse::<u64>().ok()?;
    // SAFETY: sysconf reads a constant of the system.
    let per_sec = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Some(ticks * 1_000_000 / per_sec)
}

impl Window {
    /// The CPU time this process (and the server's, when it is another) spends
    /// within the window: robust to other programs on the machine where requests/s
    /// is not.
    fn cpu(&self, server: Option<u32>) -> tokio::task::JoinHandle<(u64, Option<u64>)> {
        let window = *self;
        tokio::spawn(async move {
            tokio::time::sleep_until(window.from.into()).await;
            let start = (cpu_micros(), server.and_then(process_cpu_micros));
            tokio::time::sleep_until(window.until.into()).await;
            let end = (cpu_micros(), server.and_then(process_cpu_micros));
            let server = match (start.1, end.1) {
                (Some(start), Some(end)) => Some(end - start),
                _ => None,
            };
            (end.0 - start.0, server)
        })
    }

    fn new(config: &Config) -> Window {
        let from = Instant::now() + Duration::from_secs(config.warmup);
        Window {
            from,
            until: from + Duration::from_secs(config.secs),
        }
    }

    fn record(&self, histogram: &mut Histogram<u64>, sent: Instant, now: Instant) {
        if sent >= self.from && sent < self.until {
            let nanos = now.duration_since(sent).as_nanos() as u64;
            histogram.saturating_record(nanos.max(1));
        }
    }
}

/// The operation straight on the store from `--clients` tasks.
async fn direct(config: &Config, data: &Data, op: Op) -> Measured {
    let window = Window::new(config);
    let cpu = window.cpu(config.server_pid);
    let mut tasks = Vec::new();
    for client in 0..config.clients {
        let users = data.users.clone();
        let signups = data.signups.clone();
        let records = config.records;
        tasks.push(tokio::spawn(async move {
            let mut latencies = histogram();
            let mut n = client as i64 * 1_000_000_000;
            loop {
                let sent = Instant::now();
                if sent >= window.until {
                    break;
                }
                match op {
                    Op::Get => {
                        let key = fastrand::i64(1..=records);
                        std::hint::black_box(users.get(key)).expect("the record");
                    }
                    Op::Insert => {
                        n += 1;
                        signups.insert(&user(n)).await.expect("an insert");
                    }
                }
                window.record(&mut latencies, sent, Instant::now());
                // A get never waits: without this, two tasks would have the workers.
                tokio::task::yield_now().await;
            }
            latencies
        }));
    }
    let mut latencies = histogram();
    for task in tasks {
        latencies
            .add(task.await.expect("a store task"))
            .expect("histograms alike");
    }
    Measured {
        target: "store",
        op,
        latencies,
        errors: 0,
        first_error: None,
        cpu_micros: cpu.await.expect("the CPU clock").0,
        server_cpu_micros: None,
    }
}

/// The clients read with an 8 KiB buffer: tungstenite's default (128 KiB) is zeroed
/// before every read, which would make the load generator the load.
fn client_config() -> WebSocketConfig {
    WebSocketConfig::default().read_buffer_size(8 * 1024)
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// `--clients` connections to `url`, each keeping `--pipeline` requests outstanding.
async fn load(
    config: &Config,
    url: &str,
    op: Op,
    target: &'static str,
) -> Result<Measured, String> {
    let mut sockets = Vec::with_capacity(config.clients);
    for _ in 0..config.clients {
        let (mut socket, _) =
            tokio_tungstenite::connect_async_with_config(url, Some(client_config()), false)
                .await
                .map_err(|error| format!("cannot connect to {url}: {error}"))?;
        if target == "gateway" {
            // The welcome.
            socket.next().await;
        }
        sockets.push(socket);
    }
    let window = Window::new(config);
    let cpu = window.cpu(config.server_pid);
    let mut tasks = Vec::new();
    for (client, socket) in sockets.into_iter().enumerate() {
        let pipeline = config.pipeline;
        let records = config.records;
        tasks.push(tokio::spawn(async move {
            drive(socket, client, op, pipeline, records, window).await
        }));
    }
    let mut measured = Measured {
        target,
        op,
        latencies: histogram(),
        errors: 0,
        first_error: None,
        cpu_micros: 0,
        server_cpu_micros: None,
    };
    for task in tasks {
        let driven = task.await.map_err(|error| error.to_string())??;
        measured
            .latencies
            .add(driven.latencies)
            .expect("histograms alike");
        measured.errors += driven.errors;
        measured.first_error = measured.first_error.or(driven.first_error);
    }
    (measured.cpu_micros, measured.server_cpu_micros) =
        cpu.await.map_err(|error| error.to_string())?;
    Ok(measured)
}

fn request(op: Op, id: u64, client: usize, records: i64) -> String {
    match op {
        Op::Get => format!(
            r#"{{"id":{id},"type":"store.get","bucket":"users","key":{}}}"#,
            fastrand::i64(1..=records)
        ),
        Op::Insert => {
            let n = client as i64 * 1_000_000_000 + id as i64;
            json!({"id": id, "type": "store.insert", "bucket": "signups", "data": user(n)})
                .to_string()
        }
    }
}

struct Driven {
    latencies: Histogram<u64>,
    errors: u64,
    first_error: Option<String>,
}

/// One client's closed loop. Replies come in the order of the requests (the gateway
/// serves a connection's requests in order), so the oldest send time is the reply's.
async fn drive(
    mut socket: Socket,
    client: usize,
    op: Op,
    pipeline: usize,
    records: i64,
    window: Window,
) -> Result<Driven, String> {
    let mut driven = Driven {
        latencies: histogram(),
        errors: 0,
        first_error: None,
    };
    let mut outstanding: VecDeque<Instant> = VecDeque::with_capacity(pipeline);
    let mut id = 0u64;
    loop {
        while outstanding.len() < pipeline {
            let now = Instant::now();
            if now >= window.until {
                break;
            }
            id += 1;
            let text = request(op, id, client, records);
            let sent = Instant::now();
            socket
                .send(Message::Text(text.into()))
                .await
                .map_err(|error| format!("client {client}: send: {error}"))?;
            outstanding.push_back(sent);
        }
        let Some(&sent) = outstanding.front() else {
            break;
        };
        let text = match socket.next().await {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Close(frame))) => {
                return Err(format!("client {client}: closed by the server: {frame:?}"));
            }
            Some(Ok(_)) => continue,
            Some(Err(error)) => return Err(format!("client {client}: {error}")),
            None => return Err(format!("client {client}: the server went away")),
        };
        let now = Instant::now();
        let text = text.as_str();
        if text.contains(r#""type":"ping""#) {
            let pong = r#"{"type":"pong"}"#;
            let _ = socket.send(Message::Text(pong.into())).await;
            continue;
        }
        outstanding.pop_front();
        if !text.contains(r#""type":"result""#) {
            driven.errors += 1;
            if driven.first_error.is_none() {
                driven.first_error = Some(text.chars().take(300).collect());
            }
            continue;
        }
        window.record(&mut driven.latencies, sent, now);
    }
    let _ = socket.close(None).await;
    Ok(driven)
}

struct Row {
    target: &'static str,
    op: &'static str,
    requests: u64,
    per_sec: f64,
    p50_us: f64,
    p99_us: f64,
    p999_us: f64,
    max_us: f64,
    errors: u64,
    /// This process's CPU time per request recorded.
    cpu_us: f64,
    /// The server process's, when it is another.
    server_cpu_us: Option<f64>,
}

impl Measured {
    fn report(self, config: &Config, mode: &str) -> Row {
        let us = |q: f64| self.latencies.value_at_quantile(q) as f64 / 1_000.0;
        let row = Row {
            target: self.target,
            op: if self.target == "echo" {
                "fixed reply"
            } else {
                self.op.name()
            },
            requests: self.latencies.len(),
            per_sec: self.latencies.len() as f64 / config.secs as f64,
            p50_us: us(0.5),
            p99_us: us(0.99),
            p999_us: us(0.999),
            max_us: self.latencies.max() as f64 / 1_000.0,
            errors: self.errors,
            cpu_us: self.cpu_micros as f64 / self.latencies.len().max(1) as f64,
            server_cpu_us: self
                .server_cpu_micros
                .map(|cpu| cpu as f64 / self.latencies.len().max(1) as f64),
        };
        if let Some(error) = self.first_error {
            eprintln!(
                "ws_load: {} {}: {} errors, the first: {error}",
                row.target, row.op, row.errors
            );
        }
        if config.json {
            println!(
                "{}",
                json!({
                    "mode": mode,
                    "target": row.target,
                    "op": row.op,
                    "clients": config.clients,
                    "pipeline": config.pipeline,
                    "secs": config.secs,
                    "requests": row.requests,
                    "per_sec": row.per_sec.round(),
                    "p50_us": row.p50_us,
                    "p99_us": row.p99_us,
                    "p999_us": row.p999_us,
                    "max_us": row.max_us,
                    "errors": row.errors,
                    "cpu_us_per_request": (row.cpu_us * 100.0).round() / 100.0,
                    "server_cpu_us_per_request": row.server_cpu_us.map(|us| (us * 100.0).round() / 100.0),
                })
            );
        }
        row
    }
}

fn micros(us: f64) -> String {
    if us >= 1_000.0 {
        format!("{:.2} ms", us / 1_000.0)
    } else if us >= 10.0 {
        format!("{us:.0} µs")
    } else {
        format!("{us:.2} µs")
    }
}

fn print(config: &Config, mode: &str, rows: &[Row]) {
    println!(
        "\n{mode}, {} clients, pipeline {}, {} s per row\n",
        config.clients, config.pipeline, config.secs
    );
    println!(
        "| target | operation | requests/s | p50 | p99 | p99.9 | max | errors | CPU a request | server CPU a request |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for row in rows {
        println!(
            "| {} | {} | {:.0} | {} | {} | {} | {} | {} | {} | {} |",
            row.target,
            row.op,
            row.per_sec,
            micros(row.p50_us),
            micros(row.p99_us),
            micros(row.p999_us),
            micros(row.max_us),
            row.errors,
            micros(row.cpu_us),
            row.server_cpu_us.map_or("–".into(), micros)
        );
    }
    let find = |target: &str, op: &str| rows.iter().find(|r| r.target == target && r.op == op);
    let echo = rows.iter().find(|r| r.target == "echo");
    for op in [Op::Get, Op::Insert] {
        let Some(gateway) = find("gateway", op.name()) else {
            continue;
        };
        if let Some(store) = find("store", op.name()) {
            println!(
                "{}: gateway / store: throughput {:.1}x lower, p99 {:.0}x higher",
                op.name(),
                store.per_sec / gateway.per_sec,
                gateway.p99_us / store.p99_us
            );
        }
        if let Some(echo) = echo {
            println!(
                "{}: gateway / echo: throughput {:.2}x lower, p99 {:.2}x higher",
                op.name(),
                echo.per_sec / gateway.per_sec,
                gateway.p99_us / echo.p99_us
            );
        }
    }
}
