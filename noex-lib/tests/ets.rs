mod support;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use noex::ExitReason;
use noex::ets::{self, Access, EtsTransfer, Table, TableError, TableKind, TableOptions};
use noex::gen_server::{self, Context, GenServer, Info, Reply, ServerRef, StartOptions};
use noex::supervisor::{self, SupervisorSpec};
use proptest::prelude::*;
use support::{Idle, within};

type Transfers = Arc<Mutex<Vec<EtsTransfer<String, u64>>>>;

/// Keeps every table transfer it is sent, for the test to look at.
struct Heirloom(Transfers);

impl GenServer for Heirloom {
    type Call = ();
    type Cast = ();
    type Reply = ();

    async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<()> {
        Reply::Now(())
    }

    async fn handle_info(&mut self, message: Info, _: &mut Context<Self>) {
        if let Ok(transfer) = message.downcast::<EtsTransfer<String, u64>>() {
            self.0.lock().unwrap().push(*transfer);
        }
    }
}

async fn idle() -> ServerRef<Idle> {
    gen_server::start(Idle, StartOptions::new()).await.unwrap()
}

async fn heirloom() -> (ServerRef<Heirloom>, Transfers) {
    let transfers = Transfers::default();
    let server = gen_server::start(Heirloom(transfers.clone()), StartOptions::new())
        .await
        .unwrap();
    (server, transfers)
}

fn key(text: &str) -> String {
    text.to_owned()
}

/// A table of `options` owned by a fresh idle process.
async fn table_with(options: TableOptions) -> (ServerRef<Idle>, Table<String, u64>) {
    let owner = idle().await;
    let table = Table::new(owner.pid(), options).unwrap();
    (owner, table)
}

#[tokio::test]
async fn set_insert_replaces_existing_key() {
    let (_owner, table) = table_with(TableOptions::set()).await;
    table.insert(key("a"), 1).unwrap();
    table.insert(key("a"), 2).unwrap();
    assert_eq!(table.lookup(&key("a")).unwrap(), vec![2]);
    assert_eq!(table.len().unwrap(), 1);
}

#[tokio::test]
async fn bag_keeps_distinct_objects_per_key_in_insertion_order() {
    let (_owner, table) = table_with(TableOptions::bag()).await;
    table.insert(key("a"), 2).unwrap();
    table.insert(key("a"), 1).unwrap();
    table.insert(key("b"), 3).unwrap();
    assert_eq!(table.lookup(&key("a")).unwrap(), vec![2, 1]);
    assert_eq!(table.len().unwrap(), 3);
}

#[tokio::test]
async fn bag_insert_of_equal_object_is_ignored() {
    let (_owner, table) = table_with(TableOptions::bag()).await;
    table.insert(key("a"), 1).unwrap();
    table.insert(key("a"), 1).unwrap();
    assert_eq!(table.lookup(&key("a")).unwrap(), vec![1]);
    assert_eq!(table.len().unwrap(), 1);
}

#[tokio::test]
async fn duplicate_bag_keeps_copies_and_delete_object_removes_every_copy() {
    let (_owner, table) = table_with(TableOptions::duplicate_bag()).await;
    for value in [1, 1, 2] {
        table.insert(key("a"), value).unwrap();
    }
    assert_eq!(table.lookup(&key("a")).unwrap(), vec![1, 1, 2]);
    assert_eq!(table.delete_object(&key("a"), &1).unwrap(), 2);
    assert_eq!(table.lookup(&key("a")).unwrap(), vec![2]);
    assert_eq!(table.len().unwrap(), 1);
}

#[tokio::test]
async fn bag_delete_object_leaves_the_other_objects_of_the_key() {
    let (_owner, table) = table_with(TableOptions::bag()).await;
    table.insert(key("a"), 1).unwrap();
    table.insert(key("a"), 2).unwrap();
    assert_eq!(table.delete_object(&key("a"), &1).unwrap(), 1);
    assert_eq!(table.lookup(&key("a")).unwrap(), vec![2]);
    assert_eq!(table.delete_object(&key("a"), &2).unwrap(), 1);
    assert!(!table.member(&key("a")).unwrap());
}

#[tokio::test]
async fn ordered_set_iterates_in_key_order() {
    let (_owner, table) = table_with(TableOptions::ordered_set()).await;
    for (k, v) in [("c", 3), ("a", 1), ("d", 4), ("b", 2)] {
        table.insert(key(k), v).unwrap();
    }
    let keys: Vec<String> = table
        .to_vec()
        .unwrap()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(keys, ["a", "b", "c", "d"]);
    assert_eq!(table.first().unwrap(), Some(key("a")));
    assert_eq!(table.last().unwrap(), Some(key("d")));
    // As OTP: the next key after one that is not in the table.
    assert_eq!(table.next(&key("bb")).unwrap(), Some(key("c")));
    assert_eq!(table.prev(&key("c")).unwrap(), Some(key("b")));
    assert_eq!(table.next(&key("d")).unwrap(), None);
    assert_eq!(table.prev(&key("a")).unwrap(), None);
    let middle = table.range(key("b")..key("d")).unwrap();
    assert_eq!(middle, vec![(key("b"), 2), (key("c"), 3)]);
}

#[tokio::test]
async fn set_first_next_walks_every_key_once() {
    let (_owner, table) = table_with(TableOptions::set()).await;
    for n in 0..200u64 {
        table.insert(n.to_string(), n).unwrap();
    }
    let mut seen = Vec::new();
    let mut at = table.first().unwrap();
    while let Some(k) = at {
        at = table.next(&k).unwrap();
        seen.push(k);
    }
    seen.sort_by_key(|k| k.parse::<u64>().unwrap());
    assert_eq!(seen, (0..200u64).map(|n| n.to_string()).collect::<Vec<_>>());
    assert!(matches!(
        table.next(&key("missing")),
        Err(TableError::NoKey { .. })
    ));
}

#[tokio::test]
async fn insert_new_refuses_existing_key() {
    for options in [
        TableOptions::set(),
        TableOptions::ordered_set(),
        TableOptions::bag(),
    ] {
        let (_owner, table) = table_with(options).await;
        assert!(table.insert_new(key("a"), 1).unwrap());
        assert!(!table.insert_new(key("a"), 2).unwrap());
        assert_eq!(table.lookup(&key("a")).unwrap(), vec![1]);
    }
}

#[tokio::test]
async fn take_returns_and_removes_the_objects_of_the_key() {
    let (_owner, table) = table_with(TableOptions::bag()).await;
    table.insert(key("a"), 1).unwrap();
    table.insert(key("a"), 2).unwrap();
    assert_eq!(table.take(&key("a")).unwrap(), vec![1, 2]);
    assert!(table.lookup(&key("a")).unwrap().is_empty());
    assert_eq!(table.len().unwrap(), 0);
}

#[tokio::test]
async fn select_and_match_object_pick_by_predicate_and_select_delete_removes() {
    let (_owner, table) = table_with(TableOptions::ordered_set()).await;
    for n in 1..=6u64 {
        table.insert(n.to_string(), n).unwrap();
    }
    let doubled_evens = table.select(|_, v| (v % 2 == 0).then_some(v * 2)).unwrap();
    assert_eq!(doubled_evens, vec![4, 8, 12]);
    let big = table.match_object(|_, v| *v > 4).unwrap();
    assert_eq!(big, vec![(key("5"), 5), (key("6"), 6)]);
    assert_eq!(table.select_count(|_, v| *v > 4).unwrap(), 2);
    assert_eq!(table.select_delete(|_, v| v % 2 == 1).unwrap(), 3);
    assert_eq!(table.len().unwrap(), 3);
    table.clear().unwrap();
    assert!(table.is_empty().unwrap());
}

#[tokio::test]
async fn update_counter_adds_and_update_counter_or_inserts_the_default() {
    let (_owner, table) = table_with(TableOptions::set()).await;
    assert!(matches!(
        table.update_counter(&key("hits"), 1),
        Err(TableError::NoKey { .. })
    ));
    assert_eq!(table.update_counter_or(&key("hits"), 5, 10).unwrap(), 15);
    assert_eq!(table.update_counter(&key("hits"), 1).unwrap(), 16);
    table.insert(key("max"), u64::MAX).unwrap();
    assert!(matches!(
        table.update_counter(&key("max"), 1),
        Err(TableError::CounterOverflow { .. })
    ));
    assert_eq!(table.get(&key("max")).unwrap(), Some(u64::MAX));
}

#[tokio::test]
async fn update_counter_is_refused_by_a_bag() {
    let (_owner, table) = table_with(TableOptions::bag()).await;
    table.insert(key("a"), 1).unwrap();
    assert!(matches!(
        table.update_counter(&key("a"), 1),
        Err(TableError::WrongKind {
            kind: TableKind::Bag,
            ..
        })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn update_counter_is_atomic_under_concurrent_tasks() {
    for options in [TableOptions::set(), TableOptions::ordered_set()] {
        let (_owner, table) = table_with(options.public()).await;
        table.insert(key("n"), 0).unwrap();
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let table = table.clone();
                tokio::spawn(async move {
                    for _ in 0..1_000 {
                        table.update_counter(&key("n"), 1).unwrap();
                        tokio::task::yield_now().await;
                    }
                })
            })
            .collect();
        for task in tasks {
            within("a counting task", task).await.unwrap();
        }
        assert_eq!(table.get(&key("n")).unwrap(), Some(8_000));
    }
}

#[tokio::test]
async fn table_deleted_when_owner_exits() {
    let (owner, table) = table_with(TableOptions::set().named("deleted-with-owner")).await;
    table.insert(key("a"), 1).unwrap();
    let id = table.id();
    owner.stop(ExitReason::Normal).await.unwrap();
    // Gone by the time `stop` returns: the owner's exit deletes it before reporting.
    assert!(matches!(
        table.lookup(&key("a")),
        Err(TableError::Deleted { .. })
    ));
    assert!(matches!(
        table.insert(key("b"), 2),
        Err(TableError::Deleted { .. })
    ));
    assert!(ets::all().iter().all(|info| info.id != id));
    assert!(matches!(
        ets::whereis::<String, u64>("deleted-with-owner"),
        Err(TableError::NoTable { .. })
    ));
}

#[tokio::test]
async fn table_deleted_when_owner_is_killed() {
    let owner = idle().await;
    let table: Table<String, u64> = Table::new(owner.pid(), TableOptions::set()).unwrap();
    let down = noex::process::monitor(owner.pid());
    owner.kill();
    within("the owner's exit", down).await;
    assert!(matches!(table.len(), Err(TableError::Deleted { .. })));
}

#[tokio::test]
async fn heir_receives_table_and_transfer_message_when_owner_exits() {
    let (heir, transfers) = heirloom().await;
    let options = TableOptions::set().heir_with(heir.pid(), "inheritance");
    let (owner, table) = table_with(options).await;
    table.insert(key("a"), 1).unwrap();
    owner.stop(ExitReason::Normal).await.unwrap();
    heir.call(()).await.unwrap(); // Behind the transfer in the heir's mailbox.
    let transfer = transfers.lock().unwrap().pop().expect("a transfer");
    assert_eq!(transfer.from, owner.pid());
    let data = transfer
        .data
        .as_ref()
        .and_then(|d| d.downcast_ref::<&str>());
    assert_eq!(data, Some(&"inheritance"));
    let info = transfer.table.info().unwrap();
    assert_eq!((info.owner, info.heir), (heir.pid(), Some(heir.pid())));
    // The heir's handle writes; the old owner's handle of a protected table no longer does.
    transfer.table.insert(key("b"), 2).unwrap();
    assert_eq!(table.lookup(&key("b")).unwrap(), vec![2]);
    assert!(matches!(
        table.insert(key("c"), 3),
        Err(TableError::Access { .. })
    ));
    // The heir is the owner now, and its heir is itself: its end deletes the table.
    heir.stop(ExitReason::Normal).await.unwrap();
    assert!(matches!(table.len(), Err(TableError::Deleted { .. })));
}

#[tokio::test]
async fn table_deleted_when_heir_is_not_alive_as_owner_exits() {
    let (heir, transfers) = heirloom().await;
    let (owner, table) = table_with(TableOptions::set().heir(heir.pid())).await;
    heir.stop(ExitReason::Normal).await.unwrap();
    owner.stop(ExitReason::Normal).await.unwrap();
    assert!(matches!(table.len(), Err(TableError::Deleted { .. })));
    assert!(transfers.lock().unwrap().is_empty());
}

#[tokio::test]
async fn give_away_transfers_ownership() {
    let (receiver, transfers) = heirloom().await;
    let (owner, table) = table_with(TableOptions::set()).await;
    table.insert(key("a"), 1).unwrap();
    table.give_away(receiver.pid(), 7u32).unwrap();
    receiver.call(()).await.unwrap();
    let transfer = transfers.lock().unwrap().pop().expect("a transfer");
    assert_eq!(transfer.from, owner.pid());
    assert_eq!(
        transfer.data.as_ref().and_then(|d| d.downcast_ref::<u32>()),
        Some(&7)
    );
    assert_eq!(transfer.table.info().unwrap().owner, receiver.pid());
    assert!(transfer.table.is_owners());
    assert!(!table.is_owners());
    // Only the owner gives away; the old owner's handle of a protected table reads.
    assert!(matches!(
        table.give_away(owner.pid(), ()),
        Err(TableError::Access { .. })
    ));
    assert_eq!(table.get(&key("a")).unwrap(), Some(1));
    // The old owner's end no longer touches the table; the new owner's does.
    owner.stop(ExitReason::Normal).await.unwrap();
    assert_eq!(transfer.table.len().unwrap(), 1);
    receiver.stop(ExitReason::Normal).await.unwrap();
    assert!(matches!(table.len(), Err(TableError::Deleted { .. })));
}

#[tokio::test]
async fn give_away_refuses_the_owner_and_a_process_not_alive() {
    let (owner, table) = table_with(TableOptions::set()).await;
    assert!(matches!(
        table.give_away(owner.pid(), ()),
        Err(TableError::AlreadyOwner { .. })
    ));
    let gone = idle().await;
    gone.stop(ExitReason::Normal).await.unwrap();
    assert!(matches!(
        table.give_away(gone.pid(), ()),
        Err(TableError::NotAlive { .. })
    ));
    assert!(table.is_owners());
}

#[tokio::test]
async fn public_table_lookup_by_name_reads_and_writes() {
    let (_owner, table) = table_with(TableOptions::set().public().named("public-rw")).await;
    let other = ets::whereis_writable::<String, u64>("public-rw").unwrap();
    other.insert(key("a"), 1).unwrap();
    assert_eq!(table.get(&key("a")).unwrap(), Some(1));
    // A handle found by name is not the owner's.
    let someone = idle().await;
    assert!(matches!(
        other.give_away(someone.pid(), ()),
        Err(TableError::Access { .. })
    ));
}

#[tokio::test]
async fn protected_table_lookup_by_name_is_read_only() {
    let (_owner, table) = table_with(TableOptions::set().named("protected-ro")).await;
    table.insert(key("a"), 1).unwrap();
    let reader = ets::whereis::<String, u64>("protected-ro").unwrap();
    assert_eq!(reader.get(&key("a")).unwrap(), Some(1));
    assert!(matches!(
        ets::whereis_writable::<String, u64>("protected-ro"),
        Err(TableError::Access {
            access: Access::Protected,
            ..
        })
    ));
}

#[tokio::test]
async fn private_table_not_reachable_by_name() {
    let (_owner, table) = table_with(TableOptions::set().private().named("private-none")).await;
    table.insert(key("a"), 1).unwrap();
    assert!(matches!(
        ets::whereis::<String, u64>("private-none"),
        Err(TableError::Access {
            access: Access::Private,
            ..
        })
    ));
    assert_eq!(table.get(&key("a")).unwrap(), Some(1));
}

#[tokio::test]
async fn private_table_refuses_the_old_owners_handle_after_give_away() {
    let (receiver, _transfers) = heirloom().await;
    let (_owner, table) = table_with(TableOptions::set().private()).await;
    table.give_away(receiver.pid(), ()).unwrap();
    assert!(matches!(
        table.get(&key("a")),
        Err(TableError::Access { .. })
    ));
}

#[tokio::test]
async fn named_table_name_taken_is_an_error() {
    let (owner, _table) = table_with(TableOptions::set().named("taken")).await;
    let other = idle().await;
    let again = Table::<String, u64>::new(other.pid(), TableOptions::bag().named("taken"));
    assert!(matches!(again, Err(TableError::NameTaken { .. })));
    // Free again once the table is gone with its owner.
    owner.stop(ExitReason::Normal).await.unwrap();
    Table::<String, u64>::new(other.pid(), TableOptions::set().named("taken")).unwrap();
}

#[tokio::test]
async fn lookup_by_name_with_other_types_is_an_error() {
    let (_owner, _table) = table_with(TableOptions::set().named("typed")).await;
    assert!(matches!(
        ets::whereis::<u64, String>("typed"),
        Err(TableError::WrongType { .. })
    ));
}

#[tokio::test]
async fn table_needs_a_live_owner() {
    let gone = idle().await;
    gone.stop(ExitReason::Normal).await.unwrap();
    assert!(matches!(
        Table::<String, u64>::new(gone.pid(), TableOptions::set()),
        Err(TableError::NotAlive { .. })
    ));
}

#[tokio::test]
async fn delete_table_frees_the_name_and_ends_every_handle() {
    let (_owner, table) = table_with(TableOptions::set().public().named("dropped")).await;
    let other = ets::whereis_writable::<String, u64>("dropped").unwrap();
    other.delete_table().unwrap();
    assert!(matches!(table.len(), Err(TableError::Deleted { .. })));
    assert!(matches!(
        ets::whereis::<String, u64>("dropped"),
        Err(TableError::NoTable { .. })
    ));
}

#[tokio::test]
async fn table_info_reports_size_and_memory() {
    let (heir, _) = heirloom().await;
    let options = TableOptions::bag().public().named("info").heir(heir.pid());
    let (owner, table) = table_with(options).await;
    let empty = table.memory().unwrap();
    for n in 0..100u64 {
        table.insert(key("a"), n).unwrap();
        table.insert(n.to_string(), n).unwrap();
    }
    let info = ets::all()
        .into_iter()
        .find(|info| info.id == table.id())
        .unwrap();
    assert_eq!(info.name.as_deref(), Some("info"));
    assert_eq!((info.kind, info.access), (TableKind::Bag, Access::Public));
    assert_eq!((info.owner, info.heir), (owner.pid(), Some(heir.pid())));
    assert_eq!(info.size, 200);
    // At least each object's key and value, inline.
    let per_object = size_of::<String>() + size_of::<u64>();
    assert!(info.memory >= empty + 100 * per_object, "{info:?}");
    assert_eq!(info, table.info().unwrap());
    table.clear().unwrap();
    assert_eq!(table.info().unwrap().size, 0);
    assert!(table.memory().unwrap() < info.memory);
}

#[tokio::test]
async fn ordered_set_memory_grows_with_its_objects() {
    let (_owner, table) = table_with(TableOptions::ordered_set()).await;
    let empty = table.memory().unwrap();
    for n in 0..100u64 {
        table.insert(n.to_string(), n).unwrap();
    }
    let per_object = size_of::<String>() + size_of::<u64>();
    assert!(table.memory().unwrap() >= empty + 100 * per_object);
}

#[tokio::test]
async fn supervised_owner_restarts_with_a_fresh_table() {
    let app = supervisor::start(SupervisorSpec::one_for_one().child(
        ets::child_spec::<String, u64>("owner", TableOptions::set().public().named("supervised")),
    ))
    .await
    .unwrap();
    let table = ets::whereis_writable::<String, u64>("supervised").unwrap();
    table.insert(key("a"), 1).unwrap();
    // Ended as its supervisor ends it, then started again: a fresh owner, a fresh table.
    app.terminate_child("owner").await.unwrap();
    app.restart_child("owner").await.unwrap();
    let fresh = ets::whereis_writable::<String, u64>("supervised").unwrap();
    assert!(matches!(table.len(), Err(TableError::Deleted { .. })));
    assert_eq!(fresh.len().unwrap(), 0);
    app.stop().await.unwrap();
}

/// An operation of the model test.
#[derive(Clone, Debug)]
enum Op {
    Insert(u8, u8),
    InsertNew(u8, u8),
    Delete(u8),
    DeleteObject(u8, u8),
    Take(u8),
}

fn op() -> impl Strategy<Value = Op> {
    let k = 0u8..8;
    let v = 0u8..4;
    prop_oneof![
        (k.clone(), v.clone()).prop_map(|(k, v)| Op::Insert(k, v)),
        (k.clone(), v.clone()).prop_map(|(k, v)| Op::InsertNew(k, v)),
        k.clone().prop_map(Op::Delete),
        (k.clone(), v).prop_map(|(k, v)| Op::DeleteObject(k, v)),
        k.prop_map(Op::Take),
    ]
}

/// The rules of each kind, in the plainest terms: a list of objects per key.
fn model_apply(kind: TableKind, model: &mut BTreeMap<u8, Vec<u8>>, op: &Op) -> Vec<u8> {
    match *op {
        Op::Insert(k, v) => {
            let held = model.entry(k).or_default();
            match kind {
                TableKind::Set | TableKind::OrderedSet => *held = vec![v],
                TableKind::Bag if held.contains(&v) => {}
                _ => held.push(v),
            }
            vec![]
        }
        Op::InsertNew(k, v) => {
            model.entry(k).or_insert_with(|| vec![v]);
            vec![]
        }
        Op::Delete(k) => {
            model.remove(&k);
            vec![]
        }
        Op::Take(k) => model.remove(&k).unwrap_or_default(),
        Op::DeleteObject(k, v) => {
            if let Some(held) = model.get_mut(&k) {
                held.retain(|x| *x != v);
                if held.is_empty() {
                    model.remove(&k);
                }
            }
            vec![]
        }
    }
}

fn table_apply(table: &Table<u8, u8>, op: &Op) -> Vec<u8> {
    match *op {
        Op::Insert(k, v) => table.insert(k, v).map(|_| vec![]),
        Op::InsertNew(k, v) => table.insert_new(k, v).map(|_| vec![]),
        Op::Delete(k) => table.delete(&k).map(|_| vec![]),
        Op::Take(k) => table.take(&k),
        Op::DeleteObject(k, v) => table.delete_object(&k, &v).map(|_| vec![]),
    }
    .unwrap()
}

fn kind() -> impl Strategy<Value = TableKind> {
    prop_oneof![
        Just(TableKind::Set),
        Just(TableKind::OrderedSet),
        Just(TableKind::Bag),
        Just(TableKind::DuplicateBag),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    /// Every kind of table agrees with a sequential model of its rules, after
    /// every operation: lookups, size, and the order of an ordered set.
    #[test]
    fn tables_agree_with_a_sequential_model(
        kind in kind(),
        ops in prop::collection::vec(op(), 1..80),
        write_concurrency in any::<bool>(),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let owner = idle().await;
            let options = TableOptions::new(kind).write_concurrency(write_concurrency);
            let table = Table::<u8, u8>::new(owner.pid(), options).unwrap();
            let mut model = BTreeMap::new();
            for op in &ops {
                let (expected, got) = (model_apply(kind, &mut model, op), table_apply(&table, op));
                assert_eq!(got, expected, "{op:?}");
                for k in 0..8u8 {
                    let held = model.get(&k).cloned().unwrap_or_default();
                    assert_eq!(table.lookup(&k).unwrap(), held, "key {k} after {op:?}");
                }
                let size: usize = model.values().map(Vec::len).sum();
                assert_eq!(table.len().unwrap(), size);
            }
            let mut listed = table.to_vec().unwrap();
            if kind != TableKind::OrderedSet {
                listed.sort();
            }
            let mut expected: Vec<(u8, u8)> = model
                .iter()
                .flat_map(|(k, vs)| vs.iter().map(move |v| (*k, *v)))
                .collect();
            if kind != TableKind::OrderedSet {
                expected.sort();
            }
            assert_eq!(listed, expected);
            let counts: HashMap<u8, usize> = model.iter().map(|(k, vs)| (*k, vs.len())).collect();
            assert_eq!(table.select_count(|k, _| counts.contains_key(k)).unwrap(), table.len().unwrap());
            owner.stop(ExitReason::Normal).await.unwrap();
        });
    }
}

/// What the Observer shows in the row of the process `pid` (`noex ps`'s STATE).
fn shown_state(pid: noex::Pid) -> Option<String> {
    noex::observer::snapshot()
        .servers
        .into_iter()
        .find(|info| info.pid == pid)
        .expect("the process is running")
        .state
}

/// OTP's observer lists each table with its owner, size and memory; here each
/// shows in its owner's row, moves with a give-away and goes when it is deleted.
#[tokio::test]
async fn table_shows_in_its_owners_observer_row_and_moves_with_it() {
    let (receiver, transfers) = heirloom().await;
    let (owner, table) = table_with(TableOptions::set().named("observed")).await;
    for (name, n) in [("a", 1), ("b", 2), ("c", 3)] {
        table.insert(key(name), n).unwrap();
    }
    let shown = shown_state(owner.pid()).expect("the owner shows its table");
    assert!(shown.starts_with("table observed: 3 objects, "), "{shown}");
    assert_eq!(shown_state(receiver.pid()), None);

    table.give_away(receiver.pid(), ()).unwrap();
    receiver.call(()).await.unwrap();
    assert_eq!(
        shown_state(owner.pid()),
        None,
        "gone from the old owner's row"
    );
    let moved = shown_state(receiver.pid()).expect("the new owner shows it");
    assert!(moved.starts_with("table observed: 3 objects, "), "{moved}");

    let transfer = transfers.lock().unwrap().pop().expect("a transfer");
    transfer.table.delete_table().unwrap();
    assert_eq!(
        shown_state(receiver.pid()),
        None,
        "a deleted table shows nowhere"
    );
}
