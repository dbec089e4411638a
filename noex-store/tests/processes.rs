//! The store's processes: a supervisor per store, a process per bucket and one for
//! the queries. Records belong to the store: a bucket process that is killed and
//! restarted finds them as they were.

use std::time::Duration;

use noex::state_agent::StateAgent;
use noex::{ExitReason, Pid};
use noex_store::{BucketDef, Field, Generated, Store, StoreOptions};
use serde_json::json;

mod fixture;

async fn kill(name: &str) -> Pid {
    let pid = noex::registry::whereis(name).expect("the process runs");
    fixture::kill(pid).await;
    pid
}

/// Waits (in paused time, so only for the system to be idle) until `name` is a
/// process other than `old`.
async fn restarted(name: &str, old: Pid) -> Pid {
    for _ in 0..1000 {
        if let Some(pid) = noex::registry::whereis(name)
            && pid != old
        {
            return pid;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{name} was not restarted");
}

async fn store(name: &str) -> Store {
    fixture::agent_off();
    let store = Store::start(StoreOptions::new(name)).await.unwrap();
    store
        .define_bucket(
            "users",
            BucketDef::new("id")
                .field("id", Field::integer().generated(Generated::AutoIncrement))
                .field("name", Field::string().required()),
        )
        .await
        .unwrap();
    store
}

#[tokio::test(start_paused = true)]
async fn each_bucket_is_a_named_process_under_the_store_supervisor() {
    let store = store("proc-tree").await;
    store
        .define_bucket("orders", BucketDef::new("id"))
        .await
        .unwrap();
    let supervisor = noex::registry::lookup_supervisor("proc-tree").unwrap();
    let children: Vec<String> = supervisor
        .children()
        .await
        .unwrap()
        .into_iter()
        .map(|child| child.id)
        .collect();
    assert_eq!(children, ["queries", "users", "orders"]);
    assert!(noex::registry::whereis("proc-tree/users").is_some());
    assert!(noex::registry::whereis("proc-tree/orders").is_some());
    assert!(noex::registry::whereis("proc-tree/queries").is_some());
}

#[tokio::test(start_paused = true)]
async fn killed_bucket_process_restarts_with_its_records() {
    let store = store("proc-kill").await;
    let users = store.bucket("users").unwrap();
    for name in ["ann", "bob", "cy"] {
        users.insert(&json!({ "name": name })).await.unwrap();
    }
    let old = kill("proc-kill/users").await;
    let new = restarted("proc-kill/users", old).await;
    assert_ne!(old, new);
    assert_eq!(
        users.len(),
        3,
        "the records belong to the store, not the process"
    );
    let next = users.insert(&json!({"name": "dee"})).await.unwrap();
    assert_eq!(
        next.get("id"),
        Some(&json!(4)),
        "the key counter carries on"
    );
}

#[tokio::test(start_paused = true)]
async fn killed_queries_process_restarts_and_pushes_again() {
    let store = store("proc-queries").await;
    let users = store.bucket("users").unwrap();
    store
        .define_query("count", |ctx, _| Ok(json!(ctx.bucket("users")?.len())))
        .unwrap();
    let mut sub = store.subscribe("count", json!({})).unwrap();
    assert_eq!(sub.next().await.unwrap().unwrap(), json!(0));

    let old = kill("proc-queries/queries").await;
    // Written while no queries process runs: the restarted one catches up.
    users.insert(&json!({"name": "ann"})).await.unwrap();
    restarted("proc-queries/queries", old).await;
    assert_eq!(sub.next().await.unwrap().unwrap(), json!(1));
    users.insert(&json!({"name": "bob"})).await.unwrap();
    assert_eq!(sub.next().await.unwrap().unwrap(), json!(2));
}

#[tokio::test(start_paused = true)]
async fn defining_a_bucket_twice_is_already_exists() {
    let store = store("proc-twice").await;
    let error = store
        .define_bucket("users", BucketDef::new("id"))
        .await
        .unwrap_err();
    assert_eq!(error.code(), "ALREADY_EXISTS");
    assert_eq!(store.buckets(), ["users"]);
}

#[tokio::test(start_paused = true)]
async fn stopped_store_refuses_writes() {
    let store = store("proc-stop").await;
    let users = store.bucket("users").unwrap();
    store.stop().await;
    let error = users.insert(&json!({"name": "late"})).await.unwrap_err();
    assert_eq!(error, noex_store::StoreError::Stopped);
    assert!(noex::registry::whereis("proc-stop/users").is_none());
    let late = store.define_bucket("late", BucketDef::new("id")).await;
    assert_eq!(late.unwrap_err(), noex_store::StoreError::Stopped);
}

#[tokio::test(start_paused = true)]
async fn store_stops_when_its_supervisor_gives_up() {
    fixture::agent_off();
    let options = StoreOptions::new("proc-give-up").max_restarts(2, Duration::from_secs(60));
    let store = Store::start(options).await.unwrap();
    let users = store
        .define_bucket("users", BucketDef::new("id").field("id", Field::integer()))
        .await
        .unwrap();
    store
        .define_query("count", |ctx, _| Ok(json!(ctx.bucket("users")?.len())))
        .unwrap();
    let mut sub = store.subscribe("count", json!({})).unwrap();
    assert_eq!(sub.next().await.unwrap().unwrap(), json!(0));
    let supervisor = noex::registry::lookup_supervisor("proc-give-up").unwrap();

    // Two restarts are allowed; the third kill within the window is one too many.
    let mut old = kill("proc-give-up/users").await;
    old = restarted("proc-give-up/users", old).await;
    fixture::kill(old).await;
    old = restarted("proc-give-up/users", old).await;
    fixture::kill(old).await;
    assert!(matches!(
        supervisor.wait().await,
        ExitReason::MaxRestartsExceeded(_)
    ));

    assert_eq!(
        sub.next().await,
        None,
        "the subscription ends with the store"
    );
    let error = users.insert(&json!({"id": 1})).await.unwrap_err();
    assert_eq!(error, noex_store::StoreError::Stopped);
    assert_eq!(
        store.subscribe("count", json!({})).err(),
        Some(noex_store::StoreError::Stopped)
    );
}

#[tokio::test(start_paused = true)]
async fn bucket_whose_process_cannot_start_is_not_defined() {
    let store = store("proc-taken").await;
    // Another process holds the name the bucket's process would take.
    let squatter = StateAgent::start(|| (), Some("proc-taken/orders"))
        .await
        .unwrap();
    let error = store
        .define_bucket("orders", BucketDef::new("id"))
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("cannot start bucket orders"),
        "{error}"
    );
    assert_eq!(store.buckets(), ["users"]);
    assert_eq!(
        store.bucket("orders").unwrap_err().code(),
        "BUCKET_NOT_DEFINED"
    );
    // Once the name is free, the bucket can be defined after all.
    squatter.stop().await.unwrap();
    store
        .define_bucket("orders", BucketDef::new("id"))
        .await
        .unwrap();
    assert_eq!(store.buckets(), ["orders", "users"]);
}
