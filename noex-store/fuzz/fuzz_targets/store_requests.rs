//! Whatever a client sends the store — a record, a patch, a filter, a list of
//! transaction operations, as JSON — gets a result or a typed error, never a
//! panic; and afterwards every index agrees with a full scan.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use noex_store::{BucketDef, Field, Filter, Generated, Store, StoreOptions, TxOp};
use serde_json::{Value, json};

struct Harness {
    runtime: tokio::runtime::Runtime,
    store: Store,
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        // SAFETY: set once, before the runtime starts any thread.
        unsafe { std::env::set_var("NOEX_AGENT", "off") }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let store = runtime.block_on(async {
            let store = Store::start(StoreOptions::new("fuzz")).await.unwrap();
            let def = BucketDef::new("id")
                .field("id", Field::integer().generated(Generated::AutoIncrement))
                .field("name", Field::string().min_length(1).max_length(8).pattern("^[a-z]+$"))
                .field("email", Field::string().unique())
                .field("age", Field::integer().min(0.0).max(150.0).index())
                .field("score", Field::number().index())
                .field("role", Field::string().one_of(["a", "b"]).default(json!("a")).index())
                .field("tags", Field::array().max_length(3))
                .field("meta", Field::object())
                .field("at", Field::integer().generated(Generated::Timestamp));
            store.define_bucket("items", def.clone()).await.unwrap();
            store.define_bucket("other", def).await.unwrap();
            store
        });
        Harness { runtime, store }
    })
}

fn check_indexes(store: &Store, filter: &Filter) {
    let items = store.bucket("items").unwrap();
    let by_index = items.find(filter);
    let by_scan: Vec<_> = items
        .all()
        .into_iter()
        .filter(|r| filter.matches(r.fields()))
        .collect();
    assert_eq!(by_index, by_scan, "an index disagrees with a scan for {filter:?}");
}

fuzz_target!(|data: &[u8]| {
    let Ok(input) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let harness = harness();
    let store = &harness.store;
    harness.runtime.block_on(async {
        let items = store.bucket("items").unwrap();
        if items.len() > 64 {
            let _ = items.clear().await;
        }
        // The input as a record, a patch of the first record, and a filter.
        let _ = items.insert(&input).await;
        if let Some(first) = items.first(1).first() {
            let key = noex_store::Key::from_value(first.get("id").unwrap()).unwrap();
            let _ = items.update(key, &input).await;
        }
        if let Ok(filter) = Filter::from_json(&input) {
            check_indexes(store, &filter);
            let _ = items.sum("age", &filter);
            let _ = items.min("name", &filter);
        }
        // The input as the seed's transaction operations.
        if let Ok(ops) = serde_json::from_value::<Vec<TxOp>>(input.clone()) {
            let _ = store.transaction_ops(ops).await;
        }
        for field in ["age", "score", "role"] {
            for value in [json!(0), json!(1), json!("a"), json!(null), json!(1.5)] {
                check_indexes(store, &Filter::eq(field, value.clone()));
                check_indexes(store, &Filter::gt(field, value.clone()));
                check_indexes(store, &Filter::lte(field, value));
            }
        }
    });
});
