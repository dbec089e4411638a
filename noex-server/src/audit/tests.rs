use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::json;

use super::*;
use crate::auth::READ_OPERATIONS;
use crate::protocol::ErrorCode;

fn by<'a>(user: &'a str, operation: &'a str) -> AuditRecord<'a> {
    AuditRecord {
        connection_id: 1,
        remote: "127.0.0.1:5000",
        user_id: Some(user),
        operation,
        resource: Some("orders"),
        outcome: AuditOutcome::Ok,
    }
}

fn all_tiers(capacity: usize) -> AuditLog {
    AuditLog::new(AuditConfig::new().capacity(capacity).tiers(AuditTier::ALL))
}

fn seqs(entries: &[AuditEntry]) -> Vec<u64> {
    entries.iter().map(|e| e.seq).collect()
}

fn everything() -> AuditQuery {
    AuditQuery {
        limit: AuditQuery::MAX_LIMIT,
        ..AuditQuery::default()
    }
}

#[test]
fn audit_ring_drops_the_oldest_at_capacity() {
    let log = all_tiers(3);
    for _ in 0..5 {
        log.record(by("u", "store.insert"));
    }
    assert_eq!(log.len(), 3);
    assert_eq!(log.capacity(), 3);
    assert_eq!(log.dropped(), 2);
    assert_eq!(seqs(&log.query(&everything())), [3, 4, 5]);
}

#[test]
fn the_ring_never_holds_room_for_more_than_its_capacity() {
    let log = all_tiers(100);
    for _ in 0..150 {
        log.record(by("u", "store.insert"));
    }
    let ring = log.shared.ring.lock();
    assert_eq!(ring.entries.len(), 100);
    assert!(
        ring.entries.capacity() <= 100,
        "{}",
        ring.entries.capacity()
    );
}

#[test]
fn default_capacity_is_ten_thousand_and_the_log_grows_as_entries_come() {
    let log = AuditLog::default();
    assert_eq!(log.capacity(), 10_000);
    assert!(log.is_empty());
    assert_eq!(log.shared.ring.lock().entries.capacity(), 0);
}

#[test]
fn audit_records_only_configured_tiers() {
    let log = AuditLog::default();
    assert_eq!(log.tiers(), [AuditTier::Admin, AuditTier::Write]);
    assert_eq!(log.record(by("u", "store.get")), None);
    assert_eq!(log.record(by("u", "store.insert")), Some(1));
    assert_eq!(log.record(by("u", "observer.kill")), Some(2));
    assert_eq!(log.len(), 2);

    let reads_only = AuditLog::new(AuditConfig::new().tiers([AuditTier::Read]));
    assert!(reads_only.records("store.get"));
    assert!(!reads_only.records("store.insert"));
    assert_eq!(reads_only.record(by("u", "store.insert")), None);
    assert_eq!(reads_only.record(by("u", "store.get")), Some(1));

    let nothing = AuditLog::new(AuditConfig::new().tiers([]));
    for operation in ["store.get", "store.insert", "store.clear"] {
        assert_eq!(nothing.record(by("u", operation)), None);
    }
    assert!(nothing.is_empty());
}

#[test]
fn tiers_of_operations() {
    for admin in [
        "auth.login",
        "auth.logout",
        "observer.kill",
        "observer.restart",
        "store.clear",
        "audit.query",
    ] {
        assert_eq!(AuditTier::of(admin), AuditTier::Admin, "{admin}");
    }
    for write in [
        "store.insert",
        "store.update",
        "store.delete",
        "store.transaction",
        "rules.emit",
        "rules.setFact",
        "rules.deleteFact",
        "events.publish",
    ] {
        assert_eq!(AuditTier::of(write), AuditTier::Write, "{write}");
    }
    for read in ["auth.whoami", "server.stats", "no.such.operation", ""] {
        assert_eq!(AuditTier::of(read), AuditTier::Read, "{read}");
    }
}

#[test]
fn every_read_operation_is_in_the_read_tier() {
    for operation in READ_OPERATIONS {
        assert_eq!(AuditTier::of(operation), AuditTier::Read, "{operation}");
    }
}

#[test]
fn audit_query_filters_by_user_and_operation() {
    let log = all_tiers(100);
    log.record(by("alice", "store.insert")); // 1
    log.record(by("bob", "store.insert")); // 2
    log.record(by("alice", "observer.kill")); // 3
    log.record(AuditRecord {
        user_id: None,
        ..by("", "store.insert")
    }); // 4
    log.record(by("alice", "store.get")); // 5

    let query = |user: Option<&str>, operation: Option<&str>| {
        seqs(&log.query(&AuditQuery {
            user_id: user.map(Into::into),
            operation: operation.map(Into::into),
            ..everything()
        }))
    };
    assert_eq!(query(Some("alice"), None), [1, 3, 5]);
    assert_eq!(query(None, Some("store.insert")), [1, 2, 4]);
    assert_eq!(query(Some("alice"), Some("store.insert")), [1]);
    assert_eq!(query(Some("alice"), Some("store.*")), [1, 5]);
    assert_eq!(query(None, Some("observer.*")), [3]);
    assert_eq!(query(None, Some("*")), [1, 2, 3, 4, 5]);
    assert_eq!(query(Some("carol"), None), Vec::<u64>::new());
    // A malformed pattern is a name no operation has.
    assert_eq!(query(None, Some("store*")), Vec::<u64>::new());
}

#[test]
fn audit_query_without_since_gives_the_newest_oldest_first() {
    let log = all_tiers(100);
    for _ in 0..10 {
        log.record(by("u", "store.insert"));
    }
    let tail = log.query(&AuditQuery {
        limit: 3,
        ..AuditQuery::default()
    });
    assert_eq!(seqs(&tail), [8, 9, 10]);
}

#[test]
fn audit_query_pages_forward_from_since_seq() {
    let log = all_tiers(100);
    for _ in 0..10 {
        log.record(by("u", "store.insert"));
    }
    let page = |since| {
        seqs(&log.query(&AuditQuery {
            since_seq: Some(since),
            limit: 4,
            ..AuditQuery::default()
        }))
    };
    assert_eq!(page(0), [1, 2, 3, 4]);
    assert_eq!(page(4), [5, 6, 7, 8]);
    assert_eq!(page(8), [9, 10]);
    assert_eq!(page(10), Vec::<u64>::new());
    assert_eq!(page(u64::MAX), Vec::<u64>::new());
}

#[test]
fn audit_query_since_a_dropped_seq_starts_at_the_oldest_kept() {
    let log = all_tiers(3);
    for _ in 0..6 {
        log.record(by("u", "store.insert"));
    }
    let since = |since| {
        seqs(&log.query(&AuditQuery {
            since_seq: Some(since),
            ..everything()
        }))
    };
    assert_eq!(since(1), [4, 5, 6]);
    assert_eq!(since(4), [5, 6]);
}

#[test]
fn audit_query_limit_is_capped() {
    let log = all_tiers(5_000);
    for _ in 0..(AuditQuery::MAX_LIMIT + 10) {
        log.record(by("u", "store.insert"));
    }
    let all = log.query(&AuditQuery {
        limit: usize::MAX,
        ..AuditQuery::default()
    });
    assert_eq!(all.len(), AuditQuery::MAX_LIMIT);
    assert_eq!(all.last().unwrap().seq, (AuditQuery::MAX_LIMIT + 10) as u64);
    assert_eq!(
        log.query(&AuditQuery::default()).len(),
        AuditQuery::DEFAULT_LIMIT
    );
}

#[test]
fn audit_query_reads_an_audit_query_request() {
    let request = json!({"id": 4, "type": "audit.query", "userId": "alice", "sinceSeq": 7});
    let query: AuditQuery = serde_json::from_value(request).unwrap();
    assert_eq!(
        query,
        AuditQuery {
            user_id: Some("alice".into()),
            since_seq: Some(7),
            ..AuditQuery::default()
        }
    );
}

#[test]
fn entries_are_numbered_and_dated() {
    let log = all_tiers(10);
    let before = noex_agent::process_start::now_ms();
    log.record(by("u", "store.insert"));
    log.record(by("u", "store.delete"));
    let after = noex_agent::process_start::now_ms();
    let entries = log.query(&everything());
    assert_eq!(seqs(&entries), [1, 2]);
    for entry in &entries {
        assert!((before..=after).contains(&entry.at_ms));
    }
}

#[test]
fn hook_sees_every_recorded_entry_as_kept() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = AuditLog::new(AuditConfig::new().on_entry({
        let seen = seen.clone();
        move |entry| seen.lock().push(entry.clone())
    }));
    log.record(by("u", "store.get")); // not recorded: Read
    log.record(by("u", "store.insert"));
    log.record(by("u", "store.clear"));
    assert_eq!(*seen.lock(), log.query(&everything()));
    assert_eq!(seen.lock().len(), 2);
}

#[test]
fn panicking_hook_does_not_lose_the_entry() {
    let calls = Arc::new(AtomicUsize::new(0));
    let log = AuditLog::new(AuditConfig::new().on_entry({
        let calls = calls.clone();
        move |entry| {
            calls.fetch_add(1, Ordering::Relaxed);
            if entry.seq == 1 {
                panic!("disk full");
            }
        }
    }));
    assert_eq!(log.record(by("u", "store.insert")), Some(1));
    assert_eq!(log.record(by("u", "store.insert")), Some(2));
    assert_eq!(calls.load(Ordering::Relaxed), 2);
    assert_eq!(seqs(&log.query(&everything())), [1, 2]);
}

#[test]
fn hook_may_read_the_log_it_is_called_from() {
    // The hook reads its own log: were it run under the log's lock, it would deadlock.
    let lengths = Arc::new(Mutex::new(Vec::new()));
    let slot = Arc::new(Mutex::new(None::<AuditLog>));
    let log = AuditLog::new(AuditConfig::new().on_entry({
        let (lengths, slot) = (lengths.clone(), slot.clone());
        move |_| {
            if let Some(log) = &*slot.lock() {
                lengths.lock().push(log.len());
            }
        }
    }));
    *slot.lock() = Some(log.clone());
    log.record(by("u", "store.insert"));
    log.record(by("u", "store.insert"));
    assert_eq!(*lengths.lock(), [1, 2]);
    // The hook's handle would keep the log alive forever.
    slot.lock().take();
}

#[test]
fn a_log_of_capacity_zero_keeps_nothing_but_hands_each_entry_to_its_hook() {
    let seen = Arc::new(AtomicUsize::new(0));
    let log = AuditLog::new(AuditConfig::new().capacity(0).on_entry({
        let seen = seen.clone();
        move |_| {
            seen.fetch_add(1, Ordering::Relaxed);
        }
    }));
    assert_eq!(log.record(by("u", "store.insert")), Some(1));
    assert_eq!(log.record(by("u", "store.insert")), Some(2));
    assert!(log.is_empty());
    assert_eq!(seen.load(Ordering::Relaxed), 2);
}

#[test]
fn audit_entry_is_clipped_in_bytes() {
    let log = all_tiers(10);
    let huge = "x".repeat(1_000_000);
    log.record(AuditRecord {
        connection_id: 1,
        remote: &huge,
        user_id: Some(&huge),
        operation: &huge,
        resource: Some(&huge),
        outcome: AuditOutcome::Ok,
    });
    let entry = &log.query(&everything())[0];
    for text in [
        &entry.remote,
        entry.user_id.as_ref().unwrap(),
        &entry.operation,
        entry.resource.as_ref().unwrap(),
    ] {
        assert!(text.len() <= AuditEntry::TEXT_LIMIT, "{}", text.len());
        assert!(text.ends_with("(1000000 bytes)"), "{text}");
    }
    assert!(serde_json::to_string(entry).unwrap().len() < 4 * AuditEntry::TEXT_LIMIT + 200);
}

#[test]
fn clones_share_one_log() {
    let log = all_tiers(10);
    let other = log.clone();
    other.record(by("u", "store.insert"));
    assert_eq!(log.len(), 1);
    assert_eq!(log.record(by("u", "store.insert")), Some(2));
}

#[test]
fn entry_json_is_camel_case_with_its_outcome_flattened() {
    let log = all_tiers(10);
    log.record(by("alice", "store.insert"));
    log.record(AuditRecord {
        connection_id: 9,
        remote: "10.0.0.1:1",
        user_id: None,
        operation: "observer.kill",
        resource: None,
        outcome: AuditOutcome::Error {
            code: ErrorCode::Forbidden,
        },
    });
    let entries = log.query(&everything());
    let ok = serde_json::to_value(&entries[0]).unwrap();
    assert_eq!(
        ok,
        json!({
            "seq": 1, "atMs": entries[0].at_ms, "connectionId": 1, "remote": "127.0.0.1:5000",
            "userId": "alice", "operation": "store.insert", "resource": "orders", "result": "ok",
        })
    );
    let refused = serde_json::to_value(&entries[1]).unwrap();
    assert_eq!(
        refused,
        json!({
            "seq": 2, "atMs": entries[1].at_ms, "connectionId": 9, "remote": "10.0.0.1:1",
            "userId": null, "operation": "observer.kill", "resource": null,
            "result": "error", "error": "FORBIDDEN",
        })
    );
}

#[test]
fn outcome_from_a_result() {
    assert_eq!(AuditOutcome::from(Ok(())), AuditOutcome::Ok);
    assert_eq!(
        AuditOutcome::from(Err(ErrorCode::Unauthorized)),
        AuditOutcome::Error {
            code: ErrorCode::Unauthorized
        }
    );
}
