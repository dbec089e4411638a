//! Resident memory per idle server, each library measured in a fresh process: the
//! benchmark runs itself again with `NOEX_BENCH_MEMORY_PROBE=<library>`, and the
//! child reads its resident set from `/proc/self/statm` before and after starting
//! 100k servers that then sit idle, waiting on their mailboxes.
//!
//! The handles the caller keeps are stored in a vector allocated (and touched)
//! before the first reading, so they are not counted; one server of each library
//! is started before it too, so one-time set-up (registries, the noex agent's
//! thread) is not counted either.

use std::process::Command;

use crate::actix::Actix;
use crate::contender::{Classic, Contender, Flavor, SKYNET_SUM};
use crate::floor::Floor;
use crate::kameo::Kameo;
use crate::noex::Noex;
use crate::ractor::Ractor;

const PROBE_ENV: &str = "NOEX_BENCH_MEMORY_PROBE";
const SERVERS_ENV: &str = "NOEX_BENCH_MEMORY_SERVERS";
pub const SERVERS: usize = 100_000;

pub struct MemoryRow {
    pub library: &'static str,
    pub servers: usize,
    pub bytes_per_server: f64,
}

/// If this process is a probe, measure and print, and say so.
pub fn run_probe_if_asked() -> bool {
    let Ok(library) = std::env::var(PROBE_ENV) else {
        return false;
    };
    let servers = std::env::var(SERVERS_ENV)
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(SERVERS);
    let bytes = match library.as_str() {
        "tokio_bare" => probe::<Floor>(servers),
        "noex" => probe::<Noex>(servers),
        "ractor" => probe::<Ractor>(servers),
        "kameo" => probe::<Kameo>(servers),
        "actix" => probe::<Actix>(servers),
        other => panic!("no memory probe for {other:?}"),
    };
    println!("bytes_per_server={bytes}");
    true
}

fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|field| field.parse().ok())
        .expect("resident pages");
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as u64;
    pages * page
}

fn probe<C: Contender>(servers: usize) -> f64 {
    let (rt, contender) = C::setup(Flavor::CurrentThread);
    rt.run(async move {
        let warm_up = contender.start().await;
        C::call(&warm_up).await;
        let mut handles: Vec<Option<C::Server>> = (0..servers).map(|_| None).collect();
        let before = resident_bytes();
        for slot in handles.iter_mut() {
            *slot = Some(contender.start().await);
        }
        // Every server has run and is parked on its mailbox once the last one answers.
        C::call(handles[servers - 1].as_ref().expect("started")).await;
        let after = resident_bytes();
        std::hint::black_box(&handles);
        (after.saturating_sub(before)) as f64 / servers as f64
    })
}

/// Run one probe process per library, in turn.
pub fn measure_all() -> Vec<MemoryRow> {
    let exe = std::env::current_exe().expect("this benchmark's path");
    crate::contender::LIBRARIES
        .iter()
        .filter_map(|library| {
            let output = Command::new(&exe)
                .env(PROBE_ENV, library)
                .env(SERVERS_ENV, SERVERS.to_string())
                .output()
                .expect("a probe process");
            let stdout = String::from_utf8_lossy(&output.stdout);
            let bytes = stdout
                .lines()
                .find_map(|line| line.strip_prefix("bytes_per_server="))
                .and_then(|value| value.parse().ok());
            match bytes {
                Some(bytes_per_server) => {
                    println!("idle_memory/{library}: {bytes_per_server:.0} bytes per server");
                    Some(MemoryRow {
                        library,
                        servers: SERVERS,
                        bytes_per_server,
                    })
                }
                None => {
                    eprintln!(
                        "idle_memory/{library}: the probe failed: {}",
                        String::from_utf8_lossy(&output.stderr)
                    );
                    None
                }
            }
        })
        .collect()
}

/// Peak memory of one skynet, each library and flavour in a fresh process (the
/// benchmark runs itself again with `NOEX_BENCH_SKYNET_PROBE=<library>/<flavour>`):
/// the child runs one skynet and reads its high-water mark of resident memory
/// (`VmHWM` in `/proc/self/status`), which counts the process's start too.
const SKYNET_PROBE_ENV: &str = "NOEX_BENCH_SKYNET_PROBE";

pub struct SkynetMemoryRow {
    pub library: &'static str,
    pub flavor: Flavor,
    pub peak_bytes: u64,
}

fn status_bytes(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("a kB field");
    kib * 1024
}

/// If this process is a skynet probe, run one skynet, print its peak, and say so.
pub fn run_skynet_probe_if_asked() -> bool {
    let Ok(probe) = std::env::var(SKYNET_PROBE_ENV) else {
        return false;
    };
    let (library, flavor) = probe.split_once('/').expect("<library>/<flavour>");
    let flavor = Flavor::ALL
        .into_iter()
        .find(|f| f.as_str() == flavor)
        .expect("a flavour");
    match library {
        "tokio_bare" => skynet_probe::<Floor>(flavor),
        "noex" => skynet_probe::<Noex>(flavor),
        "ractor" => skynet_probe::<Ractor>(flavor),
        "kameo" => skynet_probe::<Kameo>(flavor),
        "actix" => skynet_probe::<Actix>(flavor),
        other => panic!("no skynet probe for {other:?}"),
    }
    true
}

fn skynet_probe<C: Classic>(flavor: Flavor) {
    let (rt, contender) = C::setup(flavor);
    let before = status_bytes("VmHWM");
    let sum = rt.run(async move { contender.skynet().await });
    assert_eq!(sum, SKYNET_SUM);
    println!("peak_bytes={}", status_bytes("VmHWM"));
    println!("start_bytes={before}");
}

/// Run one skynet probe process per library and flavour, in turn.
pub fn measure_skynets() -> Vec<SkynetMemoryRow> {
    let exe = std::env::current_exe().expect("this benchmark's path");
    let mut rows = Vec::new();
    for flavor in Flavor::ALL {
        for library in crate::contender::LIBRARIES {
            let output = Command::new(&exe)
                .env(SKYNET_PROBE_ENV, format!("{library}/{}", flavor.as_str()))
                .output()
                .expect("a probe process");
            let stdout = String::from_utf8_lossy(&output.stdout);
            let field = |name: &str| -> Option<u64> {
                stdout
                    .lines()
                    .find_map(|line| line.strip_prefix(name)?.strip_prefix('='))
                    .and_then(|value| value.parse().ok())
            };
            match (field("peak_bytes"), field("start_bytes")) {
                (Some(peak_bytes), Some(start)) => {
                    println!(
                        "skynet_memory/{library}/{}: peak {:.1} MiB (at the start {:.1} MiB)",
                        flavor.as_str(),
                        peak_bytes as f64 / MIB,
                        start as f64 / MIB
                    );
                    rows.push(SkynetMemoryRow {
                        library,
                        flavor,
                        peak_bytes,
                    });
                }
                _ => eprintln!(
                    "skynet_memory/{library}/{}: the probe failed: {}",
                    flavor.as_str(),
                    String::from_utf8_lossy(&output.stderr)
                ),
            }
        }
    }
    rows
}

pub const MIB: f64 = 1024.0 * 1024.0;
