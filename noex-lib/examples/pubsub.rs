//! Publish/subscribe with an EventBus: two publishers (an order service and a payment
//! service, each a GenServer) and four subscribers on topic patterns (`*`,
//! `order.*`, `*.failed`, `order.placed`), all under one supervisor. Midway one
//! subscriber unsubscribes and stops hearing about new orders.
//!
//! Run with `cargo run -p noex --example pubsub`: a short run that exits.
//! With `-- --forever` it keeps placing orders and charging them (and the payment
//! service crashes now and then) until Ctrl-C; watch it from another terminal with
//! `noex top` (or `noex tree`).

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use noex::event_bus::{EventBus, EventBusOptions, Subscription};
use noex::gen_server::{Context, GenServer, NamedRef, Reply};
use noex::supervisor::{self, ChildSpec, SupervisorSpec};

/// The bus's registered name: how the publishers find it.
const BUS: &str = "shop-events";

/// What travels on the bus. The topic says what happened (`order.placed`); the
/// message carries the details.
enum ShopEvent {
    OrderPlaced { order: u32, item: String },
    OrderShipped { order: u32 },
    PaymentCaptured { order: u32, cents: u64 },
    PaymentFailed { order: u32, reason: &'static str },
}

impl fmt::Display for ShopEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShopEvent::OrderPlaced { order, item } => write!(f, "order #{order} placed: {item}"),
            ShopEvent::OrderShipped { order } => write!(f, "order #{order} shipped"),
            ShopEvent::PaymentCaptured { order, cents } => {
                write!(f, "order #{order} paid: {}", dollars(*cents))
            }
            ShopEvent::PaymentFailed { order, reason } => {
                write!(f, "order #{order} not paid: {reason}")
            }
        }
    }
}

fn dollars(cents: u64) -> String {
    format!("${}.{:02}", cents / 100, cents % 100)
}

/// The order service: places and ships orders, and says so on the bus.
#[derive(Default)]
struct Orders {
    placed: u32,
}

enum OrderCall {
    Place(String),
    Ship(u32),
}

impl GenServer for Orders {
    type Call = OrderCall;
    type Cast = ();
    /// The order's number, and how many subscribers heard of it.
    type Reply = (u32, usize);

    async fn handle_call(&mut self, call: OrderCall, _: &mut Context<Self>) -> Reply<(u32, usize)> {
        let (order, topic, event) = match call {
            OrderCall::Place(item) => {
                self.placed += 1;
                let order = self.placed;
                (
                    order,
                    "order.placed",
                    ShopEvent::OrderPlaced { order, item },
                )
            }
            OrderCall::Ship(order) => (order, "order.shipped", ShopEvent::OrderShipped { order }),
        };
        Reply::Now((order, publish(topic, event).await))
    }
}

/// The payment service: charges orders, and says how it went on the bus.
struct Payments;

struct Charge {
    order: u32,
    cents: u64,
}

impl GenServer for Payments {
    type Call = Charge;
    type Cast = ();
    /// How many subscribers heard of it.
    type Reply = usize;

    async fn handle_call(&mut self, charge: Charge, _: &mut Context<Self>) -> Reply<usize> {
        let Charge { order, cents } = charge;
        // A bug this service has: its supervisor restarts it, and the bus and the
        // subscribers never notice.
        assert!(cents > 0, "order #{order}: a charge of zero cents");
        let (topic, event) = if cents <= 100_000 {
            (
                "payment.captured",
                ShopEvent::PaymentCaptured { order, cents },
            )
        } else {
            let reason = "card declined";
            ("payment.failed", ShopEvent::PaymentFailed { order, reason })
        };
        Reply::Now(publish(topic, event).await)
    }
}

/// Publish and wait until every matching handler has run; returns how many did.
/// (`publish` is the fire-and-forget one; waiting here keeps the printed story in
/// order.) The bus is looked up by name each time, so a restarted bus is found
/// again (with none of the old one's subscriptions: they belonged to that process).
/// A bus that is gone is a crash, for the supervisor to sort out.
async fn publish(topic: &str, event: ShopEvent) -> usize {
    let delivered = match EventBus::lookup(BUS) {
        Ok(bus) => bus.publish_sync(topic, event).await,
        Err(error) => panic!("no event bus: {error}"),
    };
    match delivered {
        Ok(delivered) => delivered.handlers,
        Err(error) => panic!("the event bus is unavailable: {error}"),
    }
}

/// The subscribers: each handler runs in a task of its own, for every message whose
/// topic matches its pattern.
struct Subscribers {
    audit: Subscription<ShopEvent>,
    mailer: Subscription<ShopEvent>,
    alerts: Subscription<ShopEvent>,
    /// Unsubscribed midway (taken out, then `None`): it hears nothing more.
    dashboard: Option<Subscription<ShopEvent>>,
    audited: Arc<AtomicU64>,
}

impl Subscribers {
    async fn subscribe(
        bus: &EventBus<ShopEvent>,
        quiet: bool,
    ) -> Result<Self, Box<dyn std::error::Error>> {
        let audited = Arc::new(AtomicU64::new(0));
        let count = audited.clone();
        let audit = bus
            .subscribe("*", move |event: &ShopEvent, topic: &str| {
                count.fetch_add(1, Ordering::Relaxed);
                if !quiet {
                    println!("  audit     {topic:<16} {event}");
                }
            })
            .await?;
        let mailer = bus
            .subscribe("order.*", move |event: &ShopEvent, _: &str| {
                let mail = match event {
                    ShopEvent::OrderPlaced { order, item } => {
                        format!("thank you for order #{order} ({item})")
                    }
                    ShopEvent::OrderShipped { order } => format!("order #{order} is on its way"),
                    _ => return,
                };
                if !quiet {
                    println!("  mailer    mail: {mail}");
                }
            })
            .await?;
        let alerts = bus
            .subscribe("*.failed", |event: &ShopEvent, topic: &str| {
                if let ShopEvent::PaymentFailed { order, reason } = event {
                    println!("  alerts    {topic} for order #{order}: {reason}");
                }
            })
            .await?;
        let mut placed = 0;
        let dashboard = bus
            .subscribe("order.placed", move |_: &ShopEvent, _: &str| {
                placed += 1; // handlers are FnMut: state of their own is fine
                if !quiet {
                    println!("  dashboard {placed} order(s) placed today");
                }
            })
            .await?;
        Ok(Subscribers {
            audit,
            mailer,
            alerts,
            dashboard: Some(dashboard),
            audited,
        })
    }

    /// Unsubscribe them all: a subscription lasts until it is unsubscribed.
    async fn unsubscribe(self) -> Result<(), Box<dyn std::error::Error>> {
        let all = [self.audit, self.mailer, self.alerts].into_iter();
        for subscription in all.chain(self.dashboard) {
            subscription.unsubscribe().await?;
        }
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let forever = std::env::args().any(|arg| arg == "--forever");
    let app = supervisor::start(
        SupervisorSpec::one_for_one()
            .name("shop_sup")
            .max_restarts(5, Duration::from_secs(10))
            // Named, so `EventBus::lookup` finds whichever instance runs.
            .child(EventBus::<ShopEvent>::child_spec(BUS, EventBusOptions::new()).name(BUS))
            .child(ChildSpec::worker("orders", Orders::default).name("orders"))
            .child(ChildSpec::worker("payments", || Payments).name("payments")),
    )
    .await?;
    // Handles by name: they reach whichever instance runs, across restarts.
    let orders = NamedRef::<Orders>::new("orders");
    let payments = NamedRef::<Payments>::new("payments");

    let bus = EventBus::<ShopEvent>::lookup(BUS)?;
    // Quiet under --forever: the alerts alone are enough to follow.
    let mut subscribers = Subscribers::subscribe(&bus, forever).await?;
    println!(
        "{} subscriptions: audit \"*\", mailer \"order.*\", alerts \"*.failed\", \
         dashboard \"order.placed\"",
        bus.subscription_count().await?
    );

    if forever {
        println!("running until Ctrl-C; watch it with `noex top`");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = steady_work(&orders, &payments) => {}
        }
    } else {
        let books = place(&orders, "2 books").await?;
        charge(&payments, books, 2_400).await?;
        let piano = place(&orders, "a grand piano").await?;
        charge(&payments, piano, 4_999_900).await?;

        if let Some(dashboard) = subscribers.dashboard.take() {
            println!("the dashboard unsubscribes");
            dashboard.unsubscribe().await?;
        }
        place(&orders, "a lamp").await?;
        println!("orders ships order #{books}");
        let (_, heard) = orders.call(OrderCall::Ship(books)).await?;
        println!("  -> heard by {heard} subscriber(s)");

        println!(
            "audit saw {} events; the bus has {} subscriptions",
            subscribers.audited.load(Ordering::Relaxed),
            bus.subscription_count().await?
        );
    }

    subscribers.unsubscribe().await?;
    println!(
        "after unsubscribing the rest, the bus has {} subscriptions",
        bus.subscription_count().await?
    );
    app.stop().await?;
    Ok(())
}

/// Place an order; returns its number.
async fn place(orders: &NamedRef<Orders>, item: &str) -> Result<u32, Box<dyn std::error::Error>> {
    println!("orders places an order for {item}");
    let (order, heard) = orders.call(OrderCall::Place(item.to_string())).await?;
    println!("  -> order #{order}, heard by {heard} subscriber(s)");
    Ok(order)
}

async fn charge(
    payments: &NamedRef<Payments>,
    order: u32,
    cents: u64,
) -> Result<(), Box<dyn std::error::Error>> {
    println!("payments charges order #{order} {}", dollars(cents));
    let heard = payments.call(Charge { order, cents }).await?;
    println!("  -> heard by {heard} subscriber(s)");
    Ok(())
}

/// The `--forever` load: an order every 100 ms, charged (now and then declined, and
/// one charge in 50 of zero cents, which crashes the payment service), and shipped.
async fn steady_work(orders: &NamedRef<Orders>, payments: &NamedRef<Payments>) {
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    for n in 1u64.. {
        tick.tick().await;
        let cents = match n {
            n if n.is_multiple_of(50) => 0,
            n if n.is_multiple_of(7) => 250_000,
            n => 1_000 + n % 90 * 100,
        };
        let outcome = async {
            let (order, _) = orders.call(OrderCall::Place(format!("item {n}"))).await?;
            payments.call(Charge { order, cents }).await?;
            orders.call(OrderCall::Ship(order)).await
        };
        if let Err(error) = outcome.await {
            println!("order {n} failed: {error}");
        }
    }
}
