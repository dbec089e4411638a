//! The four built-in services under one supervisor: a rate limiter guards an
//! "API", a cache spares the "database", an event bus tells an audit log what
//! happened, and a state agent counts the requests turned away. Then the cache
//! crashes and comes back empty.
//!
//! Run with `cargo run -p noex --example services` (and watch it with `noex tree`).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use noex::cache::{Cache, CacheOptions};
use noex::event_bus::{EventBus, EventBusOptions};
use noex::rate_limiter::{ConsumeError, RateLimiter, RateLimiterOptions};
use noex::state_agent::StateAgent;
use noex::supervisor::{self, SupervisorSpec};

#[derive(Debug)]
enum ApiEvent {
    Served {
        client: String,
    },
    Limited {
        client: String,
        retry_after: Duration,
    },
    /// Published with `publish_sync` to wait for the audit log to catch up.
    Checkpoint,
}

type Users = Cache<u64, Arc<String>>;
/// Requests turned away, by client.
type TurnedAway = StateAgent<BTreeMap<String, u64>>;

/// A slow lookup we would rather not repeat.
async fn load_user(id: u64, loads: &AtomicU64) -> Arc<String> {
    loads.fetch_add(1, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(20)).await;
    Arc::new(format!("user #{id}"))
}

/// One API request: rate-limited per client, the user cached, the outcome published.
async fn handle_request(client: &str, user: u64, loads: &Arc<AtomicU64>) {
    let (limits, users, events) = (
        RateLimiter::lookup("api-limits").unwrap(),
        Users::lookup("users").unwrap(),
        EventBus::<ApiEvent>::lookup("api-events").unwrap(),
    );
    let client = client.to_string();
    match limits.consume(&client).await {
        Ok(_) => {
            let loads = loads.clone();
            users
                .get_or_set(&user, || async move { load_user(user, &loads).await })
                .await
                .unwrap();
            let _ = events.publish("api.served", ApiEvent::Served { client });
        }
        Err(ConsumeError::Exceeded(limit)) => {
            let turned_away = TurnedAway::lookup("turned-away").unwrap();
            let counted = client.clone();
            let _ = turned_away.cast(move |by_client| *by_client.entry(counted).or_default() += 1);
            let retry_after = limit.retry_after;
            let _ = events.publish(
                "api.limited",
                ApiEvent::Limited {
                    client,
                    retry_after,
                },
            );
        }
        Err(other) => panic!("limiter unavailable: {other}"),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let app = supervisor::start(
        SupervisorSpec::one_for_one()
            .name("app_sup")
            // Named, so `lookup` finds each one (an unnamed child is reached through
            // its supervisor, by id).
            .child(
                EventBus::<ApiEvent>::child_spec("api-events", EventBusOptions::new())
                    .name("api-events"),
            )
            .child(
                Users::child_spec(
                    "users",
                    CacheOptions::new()
                        .max_size(1_000)
                        .default_ttl(Duration::from_secs(30)),
                )
                .name("users"),
            )
            .child(
                RateLimiter::child_spec(
                    "api-limits",
                    RateLimiterOptions::new(5, Duration::from_secs(1)),
                )
                .name("api-limits"),
            )
            .child(TurnedAway::child_spec("turned-away", BTreeMap::new).name("turned-away")),
    )
    .await?;

    // The audit log: a handler per pattern, each in its own task.
    let events = EventBus::<ApiEvent>::lookup("api-events")?;
    let served = Arc::new(Mutex::new(BTreeMap::<String, u64>::new()));
    let audit = served.clone();
    // Kept for the life of the bus: dropping a Subscription does not cancel it.
    let _ = events
        .subscribe("api.served", move |event: &ApiEvent, _: &str| {
            if let ApiEvent::Served { client } = event {
                *audit.lock().unwrap().entry(client.clone()).or_default() += 1;
            }
        })
        .await?;
    let _ = events
        .subscribe("api.*", |event: &ApiEvent, topic: &str| {
            if let ApiEvent::Limited {
                client,
                retry_after,
            } = event
            {
                println!("{topic}: {client} must wait {retry_after:?}");
            }
        })
        .await?;

    // Three clients, eight requests each, at once; all ask for the same few users.
    let loads = Arc::new(AtomicU64::new(0));
    let mut requests = Vec::new();
    for client in ["alice", "bob", "carol"] {
        for n in 0..8 {
            let loads = loads.clone();
            requests.push(tokio::spawn(async move {
                handle_request(client, n % 3, &loads).await;
            }));
        }
    }
    for request in requests {
        request.await?;
    }
    // publish_sync returns once the audit handlers have seen everything before it.
    events
        .publish_sync("api.checkpoint", ApiEvent::Checkpoint)
        .await?;

    let turned_away = TurnedAway::lookup("turned-away")?;
    println!("turned away: {:?}", turned_away.get(BTreeMap::clone).await?);

    let users = Users::lookup("users")?;
    let stats = users.stats().await?;
    println!(
        "served {:?}; the database was asked {} times; cache hit rate {:.0}%",
        served.lock().unwrap(),
        loads.load(Ordering::Relaxed),
        stats.hit_rate * 100.0
    );

    // A crash: the supervisor restarts the cache, empty; look it up again.
    users.server_ref().kill();
    let users = loop {
        tokio::time::sleep(Duration::from_millis(10)).await;
        if let Ok(fresh) = Users::lookup("users")
            && fresh.pid() != users.pid()
        {
            break fresh;
        }
    };
    println!(
        "cache restarted as {}: {} entries",
        users.pid(),
        users.stats().await?.size
    );

    app.stop().await?;
    Ok(())
}
