//! Reactive queries: the first result at once, a new one after each change that
//! can affect it, none otherwise, and only the latest for a slow subscriber.
//!
//! Paused time: `no_push` waits virtual seconds that pass only once every task is
//! idle, so "nothing came" is decided by the system having nothing left to do,
//! not by a clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use noex_store::{BucketDef, Field, Filter, Store, StoreError, StoreOptions, Subscription};
use serde_json::{Value, json};

mod fixture;

async fn shop(name: &str) -> Store {
    fixture::agent_off();
    let store = Store::start(StoreOptions::new(name)).await.unwrap();
    store
        .define_bucket(
            "users",
            BucketDef::new("id")
                .field("id", Field::string())
                .field("role", Field::string().default(json!("user"))),
        )
        .await
        .unwrap();
    store
        .define_bucket("orders", BucketDef::new("id").field("id", Field::string()))
        .await
        .unwrap();
    store
}

async fn next(sub: &mut Subscription) -> Value {
    sub.next()
        .await
        .expect("the store is running")
        .expect("the query succeeds")
}

/// Nothing arrives: the runtime went idle and virtual time moved on.
async fn no_push(sub: &mut Subscription) {
    let waited = tokio::time::timeout(Duration::from_secs(30), sub.next()).await;
    assert!(waited.is_err(), "unexpected push: {waited:?}");
}

/// A query counting admins, and how many times it ran.
fn count_admins(store: &Store) -> Arc<AtomicUsize> {
    let runs = Arc::new(AtomicUsize::new(0));
    let counted = runs.clone();
    store
        .define_query("admins", move |ctx, _| {
            counted.fetch_add(1, Ordering::SeqCst);
            Ok(json!(
                ctx.bucket("users")?.count(&Filter::eq("role", "admin"))
            ))
        })
        .unwrap();
    runs
}

#[tokio::test(start_paused = true)]
async fn subscribe_yields_the_first_result_at_once() {
    let store = shop("rx-first").await;
    store
        .bucket("users")
        .unwrap()
        .insert(&json!({"id": "a", "role": "admin"}))
        .await
        .unwrap();
    count_admins(&store);
    let mut sub = store.subscribe("admins", json!({})).unwrap();
    assert_eq!(next(&mut sub).await, json!(1));
    no_push(&mut sub).await;
}

#[tokio::test(start_paused = true)]
async fn query_pushes_only_on_relevant_change() {
    let store = shop("rx-relevant").await;
    let users = store.bucket("users").unwrap();
    let orders = store.bucket("orders").unwrap();
    users.insert(&json!({"id": "a"})).await.unwrap();
    let runs = count_admins(&store);
    let mut sub = store.subscribe("admins", json!({})).unwrap();
    assert_eq!(next(&mut sub).await, json!(0));
    assert_eq!(runs.load(Ordering::SeqCst), 1);

    // Another bucket: the query does not even run again.
    orders.insert(&json!({"id": "o1"})).await.unwrap();
    no_push(&mut sub).await;
    assert_eq!(
        runs.load(Ordering::SeqCst),
        1,
        "a change elsewhere ran the query"
    );

    // Its bucket, but the result stays the same: it runs, and nothing is pushed.
    users.insert(&json!({"id": "b"})).await.unwrap();
    no_push(&mut sub).await;
    assert_eq!(runs.load(Ordering::SeqCst), 2);

    // A change to the result: pushed.
    users.update("b", &json!({"role": "admin"})).await.unwrap();
    assert_eq!(next(&mut sub).await, json!(1));
    no_push(&mut sub).await;
}

#[tokio::test(start_paused = true)]
async fn query_on_one_key_ignores_other_keys() {
    let store = shop("rx-key").await;
    let users = store.bucket("users").unwrap();
    users
        .insert(&json!({"id": "a", "role": "user"}))
        .await
        .unwrap();
    users
        .insert(&json!({"id": "b", "role": "user"}))
        .await
        .unwrap();
    let runs = Arc::new(AtomicUsize::new(0));
    let counted = runs.clone();
    store
        .define_query("role-of", move |ctx, params| {
            counted.fetch_add(1, Ordering::SeqCst);
            let id = params["id"].as_str().unwrap_or_default();
            Ok(ctx
                .get("users", id)?
                .and_then(|r| r.get("role").cloned())
                .unwrap_or(Value::Null))
        })
        .unwrap();
    let mut sub = store.subscribe("role-of", json!({"id": "a"})).unwrap();
    assert_eq!(next(&mut sub).await, json!("user"));
    let users_stats = |store: &Store| {
        let stats = store.stats();
        stats
            .buckets
            .into_iter()
            .find(|b| b.name == "users")
            .unwrap()
    };
    assert_eq!(
        users_stats(&store).subscribers,
        1,
        "a key read counts as reading the bucket"
    );

    users.update("b", &json!({"role": "admin"})).await.unwrap();
    no_push(&mut sub).await;
    assert_eq!(
        runs.load(Ordering::SeqCst),
        1,
        "a change to another key ran the query"
    );

    users.update("a", &json!({"role": "admin"})).await.unwrap();
    assert_eq!(next(&mut sub).await, json!("admin"));
    users.delete("a").await.unwrap();
    assert_eq!(next(&mut sub).await, Value::Null);
}

#[tokio::test(start_paused = true)]
async fn slow_subscriber_gets_the_latest_result_only() {
    let store = shop("rx-slow").await;
    let orders = store.bucket("orders").unwrap();
    store
        .define_query("order-count", |ctx, _| {
            Ok(json!(ctx.bucket("orders")?.len()))
        })
        .unwrap();
    let mut slow = store.subscribe("order-count", json!(null)).unwrap();
    let mut keen = store.subscribe("order-count", json!(null)).unwrap();
    assert_eq!(next(&mut slow).await, json!(0));
    assert_eq!(next(&mut keen).await, json!(0));
    for i in 0..100 {
        orders
            .insert(&json!({"id": format!("o{i}")}))
            .await
            .unwrap();
        // Let the queries process keep up, so every count is produced.
        assert_eq!(next(&mut keen).await, json!(i + 1));
    }
    assert_eq!(
        next(&mut slow).await,
        json!(100),
        "the latest, not the first of a queue"
    );
    no_push(&mut slow).await;
}

#[tokio::test(start_paused = true)]
async fn subscribers_of_one_query_share_its_runs() {
    let store = shop("rx-share").await;
    let runs = count_admins(&store);
    let mut subs: Vec<Subscription> = (0..1000)
        .map(|_| store.subscribe("admins", json!({})).unwrap())
        .collect();
    for sub in &mut subs {
        assert_eq!(next(sub).await, json!(0));
    }
    store
        .bucket("users")
        .unwrap()
        .insert(&json!({"id": "a", "role": "admin"}))
        .await
        .unwrap();
    for sub in &mut subs {
        assert_eq!(next(sub).await, json!(1));
    }
    assert_eq!(
        runs.load(Ordering::SeqCst),
        2,
        "one run for the first result, one per change"
    );
    assert_eq!(store.stats().subscriptions, 1000);
    assert_eq!(store.stats().buckets[1].name, "users");
    assert_eq!(store.stats().buckets[1].subscribers, 1000);
    drop(subs);
    assert_eq!(store.stats().subscriptions, 0);
    assert_eq!(store.stats().buckets[1].subscribers, 0);
}

#[tokio::test(start_paused = true)]
async fn params_make_separate_results() {
    let store = shop("rx-params").await;
    let users = store.bucket("users").unwrap();
    store
        .define_query("with-role", |ctx, params| {
            let role = params["role"].clone();
            Ok(json!(ctx.bucket("users")?.count(&Filter::eq("role", role))))
        })
        .unwrap();
    let mut admins = store
        .subscribe("with-role", json!({"role": "admin"}))
        .unwrap();
    let mut plain = store
        .subscribe("with-role", json!({"role": "user"}))
        .unwrap();
    assert_eq!(next(&mut admins).await, json!(0));
    assert_eq!(next(&mut plain).await, json!(0));
    users.insert(&json!({"id": "a"})).await.unwrap();
    assert_eq!(next(&mut plain).await, json!(1));
    no_push(&mut admins).await;
}

#[tokio::test(start_paused = true)]
async fn failing_query_is_an_error_result_not_a_crash() {
    let store = shop("rx-fail").await;
    let users = store.bucket("users").unwrap();
    store
        .define_query("picky", |ctx, _| {
            let n = ctx.bucket("users")?.len();
            if n == 1 {
                panic!("one is not enough");
            }
            if n == 2 {
                return Err(StoreError::InvalidArgument("two is too many".into()));
            }
            Ok(json!(n))
        })
        .unwrap();
    let mut sub = store.subscribe("picky", json!({})).unwrap();
    assert_eq!(next(&mut sub).await, json!(0));
    users.insert(&json!({"id": "a"})).await.unwrap();
    let error = sub.next().await.unwrap().unwrap_err();
    assert_eq!(
        error,
        StoreError::Query {
            query: "picky".into(),
            message: "one is not enough".into()
        }
    );
    users.insert(&json!({"id": "b"})).await.unwrap();
    assert_eq!(
        sub.next().await.unwrap().unwrap_err().code(),
        "VALIDATION_ERROR"
    );
    users.insert(&json!({"id": "c"})).await.unwrap();
    assert_eq!(
        next(&mut sub).await,
        json!(3),
        "the query process survived the panic"
    );
}

#[tokio::test(start_paused = true)]
async fn unknown_query_is_query_not_defined() {
    let store = shop("rx-unknown").await;
    let error = store.subscribe("nope", json!({})).err().unwrap();
    assert_eq!(error, StoreError::QueryNotDefined("nope".into()));
    assert_eq!(error.code(), "QUERY_NOT_DEFINED");
    assert_eq!(
        store.run_query("nope", &json!({})).unwrap_err().code(),
        "QUERY_NOT_DEFINED"
    );
}

#[tokio::test(start_paused = true)]
async fn a_write_in_a_transaction_pushes_once() {
    let store = shop("rx-tx").await;
    let runs = count_admins(&store);
    let mut sub = store.subscribe("admins", json!({})).unwrap();
    assert_eq!(next(&mut sub).await, json!(0));
    store
        .transaction(|tx| {
            tx.insert("users", &json!({"id": "a", "role": "admin"}))?;
            tx.insert("users", &json!({"id": "b", "role": "admin"}))?;
            Ok::<_, StoreError>(())
        })
        .await
        .unwrap();
    assert_eq!(next(&mut sub).await, json!(2), "never the half-way 1");
    no_push(&mut sub).await;
    assert_eq!(runs.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn query_sees_every_bucket_at_one_moment() {
    let store = shop("rx-moment").await;
    let users = store.bucket("users").unwrap();
    let orders = store.bucket("orders").unwrap();
    users.insert(&json!({"id": "u"})).await.unwrap();
    // A commit over both buckets lands between the query's two reads, once.
    let meddled = Arc::new(AtomicUsize::new(0));
    let meddle = meddled.clone();
    let store_in_query = store.clone();
    store
        .define_query("both", move |ctx, _| {
            let users = ctx.bucket("users")?.len();
            if meddle.fetch_add(1, Ordering::SeqCst) == 0 {
                futures::executor::block_on(store_in_query.transaction(|tx| {
                    tx.delete("users", "u")?;
                    tx.insert("orders", &json!({"id": "o"}))
                }))?;
            }
            let orders = ctx.bucket("orders")?.len();
            Ok(json!(users + orders))
        })
        .unwrap();
    let mut sub = store.subscribe("both", json!({})).unwrap();
    assert_eq!(
        next(&mut sub).await,
        json!(1),
        "a half-seen commit would make 2"
    );
    assert_eq!(users.len() + orders.len(), 1);
    no_push(&mut sub).await;
}

#[tokio::test(start_paused = true)]
async fn dropped_subscriptions_leave_nothing_behind() {
    let store = shop("rx-dropped").await;
    count_admins(&store);
    store
        .define_query("role-count", |ctx, params| {
            let role = params["role"].clone();
            Ok(json!(ctx.bucket("users")?.count(&Filter::eq("role", role))))
        })
        .unwrap();
    let shared: Vec<Subscription> = (0..10)
        .map(|_| store.subscribe("admins", json!({})).unwrap())
        .collect();
    let distinct: Vec<Subscription> = (0..100)
        .map(|i| {
            store
                .subscribe("role-count", json!({"role": format!("r{i}")}))
                .unwrap()
        })
        .collect();
    assert_eq!(store.stats().live_queries, 101);
    assert_eq!(store.stats().subscriptions, 110);
    drop(distinct);
    // Without any write since: the runs go with their last subscriber.
    assert_eq!(store.stats().live_queries, 1);
    assert_eq!(store.stats().subscriptions, 10);
    drop(shared);
    assert_eq!(store.stats().live_queries, 0);
    assert_eq!(store.stats().buckets[1].subscribers, 0);
}

#[tokio::test(start_paused = true)]
async fn subscriber_counts_follow_what_the_query_reads_now() {
    let store = shop("rx-follow").await;
    let users = store.bucket("users").unwrap();
    // Reads `orders` only once there is a user.
    store
        .define_query("orders-if-users", |ctx, _| {
            if ctx.bucket("users")?.is_empty() {
                return Ok(json!(null));
            }
            Ok(json!(ctx.bucket("orders")?.len()))
        })
        .unwrap();
    assert_eq!(store.stats().queries, 1);
    let mut sub = store.subscribe("orders-if-users", json!({})).unwrap();
    assert_eq!(next(&mut sub).await, Value::Null);
    let subscribers = |store: &Store, bucket: &str| {
        let stats = store.stats();
        stats
            .buckets
            .into_iter()
            .find(|b| b.name == bucket)
            .unwrap()
            .subscribers
    };
    assert_eq!(subscribers(&store, "orders"), 0);
    users.insert(&json!({"id": "a"})).await.unwrap();
    assert_eq!(next(&mut sub).await, json!(0));
    assert_eq!(
        subscribers(&store, "orders"),
        1,
        "the query reads orders now"
    );
}

#[tokio::test(start_paused = true)]
async fn query_under_endless_writes_gives_up_waiting_for_a_quiet_moment() {
    let store = shop("rx-endless").await;
    let runs = Arc::new(AtomicUsize::new(0));
    let counted = runs.clone();
    let store_in_query = store.clone();
    // Every run writes the bucket it read: no run ever sees it unchanged after.
    store
        .define_query("restless", move |ctx, _| {
            let n = counted.fetch_add(1, Ordering::SeqCst);
            let users = ctx.bucket("users")?.len();
            futures::executor::block_on(
                store_in_query
                    .bucket("users")?
                    .insert(&json!({"id": format!("u{n}")})),
            )?;
            Ok(json!(users))
        })
        .unwrap();
    store.run_query("restless", &json!({})).unwrap();
    assert_eq!(
        runs.load(Ordering::SeqCst),
        16,
        "it ran again, up to its bound"
    );
}

#[tokio::test(start_paused = true)]
async fn typed_next_and_latest_give_the_current_result() {
    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Count {
        admins: u64,
    }
    let store = shop("rx-typed").await;
    store
        .define_query("admin-count", |ctx, _| {
            let admins = ctx.bucket("users")?.count(&Filter::eq("role", "admin"));
            Ok(json!({ "admins": admins }))
        })
        .unwrap();
    let mut sub = store.subscribe("admin-count", json!({})).unwrap();
    assert_eq!(
        sub.next_as::<Count>().await.unwrap().unwrap(),
        Count { admins: 0 }
    );
    store
        .bucket("users")
        .unwrap()
        .insert(&json!({"id": "a", "role": "admin"}))
        .await
        .unwrap();
    assert_eq!(
        sub.next_as::<Count>().await.unwrap().unwrap(),
        Count { admins: 1 }
    );
    assert_eq!(sub.latest().unwrap(), json!({"admins": 1}));
    let wrong = sub.next_as::<String>();
    store
        .bucket("users")
        .unwrap()
        .insert(&json!({"id": "b", "role": "admin"}))
        .await
        .unwrap();
    assert_eq!(wrong.await.unwrap().unwrap_err().code(), "VALIDATION_ERROR");
}
