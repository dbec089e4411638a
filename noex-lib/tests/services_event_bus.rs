//! The EventBus contract, one rule per test.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use noex::event_bus::{AnyMessage, Delivered, EventBus, EventBusOptions};
use noex::gen_server::{self, StartOptions};
use noex::{CallError, ExitReason};

mod support;
use support::{Idle, within};

type Log<T> = Arc<Mutex<Vec<T>>>;

fn log<T>() -> Log<T> {
    Arc::new(Mutex::new(Vec::new()))
}

fn take<T>(log: &Log<T>) -> Vec<T> {
    std::mem::take(&mut *log.lock().unwrap())
}

async fn bus<M: Send + Sync + 'static>() -> EventBus<M> {
    EventBus::start(EventBusOptions::new()).await.unwrap()
}

#[tokio::test]
async fn wildcard_patterns_match_one_segment_and_star_matches_every_topic() {
    let bus = bus::<u32>().await;
    let patterns = ["user.created", "user.*", "*.created", "user.*.b", "*"];
    let seen: Log<(String, String)> = log();
    let mut subscriptions = Vec::new();
    for pattern in patterns {
        let seen = seen.clone();
        subscriptions.push(
            bus.subscribe(pattern, move |_: &u32, topic: &str| {
                seen.lock()
                    .unwrap()
                    .push((pattern.to_string(), topic.to_string()));
            })
            .await
            .unwrap(),
        );
    }
    // topic -> the patterns that must receive it (every other must not).
    let table: [(&str, &[&str]); 8] = [
        (
            "user.created",
            &["user.created", "user.*", "*.created", "*"],
        ),
        ("user.deleted", &["user.*", "*"]),
        ("user.a.b", &["user.*.b", "*"]),
        ("user.a.c", &["*"]),
        ("user", &["*"]),
        ("order.created", &["*.created", "*"]),
        ("created", &["*"]),
        ("user.created.x", &["*"]),
    ];
    for (topic, expected) in table {
        let delivered = bus.publish_sync(topic, 0).await.unwrap();
        let got: BTreeSet<String> = take(&seen).into_iter().map(|(p, _)| p).collect();
        let expected: BTreeSet<String> = expected.iter().map(|p| p.to_string()).collect();
        assert_eq!(got, expected, "topic {topic:?}");
        assert_eq!(delivered.handlers, expected.len(), "topic {topic:?}");
    }
}

/// On tokio's paused clock, the slow handler's sleep ends only while the test
/// waits: had `publish_sync` returned before it, its messages would be missing.
#[tokio::test(start_paused = true)]
async fn publish_sync_returns_after_every_handler_and_after_earlier_publishes() {
    let bus = bus::<u32>().await;
    let seen: Log<(&'static str, u32)> = log();
    let (fast, slow) = (seen.clone(), seen.clone());
    let _fast = bus
        .subscribe("n", move |n: &u32, _: &str| {
            fast.lock().unwrap().push(("fast", *n))
        })
        .await
        .unwrap();
    let _slow = bus
        .subscribe_async("n", move |event| {
            let slow = slow.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(5)).await;
                slow.lock().unwrap().push(("slow", *event.message()));
            }
        })
        .await
        .unwrap();

    for n in 0..9 {
        bus.publish("n", n).unwrap();
    }
    let delivered = bus.publish_sync("n", 9).await.unwrap();

    assert_eq!(
        delivered,
        Delivered {
            handlers: 2,
            panicked: 0
        }
    );
    let seen = take(&seen);
    for who in ["fast", "slow"] {
        let order: Vec<u32> = seen
            .iter()
            .filter(|(w, _)| *w == who)
            .map(|(_, n)| *n)
            .collect();
        assert_eq!(
            order,
            (0..10).collect::<Vec<_>>(),
            "{who} saw every message, in order"
        );
    }
}

#[tokio::test]
async fn a_slow_handler_does_not_stall_the_bus_or_other_subscriptions() {
    let bus = bus::<u32>().await;
    let (release, wait) = tokio::sync::watch::channel(false);
    let _stuck = bus
        .subscribe_async("slow.*", move |_| {
            let mut wait = wait.clone();
            async move {
                let _ = wait.wait_for(|released| *released).await;
            }
        })
        .await
        .unwrap();
    let seen: Log<u32> = log();
    let fast = seen.clone();
    let _fast = bus
        .subscribe("fast", move |n: &u32, _: &str| {
            fast.lock().unwrap().push(*n)
        })
        .await
        .unwrap();

    bus.publish("slow.1", 1).unwrap();
    let delivered = bus.publish_sync("fast", 2).await.unwrap();

    assert_eq!(delivered.handlers, 1);
    assert_eq!(take(&seen), vec![2]);
    assert_eq!(bus.subscription_count().await.unwrap(), 2);
    release.send(true).unwrap();
}

#[tokio::test]
async fn a_panicking_handler_is_isolated_from_the_bus_and_other_subscribers() {
    let bus = bus::<u32>().await;
    let seen: Log<(&'static str, u32)> = log();
    let (before, after, flaky) = (seen.clone(), seen.clone(), seen.clone());
    let _before = bus
        .subscribe("n", move |n: &u32, _: &str| {
            before.lock().unwrap().push(("before", *n))
        })
        .await
        .unwrap();
    let _flaky = bus
        .subscribe("n", move |n: &u32, _: &str| {
            if *n == 1 {
                panic!("handler fails on 1");
            }
            flaky.lock().unwrap().push(("flaky", *n));
        })
        .await
        .unwrap();
    let _async_flaky = bus
        .subscribe_async("n", |event| async move {
            if *event.message() == 1 {
                panic!("async handler fails on 1");
            }
        })
        .await
        .unwrap();
    let _after = bus
        .subscribe("n", move |n: &u32, _: &str| {
            after.lock().unwrap().push(("after", *n))
        })
        .await
        .unwrap();

    let first = bus.publish_sync("n", 1).await.unwrap();
    let second = bus.publish_sync("n", 2).await.unwrap();

    assert_eq!(
        first,
        Delivered {
            handlers: 4,
            panicked: 2
        }
    );
    assert_eq!(
        second,
        Delivered {
            handlers: 4,
            panicked: 0
        }
    );
    let mut seen = take(&seen);
    seen.sort();
    assert_eq!(
        seen,
        vec![
            ("after", 1),
            ("after", 2),
            ("before", 1),
            ("before", 2),
            ("flaky", 2)
        ],
        "the flaky subscription goes on after its panic"
    );
    assert!(bus.is_running());
}

/// The handle is only the way to cancel: `unsubscribe` ends a subscription, and a
/// dropped handle (`drop`, or `let _ =` as rustc suggests for an unused one)
/// leaves it running.
#[tokio::test]
async fn unsubscribe_stops_delivery_and_dropping_the_handle_keeps_the_subscription() {
    let bus = bus::<u32>().await;
    let seen: Log<&'static str> = log();
    let (a, b, c) = (seen.clone(), seen.clone(), seen.clone());
    let explicit = bus
        .subscribe("t", move |_: &u32, _: &str| {
            a.lock().unwrap().push("explicit")
        })
        .await
        .unwrap();
    let dropped = bus
        .subscribe("t", move |_: &u32, _: &str| {
            b.lock().unwrap().push("dropped")
        })
        .await
        .unwrap();
    let _ = bus
        .subscribe("t", move |_: &u32, _: &str| {
            c.lock().unwrap().push("ignored")
        })
        .await
        .unwrap();
    assert_eq!(bus.subscription_count().await.unwrap(), 3);

    assert!(explicit.unsubscribe().await.unwrap());
    drop(dropped);
    let delivered = bus.publish_sync("t", 0).await.unwrap();

    assert_eq!(delivered.handlers, 2);
    let mut seen = take(&seen);
    seen.sort();
    assert_eq!(seen, vec!["dropped", "ignored"]);
    assert_eq!(bus.subscription_count().await.unwrap(), 2);
}

/// OTP's `pg` and Elixir's `Registry` drop a process's entries when it exits,
/// whatever the reason: so does a bus with the subscriptions tied to a process.
/// Its exit reaches the bus before `stop` returns (monitors hear before waiters),
/// so the next call finds them gone. The others stay.
#[tokio::test]
async fn subscriptions_tied_to_a_process_end_when_it_exits_as_pg_drops_its_members() {
    let bus = bus::<u32>().await;
    let owner = gen_server::start(Idle, StartOptions::new()).await.unwrap();
    let seen: Log<&'static str> = log();
    let (a, b, c) = (seen.clone(), seen.clone(), seen.clone());
    let owned = bus
        .subscribe("t", move |_: &u32, _: &str| a.lock().unwrap().push("owned"))
        .await
        .unwrap();
    let also_owned = bus
        .subscribe("*", move |_: &u32, _: &str| {
            b.lock().unwrap().push("also owned")
        })
        .await
        .unwrap();
    let _free = bus
        .subscribe("t", move |_: &u32, _: &str| c.lock().unwrap().push("free"))
        .await
        .unwrap();
    assert!(owned.unsubscribe_on_exit(owner.pid()).await.unwrap());
    assert!(also_owned.unsubscribe_on_exit(owner.pid()).await.unwrap());
    assert_eq!(bus.publish_sync("t", 0).await.unwrap().handlers, 3);
    take(&seen);

    owner.kill();
    within("the owner's exit", owner.wait()).await;

    assert_eq!(bus.subscription_count().await.unwrap(), 1);
    assert_eq!(bus.publish_sync("t", 1).await.unwrap().handlers, 1);
    assert_eq!(take(&seen), vec!["free"]);
    assert!(
        !owned.unsubscribe().await.unwrap(),
        "already gone with its owner"
    );
}

/// As a monitor of a process that is not alive reports `noproc` at once, a
/// subscription tied to an owner that has ended is dropped at once; one cancelled
/// first gets no owner, and one untied by `unsubscribe` outlives nothing.
#[tokio::test]
async fn a_subscription_tied_to_an_ended_process_ends_at_once() {
    let bus = bus::<u32>().await;
    let gone = gen_server::start(Idle, StartOptions::new()).await.unwrap();
    gone.stop(ExitReason::Normal).await.unwrap();
    let orphan = bus.subscribe("t", |_: &u32, _: &str| {}).await.unwrap();

    assert!(orphan.unsubscribe_on_exit(gone.pid()).await.unwrap());

    assert_eq!(bus.subscription_count().await.unwrap(), 0);
    assert!(!orphan.unsubscribe_on_exit(gone.pid()).await.unwrap());

    // Tied, then cancelled: the owner's later exit touches nothing else.
    let owner = gen_server::start(Idle, StartOptions::new()).await.unwrap();
    let tied = bus.subscribe("t", |_: &u32, _: &str| {}).await.unwrap();
    let _kept = bus.subscribe("t", |_: &u32, _: &str| {}).await.unwrap();
    tied.unsubscribe_on_exit(owner.pid()).await.unwrap();
    assert!(tied.unsubscribe().await.unwrap());
    owner.stop(ExitReason::Normal).await.unwrap();
    assert_eq!(bus.subscription_count().await.unwrap(), 1);
}

#[tokio::test]
async fn an_untyped_bus_delivers_each_type_to_its_subscribers() {
    let bus: EventBus<AnyMessage> = bus().await;
    let seen: Log<String> = log();
    let (numbers, texts) = (seen.clone(), seen.clone());
    let _numbers = bus
        .subscribe_to::<u32, _>("*", move |n, topic| {
            numbers.lock().unwrap().push(format!("{topic}: {n}"));
        })
        .await
        .unwrap();
    let _texts = bus
        .subscribe_to::<String, _>("*", move |text, topic| {
            texts.lock().unwrap().push(format!("{topic}: {text}"));
        })
        .await
        .unwrap();

    bus.publish_any("a", 7u32).unwrap();
    bus.publish_any_sync("b", "hello".to_string())
        .await
        .unwrap();

    let mut seen = take(&seen);
    seen.sort();
    assert_eq!(seen, vec!["a: 7", "b: hello"]);
}

/// On tokio's paused clock, as above: the handlers finish only while `stop` waits.
#[tokio::test(start_paused = true)]
async fn stop_lets_handlers_finish_what_was_published() {
    let bus = bus::<u32>().await;
    let seen: Log<u32> = log();
    let slow = seen.clone();
    // Kept for the life of the bus: dropping the handle does not cancel it.
    let _ = bus
        .subscribe_async("n", move |event| {
            let slow = slow.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(2)).await;
                slow.lock().unwrap().push(*event.message());
            }
        })
        .await
        .unwrap();
    for n in 0..5 {
        bus.publish("n", n).unwrap();
    }

    bus.stop().await.unwrap();

    assert_eq!(take(&seen), vec![0, 1, 2, 3, 4]);
    assert!(matches!(
        bus.publish_sync("n", 5).await,
        Err(CallError::NotRunning(_))
    ));
}
