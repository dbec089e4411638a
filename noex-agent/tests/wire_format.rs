//! The exact shape of frames on the wire, as PROTOCOL.md shows them (in JSON notation):
//! a client in another language is written against these, so a change here is a
//! protocol change.

use noex_agent::protocol::{
    ActionOutcome, ErrorBody, ErrorCode, Hello, ProcessRef, ProtocolVersion, ReplyBody, Request,
    RequestKind, ServerFrame,
};
use noex_agent::types::{
    EventKind, Intensity, LifecycleEvent, Pid, ProcessStatus, Strategy, SupervisorInfo,
};
use serde::Serialize;
use serde_json::{Value, json};

/// This binary's private agent directory (`$NOEX_AGENT_DIR`), as every test binary's.
#[cfg(unix)]
#[path = "../../noex-lib/tests/support/sandbox.rs"]
mod sandbox;

/// What the MessagePack encoding of `value` holds, as JSON.
fn wire<T: Serialize>(value: &T) -> Value {
    let bytes = rmp_serde::to_vec_named(value).unwrap();
    rmp_serde::from_slice(&bytes).unwrap()
}

/// Decodes the JSON-notation example as if it had arrived as MessagePack.
fn from_wire<T: serde::de::DeserializeOwned>(value: Value) -> T {
    let bytes = rmp_serde::to_vec_named(&value).unwrap();
    rmp_serde::from_slice(&bytes).unwrap()
}

#[test]
fn hello_is_a_flat_map_tagged_hello() {
    let hello = ServerFrame::Hello(Hello {
        protocol_version: ProtocolVersion { major: 1, minor: 0 },
        noex_version: "0.1.0".into(),
        app: "shop".into(),
        pid: 4242,
        started_at_ms: 1_714_000_000_000,
        read_only: false,
    });
    assert_eq!(
        wire(&hello),
        json!({
            "type": "hello",
            "protocol_version": { "major": 1, "minor": 0 },
            "noex_version": "0.1.0",
            "app": "shop",
            "pid": 4242,
            "started_at_ms": 1_714_000_000_000u64,
            "read_only": false
        })
    );
}

#[test]
fn requests_carry_an_id_and_a_tagged_request() {
    let cases = [
        (
            RequestKind::Hello {
                protocol_version: ProtocolVersion { major: 1, minor: 0 },
            },
            json!({ "type": "hello", "protocol_version": { "major": 1, "minor": 0 } }),
        ),
        (RequestKind::Snapshot, json!({ "type": "snapshot" })),
        (RequestKind::Tree, json!({ "type": "tree" })),
        (
            RequestKind::Subscribe { history: 50 },
            json!({ "type": "subscribe", "history": 50 }),
        ),
        (RequestKind::Unsubscribe, json!({ "type": "unsubscribe" })),
        (
            RequestKind::Kill {
                target: "worker-1".into(),
                reason: Some("stuck".into()),
                force: false,
            },
            json!({ "type": "kill", "target": "worker-1", "reason": "stuck", "force": false }),
        ),
        (
            RequestKind::Kill {
                target: "app_sup".into(),
                reason: None,
                force: true,
            },
            json!({ "type": "kill", "target": "app_sup", "reason": null, "force": true }),
        ),
        (
            RequestKind::Restart {
                target: "<0.42>".into(),
            },
            json!({ "type": "restart", "target": "<0.42>" }),
        ),
    ];
    for (request, shape) in cases {
        let frame = Request { id: 7, request };
        assert_eq!(wire(&frame), json!({ "id": 7, "request": shape.clone() }));
        assert_eq!(
            from_wire::<Request>(json!({ "id": 7, "request": shape })),
            frame
        );
    }
}

#[test]
fn optional_request_fields_may_be_left_out() {
    let kill: Request = from_wire(json!({ "id": 1, "request": { "type": "kill", "target": "x" } }));
    assert_eq!(
        kill.request,
        RequestKind::Kill {
            target: "x".into(),
            reason: None,
            force: false
        }
    );
    let subscribe: Request = from_wire(json!({ "id": 2, "request": { "type": "subscribe" } }));
    assert_eq!(subscribe.request, RequestKind::Subscribe { history: 0 });
}

#[test]
fn unknown_fields_are_ignored_and_unknown_types_decode_to_unknown() {
    let request: Request = from_wire(json!({
        "id": 3,
        "request": { "type": "snapshot", "include_stacks": true },
        "trace": "abc"
    }));
    assert_eq!(request.request, RequestKind::Snapshot);

    let request: Request =
        from_wire(json!({ "id": 4, "request": { "type": "hibernate", "all": true } }));
    assert_eq!(request.request, RequestKind::Unknown);

    let frame: ServerFrame = from_wire(json!({ "type": "stats", "cpu": 0.5 }));
    assert_eq!(frame, ServerFrame::Unknown);
    let code: ErrorCode = from_wire(json!("quota_exceeded"));
    assert_eq!(code, ErrorCode::Unknown);
}

#[test]
fn replies_echo_the_id_and_tag_their_body() {
    let reply = ServerFrame::Reply {
        id: 7,
        body: ReplyBody::Hello {
            protocol_version: ProtocolVersion { major: 1, minor: 0 },
        },
    };
    assert_eq!(
        wire(&reply),
        json!({
            "type": "reply",
            "id": 7,
            "body": { "type": "hello", "protocol_version": { "major": 1, "minor": 0 } }
        })
    );
    let unsubscribed = ServerFrame::Reply {
        id: 8,
        body: ReplyBody::Unsubscribed,
    };
    assert_eq!(
        wire(&unsubscribed),
        json!({ "type": "reply", "id": 8, "body": { "type": "unsubscribed" } })
    );
}

#[test]
fn action_outcomes_name_the_process_its_supervisor_and_the_new_pid() {
    let reply = ServerFrame::Reply {
        id: 9,
        body: ReplyBody::Killed {
            outcome: ActionOutcome {
                target: ProcessRef {
                    pid: Pid(42),
                    name: None,
                    child_id: Some("worker-1".into()),
                },
                supervisor: Some(ProcessRef {
                    pid: Pid(2),
                    name: Some("pool".into()),
                    child_id: None,
                }),
                new_pid: Some(Pid(57)),
            },
        },
    };
    assert_eq!(
        wire(&reply),
        json!({
            "type": "reply",
            "id": 9,
            "body": {
                "type": "killed",
                "outcome": {
                    "target": { "pid": 42, "name": null, "child_id": "worker-1" },
                    "supervisor": { "pid": 2, "name": "pool", "child_id": null },
                    "new_pid": 57
                }
            }
        })
    );
}

#[test]
fn errors_carry_a_snake_case_code_a_message_and_candidates_only_when_ambiguous() {
    let not_found = ServerFrame::Error {
        id: Some(3),
        error: ErrorBody::new(
            ErrorCode::NotFound,
            "no process named \"x\" (by name, child id or pid)",
        ),
    };
    assert_eq!(
        wire(&not_found),
        json!({
            "type": "error",
            "id": 3,
            "error": {
                "code": "not_found",
                "message": "no process named \"x\" (by name, child id or pid)"
            }
        })
    );
    let ambiguous = ServerFrame::Error {
        id: Some(4),
        error: ErrorBody {
            code: ErrorCode::AmbiguousTarget,
            message: "\"worker\" is ambiguous: it matches 2 processes".into(),
            candidates: vec![
                ProcessRef {
                    pid: Pid(4),
                    name: None,
                    child_id: Some("worker".into()),
                },
                ProcessRef {
                    pid: Pid(7),
                    name: Some("worker".into()),
                    child_id: Some("w2".into()),
                },
            ],
        },
    };
    assert_eq!(
        wire(&ambiguous)["error"]["candidates"],
        json!([
            { "pid": 4, "name": null, "child_id": "worker" },
            { "pid": 7, "name": "worker", "child_id": "w2" }
        ])
    );
    let closing = ServerFrame::Error {
        id: None,
        error: ErrorBody::new(ErrorCode::Busy, "busy"),
    };
    assert_eq!(wire(&closing)["id"], Value::Null);
    // Every code's wire name is its `as_str`.
    for code in ErrorCode::ALL {
        assert_eq!(wire(&code), json!(code.as_str()));
    }
}

#[test]
fn pushes_are_events_and_lag_notices_without_an_id() {
    let event = ServerFrame::Event {
        event: LifecycleEvent {
            seq: 118,
            at_ms: 1_714_000_123_456,
            pid: Pid(42),
            name: None,
            child_id: Some("worker-1".into()),
            parent: Some(Pid(2)),
            system: false,
            kind: EventKind::Crashed {
                error: "index out of bounds".into(),
            },
        },
    };
    assert_eq!(
        wire(&event),
        json!({
            "type": "event",
            "event": {
                "seq": 118,
                "at_ms": 1_714_000_123_456u64,
                "pid": 42,
                "name": null,
                "child_id": "worker-1",
                "parent": 2,
                "system": false,
                "kind": { "type": "crashed", "error": "index out of bounds" }
            }
        })
    );
    assert_eq!(
        wire(&ServerFrame::Lagged { dropped: 312 }),
        json!({ "type": "lagged", "dropped": 312 })
    );
}

/// Since 2.0, `restarts` means the same on a supervisor as on a server: the times its
/// own supervisor restarted it. The restarts it performed on its children are
/// `child_restarts`; `restarted` is gone.
#[test]
fn a_supervisor_s_restarts_are_its_own_and_child_restarts_its_children_s() {
    let info = SupervisorInfo {
        pid: Pid(2),
        name: Some("pool".into()),
        child_id: Some("pool".into()),
        parent: Some(Pid(1)),
        status: ProcessStatus::Running,
        strategy: Strategy::OneForOne,
        intensity: Intensity {
            max_restarts: 3,
            within_ms: 5_000,
        },
        children: Vec::new(),
        child_restarts: 7,
        restarts: 1,
        started_at_ms: 1_714_000_000_000,
        last_error: None,
        system: false,
    };
    let shape = json!({
        "pid": 2,
        "name": "pool",
        "child_id": "pool",
        "parent": 1,
        "status": "running",
        "strategy": "one_for_one",
        "intensity": { "max_restarts": 3, "within_ms": 5_000 },
        "children": [],
        "child_restarts": 7,
        "restarts": 1,
        "started_at_ms": 1_714_000_000_000u64,
        "last_error": null,
        "system": false
    });
    assert_eq!(wire(&info), shape);
    assert_eq!(from_wire::<SupervisorInfo>(shape.clone()), info);

    // `restarts` may be left out: a supervisor nobody restarted.
    let mut without = shape;
    without.as_object_mut().unwrap().remove("restarts");
    assert_eq!(
        from_wire::<SupervisorInfo>(without),
        SupervisorInfo {
            restarts: 0,
            ..info
        }
    );
}

/// What `noex ps` prints for a status, strategy or restart type is the name on the wire,
/// so a user can grep `--json` output for what the table showed.
#[test]
fn every_enum_value_displays_as_its_wire_name() {
    use noex_agent::types::RestartType;
    let statuses = [
        ProcessStatus::Initializing,
        ProcessStatus::Running,
        ProcessStatus::Stopping,
        ProcessStatus::Stopped,
    ];
    for status in statuses {
        assert_eq!(wire(&status), json!(status.to_string()));
    }
    let strategies = [
        Strategy::OneForOne,
        Strategy::OneForAll,
        Strategy::RestForOne,
        Strategy::SimpleOneForOne,
    ];
    for strategy in strategies {
        assert_eq!(wire(&strategy), json!(strategy.to_string()));
    }
    for restart in [
        RestartType::Permanent,
        RestartType::Transient,
        RestartType::Temporary,
    ] {
        assert_eq!(wire(&restart), json!(restart.to_string()));
    }
    // The fallback has no wire name of its own (`#[serde(other)]`): it shows as `unknown`.
    assert_eq!(ProcessStatus::Unknown.to_string(), "unknown");
    assert_eq!(format!("{:>9}", Strategy::Unknown), "  unknown");
}
