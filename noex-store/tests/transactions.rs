//! Transactions: all or nothing across buckets, optimistic with CONFLICT, and a
//! property test of concurrent transactions against a sequential model.

use std::collections::BTreeMap;

use noex_store::{BucketDef, Field, Filter, Generated, Store, StoreError, StoreOptions, TxOp};
use proptest::prelude::*;
use serde_json::{Value, json};

mod fixture;

async fn bank(name: &str) -> Store {
    fixture::agent_off();
    let store = Store::start(StoreOptions::new(name)).await.unwrap();
    store
        .define_bucket(
            "accounts",
            BucketDef::new("id")
                .field("id", Field::string())
                .field("balance", Field::integer().min(0.0).required()),
        )
        .await
        .unwrap();
    store
        .define_bucket(
            "log",
            BucketDef::new("seq")
                .field("seq", Field::integer().generated(Generated::AutoIncrement))
                .field("note", Field::string().unique()),
        )
        .await
        .unwrap();
    store
}

#[tokio::test]
async fn transaction_commits_every_bucket_or_none() {
    let store = bank("tx-commit").await;
    let accounts = store.bucket("accounts").unwrap();
    accounts
        .insert(&json!({"id": "a", "balance": 100}))
        .await
        .unwrap();
    accounts
        .insert(&json!({"id": "b", "balance": 0}))
        .await
        .unwrap();

    store
        .transaction(|tx| {
            tx.update("accounts", "a", &json!({"balance": 60}))?;
            tx.update("accounts", "b", &json!({"balance": 40}))?;
            tx.insert("log", &json!({"note": "a->b 40"}))?;
            Ok::<_, StoreError>(())
        })
        .await
        .unwrap();

    assert_eq!(accounts.get("a").unwrap().get("balance"), Some(&json!(60)));
    assert_eq!(accounts.get("b").unwrap().get("balance"), Some(&json!(40)));
    assert_eq!(store.bucket("log").unwrap().len(), 1);
    assert_eq!(accounts.get("a").unwrap().version(), 2);
}

#[tokio::test]
async fn transaction_body_error_applies_nothing() {
    let store = bank("tx-abort").await;
    let accounts = store.bucket("accounts").unwrap();
    accounts
        .insert(&json!({"id": "a", "balance": 100}))
        .await
        .unwrap();

    #[derive(Debug, PartialEq)]
    enum Refused {
        Store(StoreError),
        NotToday,
    }
    impl From<StoreError> for Refused {
        fn from(error: StoreError) -> Refused {
            Refused::Store(error)
        }
    }
    let outcome = store
        .transaction(|tx| {
            tx.update("accounts", "a", &json!({"balance": 0}))?;
            tx.insert("log", &json!({"note": "drained"}))?;
            Err::<(), _>(Refused::NotToday)
        })
        .await;

    assert_eq!(outcome, Err(Refused::NotToday));
    assert_eq!(accounts.get("a").unwrap().get("balance"), Some(&json!(100)));
    assert!(store.bucket("log").unwrap().is_empty());
}

#[tokio::test]
async fn transaction_conflict_rolls_back_all() {
    let store = bank("tx-conflict").await;
    let accounts = store.bucket("accounts").unwrap();
    accounts
        .insert(&json!({"id": "a", "balance": 100}))
        .await
        .unwrap();
    let meddler = accounts.clone();

    let outcome = store
        .transaction(|tx| {
            let a = tx.get("accounts", "a")?.unwrap();
            tx.insert("log", &json!({"note": "withdraw 30"}))?;
            // Another writer changes the record this transaction read.
            futures::executor::block_on(meddler.update("a", &json!({"balance": 10})))?;
            let balance = a.get("balance").unwrap().as_i64().unwrap();
            tx.update("accounts", "a", &json!({"balance": balance - 30}))?;
            Ok::<_, StoreError>(())
        })
        .await;

    let error = outcome.unwrap_err();
    assert_eq!(
        error,
        StoreError::Conflict {
            bucket: "accounts".into(),
            key: "\"a\"".into(),
            expected: 1,
            found: 2,
        }
    );
    assert_eq!(error.code(), "CONFLICT");
    assert_eq!(accounts.get("a").unwrap().get("balance"), Some(&json!(10)));
    assert!(
        store.bucket("log").unwrap().is_empty(),
        "the other bucket's write is rolled back too"
    );
}

#[tokio::test]
async fn transaction_failing_at_commit_undoes_earlier_writes() {
    let store = bank("tx-undo").await;
    let log = store.bucket("log").unwrap();
    log.insert(&json!({"note": "taken"})).await.unwrap();
    let accounts = store.bucket("accounts").unwrap();
    accounts
        .insert(&json!({"id": "a", "balance": 5}))
        .await
        .unwrap();

    // The unique note is only found taken at commit, after the account's update
    // was applied: the update must be undone.
    let outcome = store
        .transaction(|tx| {
            tx.update("accounts", "a", &json!({"balance": 6}))?;
            tx.insert("accounts", &json!({"id": "new", "balance": 1}))?;
            tx.insert("log", &json!({"note": "taken"}))?;
            Ok::<_, StoreError>(())
        })
        .await;

    assert_eq!(outcome.unwrap_err().code(), "ALREADY_EXISTS");
    assert_eq!(accounts.get("a").unwrap().get("balance"), Some(&json!(5)));
    assert_eq!(accounts.get("a").unwrap().version(), 1);
    assert!(accounts.get("new").is_none());
    assert_eq!(log.len(), 1);
}

#[tokio::test]
async fn transaction_reads_its_own_writes() {
    let store = bank("tx-own").await;
    let seen = store
        .transaction(|tx| {
            tx.insert("accounts", &json!({"id": "a", "balance": 1}))?;
            tx.update("accounts", "a", &json!({"balance": 2}))?;
            tx.update("accounts", "a", &json!({"balance": 3}))?;
            tx.insert("accounts", &json!({"id": "b", "balance": 9}))?;
            tx.delete("accounts", "b")?;
            let a = tx.get("accounts", "a")?.unwrap();
            let all = tx.find("accounts", &Filter::all())?;
            tx.insert("accounts", &json!({"id": "poor", "balance": 0}))?;
            let rich = tx.find("accounts", &Filter::gte("balance", 3))?;
            assert_eq!(
                rich.len(),
                1,
                "its own writes meet the filter or not like any"
            );
            assert_eq!(tx.count("accounts", &Filter::lt("balance", 3))?, 1);
            tx.delete("accounts", "poor")?;
            Ok::<_, StoreError>((a, all.len()))
        })
        .await
        .unwrap();
    assert_eq!(seen.0.get("balance"), Some(&json!(3)));
    assert_eq!(seen.1, 1);
    let stored = store.bucket("accounts").unwrap().get("a").unwrap();
    assert_eq!(stored.get("balance"), Some(&json!(3)));
    assert_eq!(stored.version(), 1, "one commit makes one version");
    assert!(store.bucket("accounts").unwrap().get("b").is_none());
}

#[tokio::test]
async fn transaction_filter_conflicts_with_an_insert_it_did_not_see() {
    let store = bank("tx-phantom").await;
    let accounts = store.bucket("accounts").unwrap();
    accounts
        .insert(&json!({"id": "a", "balance": 1}))
        .await
        .unwrap();
    let meddler = accounts.clone();

    let outcome = store
        .transaction(|tx| {
            let rich = tx.count("accounts", &Filter::gte("balance", 100))?;
            futures::executor::block_on(meddler.insert(&json!({"id": "z", "balance": 500})))?;
            tx.insert("log", &json!({"note": format!("{rich} rich")}))?;
            Ok::<_, StoreError>(())
        })
        .await;

    let error = outcome.unwrap_err();
    assert!(
        matches!(&error, StoreError::Conflict { key, .. } if key == "*"),
        "{error}"
    );
    assert!(store.bucket("log").unwrap().is_empty());
}

#[tokio::test]
async fn read_only_transaction_never_conflicts() {
    let store = bank("tx-read-only").await;
    let accounts = store.bucket("accounts").unwrap();
    accounts
        .insert(&json!({"id": "a", "balance": 1}))
        .await
        .unwrap();
    let meddler = accounts.clone();
    let balance = store
        .transaction(|tx| {
            let a = tx.get("accounts", "a")?.unwrap();
            futures::executor::block_on(meddler.update("a", &json!({"balance": 2})))?;
            Ok::<_, StoreError>(a.get("balance").cloned())
        })
        .await
        .unwrap();
    assert_eq!(balance, Some(json!(1)));
}

#[tokio::test]
async fn transaction_ops_in_the_seed_form() {
    let store = bank("tx-ops").await;
    store
        .bucket("accounts")
        .unwrap()
        .insert(&json!({"id": "user-1", "balance": 500}))
        .await
        .unwrap();
    let ops: Vec<TxOp> = serde_json::from_value(json!([
        { "op": "get", "bucket": "accounts", "key": "user-1" },
        { "op": "update", "bucket": "accounts", "key": "user-1", "data": { "balance": 400 } },
        { "op": "insert", "bucket": "log", "data": { "note": "credit_update" } },
        { "op": "count", "bucket": "log" },
        { "op": "where", "bucket": "accounts", "filter": { "balance": { "$lt": 450 } } },
        { "op": "findOne", "bucket": "log", "filter": { "note": "credit_update" } },
        { "op": "delete", "bucket": "accounts", "key": "nobody" },
    ]))
    .unwrap();
    let results = store.transaction_ops(ops).await.unwrap();
    assert_eq!(results.len(), 7);
    assert_eq!(results[0]["balance"], json!(500));
    assert_eq!(results[1]["balance"], json!(400));
    assert_eq!(results[1]["_version"], json!(2));
    assert_eq!(results[2]["seq"], json!(1));
    assert_eq!(results[3], json!(1));
    assert_eq!(results[4].as_array().unwrap().len(), 1);
    assert_eq!(results[5]["note"], json!("credit_update"));
    assert_eq!(results[6], json!(false));

    let failing: Vec<TxOp> = serde_json::from_value(json!([
        { "op": "insert", "bucket": "log", "data": { "note": "second" } },
        { "op": "update", "bucket": "accounts", "key": "ghost", "data": { "balance": 1 } },
    ]))
    .unwrap();
    let error = store.transaction_ops(failing).await.unwrap_err();
    assert_eq!(error.code(), "NOT_FOUND");
    assert_eq!(
        store.bucket("log").unwrap().len(),
        1,
        "the insert before the failure is not applied"
    );
}

/// One transfer, as the model replays it.
#[derive(Clone, Debug)]
struct Transfer {
    from: usize,
    to: usize,
    amount: i64,
}

const ACCOUNTS: usize = 4;
const OPENING: i64 = 50;

fn balance_of(record: Option<noex_store::Record>) -> i64 {
    record
        .and_then(|r| r.get("balance").and_then(Value::as_i64))
        .expect("every account has a balance")
}

/// One transfer as a transaction: refused (Ok(false)) when the balance is short.
fn transfer_in(tx: &mut noex_store::Transaction<'_>, t: &Transfer) -> Result<bool, StoreError> {
    let from = format!("acct-{}", t.from);
    let to = format!("acct-{}", t.to);
    let from_balance = balance_of(tx.get("accounts", from.as_str())?);
    if from_balance < t.amount {
        return Ok(false);
    }
    tx.update(
        "accounts",
        from.as_str(),
        &json!({"balance": from_balance - t.amount}),
    )?;
    // Read after the debit: a transfer to the same account sees its own write.
    let to_balance = balance_of(tx.get("accounts", to.as_str())?);
    tx.update(
        "accounts",
        to.as_str(),
        &json!({"balance": to_balance + t.amount}),
    )?;
    let next = tx
        .get("meta", "seq")?
        .and_then(|r| r.get("next").and_then(Value::as_i64))
        .expect("the sequence record exists");
    tx.update("meta", "seq", &json!({"next": next + 1}))?;
    tx.insert(
        "log",
        &json!({"note": format!("#{next}"), "order": next, "from": t.from, "to": t.to, "amount": t.amount}),
    )?;
    Ok(true)
}

/// Runs `transfers` from several tasks at once, each retrying on CONFLICT, and
/// returns the store's final balances and its log in commit order.
async fn run_concurrently(transfers: Vec<Vec<Transfer>>) -> (Vec<i64>, Vec<Value>) {
    let store = bank(&format!("tx-model-{}", next_suffix())).await;
    let accounts = store.bucket("accounts").unwrap();
    for i in 0..ACCOUNTS {
        accounts
            .insert(&json!({"id": format!("acct-{i}"), "balance": OPENING}))
            .await
            .unwrap();
    }
    store
        .define_bucket("meta", BucketDef::new("id").field("next", Field::integer()))
        .await
        .unwrap()
        .insert(&json!({"id": "seq", "next": 1}))
        .await
        .unwrap();

    let mut tasks = Vec::new();
    for batch in transfers {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for transfer in batch {
                loop {
                    match store.transaction(|tx| transfer_in(tx, &transfer)).await {
                        Err(StoreError::Conflict { .. }) => tokio::task::yield_now().await,
                        Err(other) => panic!("unexpected {other}"),
                        Ok(_) => break,
                    }
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let balances = (0..ACCOUNTS)
        .map(|i| balance_of(accounts.get(format!("acct-{i}"))))
        .collect();
    let mut log: Vec<Value> = store
        .bucket("log")
        .unwrap()
        .all()
        .into_iter()
        .map(Value::from)
        .collect();
    log.sort_by_key(|entry| entry["order"].as_i64());
    store.stop().await;
    (balances, log)
}

fn next_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

fn transfer() -> impl Strategy<Value = Transfer> {
    (0..ACCOUNTS, 0..ACCOUNTS, 1i64..40).prop_map(|(from, to, amount)| Transfer {
        from,
        to,
        amount,
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Serializability: the committed transactions, replayed one at a time in their
    /// commit order on a plain model, give exactly the store's state; no
    /// transaction is half there (every log entry has both balance changes, and
    /// every balance change has its log entry).
    #[test]
    fn concurrent_transactions_match_a_sequential_model(
        transfers in prop::collection::vec(prop::collection::vec(transfer(), 1..12), 2..6)
    ) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let (balances, log) = runtime.block_on(run_concurrently(transfers));

        let mut model: BTreeMap<usize, i64> = (0..ACCOUNTS).map(|i| (i, OPENING)).collect();
        for (position, entry) in log.iter().enumerate() {
            prop_assert_eq!(entry["order"].as_i64(), Some(position as i64 + 1), "commit order has no gaps");
            let (from, to, amount) = (
                entry["from"].as_u64().unwrap() as usize,
                entry["to"].as_u64().unwrap() as usize,
                entry["amount"].as_i64().unwrap(),
            );
            prop_assert!(model[&from] >= amount, "a committed transfer saw a balance it could not have");
            *model.get_mut(&from).unwrap() -= amount;
            *model.get_mut(&to).unwrap() += amount;
        }
        let expected: Vec<i64> = model.into_values().collect();
        prop_assert_eq!(balances.iter().sum::<i64>(), OPENING * ACCOUNTS as i64);
        prop_assert_eq!(balances, expected);
    }
}
