//! The exact shape of frames on the wire, as PROTOCOL.md shows them (in JSON notation):
//! a client in another language is written against these, so a change here is a
//! protocol change.

use noex_agent::codec::{DEFAULT_MAX_DEPTH, decode_with_serde};
use noex_agent::protocol::decode_server_frame;
use noex_agent::protocol::{
    ActionOutcome, ErrorBody, ErrorCode, Hello, ProcessRef, ProtocolVersion, ReplyBody, Request,
    RequestKind, ServerFrame,
};
use noex_agent::rows;
use noex_agent::types::{
    ChildInfo, ChildKind, EventKind, Intensity, LifecycleEvent, Pid, ProcessStatus, RestartType,
    ServerInfo, Snapshot, Strategy, SupervisorInfo,
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
        (
            RequestKind::Snapshot { rows: false },
            json!({ "type": "snapshot" }),
        ),
        (
            RequestKind::Snapshot { rows: true },
            json!({ "type": "snapshot", "rows": true }),
        ),
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
    assert_eq!(request.request, RequestKind::Snapshot { rows: false });

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

// --- The compact snapshot (since 2.1) ----------------------------------------------

/// A snapshot with a bit of everything a row can hold.
fn varied_snapshot() -> Snapshot {
    let server = |pid: u64, type_name: &str| ServerInfo {
        pid: Pid(pid),
        name: None,
        child_id: None,
        parent: None,
        type_name: type_name.into(),
        status: ProcessStatus::Running,
        messages: 0,
        queue_len: 0,
        started_at_ms: 1_714_000_000_000,
        restarts: 0,
        busy_ns: 0,
        handler_running_ns: None,
        last_error: None,
        system: false,
        state: None,
    };
    let supervisor = |pid: u64, children: Vec<ChildInfo>| SupervisorInfo {
        pid: Pid(pid),
        name: None,
        child_id: None,
        parent: None,
        status: ProcessStatus::Running,
        strategy: Strategy::OneForOne,
        intensity: Intensity {
            max_restarts: 3,
            within_ms: 5_000,
        },
        children,
        child_restarts: 0,
        restarts: 0,
        started_at_ms: 1_714_000_000_000,
        last_error: None,
        system: false,
    };
    let child = |id: &str, pid: Option<u64>, restart, kind| ChildInfo {
        id: id.into(),
        pid: pid.map(Pid),
        restart,
        kind,
    };
    Snapshot {
        taken_at_ms: 1_714_000_123_456,
        app: "shop".into(),
        os_pid: 4242,
        uptime_ms: 60_000,
        process_count: 7,
        total_messages: u64::MAX,
        memory_rss_bytes: Some(48 << 20),
        servers: vec![
            ServerInfo {
                name: Some("cache".into()),
                parent: Some(Pid(1)),
                child_id: Some("cache".into()),
                messages: 1 << 40,
                queue_len: 300,
                busy_ns: 70_000,
                handler_running_ns: Some(12),
                ..server(3, "Cache<String, u64>")
            },
            ServerInfo {
                child_id: Some("worker-1".into()),
                parent: Some(Pid(2)),
                restarts: 4,
                last_error: Some("index out of bounds: the len is 3 but the index is 7".into()),
                status: ProcessStatus::Initializing,
                ..server(5, "Worker")
            },
            ServerInfo {
                status: ProcessStatus::Stopping,
                state: Some("Open".into()),
                ..server(6, "Worker")
            },
            ServerInfo {
                status: ProcessStatus::Unknown,
                ..server(7, "Worker")
            },
            ServerInfo {
                system: true,
                name: Some("noex.agent.connection".into()),
                ..server(900, "Connection")
            },
            server(70_000, &"Long".repeat(20)),
        ],
        supervisors: vec![
            SupervisorInfo {
                name: Some("app".into()),
                children: vec![
                    child("cache", Some(3), RestartType::Permanent, ChildKind::Worker),
                    child(
                        "pool",
                        Some(2),
                        RestartType::Transient,
                        ChildKind::Supervisor,
                    ),
                    child("gone", None, RestartType::Temporary, ChildKind::Worker),
                ],
                ..supervisor(1, Vec::new())
            },
            SupervisorInfo {
                child_id: Some("pool".into()),
                parent: Some(Pid(1)),
                strategy: Strategy::SimpleOneForOne,
                status: ProcessStatus::Stopped,
                child_restarts: 9,
                restarts: 2,
                last_error: Some("shutdown: too many restarts".into()),
                ..supervisor(
                    2,
                    vec![child(
                        "worker-1",
                        Some(5),
                        RestartType::Unknown,
                        ChildKind::Unknown,
                    )],
                )
            },
            SupervisorInfo {
                system: true,
                strategy: Strategy::Unknown,
                ..supervisor(899, Vec::new())
            },
        ],
    }
}

/// A map written in the order given (JSON notation's maps sort their keys).
struct Ordered<'a>(Vec<(&'a str, &'a Value)>);

impl Serialize for Ordered<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in &self.0 {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

/// The agent's order: the envelope, the table, then the rows.
const AGENT_ORDER: [&str; 10] = [
    "taken_at_ms",
    "app",
    "os_pid",
    "uptime_ms",
    "process_count",
    "total_messages",
    "memory_rss_bytes",
    "strings",
    "servers",
    "supervisors",
];

/// A reply frame's body with `snapshot` as its snapshot, its keys in `order` (and any
/// other key after them).
fn snapshot_reply_in(id: u64, snapshot: &Value, order: &[&str]) -> Vec<u8> {
    let fields = snapshot.as_object().expect("a snapshot is a map");
    let mut entries: Vec<(&str, &Value)> = order
        .iter()
        .filter_map(|key| fields.get(*key).map(|value| (*key, value)))
        .collect();
    entries.extend(
        fields
            .iter()
            .filter(|(key, _)| !order.contains(&key.as_str()))
            .map(|(key, value)| (key.as_str(), value)),
    );
    #[derive(Serialize)]
    struct Frame<'a> {
        #[serde(rename = "type")]
        kind: &'static str,
        id: u64,
        body: Body<'a>,
    }
    #[derive(Serialize)]
    struct Body<'a> {
        #[serde(rename = "type")]
        kind: &'static str,
        snapshot: Ordered<'a>,
    }
    let frame = Frame {
        kind: "reply",
        id,
        body: Body {
            kind: "snapshot",
            snapshot: Ordered(entries),
        },
    };
    rmp_serde::to_vec_named(&frame).unwrap()
}

/// A reply frame's body with `snapshot` as its snapshot, as an agent writes it.
fn snapshot_reply(id: u64, snapshot: Value) -> Vec<u8> {
    snapshot_reply_in(id, &snapshot, &AGENT_ORDER)
}

/// The compact form of `snapshot`, as JSON notation.
fn compact(snapshot: &Snapshot) -> Value {
    rmp_serde::from_slice(&rows::encode(snapshot)).unwrap()
}

/// What a client makes of a reply frame: the fast decoder and plain serde must agree.
fn decode_reply(body: &[u8]) -> Result<Snapshot, String> {
    let fast = decode_server_frame(body, DEFAULT_MAX_DEPTH);
    let plain = decode_with_serde::<ServerFrame>(body, DEFAULT_MAX_DEPTH);
    match (fast, plain) {
        (Ok(fast), Ok(plain)) => {
            assert_eq!(fast, plain, "the two decoders disagree");
            match fast {
                ServerFrame::Reply {
                    body: ReplyBody::Snapshot { snapshot },
                    ..
                } => Ok(snapshot),
                other => panic!("not a snapshot reply: {other:?}"),
            }
        }
        (Err(fast), Err(_)) => Err(fast.to_string()),
        (fast, plain) => panic!("only one decoder accepts it: {fast:?} / {plain:?}"),
    }
}

#[test]
fn a_compact_snapshot_is_named_fields_a_string_table_and_rows() {
    let snapshot = Snapshot {
        supervisors: vec![SupervisorInfo {
            children: vec![ChildInfo {
                id: "w".into(),
                pid: Some(Pid(6)),
                restart: RestartType::Transient,
                kind: ChildKind::Worker,
            }],
            ..varied_snapshot().supervisors[0].clone()
        }],
        servers: vec![ServerInfo {
            pid: Pid(6),
            name: Some("worker".into()),
            child_id: Some("w".into()),
            parent: Some(Pid(1)),
            type_name: "Worker".into(),
            status: ProcessStatus::Running,
            messages: 7,
            queue_len: 0,
            started_at_ms: 8,
            restarts: 1,
            busy_ns: 9,
            handler_running_ns: None,
            last_error: None,
            system: false,
            state: None,
        }],
        ..varied_snapshot()
    };
    assert_eq!(
        compact(&snapshot),
        json!({
            "taken_at_ms": 1_714_000_123_456u64,
            "app": "shop",
            "os_pid": 4242,
            "uptime_ms": 60_000,
            "process_count": 7,
            "total_messages": u64::MAX,
            "memory_rss_bytes": 48u64 << 20,
            "strings": ["Worker", "running", "one_for_one", "transient", "worker"],
            "servers": [[6, "worker", "w", 1, 0, 1, 7, 0, 8, 1, 9, null, null, false]],
            "supervisors": [[
                1, "app", null, null, 1, 2, 3, 5_000,
                [["w", 6, 3, 4]],
                0, 0, 1_714_000_000_000u64, null, false
            ]]
        })
    );
    assert_eq!(rows::SERVER_ROW.len(), 15);
    assert_eq!(rows::SERVER_ROW_REQUIRED, 14);
    assert_eq!(rows::SUPERVISOR_ROW.len(), 14);
    assert_eq!(rows::CHILD_ROW.len(), 4);
}

#[test]
fn a_server_s_state_is_sent_only_when_it_has_one() {
    // Named: no `state` key without one, so a 2.2 shape is unchanged.
    let plain = varied_snapshot().servers[0].clone();
    let named = wire(&plain);
    assert!(named.get("state").is_none(), "{named}");
    assert_eq!(
        from_wire::<ServerInfo>(named),
        plain,
        "a 2.2 map reads as no state"
    );
    let machine = ServerInfo {
        state: Some("Open".into()),
        ..plain
    };
    assert_eq!(wire(&machine)["state"], json!("Open"));
    assert_eq!(from_wire::<ServerInfo>(wire(&machine)), machine);

    // Rows: the 15th position (since 2.3), written inline; a row without a state
    // ends before it, as in 2.1.
    let snapshot = Snapshot {
        servers: vec![
            plain_server(6),
            ServerInfo {
                state: Some("Open".into()),
                ..plain_server(7)
            },
        ],
        supervisors: Vec::new(),
        ..varied_snapshot()
    };
    let body = compact(&snapshot);
    assert_eq!(
        body["servers"],
        json!([
            [6, null, null, null, 0, 1, 0, 0, 8, 0, 0, null, null, false],
            [
                7, null, null, null, 0, 1, 0, 0, 8, 0, 0, null, null, false, "Open"
            ]
        ])
    );
    assert_eq!(decode_reply(&snapshot_reply(1, body)).unwrap(), snapshot);
}

/// An idle server of type `Worker`, started at 8.
fn plain_server(pid: u64) -> ServerInfo {
    ServerInfo {
        pid: Pid(pid),
        name: None,
        child_id: None,
        parent: None,
        type_name: "Worker".into(),
        status: ProcessStatus::Running,
        messages: 0,
        queue_len: 0,
        started_at_ms: 8,
        restarts: 0,
        busy_ns: 0,
        handler_running_ns: None,
        last_error: None,
        system: false,
        state: None,
    }
}

#[test]
fn a_compact_snapshot_decodes_to_the_same_snapshot_as_the_named_form() {
    let snapshot = varied_snapshot();
    let named = ServerFrame::Reply {
        id: 5,
        body: ReplyBody::Snapshot {
            snapshot: snapshot.clone(),
        },
    };
    let named = rmp_serde::to_vec_named(&named).unwrap();
    assert_eq!(decode_reply(&named).unwrap(), snapshot, "the named form");
    let rows = snapshot_reply(5, compact(&snapshot));
    assert_eq!(decode_reply(&rows).unwrap(), snapshot, "the compact form");
    assert!(
        rows.len() * 2 < named.len(),
        "{} bytes as rows, {} named",
        rows.len(),
        named.len()
    );

    // Nothing to list: still a snapshot.
    let empty = Snapshot {
        servers: Vec::new(),
        supervisors: Vec::new(),
        memory_rss_bytes: None,
        ..snapshot
    };
    assert_eq!(
        decode_reply(&snapshot_reply(1, compact(&empty))).unwrap(),
        empty
    );
}

#[test]
fn rows_may_mix_with_named_maps_and_give_strings_inline() {
    // A writer may skip the table for a string, and an element may still be a map.
    let snapshot = varied_snapshot();
    let mut body = compact(&snapshot);
    body["servers"][0][4] = json!("Cache<String, u64>");
    body["servers"][1] = serde_json::to_value(&snapshot.servers[1]).unwrap();
    body["supervisors"][0][5] = json!("one_for_one");
    body["supervisors"][0][8][0][2] = json!("permanent");
    assert_eq!(decode_reply(&snapshot_reply(2, body)).unwrap(), snapshot);
}

#[test]
fn a_row_with_positions_of_a_newer_agent_decodes_and_ignores_them() {
    let snapshot = varied_snapshot();
    let mut body = compact(&snapshot);
    let extra = [
        json!(99),
        json!("future"),
        json!([1, [2]]),
        json!({ "a": null }),
    ];
    for (row, known) in [
        ("/servers/0", rows::SERVER_ROW.len()),
        ("/servers/2", rows::SERVER_ROW.len()),
        ("/servers/5", rows::SERVER_ROW.len()),
        ("/supervisors/0", rows::SUPERVISOR_ROW.len()),
        ("/supervisors/0/8/2", rows::CHILD_ROW.len()),
    ] {
        let row = body.pointer_mut(row).unwrap().as_array_mut().unwrap();
        // After every position this reader knows: a server with no state ends
        // before its `state`, so the newer positions come after a nil one.
        row.resize(known, Value::Null);
        row.extend(extra.iter().cloned());
    }
    body["a_field_of_2_9"] = json!({ "rows": [[1, 2]] });
    assert_eq!(decode_reply(&snapshot_reply(3, body)).unwrap(), snapshot);
}

#[test]
fn values_a_newer_agent_sends_in_rows_decode_to_unknown() {
    let mut body = compact(&varied_snapshot());
    let strings = body["strings"].as_array_mut().unwrap();
    let newer = strings.len();
    strings.extend([
        json!("hibernating"),
        json!("one_for_many"),
        json!("sometimes"),
        json!("actor"),
    ]);
    body["servers"][0][5] = json!(newer);
    body["supervisors"][0][4] = json!(newer);
    body["supervisors"][0][5] = json!(newer + 1);
    body["supervisors"][0][8][0][2] = json!(newer + 2);
    body["supervisors"][0][8][0][3] = json!(newer + 3);
    let decoded = decode_reply(&snapshot_reply(4, body)).unwrap();
    assert_eq!(decoded.servers[0].status, ProcessStatus::Unknown);
    let supervisor = &decoded.supervisors[0];
    assert_eq!(supervisor.status, ProcessStatus::Unknown);
    assert_eq!(supervisor.strategy, Strategy::Unknown);
    assert_eq!(supervisor.children[0].restart, RestartType::Unknown);
    assert_eq!(supervisor.children[0].kind, ChildKind::Unknown);
}

#[test]
fn a_malformed_compact_snapshot_is_a_clear_error() {
    let good = compact(&varied_snapshot());
    /// What is wrong, how to break a good body so, and what the error says.
    type Case = (&'static str, Box<dyn Fn(&mut Value)>, &'static str);
    let cases: Vec<Case> = vec![
        (
            "a string index past the table",
            Box::new(|body| body["servers"][1][4] = json!(77)),
            "string index 77 is not in the snapshot's table of",
        ),
        (
            "an enumeration index past the table",
            Box::new(|body| body["supervisors"][0][8][0][3] = json!(1000)),
            "a supervisor row's `children` (position 8): a child row's `kind` (position 3): \
             string index 1000",
        ),
        (
            "rows without a table",
            Box::new(|body| {
                body.as_object_mut().unwrap().remove("strings");
            }),
            "table of 0 strings",
        ),
        (
            "a short server row",
            Box::new(|body| body["servers"][2].as_array_mut().unwrap().truncate(5)),
            "a server row ends before position 5 (`status`): it needs 14 positions",
        ),
        (
            "an empty supervisor row",
            Box::new(|body| body["supervisors"][1] = json!([])),
            "a supervisor row ends before position 0 (`pid`)",
        ),
        (
            "a short child row",
            Box::new(|body| body["supervisors"][0][8][1] = json!(["pool", 2])),
            "a child row ends before position 2 (`restart`)",
        ),
        (
            "a nil type name",
            Box::new(|body| body["servers"][0][4] = Value::Null),
            "a server row's `type_name` is nil",
        ),
        (
            "a negative index",
            Box::new(|body| body["servers"][0][4] = json!(-1)),
            "a server row's `type_name` (position 4): invalid value",
        ),
        (
            "a string where a count belongs",
            Box::new(|body| body["servers"][0][6] = json!("seven")),
            "a server row's `messages` (position 6): ",
        ),
        (
            "a row that is neither a map nor an array",
            Box::new(|body| body["servers"][0] = json!(6)),
            "a server as a map or a row",
        ),
        (
            "no servers",
            Box::new(|body| {
                body.as_object_mut().unwrap().remove("servers");
            }),
            "missing field `servers`",
        ),
    ];
    for (what, break_it, expected) in cases {
        let mut body = good.clone();
        break_it(&mut body);
        let error = decode_reply(&snapshot_reply(6, body)).expect_err(what);
        assert!(error.contains(expected), "{what}: {error}");
    }
}

#[test]
fn the_rows_string_table_comes_before_the_rows() {
    // A reader resolves rows as it reads them, so the table must come first: the
    // agent writes it so, and a body that does not is refused, not misread.
    let snapshot = varied_snapshot();
    let bytes = rows::encode(&snapshot);
    let text = String::from_utf8_lossy(&bytes);
    let strings = text.find("strings").unwrap();
    assert!(strings < text.find("servers").unwrap());
    assert!(strings < text.find("supervisors").unwrap());

    let late = snapshot_reply_in(1, &compact(&snapshot), &["servers", "strings"]);
    let error = decode_reply(&late).expect_err("rows before the table");
    assert!(error.contains("string index"), "{error}");

    // Rows that need no table may come first.
    let inline = snapshot_reply_in(
        1,
        &json!({
            "taken_at_ms": 1, "app": "a", "os_pid": 2, "uptime_ms": 3, "process_count": 1,
            "total_messages": 0, "supervisors": [],
            "servers": [[6, null, null, null, "Worker", "running", 0, 0, 0, 0, 0, null, null, false]],
            "strings": ["unused"]
        }),
        &["servers", "strings"],
    );
    assert_eq!(
        &*decode_reply(&inline).unwrap().servers[0].type_name,
        "Worker"
    );
}
