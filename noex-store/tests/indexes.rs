//! Secondary indexes: `find` through an index returns exactly what a full scan
//! returns, for any records and any filter, also after updates and deletes.

mod fixture;

use noex_store::{BucketDef, BucketRef, Condition, Field, Filter, Key, Op};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Map, Value, json};

/// A field's value in a generated record; `None` leaves the field out.
fn value() -> impl Strategy<Value = Option<Value>> {
    let two_53: i64 = 1 << 53;
    let two_60: i64 = 1 << 60;
    prop_oneof![
        Just(None),
        Just(Some(Value::Null)),
        any::<bool>().prop_map(|b| Some(json!(b))),
        // Small integers, and the same values written as floats (1 and 1.0).
        (-3i64..4).prop_map(|i| Some(json!(i))),
        (-3i64..4).prop_map(|i| Some(json!(i as f64))),
        (-3i64..4).prop_map(|i| Some(json!(i as f64 + 0.5))),
        Just(Some(json!(-0.0))),
        // Integers past 2^53 that share an f64 with a neighbour.
        prop_oneof![
            Just(json!(two_53)),
            Just(json!(two_53 + 1)),
            Just(json!(two_53 as f64)),
            Just(json!(two_60)),
            Just(json!(two_60 + 1)),
            Just(json!(u64::MAX)),
            Just(json!(u64::MAX - 1)),
            Just(json!(u64::MAX as f64)),
            Just(json!(i64::MIN)),
        ]
        .prop_map(Some),
        prop_oneof![
            Just(""),
            Just("a"),
            Just("b"),
            Just("ab"),
            Just("B"),
            Just("é")
        ]
        .prop_map(|s| Some(json!(s))),
        (-1i64..2).prop_map(|i| Some(json!([i]))),
        (-1i64..2).prop_map(|i| Some(json!({ "x": i }))),
        (-1i64..2).prop_map(|i| Some(json!({ "x": i as f64 }))),
    ]
}

/// The fields of a generated record or patch: `a`, `b` and the path `a.x` are
/// indexed in one of the two buckets, `c` in neither.
fn fields() -> impl Strategy<Value = Map<String, Value>> {
    (value(), value(), value()).prop_map(|(a, b, c)| {
        let mut fields = Map::new();
        for (name, value) in [("a", a), ("b", b), ("c", c)] {
            if let Some(value) = value {
                fields.insert(name.to_string(), value);
            }
        }
        fields
    })
}

#[derive(Clone, Debug)]
enum Change {
    Insert(i64, Map<String, Value>),
    Update(i64, Map<String, Value>),
    Delete(i64),
}

fn change() -> impl Strategy<Value = Change> {
    let key = 0i64..24;
    prop_oneof![
        3 => (key.clone(), fields()).prop_map(|(k, f)| Change::Insert(k, f)),
        2 => (key.clone(), fields()).prop_map(|(k, f)| Change::Update(k, f)),
        1 => key.prop_map(Change::Delete),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        Just(Op::Eq),
        Just(Op::Ne),
        Just(Op::Gt),
        Just(Op::Gte),
        Just(Op::Lt),
        Just(Op::Lte),
        Just(Op::In),
    ]
}

fn condition() -> impl Strategy<Value = Condition> {
    let field = prop_oneof![Just("a"), Just("b"), Just("c"), Just("a.x")];
    let compared = value().prop_map(|v| v.unwrap_or(Value::Null));
    let listed = prop::collection::vec(value().prop_map(|v| v.unwrap_or(Value::Null)), 0..4)
        .prop_map(Value::Array);
    (field, op(), compared, listed).prop_map(|(field, op, compared, listed)| Condition {
        field: field.to_string(),
        op,
        value: if op == Op::In { listed } else { compared },
    })
}

fn filter() -> impl Strategy<Value = Filter> {
    prop::collection::vec(condition(), 1..3).prop_map(|conditions| {
        conditions.into_iter().fold(Filter::all(), |filter, c| {
            let mut operator = Map::new();
            operator.insert(op_name(c.op).to_string(), c.value);
            let mut json = Map::new();
            json.insert(c.field, Value::Object(operator));
            filter.and(Filter::from_json(&Value::Object(json)).unwrap())
        })
    })
}

fn op_name(op: Op) -> &'static str {
    match op {
        Op::Eq => "$eq",
        Op::Ne => "$ne",
        Op::Gt => "$gt",
        Op::Gte => "$gte",
        Op::Lt => "$lt",
        Op::Lte => "$lte",
        Op::In => "$in",
    }
}

fn definition(indexed: bool) -> BucketDef {
    let field = |index: bool| {
        if index {
            Field::any().index()
        } else {
            Field::any()
        }
    };
    BucketDef::new("k")
        .field("k", Field::integer())
        .field("a", field(indexed))
        .field("b", field(indexed))
        .field("c", Field::any())
        .field("a.x", field(indexed))
}

/// The same change to both buckets; both must give the same outcome.
async fn apply(
    plain: &BucketRef,
    indexed: &BucketRef,
    change: &Change,
) -> Result<(), TestCaseError> {
    let outcome = |result: Result<noex_store::Record, noex_store::StoreError>| {
        result.map(|r| strip(&r)).map_err(|e| e.code())
    };
    match change {
        Change::Insert(k, fields) => {
            let mut record = fields.clone();
            record.insert("k".into(), json!(k));
            prop_assert_eq!(
                outcome(plain.insert(&record).await),
                outcome(indexed.insert(&record).await)
            );
        }
        Change::Update(k, patch) => {
            prop_assert_eq!(
                outcome(plain.update(*k, patch).await),
                outcome(indexed.update(*k, patch).await)
            );
        }
        Change::Delete(k) => {
            prop_assert_eq!(plain.delete(*k).await.ok(), indexed.delete(*k).await.ok());
        }
    }
    Ok(())
}

/// A record without its times (which differ between the two buckets).
fn strip(record: &noex_store::Record) -> Value {
    let mut fields = record.fields().clone();
    fields.remove("_created_at");
    fields.remove("_updated_at");
    Value::Object(fields)
}

fn stripped(records: Vec<noex_store::Record>) -> Vec<Value> {
    records.iter().map(strip).collect()
}

fn same_answers(
    plain: &BucketRef,
    indexed: &BucketRef,
    filter: &Filter,
) -> Result<(), TestCaseError> {
    let scanned = stripped(plain.find(filter));
    // The scan is the filter applied to every record: the rule both must follow.
    let expected: Vec<Value> = stripped(plain.all())
        .into_iter()
        .filter(|r| filter.matches(r.as_object().unwrap()))
        .collect();
    prop_assert_eq!(&scanned, &expected, "full scan of {:?}", filter);
    prop_assert_eq!(
        stripped(indexed.find(filter)),
        scanned.clone(),
        "index for {:?}",
        filter
    );
    prop_assert_eq!(indexed.count(filter), scanned.len());
    prop_assert_eq!(
        indexed.find_one(filter).map(|r| strip(&r)),
        scanned.first().cloned()
    );
    Ok(())
}

#[test]
fn find_through_an_index_equals_a_full_scan() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (store, plain, indexed) = runtime.block_on(async {
        let store = fixture::store().await;
        let plain = store
            .define_bucket("plain", definition(false))
            .await
            .unwrap();
        let indexed = store
            .define_bucket("indexed", definition(true))
            .await
            .unwrap();
        (store, plain, indexed)
    });
    let cases = (
        prop::collection::vec((0i64..24, fields()), 0..30),
        prop::collection::vec(change(), 0..30),
        prop::collection::vec(filter(), 1..12),
    );
    let mut runner = TestRunner::new(Config::default());
    let result = runner.run(&cases, |(records, changes, filters)| {
        runtime.block_on(async {
            plain.clear().await.unwrap();
            indexed.clear().await.unwrap();
            for (k, fields) in records {
                apply(&plain, &indexed, &Change::Insert(k, fields)).await?;
            }
            for filter in &filters {
                same_answers(&plain, &indexed, filter)?;
            }
            for change in &changes {
                apply(&plain, &indexed, change).await?;
            }
            for filter in &filters {
                same_answers(&plain, &indexed, filter)?;
            }
            prop_assert_eq!(stripped(plain.all()), stripped(indexed.all()));
            Ok(())
        })
    });
    runtime.block_on(store.stop());
    if let Err(error) = result {
        panic!("{error}");
    }
}

/// An index narrows `find` to the records it lists; these are the cases where a
/// careless index would list too few.
#[tokio::test]
async fn index_finds_numbers_by_value_and_kind() {
    let (_store, things) = fixture::bucket("things", definition(true)).await;
    let values = [
        json!(1),
        json!(1.0),
        json!(-0.0),
        json!(0),
        json!(true),
        json!("1"),
        json!(null),
        json!([1]),
        json!({"x": 1}),
    ];
    for (k, v) in values.iter().enumerate() {
        things.insert(&json!({ "k": k, "a": v })).await.unwrap();
    }
    things.insert(&json!({"k": 100})).await.unwrap();
    let keys = |filter: Filter| -> Vec<Key> {
        things
            .find(&filter)
            .iter()
            .map(|r| Key::from_value(r.get("k").unwrap()).unwrap())
            .collect()
    };
    let ints = |ks: &[i64]| ks.iter().map(|k| Key::Int(*k)).collect::<Vec<_>>();
    assert_eq!(keys(Filter::eq("a", 1)), ints(&[0, 1]));
    assert_eq!(keys(Filter::eq("a", 0.0)), ints(&[2, 3]));
    assert_eq!(keys(Filter::gte("a", 0)), ints(&[0, 1, 2, 3]));
    assert_eq!(keys(Filter::gt("a", false)), ints(&[4]));
    assert_eq!(keys(Filter::lt("a", "2")), ints(&[5]));
    assert_eq!(keys(Filter::eq("a", Value::Null)), ints(&[6, 100]));
    assert_eq!(keys(Filter::eq("a", json!([1]))), ints(&[7]));
    assert_eq!(keys(Filter::eq("a", json!({"x": 1}))), ints(&[8]));
    assert_eq!(
        keys(Filter::is_in("a", [json!(1), json!("1")])),
        ints(&[0, 1, 5])
    );
}

#[tokio::test]
async fn index_keeps_large_integers_apart() {
    let (_store, things) = fixture::bucket("things", definition(true)).await;
    let big: i64 = 1 << 60;
    things.insert(&json!({"k": 1, "a": big})).await.unwrap();
    things.insert(&json!({"k": 2, "a": big + 1})).await.unwrap();
    let find = |filter: Filter| things.find(&filter).len();
    assert_eq!(find(Filter::eq("a", big + 1)), 1);
    assert_eq!(find(Filter::gt("a", big)), 1);
    assert_eq!(find(Filter::lte("a", big)), 1);
    assert_eq!(find(Filter::eq("a", big as f64)), 1);
}

#[tokio::test]
async fn index_follows_updates_and_deletes() {
    let (_store, things) = fixture::bucket("things", definition(true)).await;
    things.insert(&json!({"k": 1, "a": "old"})).await.unwrap();
    things.insert(&json!({"k": 2, "a": "old"})).await.unwrap();
    things.update(1, &json!({"a": "new"})).await.unwrap();
    things.delete(2).await.unwrap();
    assert!(things.find(&Filter::eq("a", "old")).is_empty());
    assert_eq!(things.find(&Filter::eq("a", "new")).len(), 1);
    things.update(1, &json!({"a": null})).await.unwrap();
    assert!(things.find(&Filter::eq("a", "new")).is_empty());
    assert_eq!(things.find(&Filter::eq("a", Value::Null)).len(), 1);
}

#[tokio::test]
async fn index_on_a_dotted_path_finds_nested_values() {
    // A filter reads `address.city` inside `address`; an index on that name must
    // list the same records.
    let def = BucketDef::new("k")
        .field("k", Field::integer())
        .field("address.city", Field::any().index());
    let (_store, things) = fixture::bucket("things", def).await;
    things
        .insert(&json!({"k": 1, "address": {"city": "Brno"}}))
        .await
        .unwrap();
    things
        .insert(&json!({"k": 2, "address.city": "Brno"}))
        .await
        .unwrap();
    things
        .insert(&json!({"k": 3, "address": {"city": "Zlín"}}))
        .await
        .unwrap();
    let keys = |filter: Filter| -> Vec<Value> {
        things
            .find(&filter)
            .iter()
            .map(|r| r.get("k").cloned().unwrap())
            .collect()
    };
    assert_eq!(
        keys(Filter::eq("address.city", "Brno")),
        [json!(1), json!(2)]
    );
    assert_eq!(keys(Filter::gt("address.city", "C")), [json!(3)]);
    things
        .update(1, &json!({"address": {"city": "Praha"}}))
        .await
        .unwrap();
    assert_eq!(keys(Filter::eq("address.city", "Brno")), [json!(2)]);
    assert_eq!(keys(Filter::eq("address.city", "Praha")), [json!(1)]);
}
