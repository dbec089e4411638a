//! The built-in rules engine: facts, events, subscriptions, their limits, and the
//! process that shows the engine in the Observer.

use std::sync::Once;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use noex::supervisor::{self, SupervisorSpec};
use noex_server::rules::{Fact, RulesError, RulesOptions};
use noex_server::{BuiltinRules, RulesEngine};
use serde_json::{Value, json};

/// Keeps the agent off in this test binary: a test leaves no socket behind. Call it
/// before starting an engine's process.
fn agent_off() {
    static AGENT_OFF: Once = Once::new();
    AGENT_OFF.call_once(|| {
        // SAFETY: written once, before any process of this binary starts; every test
        // that starts one waits here until it is done, and nothing else in these
        // tests reads the environment meanwhile.
        unsafe { std::env::set_var("NOEX_AGENT", "off") }
    });
}

/// A name no other test of this binary uses: engines' processes are registered.
fn unique_name() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!("test-rules-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// An engine without a process, as `options` bound it.
fn engine(options: impl FnOnce(RulesOptions) -> RulesOptions) -> BuiltinRules {
    BuiltinRules::new(options(RulesOptions::new(unique_name())))
}

fn keys(facts: &[Fact]) -> Vec<&str> {
    facts.iter().map(|fact| fact.key.as_str()).collect()
}

#[track_caller]
fn invalid<T: std::fmt::Debug>(result: Result<T, RulesError>) -> String {
    match result {
        Err(RulesError::Invalid(message)) => message,
        other => panic!("expected a validation error, got {other:?}"),
    }
}

async fn stats(rules: &BuiltinRules) -> Value {
    rules.stats().await.expect("stats")
}

fn ids(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|event| event["id"].as_str().expect("an id"))
        .collect()
}

#[tokio::test]
async fn query_facts_star_matches_one_segment() {
    let rules = engine(|o| o);
    for key in [
        "user:7:tier",
        "user:42:tier",
        "user:42:name",
        "user:42",
        "user:42:tier:old",
        "admin:1:tier",
        "users:1:tier",
    ] {
        rules.set_fact(key.into(), json!(key)).await.unwrap();
    }
    let tiers = rules.query_facts("user:*:tier".into()).await.unwrap();
    assert_eq!(keys(&tiers), ["user:42:tier", "user:7:tier"]);
    assert_eq!(tiers[0].value, json!("user:42:tier"));
    let of_42 = rules.query_facts("user:42:*".into()).await.unwrap();
    assert_eq!(keys(&of_42), ["user:42:name", "user:42:tier"]);
    let any_tier = rules.query_facts("*:*:tier".into()).await.unwrap();
    assert_eq!(
        keys(&any_tier),
        [
            "admin:1:tier",
            "user:42:tier",
            "user:7:tier",
            "users:1:tier"
        ]
    );
    let single = rules.query_facts("*".into()).await.unwrap();
    assert!(single.is_empty(), "`*` alone is one segment: {single:?}");
}

#[tokio::test]
async fn query_facts_without_star_is_an_exact_key() {
    let rules = engine(|o| o);
    for key in ["user:42", "user:42:tier", "user:4"] {
        rules.set_fact(key.into(), json!(1)).await.unwrap();
    }
    let exact = rules.query_facts("user:42".into()).await.unwrap();
    assert_eq!(keys(&exact), ["user:42"]);
    // `4*` is a literal segment, not a prefix wildcard.
    assert!(
        rules
            .query_facts("user:4*".into())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        rules
            .query_facts("user:43".into())
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn facts_are_set_read_replaced_deleted_and_listed_by_key() {
    let rules = engine(|o| o);
    let set = rules.set_fact("b".into(), json!({"n": 1})).await.unwrap();
    assert_eq!(
        set,
        Fact {
            key: "b".into(),
            value: json!({"n": 1})
        }
    );
    rules.set_fact("a".into(), json!(true)).await.unwrap();
    rules.set_fact("b".into(), json!(2)).await.unwrap();
    assert_eq!(rules.get_fact("b".into()).await.unwrap(), Some(json!(2)));
    assert_eq!(rules.get_fact("c".into()).await.unwrap(), None);
    assert_eq!(keys(&rules.all_facts().await.unwrap()), ["a", "b"]);
    assert!(rules.delete_fact("a".into()).await.unwrap());
    assert!(!rules.delete_fact("a".into()).await.unwrap());
    assert_eq!(keys(&rules.all_facts().await.unwrap()), ["b"]);
    assert_eq!(stats(&rules).await["facts"], 1);
}

#[tokio::test]
async fn emit_records_numbered_stamped_events() {
    let rules = engine(|o| o);
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let first = rules
        .emit(
            "order.created".into(),
            json!({"total": 12}),
            Some("c-1".into()),
        )
        .await
        .unwrap();
    let second = rules
        .emit("order.paid".into(), json!(null), None)
        .await
        .unwrap();
    assert_eq!(first["id"], "evt-1");
    assert_eq!(first["topic"], "order.created");
    assert_eq!(first["data"], json!({"total": 12}));
    assert_eq!(first["correlationId"], "c-1");
    assert!(first["timestamp"].as_u64().unwrap() >= before);
    assert_eq!(second["id"], "evt-2");
    assert!(second.get("correlationId").is_none(), "{second}");
    assert_eq!(rules.recent_events(), [first, second]);
}

#[tokio::test]
async fn emit_reaches_only_matching_subscribers() {
    let rules = engine(|o| o);
    let mut orders = rules.subscribe("order.*".into()).await.unwrap();
    let mut created = rules.subscribe("*.created".into()).await.unwrap();
    let mut everything = rules.subscribe("*".into()).await.unwrap();
    let mut users = rules.subscribe("user.created".into()).await.unwrap();

    let order = rules
        .emit("order.created".into(), json!(1), None)
        .await
        .unwrap();
    let nested = rules
        .emit("order.line.added".into(), json!(2), None)
        .await
        .unwrap();

    let received = orders.try_recv().unwrap();
    assert_eq!(received.topic, "order.created");
    assert_eq!(received.event, order);
    assert!(orders.try_recv().is_err(), "`order.*` is one segment more");
    assert_eq!(created.try_recv().unwrap().event, order);
    assert!(created.try_recv().is_err());
    assert_eq!(everything.try_recv().unwrap().event, order);
    assert_eq!(everything.try_recv().unwrap().event, nested);
    assert!(users.try_recv().is_err());
}

/// Paused time: if `emit` waited for room in a full channel, the runtime would idle,
/// the clock would jump and the timeout would fail the test.
#[tokio::test(start_paused = true)]
async fn slow_subscriber_loses_events_but_emit_never_waits() {
    let rules = engine(|o| o.subscriber_capacity(2));
    let mut slow = rules.subscribe("tick".into()).await.unwrap();
    let mut fast = rules.subscribe("tick".into()).await.unwrap();
    for n in 1..=5 {
        tokio::time::timeout(
            Duration::from_secs(60),
            rules.emit("tick".into(), json!(n), None),
        )
        .await
        .expect("emit does not wait for a full subscriber")
        .unwrap();
        assert_eq!(fast.recv().await.unwrap().event["data"], n);
    }
    // The slow one holds the first two; the other three were dropped for it alone.
    assert_eq!(slow.recv().await.unwrap().event["id"], "evt-1");
    assert_eq!(slow.recv().await.unwrap().event["id"], "evt-2");
    assert!(slow.try_recv().is_err());
    assert_eq!(stats(&rules).await["droppedEvents"], 3);
    // Once it has room again, it receives what comes next.
    rules.emit("tick".into(), json!(6), None).await.unwrap();
    assert_eq!(slow.recv().await.unwrap().event["id"], "evt-6");
}

#[tokio::test]
async fn dropped_receiver_ends_its_subscription() {
    let rules = engine(|o| o.max_subscriptions(1));
    let kept = rules.subscribe("a".into()).await.unwrap();
    assert_eq!(stats(&rules).await["subscriptions"], 1);
    drop(kept);
    assert_eq!(stats(&rules).await["subscriptions"], 0);
    // Its place is free again, without an emit having found it closed.
    let _again = rules.subscribe("a".into()).await.unwrap();
    let message = invalid(rules.subscribe("b".into()).await);
    assert!(message.contains("maximum of 1 subscriptions"), "{message}");
}

#[tokio::test]
async fn fact_limit_is_a_validation_error() {
    let rules = engine(|o| o.max_facts(2));
    rules.set_fact("a".into(), json!(1)).await.unwrap();
    rules.set_fact("b".into(), json!(1)).await.unwrap();
    let message = invalid(rules.set_fact("c".into(), json!(1)).await);
    assert!(message.contains("maximum of 2 facts"), "{message}");
    assert_eq!(rules.get_fact("c".into()).await.unwrap(), None);
    // Replacing a fact adds none; deleting one makes room.
    rules.set_fact("b".into(), json!(2)).await.unwrap();
    rules.delete_fact("a".into()).await.unwrap();
    rules.set_fact("c".into(), json!(1)).await.unwrap();
}

#[tokio::test]
async fn fact_bytes_are_bounded_per_value_and_in_total() {
    // `"xxxx"` is 6 bytes of JSON; a fact `k1` of it takes 8.
    let rules = engine(|o| o.max_value_bytes(6).max_fact_bytes(16));
    let message = invalid(rules.set_fact("k0".into(), json!("xxxxx")).await);
    assert!(message.contains("larger than 6 bytes"), "{message}");
    rules.set_fact("k1".into(), json!("xxxx")).await.unwrap();
    rules.set_fact("k2".into(), json!("xxxx")).await.unwrap();
    let message = invalid(rules.set_fact("k3".into(), json!("x")).await);
    assert!(message.contains("16 bytes"), "{message}");
    // A smaller value in place of a larger one frees bytes; so does a deletion.
    rules.set_fact("k2".into(), json!(1)).await.unwrap();
    rules.set_fact("k3".into(), json!(1)).await.unwrap();
    invalid(rules.set_fact("k4".into(), json!(1)).await);
    rules.delete_fact("k1".into()).await.unwrap();
    rules.set_fact("k4".into(), json!(1)).await.unwrap();
}

#[tokio::test]
async fn keys_topics_and_patterns_are_bounded_and_not_empty() {
    let rules = engine(|o| o);
    let longest = "k".repeat(1024);
    rules.set_fact(longest, json!(1)).await.unwrap();
    let too_long = "k".repeat(1025);
    let message = invalid(rules.set_fact(too_long.clone(), json!(1)).await);
    assert!(message.contains("1025 bytes"), "{message}");
    invalid(rules.get_fact(too_long.clone()).await);
    invalid(rules.query_facts(too_long.clone()).await);
    invalid(rules.emit(too_long.clone(), json!(1), None).await);
    invalid(
        rules
            .emit("t".into(), json!(1), Some(too_long.clone()))
            .await,
    );
    invalid(rules.subscribe(too_long).await);
    invalid(rules.set_fact(String::new(), json!(1)).await);
    invalid(rules.emit(String::new(), json!(1), None).await);
    invalid(rules.subscribe(String::new()).await);
    invalid(rules.query_facts(String::new()).await);
    let message = invalid(rules.set_fact("user:*".into(), json!(1)).await);
    assert!(message.contains("wildcard"), "{message}");
    assert_eq!(
        stats(&rules).await,
        json!({"facts": 1, "events": 0, "subscriptions": 0, "droppedEvents": 0})
    );
}

#[tokio::test]
async fn event_data_is_bounded() {
    let rules = engine(|o| o.max_event_bytes(8));
    let mut all = rules.subscribe("*".into()).await.unwrap();
    let message = invalid(rules.emit("t".into(), json!("xxxxxxx"), None).await);
    assert!(message.contains("8 bytes"), "{message}");
    assert!(all.try_recv().is_err(), "a refused event reaches no one");
    rules.emit("t".into(), json!("xxxxxx"), None).await.unwrap();
    assert_eq!(stats(&rules).await["events"], 1);
}

#[tokio::test]
async fn recent_events_keep_the_last_ones_within_count_and_bytes() {
    let rules = engine(|o| o.recent_events(3, 1024 * 1024));
    for n in 1..=5 {
        rules.emit("t".into(), json!(n), None).await.unwrap();
    }
    assert_eq!(ids(&rules.recent_events()), ["evt-3", "evt-4", "evt-5"]);

    let one = rules.recent_events()[0].clone();
    let bytes = serde_json::to_vec(&one).unwrap().len();
    // Room for two such events, not three.
    let rules = engine(|o| o.recent_events(100, bytes * 3 - 1));
    for n in 1..=5 {
        rules.emit("t".into(), json!(n), None).await.unwrap();
    }
    assert_eq!(ids(&rules.recent_events()), ["evt-4", "evt-5"]);
}

#[tokio::test]
async fn stats_are_camel_case_figures() {
    let rules = engine(|o| o);
    rules.set_fact("a".into(), json!(1)).await.unwrap();
    let _sub = rules.subscribe("x.*".into()).await.unwrap();
    rules.emit("y".into(), json!(1), None).await.unwrap();
    rules.emit("y".into(), json!(1), None).await.unwrap();
    assert_eq!(
        stats(&rules).await,
        json!({"facts": 1, "events": 2, "subscriptions": 1, "droppedEvents": 0})
    );
}

/// What `noex ps` shows for the process registered as `name`.
fn described(name: &str) -> Option<String> {
    noex::observer::snapshot()
        .servers
        .into_iter()
        .find(|server| server.name.as_deref() == Some(name))
        .and_then(|server| server.state)
}

#[tokio::test]
async fn engine_process_shows_its_figures() {
    agent_off();
    let name = unique_name();
    let rules = BuiltinRules::start(&name).await.unwrap();
    assert_eq!(
        described(&name).as_deref(),
        Some("rules: 0 facts, 0 events, 0 subscribers")
    );
    rules.set_fact("a".into(), json!(1)).await.unwrap();
    rules.set_fact("b".into(), json!(1)).await.unwrap();
    let _sub = rules.subscribe("t".into()).await.unwrap();
    rules.emit("t".into(), json!(1), None).await.unwrap();
    assert_eq!(
        described(&name).as_deref(),
        Some("rules: 2 facts, 1 event, 1 subscriber")
    );
}

#[tokio::test]
async fn engine_process_shows_dropped_events_and_its_state() {
    agent_off();
    let name = unique_name();
    let rules = BuiltinRules::start_with(RulesOptions::new(&name).subscriber_capacity(1))
        .await
        .unwrap();
    let _slow = rules.subscribe("order.*".into()).await.unwrap();
    for _ in 0..3 {
        rules
            .emit("order.created".into(), json!(1), None)
            .await
            .unwrap();
    }
    assert_eq!(
        described(&name).as_deref(),
        Some("rules: 0 facts, 3 events, 1 subscriber, 2 events dropped")
    );
    let pid = noex::registry::whereis(&name).expect("the engine's process is registered");
    let state = noex::sys::get_status(pid, Duration::from_secs(5))
        .await
        .unwrap();
    assert!(state.contains(&format!("rules {name}")), "{state}");
    assert!(state.contains("3 emitted, 2 dropped"), "{state}");
    assert!(state.contains("\n  order.*"), "{state}");
}

/// Paused time: were the process left running, the runtime would idle, the clock
/// would jump and the timeout would fail the test.
#[tokio::test(start_paused = true)]
async fn the_last_handle_ends_the_engines_own_process() {
    agent_off();
    let name = unique_name();
    let rules = BuiltinRules::start(&name).await.unwrap();
    let pid = noex::registry::whereis(&name).expect("registered");
    let clone = rules.clone();
    drop(rules);
    assert!(
        noex::process::is_alive(pid),
        "a clone still holds the engine"
    );
    let ended = noex::process::monitor(pid);
    drop(clone);
    tokio::time::timeout(Duration::from_secs(60), ended)
        .await
        .expect("the process ends with the last handle");
    assert!(!noex::process::is_alive(pid));
}

#[tokio::test]
async fn a_supervised_engine_keeps_its_data_across_a_restart() {
    agent_off();
    let name = unique_name();
    let rules = BuiltinRules::new(RulesOptions::new(&name));
    let supervisor = supervisor::start(SupervisorSpec::one_for_one().child(rules.child_spec()))
        .await
        .unwrap();
    rules.set_fact("a".into(), json!(1)).await.unwrap();
    let first = noex::registry::whereis(&name).expect("the child is registered");
    supervisor.terminate_child(name.as_str()).await.unwrap();
    let second = supervisor.restart_child(&name).await.unwrap();
    assert_ne!(first, second);
    assert_eq!(
        described(&name).as_deref(),
        Some("rules: 1 fact, 0 events, 0 subscribers")
    );
    supervisor.stop().await.unwrap();
}

#[tokio::test]
async fn a_rule_sets_facts_before_emit_returns() {
    let rules = engine(|o| o);
    rules.on("order.*", |event, facts| {
        let key = format!("customer:{}:orders", event["data"]["customer"]);
        let count = facts.get(&key).and_then(|n| n.as_u64()).unwrap_or(0);
        facts.set(&key, json!(count + 1)).unwrap();
    });
    let order = || json!({"customer": 7});
    rules
        .emit("order.created".into(), order(), None)
        .await
        .unwrap();
    rules
        .emit("order.paid".into(), order(), None)
        .await
        .unwrap();
    rules
        .emit("user.created".into(), order(), None)
        .await
        .unwrap();
    rules
        .emit("order.line.added".into(), order(), None)
        .await
        .unwrap();
    assert_eq!(
        rules.get_fact("customer:7:orders".into()).await.unwrap(),
        Some(json!(2))
    );
}

#[tokio::test]
async fn a_panicking_rule_fails_neither_the_emit_nor_the_other_rules() {
    let rules = engine(|o| o);
    let mut all = rules.subscribe("*".into()).await.unwrap();
    rules.on("t", |_, _| panic!("a broken rule"));
    rules.on("t", |_, facts| facts.set("seen", json!(true)).unwrap());
    let event = rules.emit("t".into(), json!(1), None).await.unwrap();
    assert_eq!(all.try_recv().unwrap().event, event);
    assert_eq!(
        rules.get_fact("seen".into()).await.unwrap(),
        Some(json!(true))
    );
}

#[tokio::test]
async fn a_rule_is_bounded_as_a_client_is() {
    let rules = engine(|o| o.max_facts(1));
    let refused = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = refused.clone();
    rules.on("t", move |_, facts| {
        for key in ["a", "b", "c:*"] {
            if let Err(error) = facts.set(key, json!(1)) {
                seen.lock().unwrap().push(error);
            }
        }
    });
    rules.emit("t".into(), json!(1), None).await.unwrap();
    let refused = std::mem::take(&mut *refused.lock().unwrap());
    assert_eq!(refused.len(), 2, "{refused:?}");
    assert!(
        refused
            .iter()
            .all(|error| matches!(error, RulesError::Invalid(_)))
    );
    assert_eq!(keys(&rules.all_facts().await.unwrap()), ["a"]);
}

#[tokio::test]
async fn a_subscribers_channel_is_bounded_in_bytes_too() {
    let probe = engine(|o| o);
    let bytes = serde_json::to_vec(&probe.emit("t".into(), json!("x"), None).await.unwrap())
        .unwrap()
        .len();
    // Room for two such events by bytes, many more by count.
    let rules = engine(|o| o.subscriber_capacity(100).subscriber_bytes(bytes * 3 - 1));
    let mut slow = rules.subscribe("t".into()).await.unwrap();
    for _ in 0..4 {
        rules.emit("t".into(), json!("x"), None).await.unwrap();
    }
    assert_eq!(stats(&rules).await["droppedEvents"], 2);
    assert_eq!(slow.try_recv().unwrap().event["id"], "evt-1");
    // One received frees its bytes for the next.
    rules.emit("t".into(), json!("x"), None).await.unwrap();
    assert_eq!(slow.try_recv().unwrap().event["id"], "evt-2");
    assert_eq!(slow.try_recv().unwrap().event["id"], "evt-5");
    assert!(slow.try_recv().is_err());
    assert_eq!(stats(&rules).await["droppedEvents"], 2);

    // An empty channel takes an event larger than the budget.
    let rules = engine(|o| o.subscriber_bytes(1));
    let mut idle = rules.subscribe("t".into()).await.unwrap();
    rules.emit("t".into(), json!("x"), None).await.unwrap();
    rules.emit("t".into(), json!("x"), None).await.unwrap();
    assert_eq!(idle.try_recv().unwrap().event["id"], "evt-1");
    assert!(idle.try_recv().is_err());
    assert_eq!(stats(&rules).await["droppedEvents"], 1);
}
