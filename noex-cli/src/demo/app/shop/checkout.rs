//! `checkout`: the shop's business at a steady pace, each beat one transaction
//! over all three buckets.

use std::time::Duration;

use noex::gen_server::{Context, GenServer, Info, Reply};
use noex_store::{Filter, Record, Store, StoreError};
use serde_json::{Value, json};

use super::{AUDIT_KEPT, CUSTOMERS, ORDERS_KEPT, STATUSES, customer_id};
use crate::demo::app::tick::tick_every;

/// How often an order is placed: a few writes a beat, some tens a second in all.
const BEAT: Duration = Duration::from_millis(250);
/// Orders moved one step along per beat: enough that each reaches `delivered`
/// before it is dropped.
const MOVED_PER_BEAT: usize = 3;

/// Places orders, moves them along, and keeps the buckets at their size.
pub(super) struct Checkout {
    store: Store,
    beats: u64,
    /// Beats whose transaction failed, and the last error.
    failed: u64,
    last_error: Option<String>,
}

impl Checkout {
    pub(super) fn new(store: Store) -> Checkout {
        Checkout {
            store,
            beats: 0,
            failed: 0,
            last_error: None,
        }
    }
}

impl GenServer for Checkout {
    type Call = ();
    type Cast = ();
    type Reply = u64;

    async fn init(&mut self, ctx: &mut Context<Self>) -> Result<(), noex::error::BoxError> {
        tick_every(ctx, BEAT);
        Ok(())
    }

    async fn handle_call(&mut self, (): (), _: &mut Context<Self>) -> Reply<u64> {
        Reply::Now(self.beats)
    }

    async fn handle_info(&mut self, _: Info, ctx: &mut Context<Self>) {
        self.beats += 1;
        if let Err(error) = business(&self.store).await {
            self.failed += 1;
            self.last_error = Some(format!("{} ({})", error, error.code()));
        }
        tick_every(ctx, BEAT);
    }

    fn format_status(&self) -> Option<String> {
        let mut status = format!("{} beats, {} failed", self.beats, self.failed);
        if let Some(error) = &self.last_error {
            status.push_str(&format!("; last error: {error}"));
        }
        Some(status)
    }
}

/// One beat: an order placed (and its customer read), a few moved along, an audit
/// event for each, and the oldest orders and events dropped beyond what the shop
/// keeps. One transaction: `noex ps` never sees a bucket over its size.
pub(super) async fn business(store: &Store) -> Result<(), StoreError> {
    let customer = customer_id(fastrand::usize(1..=CUSTOMERS));
    let total = f64::from(fastrand::u32(500..50_000)) / 100.0;
    let items = fastrand::u32(1..6);
    let mut moved: Vec<usize> = (0..MOVED_PER_BEAT)
        .map(|_| fastrand::usize(..ORDERS_KEPT))
        .collect();
    moved.sort_unstable();
    moved.dedup();
    store
        .transaction(|tx| {
            if tx.get("customers", customer.as_str())?.is_none() {
                return Err(StoreError::InvalidArgument(format!(
                    "no customer {customer}"
                )));
            }
            let placed = tx.insert(
                "orders",
                &json!({"customer": customer, "total": total, "items": items}),
            )?;
            let placed_id = placed.get("id").cloned().unwrap_or(Value::Null);
            tx.insert("audit", &json!({"event": "placed", "order": placed_id}))?;

            let mut orders = tx.find("orders", &Filter::all())?;
            orders.sort_by_key(Record::created_at);
            for &n in &moved {
                let Some(order) = orders.get(n) else { continue };
                let status = order.get("status").and_then(Value::as_str);
                let Some(next) = status.and_then(next_status) else {
                    continue;
                };
                let id = order.get("id").cloned().unwrap_or(Value::Null);
                let key = id.as_str().unwrap_or_default();
                tx.update("orders", key, &json!({ "status": next }))?;
                tx.insert("audit", &json!({"event": next, "order": id}))?;
            }
            // `orders` is oldest first; the audit's keys count up.
            for order in orders.iter().take(orders.len().saturating_sub(ORDERS_KEPT)) {
                let key = order.get("id").and_then(Value::as_str).unwrap_or_default();
                tx.delete("orders", key)?;
            }
            let events = tx.find("audit", &Filter::all())?;
            for event in events.iter().take(events.len().saturating_sub(AUDIT_KEPT)) {
                if let Some(seq) = event.get("seq").and_then(Value::as_i64) {
                    tx.delete("audit", seq)?;
                }
            }
            Ok(())
        })
        .await
}

/// The status after `status`; none after `delivered`.
fn next_status(status: &str) -> Option<&'static str> {
    let at = STATUSES.iter().position(|s| *s == status)?;
    STATUSES.get(at + 1).copied()
}
