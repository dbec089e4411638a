mod support;

// `noex::keyed_registry`, against what Elixir's `Registry` documents: a unique key
// holds one process, a duplicate key many (the same one several times, too); a
// process's entries go when it ends, however it ends; reads and `dispatch` run in
// the caller; registries are separate by name, and a restarted one starts empty.

use std::collections::HashSet;
use std::sync::Arc;

use noex::gen_server::{self, Context, GenServer, Info, Reply, StartOptions};
use noex::keyed_registry::{
    self, KeyedRegistry, Keys, RegisterKeyError, RegistryInfo, RegistryOptions, UpdateValueError,
};
use noex::registry::LookupError;
use noex::supervisor::{self, SupervisorSpec};
use noex::{ExitReason, Pid, ServerRef};

use support::{Idle, eventually};

type Topics = KeyedRegistry<String, u32>;

fn key(text: &str) -> String {
    text.to_string()
}

async fn worker() -> ServerRef<Idle> {
    gen_server::start(Idle, StartOptions::new()).await.unwrap()
}

/// Sorted, to compare entries that come in no particular order.
fn sorted<T: Ord>(mut items: Vec<T>) -> Vec<T> {
    items.sort();
    items
}

/// Wait until the registry holds `entries` entries: it removes those of an ended
/// process when it handles the process's `Down`.
async fn until_count<K, V>(registry: &KeyedRegistry<K, V>, entries: usize)
where
    K: keyed_registry::RegistryKey,
    V: keyed_registry::RegistryValue,
{
    eventually(
        "the registry removes the entries of ended processes",
        || async { (registry.count() == entries).then_some(()) },
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn unique_registry_refuses_second_holder() {
    let sessions = KeyedRegistry::<String, u32>::start(RegistryOptions::unique("kr.unique"))
        .await
        .unwrap();
    let (first, second) = (worker().await, worker().await);
    sessions.register(first.pid(), key("s1"), 1).unwrap();

    let refused = sessions.register(second.pid(), key("s1"), 2);
    assert_eq!(
        refused,
        Err(RegisterKeyError::AlreadyRegistered {
            holder: first.pid()
        })
    );
    // Its holder too, as Elixir's `{:error, {:already_registered, self()}}`.
    let again = sessions.register(first.pid(), key("s1"), 3);
    assert_eq!(
        again,
        Err(RegisterKeyError::AlreadyRegistered {
            holder: first.pid()
        })
    );
    assert_eq!(sessions.lookup(&key("s1")), [(first.pid(), 1)]);
    assert_eq!(sessions.keys(first.pid()), [key("s1")]);
    assert!(sessions.keys(second.pid()).is_empty());
    assert_eq!(sessions.count(), 1);
    // Another key is free for the second process.
    sessions.register(second.pid(), key("s2"), 2).unwrap();
    assert_eq!(sessions.count(), 2);
}

#[tokio::test(start_paused = true)]
async fn duplicate_registry_allows_many_entries_per_key() {
    let topics = Topics::start(RegistryOptions::duplicate("kr.duplicate"))
        .await
        .unwrap();
    let (a, b) = (worker().await, worker().await);
    topics.register(a.pid(), key("news"), 1).unwrap();
    topics.register(b.pid(), key("news"), 2).unwrap();
    // The same process, key and value again: a second entry, as in Elixir.
    topics.register(a.pid(), key("news"), 1).unwrap();

    assert_eq!(
        sorted(topics.lookup(&key("news"))),
        [(a.pid(), 1), (a.pid(), 1), (b.pid(), 2)]
    );
    assert_eq!(topics.keys(a.pid()), [key("news"), key("news")]);
    assert_eq!(topics.values(&key("news"), a.pid()), [1, 1]);
    assert_eq!(topics.count(), 3);
}

/// A subscriber registers itself under "news" with its own typed handle as the
/// value, and keeps what it is sent.
struct Subscriber {
    topics: KeyedRegistry<String, ServerRef<Subscriber>>,
    received: Vec<String>,
}

impl GenServer for Subscriber {
    type Call = ();
    type Cast = ();
    type Reply = Vec<String>;

    async fn init(&mut self, ctx: &mut Context<Self>) -> Result<(), noex::error::BoxError> {
        self.topics.register_self(ctx, key("news"), ctx.myself())?;
        Ok(())
    }

    async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<Vec<String>> {
        Reply::Now(self.received.clone())
    }

    async fn handle_info(&mut self, message: Info, _: &mut Context<Self>) {
        if let Ok(text) = message.downcast::<String>() {
            self.received.push(*text);
        }
    }
}

async fn subscribers(
    topics: &KeyedRegistry<String, ServerRef<Subscriber>>,
    how_many: usize,
) -> Vec<ServerRef<Subscriber>> {
    let mut started = Vec::new();
    for _ in 0..how_many {
        let subscriber = Subscriber {
            topics: topics.clone(),
            received: Vec::new(),
        };
        started.push(
            gen_server::start(subscriber, StartOptions::new())
                .await
                .unwrap(),
        );
    }
    started
}

#[tokio::test(start_paused = true)]
async fn registry_duplicate_dispatch_reaches_all() {
    let topics = KeyedRegistry::<String, ServerRef<Subscriber>>::start(RegistryOptions::duplicate(
        "kr.dispatch",
    ))
    .await
    .unwrap();
    let subscribers = subscribers(&topics, 3).await;

    let mut seen = Vec::new();
    let ran = topics.dispatch(&key("news"), |entries| {
        for (pid, subscriber) in entries {
            seen.push(*pid);
            subscriber.send_info(key("hello")).unwrap();
        }
    });
    assert!(ran);
    let expected: HashSet<Pid> = subscribers.iter().map(ServerRef::pid).collect();
    assert_eq!(seen.into_iter().collect::<HashSet<_>>(), expected);
    // Each call is queued behind the message sent before it.
    for subscriber in &subscribers {
        assert_eq!(subscriber.call(()).await.unwrap(), [key("hello")]);
    }
    // As Elixir's: no entries, no call.
    assert!(!topics.dispatch(&key("sport"), |_| panic!("no entries under sport")));
}

#[tokio::test(start_paused = true)]
async fn publish_sends_each_entry_of_the_key_one_message() {
    let topics = KeyedRegistry::<String, ServerRef<Subscriber>>::start(RegistryOptions::duplicate(
        "kr.publish",
    ))
    .await
    .unwrap();
    let subscribers = subscribers(&topics, 3).await;
    let elsewhere = subscribers[0].clone();
    topics
        .register(elsewhere.pid(), key("sport"), elsewhere.clone())
        .unwrap();

    assert_eq!(topics.publish(&key("news"), key("headline")), 3);
    assert_eq!(topics.publish(&key("sport"), key("score")), 1);
    assert_eq!(topics.publish(&key("weather"), key("rain")), 0);
    assert_eq!(
        subscribers[0].call(()).await.unwrap(),
        [key("headline"), key("score")]
    );
    for subscriber in &subscribers[1..] {
        assert_eq!(subscriber.call(()).await.unwrap(), [key("headline")]);
    }
}

#[tokio::test(start_paused = true)]
async fn entries_removed_when_process_ends() {
    let sessions = Topics::start(RegistryOptions::unique("kr.ends.unique"))
        .await
        .unwrap();
    let topics = Topics::start(RegistryOptions::duplicate("kr.ends.duplicate"))
        .await
        .unwrap();
    let (leaving, staying) = (worker().await, worker().await);
    sessions.register(leaving.pid(), key("s1"), 1).unwrap();
    sessions.register(leaving.pid(), key("s2"), 2).unwrap();
    sessions.register(staying.pid(), key("s3"), 3).unwrap();
    topics.register(leaving.pid(), key("news"), 1).unwrap();
    topics.register(leaving.pid(), key("news"), 1).unwrap();
    topics.register(staying.pid(), key("news"), 2).unwrap();

    leaving.stop(ExitReason::Normal).await.unwrap();
    until_count(&sessions, 1).await;
    until_count(&topics, 1).await;
    assert!(sessions.lookup(&key("s1")).is_empty());
    assert!(sessions.lookup(&key("s2")).is_empty());
    assert!(sessions.keys(leaving.pid()).is_empty());
    assert_eq!(sessions.lookup(&key("s3")), [(staying.pid(), 3)]);
    assert_eq!(topics.lookup(&key("news")), [(staying.pid(), 2)]);
    assert!(topics.keys(leaving.pid()).is_empty());
    // The key is free again.
    let next = worker().await;
    sessions.register(next.pid(), key("s1"), 9).unwrap();
}

#[tokio::test(start_paused = true)]
async fn entries_removed_when_process_is_killed() {
    let sessions = Topics::start(RegistryOptions::unique("kr.killed"))
        .await
        .unwrap();
    let (killed, crashed) = (worker().await, worker().await);
    sessions.register(killed.pid(), key("a"), 1).unwrap();
    sessions.register(crashed.pid(), key("b"), 2).unwrap();

    killed.kill();
    assert_eq!(killed.wait().await, ExitReason::Killed);
    until_count(&sessions, 1).await;
    assert!(sessions.lookup(&key("a")).is_empty());

    let crash = ExitReason::Error("boom".into());
    crashed.stop(crash).await.unwrap();
    until_count(&sessions, 0).await;
    assert!(sessions.lookup(&key("b")).is_empty());
}

#[tokio::test(start_paused = true)]
async fn registering_a_process_that_is_not_alive_is_refused() {
    let sessions = Topics::start(RegistryOptions::unique("kr.dead"))
        .await
        .unwrap();
    let ended = worker().await;
    ended.stop(ExitReason::Normal).await.unwrap();
    assert_eq!(
        sessions.register(ended.pid(), key("a"), 1),
        Err(RegisterKeyError::NotAlive { pid: ended.pid() })
    );
    assert_eq!(sessions.count(), 0);
}

#[tokio::test(start_paused = true)]
async fn entries_removed_when_process_ends_after_it_unregistered_and_registered_again() {
    // Its last key unregistered, the registry stops watching it; registering again
    // watches it again, so its end still removes its entries.
    let topics = Topics::start(RegistryOptions::duplicate("kr.again"))
        .await
        .unwrap();
    let subscriber = worker().await;
    topics.register(subscriber.pid(), key("news"), 1).unwrap();
    assert_eq!(topics.unregister(subscriber.pid(), &key("news")), Ok(1));
    topics.register(subscriber.pid(), key("sport"), 2).unwrap();
    subscriber.stop(ExitReason::Normal).await.unwrap();
    until_count(&topics, 0).await;
    assert!(topics.keys(subscriber.pid()).is_empty());
}

#[tokio::test(start_paused = true)]
async fn match_values_filters_by_predicate() {
    let topics = Topics::start(RegistryOptions::duplicate("kr.match"))
        .await
        .unwrap();
    let (a, b) = (worker().await, worker().await);
    for (pid, value) in [(a.pid(), 1), (a.pid(), 2), (b.pid(), 3), (b.pid(), 4)] {
        topics.register(pid, key("n"), value).unwrap();
    }
    topics.register(a.pid(), key("other"), 10).unwrap();

    let even = topics.match_values(&key("n"), |value| value % 2 == 0);
    assert_eq!(sorted(even), [(a.pid(), 2), (b.pid(), 4)]);
    assert_eq!(topics.count_match(&key("n"), |value| *value > 1), 3);
    assert!(
        topics
            .match_values(&key("n"), |value| *value > 4)
            .is_empty()
    );
    assert_eq!(topics.count_match(&key("none"), |_| true), 0);

    let of_a = topics.select(|k, pid, value| (pid == a.pid()).then(|| (k.clone(), *value)));
    assert_eq!(
        sorted(of_a),
        [(key("n"), 1), (key("n"), 2), (key("other"), 10)]
    );
    assert_eq!(topics.count_select(|_, _, value| *value >= 3), 3);
}

#[tokio::test(start_paused = true)]
async fn unregister_removes_only_that_pids_entries() {
    let topics = Topics::start(RegistryOptions::duplicate("kr.unregister"))
        .await
        .unwrap();
    let (a, b) = (worker().await, worker().await);
    topics.register(a.pid(), key("news"), 1).unwrap();
    topics.register(a.pid(), key("news"), 2).unwrap();
    topics.register(a.pid(), key("sport"), 3).unwrap();
    topics.register(b.pid(), key("news"), 4).unwrap();

    assert_eq!(topics.unregister(a.pid(), &key("news")), Ok(2));
    assert_eq!(topics.lookup(&key("news")), [(b.pid(), 4)]);
    assert_eq!(topics.keys(a.pid()), [key("sport")]);
    assert_eq!(topics.count(), 2);
    // Nothing to remove: no error, as Elixir's `:ok`.
    assert_eq!(topics.unregister(a.pid(), &key("news")), Ok(0));
}

#[tokio::test(start_paused = true)]
async fn unregister_match_removes_only_matching_values() {
    let topics = Topics::start(RegistryOptions::duplicate("kr.unregister_match"))
        .await
        .unwrap();
    let (a, b) = (worker().await, worker().await);
    for value in [1, 2, 3] {
        topics.register(a.pid(), key("n"), value).unwrap();
    }
    topics.register(b.pid(), key("n"), 1).unwrap();

    assert_eq!(
        topics.unregister_match(a.pid(), &key("n"), |v| *v == 1),
        Ok(1)
    );
    assert_eq!(
        sorted(topics.lookup(&key("n"))),
        [(a.pid(), 2), (a.pid(), 3), (b.pid(), 1)]
    );
    // One key per remaining entry.
    assert_eq!(topics.keys(a.pid()), [key("n"), key("n")]);
    assert_eq!(topics.unregister_match(a.pid(), &key("n"), |_| true), Ok(2));
    assert!(topics.keys(a.pid()).is_empty());
}

#[tokio::test(start_paused = true)]
async fn keys_lists_every_key_of_a_pid() {
    let sessions = Topics::start(RegistryOptions::unique("kr.keys"))
        .await
        .unwrap();
    let (a, b) = (worker().await, worker().await);
    for name in ["x", "y", "z"] {
        sessions.register(a.pid(), key(name), 0).unwrap();
    }
    sessions.register(b.pid(), key("w"), 0).unwrap();
    assert_eq!(
        sorted(sessions.keys(a.pid())),
        [key("x"), key("y"), key("z")]
    );
    assert_eq!(sessions.keys(b.pid()), [key("w")]);
}

#[tokio::test(start_paused = true)]
async fn update_value_changes_only_the_holders_value_in_a_unique_registry() {
    let sessions = Topics::start(RegistryOptions::unique("kr.update"))
        .await
        .unwrap();
    let (holder, other) = (worker().await, worker().await);
    sessions.register(holder.pid(), key("hits"), 1).unwrap();
    assert_eq!(
        sessions.update_value(holder.pid(), &key("hits"), |n| n + 1),
        Ok((2, 1))
    );
    assert_eq!(sessions.lookup(&key("hits")), [(holder.pid(), 2)]);
    assert_eq!(
        sessions.update_value(other.pid(), &key("hits"), |n| n + 1),
        Err(UpdateValueError::NotHeld { pid: other.pid() })
    );
    assert_eq!(sessions.lookup(&key("hits")), [(holder.pid(), 2)]);

    let topics = Topics::start(RegistryOptions::duplicate("kr.update.duplicate"))
        .await
        .unwrap();
    topics.register(holder.pid(), key("hits"), 1).unwrap();
    assert_eq!(
        topics.update_value(holder.pid(), &key("hits"), |n| n + 1),
        Err(UpdateValueError::DuplicateKeys)
    );
}

#[tokio::test(start_paused = true)]
async fn meta_is_given_at_start_and_put_later() {
    let sessions = Topics::start(RegistryOptions::unique("kr.meta").meta("owner", key("web")))
        .await
        .unwrap();
    assert_eq!(sessions.meta::<String>("owner"), Some(key("web")));
    assert_eq!(sessions.meta::<u32>("owner"), None, "not a u32");
    assert_eq!(sessions.meta::<String>("missing"), None);
    sessions.put_meta("limit", 10_u32).unwrap();
    assert_eq!(sessions.meta::<u32>("limit"), Some(10));
}

#[tokio::test(start_paused = true)]
async fn registries_are_separate_by_name() {
    let left = Topics::start(RegistryOptions::duplicate("kr.left"))
        .await
        .unwrap();
    let right = Topics::start(RegistryOptions::duplicate("kr.right"))
        .await
        .unwrap();
    let a = worker().await;
    left.register(a.pid(), key("news"), 1).unwrap();

    let found_left = Topics::lookup_registry("kr.left").unwrap();
    let found_right = Topics::lookup_registry("kr.right").unwrap();
    assert_eq!(found_left.pid(), left.pid());
    assert_eq!(found_right.pid(), right.pid());
    assert_eq!(found_left.lookup(&key("news")), [(a.pid(), 1)]);
    assert!(found_right.lookup(&key("news")).is_empty());
    assert_eq!((found_left.count(), found_right.count()), (1, 0));

    // A second registry cannot take a name in use.
    assert!(
        Topics::start(RegistryOptions::unique("kr.left"))
            .await
            .is_err()
    );
}

#[tokio::test(start_paused = true)]
async fn lookup_registry_with_wrong_types_is_an_error() {
    Topics::start(RegistryOptions::unique("kr.typed"))
        .await
        .unwrap();
    gen_server::start(Idle, StartOptions::new().name("kr.not_a_registry"))
        .await
        .unwrap();

    let wrong_value = KeyedRegistry::<String, String>::lookup_registry("kr.typed");
    assert!(
        matches!(&wrong_value, Err(LookupError::WrongType { name, .. }) if name == "kr.typed"),
        "{wrong_value:?}"
    );
    let wrong_key = KeyedRegistry::<u64, u32>::lookup_registry("kr.typed");
    assert!(
        matches!(wrong_key, Err(LookupError::WrongType { .. })),
        "{wrong_key:?}"
    );
    let not_a_registry = Topics::lookup_registry("kr.not_a_registry");
    assert!(
        matches!(not_a_registry, Err(LookupError::WrongType { .. })),
        "{not_a_registry:?}"
    );
    let missing = Topics::lookup_registry("kr.missing");
    assert!(
        matches!(missing, Err(LookupError::NotRegistered(_))),
        "{missing:?}"
    );
    assert!(Topics::lookup_registry("kr.typed").is_ok());
}

#[tokio::test(start_paused = true)]
async fn registry_restart_starts_empty() {
    let app = supervisor::start(SupervisorSpec::one_for_one().child(Topics::child_spec(
        "sessions",
        RegistryOptions::unique("kr.supervised"),
    )))
    .await
    .unwrap();
    let sessions = Topics::lookup_registry("kr.supervised").unwrap();
    let a = worker().await;
    sessions.register(a.pid(), key("s1"), 1).unwrap();
    assert_eq!(sessions.count(), 1);

    sessions.server_ref().kill();
    let restarted = eventually("the registry is restarted", || async {
        Topics::lookup_registry("kr.supervised")
            .ok()
            .filter(|again| again.pid() != sessions.pid())
    })
    .await;
    assert_eq!(restarted.count(), 0);
    assert!(restarted.lookup(&key("s1")).is_empty());
    assert!(restarted.keys(a.pid()).is_empty());
    // The old handle reads an ended registry: empty, and it refuses writes.
    assert!(sessions.lookup(&key("s1")).is_empty());
    assert!(matches!(
        sessions.register(a.pid(), key("s2"), 2),
        Err(RegisterKeyError::NotRunning(_))
    ));
    restarted.register(a.pid(), key("s1"), 3).unwrap();
    assert_eq!(restarted.lookup(&key("s1")), [(a.pid(), 3)]);
    app.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn registry_entries_end_with_its_process() {
    let sessions = Topics::start(RegistryOptions::unique("kr.stopped"))
        .await
        .unwrap();
    let a = worker().await;
    sessions.register(a.pid(), key("s1"), 1).unwrap();
    sessions.stop().await.unwrap();
    assert!(sessions.lookup(&key("s1")).is_empty());
    assert_eq!(sessions.count(), 0);
    assert!(sessions.keys(a.pid()).is_empty());
    assert!(sessions.unregister(a.pid(), &key("s1")).is_err());
    // The name is free for a new registry, which starts empty.
    let again = Topics::start(RegistryOptions::unique("kr.stopped"))
        .await
        .unwrap();
    assert!(again.lookup(&key("s1")).is_empty());
}

#[tokio::test(start_paused = true)]
async fn all_lists_each_running_registry_with_its_size() {
    let sessions = Topics::start(RegistryOptions::unique("kr.all.sessions"))
        .await
        .unwrap();
    let topics = KeyedRegistry::<u64, ()>::start(RegistryOptions::duplicate("kr.all.topics"))
        .await
        .unwrap();
    let a = worker().await;
    sessions.register(a.pid(), key("s1"), 1).unwrap();
    for _ in 0..3 {
        topics.register(a.pid(), 7, ()).unwrap();
    }
    let ours = |all: Vec<RegistryInfo>| -> Vec<RegistryInfo> {
        all.into_iter()
            .filter(|info| info.name.starts_with("kr.all."))
            .collect()
    };
    assert_eq!(
        ours(keyed_registry::all()),
        [
            RegistryInfo {
                name: "kr.all.sessions".into(),
                keys: Keys::Unique,
                entries: 1,
                pid: sessions.pid(),
            },
            RegistryInfo {
                name: "kr.all.topics".into(),
                keys: Keys::Duplicate,
                entries: 3,
                pid: topics.pid(),
            },
        ]
    );
    topics.stop().await.unwrap();
    let left = ours(keyed_registry::all());
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].name, "kr.all.sessions");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_registrations_and_exits_leave_exact_counts() {
    const PROCESSES: usize = 40;
    const KEYS_EACH: usize = 25;
    let topics = Arc::new(
        Topics::start(RegistryOptions::duplicate("kr.concurrent").partitions(4))
            .await
            .unwrap(),
    );
    let sessions = Arc::new(
        Topics::start(RegistryOptions::unique("kr.concurrent.unique").partitions(4))
            .await
            .unwrap(),
    );
    let mut workers = Vec::new();
    for _ in 0..PROCESSES {
        workers.push(worker().await);
    }
    // Every process registers from its own task, each key under a shared topic
    // and under a unique key of its own, while the first half end as soon as
    // they are done.
    let tasks: Vec<_> = workers
        .iter()
        .enumerate()
        .map(|(n, process)| {
            let (topics, sessions, process) = (topics.clone(), sessions.clone(), process.clone());
            tokio::spawn(async move {
                for k in 0..KEYS_EACH {
                    topics
                        .register(process.pid(), format!("topic-{k}"), n as u32)
                        .unwrap();
                    sessions
                        .register(process.pid(), format!("session-{n}-{k}"), k as u32)
                        .unwrap();
                    tokio::task::yield_now().await;
                }
                if n < PROCESSES / 2 {
                    process.stop(ExitReason::Normal).await.unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let staying = PROCESSES - PROCESSES / 2;
    until_count(&topics, staying * KEYS_EACH).await;
    until_count(&sessions, staying * KEYS_EACH).await;
    for k in 0..KEYS_EACH {
        let pids: HashSet<Pid> = topics
            .lookup(&format!("topic-{k}"))
            .into_iter()
            .map(|(pid, _)| pid)
            .collect();
        let expected: HashSet<Pid> = workers[PROCESSES / 2..].iter().map(|w| w.pid()).collect();
        assert_eq!(pids, expected, "topic-{k}");
    }
    for (n, process) in workers.iter().enumerate() {
        let held = sessions.keys(process.pid()).len();
        assert_eq!(held, if n < PROCESSES / 2 { 0 } else { KEYS_EACH });
    }
}
