//! The built-in services under a supervisor: each is found by name, restarts with
//! fresh state after a crash, and stops cleanly with its supervisor.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use noex::cache::{Cache, CacheOptions};
use noex::error::BoxError;
use noex::event_bus::{EventBus, EventBusOptions};
use noex::gen_server::{Context, GenServer, Reply};
use noex::rate_limiter::{ConsumeError, RateLimiter, RateLimiterOptions};
use noex::registry::{self, LookupError};
use noex::supervisor::{self, ChildSpec, SupervisorSpec};
use noex::{CallError, ExitReason, NotRegisteredError, Pid, ServerNotRunningError, SupervisorRef};

mod support;
use support::{eventually, within};

async fn app(prefix: &str) -> SupervisorRef {
    supervisor::start(
        SupervisorSpec::one_for_one()
            // Named either way: on the spec, as any child, or in the options.
            .child(
                EventBus::<String>::child_spec(format!("{prefix}.bus"), EventBusOptions::new())
                    .name(format!("{prefix}.bus")),
            )
            .child(Cache::<String, u32>::child_spec(
                "cache",
                CacheOptions::new().name(format!("{prefix}.cache")),
            ))
            .child(
                RateLimiter::child_spec(
                    format!("{prefix}.limiter"),
                    RateLimiterOptions::new(1, Duration::from_secs(60)),
                )
                .name(format!("{prefix}.limiter")),
            ),
    )
    .await
    .unwrap()
}

/// Wait until the supervisor runs a new instance of child `id` (not `old`).
async fn restarted(sup: &SupervisorRef, id: &str, old: Pid) -> Pid {
    eventually(&format!("{id} is restarted"), || async {
        sup.child_info(id)
            .await
            .unwrap()
            .and_then(|child| child.pid)
            .filter(|pid| *pid != old)
    })
    .await
}

/// Wait until the cache has counted `lookups` lookups (hits and misses).
async fn wait_for_lookups(cache: &Cache<String, u32>, lookups: u64) {
    eventually(&format!("{lookups} lookups reach the cache"), || async {
        let stats = cache.stats().await.unwrap();
        (stats.hits + stats.misses >= lookups).then_some(())
    })
    .await
}

#[tokio::test]
async fn each_service_is_found_by_the_name_its_spec_or_options_give() {
    let sup = app("found").await;
    let bus = EventBus::<String>::lookup("found.bus").unwrap();
    let cache = Cache::<String, u32>::lookup("found.cache").unwrap();
    let limiter = RateLimiter::lookup("found.limiter").unwrap();

    let pids: Vec<Option<Pid>> = sup
        .children()
        .await
        .unwrap()
        .iter()
        .map(|c| c.pid)
        .collect();
    assert_eq!(
        pids,
        vec![Some(bus.pid()), Some(cache.pid()), Some(limiter.pid())]
    );
    // A lookup with other types is refused, in the words the caller knows: the
    // handles' types, not the processes behind them.
    assert_eq!(
        Cache::<String, String>::lookup("found.cache").unwrap_err(),
        LookupError::WrongType {
            name: "found.cache".into(),
            pid: cache.pid(),
            registered: "Cache<String, u32>".into(),
            expected: "Cache<String, String>".into(),
        }
    );
    assert_eq!(
        Cache::<String, String>::lookup("found.cache")
            .unwrap_err()
            .to_string(),
        format!(
            "\"found.cache\" is registered to {}, a Cache<String, u32>, not a Cache<String, String>",
            cache.pid()
        )
    );
    assert_eq!(
        EventBus::<u32>::lookup("found.bus")
            .unwrap_err()
            .to_string(),
        format!(
            "\"found.bus\" is registered to {}, an EventBus<String>, not an EventBus<u32>",
            bus.pid()
        )
    );
    assert_eq!(
        Cache::<String, u32>::lookup("found.limiter")
            .unwrap_err()
            .to_string(),
        format!(
            "\"found.limiter\" is registered to {}, a RateLimiter, not a Cache<String, u32>",
            limiter.pid()
        )
    );
    sup.stop().await.unwrap();
}

#[tokio::test]
async fn the_event_bus_restarts_without_its_subscriptions_after_a_crash() {
    let sup = app("bus").await;
    let bus = EventBus::<String>::lookup("bus.bus").unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let _ = bus
        .subscribe("*", move |text: &String, _: &str| {
            log.lock().unwrap().push(text.clone())
        })
        .await
        .unwrap();
    assert_eq!(
        bus.publish_sync("a", "before".into())
            .await
            .unwrap()
            .handlers,
        1
    );

    bus.server_ref().kill();
    restarted(&sup, "bus.bus", bus.pid()).await;

    let fresh = EventBus::<String>::lookup("bus.bus").unwrap();
    assert_ne!(fresh.pid(), bus.pid());
    assert_eq!(fresh.subscription_count().await.unwrap(), 0);
    assert_eq!(
        fresh
            .publish_sync("a", "after".into())
            .await
            .unwrap()
            .handlers,
        0
    );
    assert_eq!(*seen.lock().unwrap(), vec!["before".to_string()]);
    assert_eq!(
        bus.publish("a", "to the old one".into()),
        Err(ServerNotRunningError { pid: bus.pid() })
    );
    sup.stop().await.unwrap();
}

#[tokio::test]
async fn the_cache_restarts_empty_after_a_crash() {
    let sup = app("cache").await;
    let cache = Cache::<String, u32>::lookup("cache.cache").unwrap();
    cache.set("k".into(), 1).await.unwrap();
    assert_eq!(cache.get("k").await.unwrap(), Some(1));

    cache.server_ref().kill();
    restarted(&sup, "cache", cache.pid()).await;

    let fresh = Cache::<String, u32>::lookup("cache.cache").unwrap();
    assert_eq!(fresh.get("k").await.unwrap(), None);
    let stats = fresh.stats().await.unwrap();
    assert_eq!((stats.size, stats.hits, stats.misses), (0, 0, 1));
    sup.stop().await.unwrap();
}

#[tokio::test]
async fn the_rate_limiter_restarts_with_every_key_unused_after_a_crash() {
    let sup = app("limiter").await;
    let limiter = RateLimiter::lookup("limiter.limiter").unwrap();
    limiter.consume("k").await.unwrap();
    assert!(matches!(
        limiter.consume("k").await,
        Err(ConsumeError::Exceeded(_))
    ));

    limiter.server_ref().kill();
    restarted(&sup, "limiter.limiter", limiter.pid()).await;

    let fresh = RateLimiter::lookup("limiter.limiter").unwrap();
    assert_eq!(fresh.check("k").await.unwrap().remaining, 1);
    fresh.consume("k").await.unwrap();
    sup.stop().await.unwrap();
}

#[tokio::test]
async fn a_crash_of_the_cache_fails_its_waiting_callers_instead_of_hanging() {
    let sup = app("waiters").await;
    let cache = Cache::<String, u32>::lookup("waiters.cache").unwrap();
    let (_hold, gate) = tokio::sync::watch::channel(false);
    let computing = {
        let (cache, mut gate) = (cache.clone(), gate.clone());
        tokio::spawn(async move {
            cache
                .get_or_set("k", || async move {
                    let _ = gate.wait_for(|open| *open).await;
                    1
                })
                .await
        })
    };
    wait_for_lookups(&cache, 1).await;
    let waiter = {
        let cache = cache.clone();
        tokio::spawn(async move { cache.get_or_set("k", || async { 2 }).await })
    };
    wait_for_lookups(&cache, 2).await;

    cache.server_ref().kill();

    assert_eq!(
        within("the waiting caller's answer", waiter).await.unwrap(),
        Err(CallError::Exited {
            pid: cache.pid(),
            reason: ExitReason::Killed
        }),
        "the waiting caller is told why, at once"
    );
    restarted(&sup, "cache", cache.pid()).await;
    computing.abort();
    sup.stop().await.unwrap();
}

#[tokio::test]
async fn the_services_stop_cleanly_with_their_supervisor() {
    let sup = app("stop").await;
    let bus = EventBus::<String>::lookup("stop.bus").unwrap();
    let cache = Cache::<String, u32>::lookup("stop.cache").unwrap();
    let limiter = RateLimiter::lookup("stop.limiter").unwrap();

    sup.stop().await.unwrap();

    for reason in [
        bus.server_ref().wait().await,
        cache.server_ref().wait().await,
        limiter.server_ref().wait().await,
    ] {
        assert_eq!(reason, ExitReason::Shutdown);
    }
    assert_eq!(
        EventBus::<String>::lookup("stop.bus").map(|bus| bus.pid()),
        Err(LookupError::NotRegistered(NotRegisteredError {
            name: "stop.bus".into()
        })),
        "names are released"
    );
}

/// Subscribes in `init`, tied to itself: what a supervised subscriber does.
struct Listener {
    bus: EventBus<String>,
}

impl GenServer for Listener {
    type Call = ();
    type Cast = ();
    type Reply = ();

    async fn init(&mut self, ctx: &mut Context<Self>) -> Result<(), BoxError> {
        let subscription = self.bus.subscribe("*", |_: &String, _: &str| {}).await?;
        subscription.unsubscribe_on_exit(ctx.pid()).await?;
        Ok(())
    }

    async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<()> {
        Reply::Now(())
    }
}

/// A subscriber restarted by its supervisor leaves no stale subscription behind:
/// the old instance's ends with it (as `pg` drops a dead member), and the new
/// instance's is the only one.
#[tokio::test]
async fn a_restarted_subscriber_leaves_no_stale_subscription_behind() {
    let bus = EventBus::<String>::start(EventBusOptions::new())
        .await
        .unwrap();
    let listener_bus = bus.clone();
    let listener = ChildSpec::worker("listener", move || Listener {
        bus: listener_bus.clone(),
    })
    .name("listener");
    let sup = supervisor::start(SupervisorSpec::one_for_one().child(listener))
        .await
        .unwrap();
    assert_eq!(bus.subscription_count().await.unwrap(), 1);

    let old = registry::lookup::<Listener>("listener").unwrap();
    old.kill();
    restarted(&sup, "listener", old.pid()).await;

    assert_eq!(bus.subscription_count().await.unwrap(), 1);
    sup.stop().await.unwrap();
    bus.stop().await.unwrap();
}

/// One naming rule for every child: a service's child id is not a registered name;
/// only a name given to it is.
#[tokio::test]
async fn a_service_child_is_registered_only_when_named() {
    let sup = supervisor::start(SupervisorSpec::one_for_one().child(
        Cache::<String, u32>::child_spec("unnamed.cache", CacheOptions::new()),
    ))
    .await
    .unwrap();
    let child = sup.child_info("unnamed.cache").await.unwrap().unwrap();
    assert!(child.pid.is_some(), "it runs");
    assert_eq!(registry::whereis("unnamed.cache"), None);
    assert!(matches!(
        Cache::<String, u32>::lookup("unnamed.cache"),
        Err(LookupError::NotRegistered(_))
    ));
    sup.stop().await.unwrap();
}
