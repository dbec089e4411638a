//! The shared services: the pub/sub registry, the config that publishes on it, a
//! cache and a health check.

use std::collections::HashMap;
use std::time::Duration;

use noex::gen_server::{Context, GenServer, Info, Reply};
use noex::keyed_registry::KeyedRegistry;

use super::tick::tick_every;

/// The pub/sub registry: topics to their subscribers, any number per topic.
pub(super) type Topics = KeyedRegistry<&'static str, ()>;

/// The registry's name.
pub(super) const TOPICS: &str = "topics";
/// The topic the config publishes its changes on.
pub(super) const CONFIG_CHANGED: &str = "config.changed";

/// What the config publishes when a setting changes.
#[derive(Clone, Debug)]
pub(super) struct ConfigChanged {
    pub(super) batch_size: u64,
}

/// The batch size the workers start with, and keep in the steady demo.
pub(super) const DEFAULT_BATCH_SIZE: u64 = 16;
/// How often the config reloads its settings.
const CONFIG_RELOAD: Duration = Duration::from_secs(5);

/// A message sent to oneself: time to reload the settings.
#[derive(Clone)]
struct Reload;

/// Settings other processes read. It reloads them now and then (with chaos, they
/// change), and tells the subscribers of `config.changed` when they do.
#[derive(Debug)]
pub(super) struct Config {
    chaos: bool,
    pub(super) batch_size: u64,
    ttl_ms: u64,
}

impl Config {
    pub(super) fn new(chaos: bool) -> Self {
        Config {
            chaos,
            batch_size: DEFAULT_BATCH_SIZE,
            ttl_ms: 60_000,
        }
    }
}

impl GenServer for Config {
    type Call = &'static str;
    type Cast = ();
    type Reply = Option<u64>;

    async fn init(&mut self, ctx: &mut Context<Self>) -> Result<(), noex::error::BoxError> {
        ctx.send_interval(CONFIG_RELOAD, Reload);
        Ok(())
    }

    async fn handle_call(
        &mut self,
        key: &'static str,
        _: &mut Context<Self>,
    ) -> Reply<Option<u64>> {
        Reply::Now(match key {
            "batch_size" => Some(self.batch_size),
            "ttl_ms" => Some(self.ttl_ms),
            _ => None,
        })
    }

    async fn handle_info(&mut self, _: Info, _: &mut Context<Self>) {
        // A stand-in for reading a file: with chaos, one reload in three finds a
        // new batch size.
        if !self.chaos || fastrand::u32(..3) != 0 {
            return;
        }
        self.batch_size = *fastrand::choice(&[8, 16, 32]).unwrap_or(&DEFAULT_BATCH_SIZE);
        if let Ok(topics) = Topics::lookup_registry(TOPICS) {
            topics.publish(
                &CONFIG_CHANGED,
                ConfigChanged {
                    batch_size: self.batch_size,
                },
            );
        }
    }

    // Nothing secret: `noex state config` shows it.
    fn format_status(&self) -> Option<String> {
        Some(format!("{self:#?}"))
    }
}

/// A key-value cache the workers read and write.
#[derive(Default)]
pub(super) struct Cache {
    entries: HashMap<u64, u64>,
}

pub(super) enum CacheCall {
    Get(u64),
}

impl GenServer for Cache {
    type Call = CacheCall;
    type Cast = (u64, u64);
    type Reply = Option<u64>;

    async fn handle_call(
        &mut self,
        request: CacheCall,
        _: &mut Context<Self>,
    ) -> Reply<Option<u64>> {
        match request {
            CacheCall::Get(key) => Reply::Now(self.entries.get(&key).copied()),
        }
    }

    async fn handle_cast(&mut self, (key, value): (u64, u64), _: &mut Context<Self>) {
        if self.entries.len() > 10_000 {
            self.entries.clear();
        }
        self.entries.insert(key, value);
    }
}

/// A health check per subsystem: each subsystem has a child with id `health`, so
/// `noex kill health` is ambiguous and must be named by pid.
#[derive(Default)]
pub(super) struct Health {
    checks: u64,
}

impl GenServer for Health {
    type Call = ();
    type Cast = ();
    type Reply = u64;

    async fn init(&mut self, ctx: &mut Context<Self>) -> Result<(), noex::error::BoxError> {
        tick_every(ctx, Duration::from_secs(1));
        Ok(())
    }

    async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<u64> {
        Reply::Now(self.checks)
    }

    async fn handle_info(&mut self, _: Info, ctx: &mut Context<Self>) {
        self.checks += 1;
        tick_every(ctx, Duration::from_secs(1));
    }
}
