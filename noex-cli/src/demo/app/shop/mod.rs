//! The shop's data: a noex-store named `store`, whose buckets are processes of
//! their own, and the `shop` supervisor under `app_sup` with the processes that use
//! it.
//!
//! ```text
//! store (one_for_one, noex-store's own root)
//! ├── store/queries: runs the live queries again after each change
//! ├── store/customers: 8 customers, each email unique
//! ├── store/orders: the latest 40 orders, uuid keys, a status, an indexed customer
//! └── store/audit: the latest 100 events, auto-increment keys
//! shop (one_for_one, under app_sup)
//! ├── checkout: places an order 4 times a second, moves orders along, drops the oldest
//! ├── order_board: follows the live query `orders_by_status`
//! └── vip_orders: follows the live query `customer_orders` for c-01
//! ```
//!
//! The buckets hold the same number of records from start to stop (the store is
//! filled before the demo says it runs, and every write that adds a record drops
//! the oldest in the same transaction), so memory stays flat over hours and
//! `noex ps` reads the same counts every time.

mod checkout;
mod watcher;

use std::time::Duration;

use noex::supervisor::{ChildSpec, SupervisorSpec};
use noex_store::{BucketDef, Field, Filter, Generated, Store, StoreError, StoreOptions};
use serde_json::{Map, Value, json};

use checkout::Checkout;
use watcher::Watcher;

/// The store's name: its supervisor's, and the first part of its buckets' names.
pub(super) const STORE: &str = "store";
/// Customers `c-01` to `c-08`.
pub(super) const CUSTOMERS: usize = 8;
/// The orders the shop keeps: placing one more drops the oldest.
pub(super) const ORDERS_KEPT: usize = 40;
/// The audit events the shop keeps.
pub(super) const AUDIT_KEPT: usize = 100;
/// An order's life, in order.
const STATUSES: [&str; 4] = ["pending", "paid", "shipped", "delivered"];
/// The customer `vip_orders` follows.
const VIP: &str = "c-01";

/// Starts the store, defines its buckets and queries, and fills it as a morning of
/// business would.
pub(super) async fn start_store() -> Result<Store, StoreError> {
    let store = Store::start(StoreOptions::new(STORE)).await?;
    let customers = store
        .define_bucket(
            "customers",
            BucketDef::new("id")
                .field("id", Field::string().required().pattern("^c-[0-9]+$"))
                .field("name", Field::string().required().min_length(1))
                .field(
                    "email",
                    Field::string()
                        .required()
                        .unique()
                        .pattern("^[^@ ]+@[^@ ]+$"),
                )
                .field(
                    "tier",
                    Field::string()
                        .default(json!("standard"))
                        .one_of(["standard", "gold"]),
                ),
        )
        .await?;
    store
        .define_bucket(
            "orders",
            BucketDef::new("id")
                .field("id", Field::string().generated(Generated::Uuid))
                .field("customer", Field::string().required().index())
                .field(
                    "status",
                    Field::string()
                        .default(json!("pending"))
                        .one_of(STATUSES)
                        .index(),
                )
                .field("total", Field::number().required().min(0.0))
                .field("items", Field::integer().default(json!(1)).min(1.0)),
        )
        .await?;
    store
        .define_bucket(
            "audit",
            BucketDef::new("seq")
                .field("seq", Field::integer().generated(Generated::AutoIncrement))
                .field("event", Field::string().required())
                .field("order", Field::string()),
        )
        .await?;
    define_queries(&store)?;

    const NAMES: [&str; CUSTOMERS] = [
        "Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken",
    ];
    for (n, name) in NAMES.iter().enumerate() {
        customers
            .insert(&json!({
                "id": customer_id(n + 1),
                "name": name,
                "email": format!("{}@example.com", name.to_lowercase()),
                "tier": if n % 3 == 0 { "gold" } else { "standard" },
            }))
            .await?;
    }
    // Business until both buckets are full: from the first `noex ps` on, their
    // counts are what they stay.
    while store.bucket("orders")?.len() < ORDERS_KEPT || store.bucket("audit")?.len() < AUDIT_KEPT {
        checkout::business(&store).await?;
    }
    Ok(store)
}

/// The live queries the watchers follow.
fn define_queries(store: &Store) -> Result<(), StoreError> {
    // How many orders are at each step: read through the status index.
    store.define_query("orders_by_status", |ctx, _params| {
        let orders = ctx.bucket("orders")?;
        let counts: Map<String, Value> = STATUSES
            .iter()
            .map(|status| {
                let n = orders.count(&Filter::eq("status", *status));
                (status.to_string(), json!(n))
            })
            .collect();
        Ok(Value::Object(counts))
    })?;
    // One customer's orders: read through the customer index.
    store.define_query("customer_orders", |ctx, params| {
        let id = params["customer"].as_str().unwrap_or_default();
        let name = ctx
            .get("customers", id)?
            .and_then(|c| c.get("name").and_then(Value::as_str).map(str::to_string));
        let orders = ctx.bucket("orders")?.find(&Filter::eq("customer", id));
        let open = orders
            .iter()
            .filter(|o| o.get("status") != Some(&json!("delivered")))
            .count();
        Ok(json!({"customer": id, "name": name, "orders": orders.len(), "open": open}))
    })?;
    Ok(())
}

fn customer_id(n: usize) -> String {
    format!("c-{n:02}")
}

/// The `shop` supervisor: the writer and the two watchers, each with the store.
pub(super) fn child_spec(store: Store) -> ChildSpec {
    let (for_checkout, for_board, for_vip) = (store.clone(), store.clone(), store);
    ChildSpec::supervisor(
        "shop",
        SupervisorSpec::one_for_one()
            .name("shop")
            .max_restarts(10, Duration::from_secs(30))
            .child(
                ChildSpec::worker("checkout", move || Checkout::new(for_checkout.clone()))
                    .name("checkout"),
            )
            .child(
                ChildSpec::worker("order_board", move || {
                    Watcher::new(
                        for_board.clone(),
                        "orders_by_status",
                        json!({}),
                        show_by_status,
                    )
                })
                .name("order_board"),
            )
            .child(
                ChildSpec::worker("vip_orders", move || {
                    Watcher::new(
                        for_vip.clone(),
                        "customer_orders",
                        json!({ "customer": VIP }),
                        show_customer,
                    )
                })
                .name("vip_orders"),
            ),
    )
}

/// `12 pending, 9 paid, 11 shipped, 8 delivered`
fn show_by_status(counts: &Value) -> String {
    STATUSES
        .iter()
        .map(|status| format!("{} {status}", counts[*status].as_u64().unwrap_or(0)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `Ada (c-01): 5 orders, 2 open`
fn show_customer(found: &Value) -> String {
    let orders = found["orders"].as_u64().unwrap_or(0);
    format!(
        "{} ({}): {orders} {}, {} open",
        found["name"].as_str().unwrap_or("unknown"),
        found["customer"].as_str().unwrap_or_default(),
        if orders == 1 { "order" } else { "orders" },
        found["open"].as_u64().unwrap_or(0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What keeps the demo's memory flat over hours: however long the shop runs,
    /// each bucket holds what it held when the demo started, while its orders move
    /// along to `delivered`.
    #[tokio::test]
    async fn business_keeps_every_bucket_at_its_size() {
        // No agent socket from a unit test; nothing else in this binary starts one.
        noex::agent::disable();
        // The beats' choices, the same every run (one thread: this test's).
        fastrand::seed(7);
        let store = start_store().await.unwrap();
        let sizes = |store: &Store| {
            ["customers", "orders", "audit"].map(|bucket| store.bucket(bucket).unwrap().len())
        };
        assert_eq!(sizes(&store), [CUSTOMERS, ORDERS_KEPT, AUDIT_KEPT]);
        for _ in 0..500 {
            checkout::business(&store).await.unwrap();
            assert_eq!(sizes(&store), [CUSTOMERS, ORDERS_KEPT, AUDIT_KEPT]);
        }
        let orders = store.bucket("orders").unwrap();
        assert!(orders.count(&Filter::eq("status", "delivered")) > 0);
        assert!(orders.count(&Filter::eq("status", "pending")) > 0);
        store.stop().await;
    }
}
