//! The agent of a real app (`noex demo`) under abuse from a client written from
//! PROTOCOL.md alone (tests/support/raw.rs): every abuse gets the answer the protocol
//! promises, the app stays within its memory ceiling, and its own processes are
//! unharmed throughout.

#![cfg(target_os = "linux")]

mod support;

use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::raw::{Raw, error_of, frame, request, rss_bytes};
use support::{Demo, HANG};

/// What the agent may add to the app's memory, whatever its clients do (PROTOCOL.md §8).
const CEILING: u64 = 64 * 1024 * 1024;

/// The app's own processes are all running, none restarted: nothing a client did
/// reached them.
fn assert_app_unharmed(demo: &Demo) {
    let ps = demo.noex(&["ps", "--json"]);
    assert_eq!(ps.code, 0, "{}", ps.stderr);
    let rows: Value = serde_json::from_str(&ps.stdout).unwrap();
    for row in rows.as_array().unwrap() {
        assert_eq!(row["status"], "running", "{row}");
    }
}

/// Kill reasons of 60 KB, then 63 clients that each pipeline 16 `subscribe { history:
/// 1000 }` and never read: the app's memory grows by less than the ceiling, the crash
/// texts are stored clipped, and `noex ps` still answers meanwhile.
#[test]
fn huge_kill_reasons_and_clients_that_never_read_keep_the_app_under_its_memory_ceiling() {
    let demo = Demo::start();
    let baseline = rss_bytes(demo.pid());

    let mut operator = Raw::greeted(&demo.socket());
    let reason = "r".repeat(60_000);
    for id in 1..=5 {
        operator.send(
            id,
            "kill",
            json!({ "target": "worker-1", "reason": reason }),
        );
        let answer = operator.answer();
        assert_eq!(answer["type"], "reply", "{answer}");
        assert_eq!(answer["body"]["type"], "killed");
        // Killed and restarted: the next kill finds the new instance.
        assert!(answer["body"]["outcome"]["new_pid"].is_u64(), "{answer}");
    }
    operator.send(10, "subscribe", json!({ "history": 1000 }));
    let history = operator.answer();
    let crashes: Vec<&Value> = history["body"]["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|event| event["kind"]["type"] == "crashed")
        .collect();
    assert_eq!(crashes.len(), 5, "{history}");
    for crash in crashes {
        let error = crash["kind"]["error"].as_str().unwrap();
        assert_eq!(error.len(), 1024, "stored clipped to 1 KiB");
        assert!(error.ends_with("(60000 bytes)"), "{error}");
    }

    let pipelined: Vec<u8> = (0..16)
        .flat_map(|id| request(id, "subscribe", json!({ "history": 1000 })))
        .collect();
    let mut stuck = Vec::new();
    for _ in 0..62 {
        let mut client = Raw::connect(&demo.socket());
        client.write(&pipelined);
        stuck.push(client);
    }
    // The agent answers as much as its budgets allow, then stops reading them.
    thread::sleep(Duration::from_secs(2));
    let grown = rss_bytes(demo.pid()).saturating_sub(baseline);
    assert!(
        grown < CEILING,
        "the app grew by {} MiB",
        grown / (1024 * 1024)
    );
    // A well-behaved client is still served while they are stuck.
    assert_app_unharmed(&demo);
    drop(stuck);
}

/// PROTOCOL.md allows pipelining: 200 requests of every kind in one write, all
/// answered, in order.
#[test]
fn pipelined_requests_in_one_write_are_all_answered_in_order() {
    let demo = Demo::start();
    let mut client = Raw::greeted(&demo.socket());
    let kinds = ["snapshot", "tree", "hello", "restart"];
    let bytes: Vec<u8> = (0..200u64)
        .flat_map(|id| {
            let fields = match kinds[id as usize % 4] {
                "hello" => json!({ "protocol_version": { "major": 2, "minor": 0 } }),
                "restart" => json!({ "target": "no-such-process" }),
                _ => json!({}),
            };
            request(id, kinds[id as usize % 4], fields)
        })
        .collect();
    client.write(&bytes);
    for id in 0..200u64 {
        let answer = client.answer();
        assert_eq!(answer["id"].as_u64(), Some(id), "{answer}");
        match kinds[id as usize % 4] {
            "restart" => assert_eq!(error_of(&answer, Some(id)).0, "not_found"),
            kind => assert_eq!(answer["body"]["type"], kind, "{answer}"),
        }
    }
}

/// 64 connections that each sent three bytes of a frame hold every slot; a `noex ps`
/// arriving then is served once they are timed out (5 s), not refused `busy`.
#[test]
fn half_sent_frames_in_every_slot_keep_noex_ps_out_no_longer_than_the_request_timeout() {
    let demo = Demo::start();
    let mut squatters = Vec::new();
    for _ in 0..64 {
        let mut squatter = Raw::greeted(&demo.socket());
        squatter.write(&[0, 0, 0]);
        squatters.push(squatter);
    }
    let started = Instant::now();
    let ps = demo.noex(&["ps"]);
    assert_eq!(ps.code, 0, "{}", ps.stderr);
    assert!(ps.stdout.contains("worker-1"), "{}", ps.stdout);
    assert!(
        started.elapsed() < HANG,
        "noex ps waited {:?}",
        started.elapsed()
    );
    for mut squatter in squatters {
        let frames = squatter.until_closed();
        let (code, message) = error_of(&frames[0], None);
        assert_eq!(code, "timeout", "{message}");
    }
}

/// A live stream's frames, checked as they come: every `seq` follows the one before,
/// except right after a `lagged`, by exactly what it says was dropped.
#[derive(Default)]
struct SeqCheck {
    previous: Option<u64>,
    pending_gap: u64,
    lagged: u64,
    events: u64,
    system: u64,
}

impl SeqCheck {
    fn take(&mut self, frame: &Value) {
        match frame["type"].as_str().unwrap() {
            "lagged" => {
                let dropped = frame["dropped"].as_u64().unwrap();
                assert!(dropped > 0);
                self.pending_gap += dropped;
                self.lagged += dropped;
            }
            "event" => {
                let seq = frame["event"]["seq"].as_u64().unwrap();
                if let Some(previous) = self.previous {
                    assert_eq!(
                        seq,
                        previous + 1 + self.pending_gap,
                        "a gap must be exactly what lagged said"
                    );
                }
                self.pending_gap = 0;
                self.previous = Some(seq);
                self.events += 1;
                self.system += u64::from(frame["event"]["system"] == true);
            }
            other => panic!("unexpected {other}: {frame}"),
        }
    }
}

/// Every event takes the next sequence number, system ones included; a subscriber
/// that reads too slowly sees a gap only where it was told `lagged`, exactly as wide.
#[test]
fn sequence_gaps_on_the_live_stream_equal_what_lagged_reports() {
    let demo = Demo::start();
    let mut slow = Raw::greeted(&demo.socket());
    slow.send(1, "subscribe", json!({ "history": 0 }));
    assert_eq!(slow.answer()["body"]["type"], "subscribed");

    // Connections come and go (each is a process of the agent's: system events), far
    // more than the subscriber's queue and socket hold. It reads one frame now and
    // then: far slower than they come, but never so little that the agent would
    // count it as not reading at all.
    let mut check = SeqCheck::default();
    for n in 0..2000 {
        drop(Raw::greeted(&demo.socket()));
        if n % 20 == 0 {
            check.take(&slow.read().expect("a frame"));
        }
    }
    // Everything still queued for it arrives at once; a quiet second means the end.
    while let Some(frame) = slow.read_unless_quiet(Duration::from_secs(1)) {
        check.take(&frame);
    }
    assert!(
        check.lagged > 0,
        "the subscriber fell behind ({} events)",
        check.events
    );
    assert!(check.system > 0, "system events are numbered like the rest");
}

/// Errors name the request they answer whenever its id can be read, quote at most a
/// little of the client's text, and an oversized frame's error is read before the close.
#[test]
fn errors_carry_the_request_id_bounded_text_and_arrive_before_the_close() {
    let demo = Demo::start();
    let mut client = Raw::greeted(&demo.socket());

    // A map with a readable id and a request that is not one.
    client.write(&frame(&json!({ "id": 41, "request": { "type": 5 } })));
    let (code, _) = error_of(&client.answer(), Some(41));
    assert_eq!(code, "bad_frame");

    client.send(42, "kill", json!({ "target": "t".repeat(60_000) }));
    let (code, message) = error_of(&client.answer(), Some(42));
    assert_eq!(code, "not_found");
    assert!(message.len() < 256, "{} bytes", message.len());

    // 70 KB sent whole, in one write: the error comes first, then a clean close.
    let mut oversized = Raw::greeted(&demo.socket());
    let mut bytes = 70_000u32.to_be_bytes().to_vec();
    bytes.resize(4 + 70_000, 0xc0);
    oversized.write(&bytes);
    let frames = oversized.until_closed();
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert_eq!(error_of(&frames[0], None).0, "frame_too_large");
    assert_app_unharmed(&demo);
}

/// The agent's own processes cannot be killed or restarted through it; `noex` says so
/// and fails, and the app is unharmed.
#[test]
fn the_agent_s_own_processes_are_refused_as_protected() {
    let demo = Demo::start();
    let mut other = Raw::greeted(&demo.socket());
    other.send(1, "snapshot", json!({}));
    let snapshot = other.answer();
    let connection = snapshot["body"]["snapshot"]["servers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|server| server["system"] == true)
        .expect("the other client's connection process")["pid"]
        .as_u64()
        .unwrap()
        .to_string();
    for target in ["noex.agent", connection.as_str()] {
        let kill = demo.noex(&["kill", target, "--force"]);
        assert_eq!(kill.code, 1, "{}", kill.stderr);
        assert!(
            kill.stderr.contains("belongs to the noex agent itself"),
            "{}",
            kill.stderr
        );
        let restart = demo.noex(&["restart", target]);
        assert_eq!(restart.code, 1, "{}", restart.stderr);
    }
    // The other client was never cut off.
    other.send(2, "tree", json!({}));
    assert_eq!(other.answer()["body"]["type"], "tree");
    assert_app_unharmed(&demo);
}
