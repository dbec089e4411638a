//! The seed's operations through the Rust API: CRUD, queries, pagination,
//! aggregates, the store's listing and figures, and the typed layer.

mod fixture;

use fixture::{bucket, store};
use noex_store::{BucketDef, BucketRef, Field, Filter, Generated, Key, Op, Store, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// `people`: auto-increment `id`, a `name`, an `age`, an `address` object.
async fn people() -> (Store, BucketRef) {
    let def = BucketDef::new("id")
        .field("id", Field::integer().generated(Generated::AutoIncrement))
        .field("name", Field::string())
        .field("age", Field::number());
    let (store, people) = bucket("people", def).await;
    for person in [
        json!({"name": "Ann", "age": 31, "address": {"city": "Brno"}, "role": "admin"}),
        json!({"name": "Bob", "age": 17, "address": {"city": "Praha"}}),
        json!({"name": "Cyd", "age": 45.5, "address": {"city": "Brno", "zip": "60200"}}),
        json!({"name": "Dan", "address": {"city": "Ostrava"}}),
        json!({"name": "Eve", "age": 17.0, "role": "user"}),
    ] {
        people.insert(&person).await.unwrap();
    }
    (store, people)
}

/// The `name` of each record, in order.
fn names(records: &[noex_store::Record]) -> Vec<&str> {
    records
        .iter()
        .map(|r| r.get("name").and_then(Value::as_str).unwrap_or("?"))
        .collect()
}

fn filter(json: Value) -> Filter {
    Filter::from_json(&json).unwrap()
}

// ---- insert, get, update, delete ----

#[tokio::test]
async fn insert_returns_the_stored_record() {
    let (_store, people) = bucket("people", BucketDef::new("id")).await;
    let record = people.insert(&json!({"id": "a", "n": 1})).await.unwrap();
    assert_eq!(record.get("id"), Some(&json!("a")));
    assert_eq!(record.get("n"), Some(&json!(1)));
    let mut fields: Vec<&str> = record.fields().keys().map(String::as_str).collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        ["_created_at", "_updated_at", "_version", "id", "n"]
    );
    assert_eq!(people.get("a"), Some(record));
}

#[tokio::test]
async fn get_of_a_missing_key_is_none() {
    let (_store, people) = people().await;
    assert_eq!(people.get(99), None);
    // An integer key and a string key are different keys.
    assert_eq!(people.get("1"), None);
    assert!(people.get(1).is_some());
    assert!(people.get(Key::Int(1)).is_some());
}

#[tokio::test]
async fn update_is_partial() {
    let (_store, people) = people().await;
    let before = people.get(1).unwrap();
    let after = people.update(1, &json!({"age": 32})).await.unwrap();
    assert_eq!(after.get("age"), Some(&json!(32)));
    assert_eq!(after.get("name"), before.get("name"));
    assert_eq!(after.get("address"), before.get("address"));
    assert_eq!(after.get("role"), before.get("role"));
    assert_eq!(people.get(1), Some(after));
}

#[tokio::test]
async fn update_replaces_a_nested_object_whole() {
    let (_store, people) = people().await;
    let after = people
        .update(3, &json!({"address": {"city": "Zlín"}}))
        .await
        .unwrap();
    assert_eq!(after.get("address"), Some(&json!({"city": "Zlín"})));
}

#[tokio::test]
async fn update_if_at_the_current_version_applies() {
    let (_store, people) = people().await;
    let after = people.update_if(1, &json!({"age": 40}), 1).await.unwrap();
    assert_eq!(after.version(), 2);
    let after = people.update_if(1, &json!({"age": 41}), 2).await.unwrap();
    assert_eq!((after.version(), after.get("age")), (3, Some(&json!(41))));
}

#[tokio::test]
async fn update_if_at_a_stale_version_is_conflict() {
    let (_store, people) = people().await;
    people.update(1, &json!({"age": 40})).await.unwrap();
    let before = people.get(1).unwrap();
    let error = people
        .update_if(1, &json!({"age": 50}), 1)
        .await
        .unwrap_err();
    assert_eq!(error.code(), "CONFLICT");
    assert_eq!(
        error,
        StoreError::Conflict {
            bucket: "people".into(),
            key: "1".into(),
            expected: 1,
            found: 2
        }
    );
    assert_eq!(
        error.details(),
        Some(json!({"bucket": "people", "key": "1", "expected": 1, "found": 2}))
    );
    assert_eq!(people.get(1), Some(before));
}

#[tokio::test]
async fn update_if_of_a_missing_key_is_not_found() {
    let (_store, people) = people().await;
    let error = people.update_if(99, &json!({}), 1).await.unwrap_err();
    assert_eq!(error.code(), "NOT_FOUND");
}

#[tokio::test]
async fn delete_says_whether_there_was_a_record() {
    let (_store, people) = people().await;
    assert!(people.delete(2).await.unwrap());
    assert!(!people.delete(2).await.unwrap());
    assert!(!people.delete("2").await.unwrap());
    assert_eq!(people.get(2), None);
    assert_eq!(people.len(), 4);
}

// ---- all, find, find_one, count ----

#[tokio::test]
async fn all_is_in_key_order_integers_before_strings() {
    let (_store, things) = bucket("things", BucketDef::new("k")).await;
    for k in [
        json!("b"),
        json!(10),
        json!("a"),
        json!(2),
        json!(-5),
        json!("B"),
    ] {
        things.insert(&json!({ "k": k })).await.unwrap();
    }
    let keys: Vec<Value> = things
        .all()
        .iter()
        .map(|r| r.get("k").cloned().unwrap())
        .collect();
    assert_eq!(
        keys,
        [
            json!(-5),
            json!(2),
            json!(10),
            json!("B"),
            json!("a"),
            json!("b")
        ]
    );
}

#[tokio::test]
async fn find_by_equality() {
    let (_store, people) = people().await;
    assert_eq!(names(&people.find(&Filter::eq("name", "Bob"))), ["Bob"]);
    assert_eq!(
        names(&people.find(&filter(json!({"role": "admin"})))),
        ["Ann"]
    );
    assert!(people.find(&Filter::eq("name", "bob")).is_empty());
}

#[tokio::test]
async fn find_equality_of_numbers_is_by_value() {
    let (_store, people) = people().await;
    assert_eq!(names(&people.find(&Filter::eq("age", 17))), ["Bob", "Eve"]);
    assert_eq!(
        names(&people.find(&Filter::eq("age", 17.0))),
        ["Bob", "Eve"]
    );
    assert_eq!(names(&people.find(&Filter::eq("age", 45.5))), ["Cyd"]);
}

#[tokio::test]
async fn find_null_matches_missing_and_null() {
    let (_store, people) = people().await;
    assert_eq!(
        names(&people.find(&Filter::eq("age", Value::Null))),
        ["Dan"]
    );
    assert_eq!(
        names(&people.find(&Filter::eq("role", Value::Null))),
        ["Bob", "Cyd", "Dan"]
    );
}

#[tokio::test]
async fn find_with_each_comparison_operator() {
    let (_store, people) = people().await;
    let find = |json: Value| names(&people.find(&filter(json))).join(",");
    assert_eq!(find(json!({"age": {"$gt": 17}})), "Ann,Cyd");
    assert_eq!(find(json!({"age": {"$gte": 17}})), "Ann,Bob,Cyd,Eve");
    assert_eq!(find(json!({"age": {"$lt": 31}})), "Bob,Eve");
    assert_eq!(find(json!({"age": {"$lte": 31}})), "Ann,Bob,Eve");
    assert_eq!(find(json!({"age": {"$gt": 17, "$lt": 45.5}})), "Ann");
    // `$ne` matches a missing field: it is not 17.
    assert_eq!(find(json!({"age": {"$ne": 17}})), "Ann,Cyd,Dan");
    assert_eq!(
        find(json!({"name": {"$in": ["Dan", "Ann", "Zed"]}})),
        "Ann,Dan"
    );
    assert_eq!(find(json!({"age": {"$in": [17, 31.0]}})), "Ann,Bob,Eve");
    assert_eq!(find(json!({"age": {"$in": []}})), "");
    assert_eq!(find(json!({"name": {"$eq": "Eve"}})), "Eve");
}

#[tokio::test]
async fn ordering_operators_compare_strings_with_strings_only() {
    let (_store, people) = people().await;
    let find = |f: Filter| names(&people.find(&f)).join(",");
    assert_eq!(find(Filter::gt("name", "Bob")), "Cyd,Dan,Eve");
    assert_eq!(find(Filter::lte("name", "Bob")), "Ann,Bob");
    // A number is neither above nor below a string, and a missing field neither.
    assert_eq!(find(Filter::gt("name", 0)), "");
    assert_eq!(find(Filter::lt("age", "z")), "");
    assert_eq!(find(Filter::lt("age", Value::Null)), "");
}

#[tokio::test]
async fn find_through_dotted_paths() {
    let (_store, people) = people().await;
    let find = |json: Value| names(&people.find(&filter(json))).join(",");
    assert_eq!(find(json!({"address.city": "Brno"})), "Ann,Cyd");
    assert_eq!(find(json!({"address.zip": {"$gte": "6"}})), "Cyd");
    assert_eq!(
        find(json!({"address.city": {"$in": ["Praha", "Ostrava"]}})),
        "Bob,Dan"
    );
    assert_eq!(find(json!({"address.city.name": "Brno"})), "");
    assert_eq!(find(json!({"name.first": "Ann"})), "");
}

#[tokio::test]
async fn conditions_on_several_fields_must_all_hold() {
    let (_store, people) = people().await;
    let f = Filter::eq("address.city", "Brno").and(Filter::gt("age", 40));
    assert_eq!(names(&people.find(&f)), ["Cyd"]);
    assert_eq!(
        f,
        filter(json!({"address.city": "Brno", "age": {"$gt": 40}}))
    );
}

#[tokio::test]
async fn empty_filter_matches_every_record() {
    let (_store, people) = people().await;
    assert_eq!(people.find(&Filter::all()), people.all());
    assert_eq!(people.find(&filter(json!({}))).len(), 5);
}

#[test]
fn filter_from_json_refuses_an_unknown_operator() {
    let error = Filter::from_json(&json!({"age": {"$regex": "1.*"}})).unwrap_err();
    assert_eq!(error.code(), "VALIDATION_ERROR");
    assert_eq!(
        error,
        StoreError::InvalidArgument(
            "field `age`: unknown operator $regex (use $eq $ne $gt $gte $lt $lte $in)".into()
        )
    );
}

#[test]
fn filter_from_json_refuses_in_without_an_array() {
    let error = Filter::from_json(&json!({"age": {"$in": 17}})).unwrap_err();
    assert_eq!(
        error,
        StoreError::InvalidArgument("field `age`: $in takes an array".into())
    );
}

#[test]
fn filter_from_json_refuses_a_filter_that_is_not_an_object() {
    for odd in [json!([]), json!("age"), json!(1), json!(null)] {
        let error = Filter::from_json(&odd).unwrap_err();
        assert!(matches!(error, StoreError::InvalidArgument(_)), "{odd}");
    }
}

#[test]
fn filter_from_json_refuses_operators_mixed_with_fields() {
    // `{"$gt": 1, "x": 2}` is neither a condition nor a plain object to compare.
    let error = Filter::from_json(&json!({"age": {"$gt": 1, "x": 2}})).unwrap_err();
    assert_eq!(error.code(), "VALIDATION_ERROR");
}

#[test]
fn filter_from_json_refuses_an_operator_in_place_of_a_field() {
    // `$or` and friends are not supported; without an error they would silently
    // compare a field named `$or`.
    let error = Filter::from_json(&json!({"$or": [{"a": 1}, {"b": 2}]})).unwrap_err();
    assert_eq!(error.code(), "VALIDATION_ERROR");
}

#[test]
fn filter_from_json_reads_each_operator() {
    let parsed = filter(
        json!({"a": {"$eq": 1, "$ne": 2, "$gt": 3, "$gte": 4, "$lt": 5, "$lte": 6, "$in": [7]}}),
    );
    let ops: Vec<Op> = parsed.conditions().iter().map(|c| c.op).collect();
    let mut sorted = ops.clone();
    sorted.sort_by_key(|op| format!("{op:?}"));
    assert_eq!(ops.len(), 7);
    assert_eq!(
        sorted,
        [Op::Eq, Op::Gt, Op::Gte, Op::In, Op::Lt, Op::Lte, Op::Ne]
    );
    // An object without operators is a value to compare with.
    let literal = filter(json!({"address": {"city": "Brno"}}));
    assert_eq!(literal, Filter::eq("address", json!({"city": "Brno"})));
}

#[tokio::test]
async fn find_one_is_the_first_match_in_key_order() {
    let (_store, people) = people().await;
    let first = people.find_one(&Filter::eq("age", 17)).unwrap();
    assert_eq!(first.get("name"), Some(&json!("Bob")));
    assert_eq!(people.find_one(&Filter::eq("age", 99)), None);
}

#[tokio::test]
async fn count_with_and_without_a_filter() {
    let (_store, people) = people().await;
    assert_eq!(people.count(&Filter::all()), 5);
    assert_eq!(people.count(&Filter::eq("address.city", "Brno")), 2);
    assert_eq!(people.count(&Filter::gt("age", 100)), 0);
}

// ---- first, last, paginate ----

#[tokio::test]
async fn first_and_last_take_n_in_key_order() {
    let (_store, people) = people().await;
    assert_eq!(names(&people.first(2)), ["Ann", "Bob"]);
    assert_eq!(names(&people.last(2)), ["Dan", "Eve"]);
    assert_eq!(people.first(10).len(), 5);
    assert_eq!(names(&people.last(10)), ["Ann", "Bob", "Cyd", "Dan", "Eve"]);
    assert!(people.first(0).is_empty());
    assert!(people.last(0).is_empty());
}

#[tokio::test]
async fn paginate_walks_every_record_once_in_key_order() {
    let (_store, things) = bucket("things", BucketDef::new("k")).await;
    for k in (0..25).map(|i| i * 10) {
        things.insert(&json!({ "k": k })).await.unwrap();
    }
    let mut seen: Vec<i64> = Vec::new();
    let mut after: Option<Key> = None;
    let mut pages = 0;
    loop {
        let page = things.paginate(4, after.as_ref());
        pages += 1;
        assert!(page.records.len() <= 4);
        seen.extend(
            page.records
                .iter()
                .map(|r| r.get("k").unwrap().as_i64().unwrap()),
        );
        let Some(next) = page.next else { break };
        assert_eq!(
            Some(next.to_value()),
            page.records.last().unwrap().get("k").cloned()
        );
        // Between pages, one record lands behind the cursor and one ahead of it.
        let Key::Int(at) = next else {
            panic!("integer keys")
        };
        things.insert(&json!({ "k": at - 1 })).await.unwrap();
        things.insert(&json!({ "k": at + 1 })).await.unwrap();
        after = Some(next);
        assert!(pages < 100, "the cursor must move");
    }
    let mut expected: Vec<i64> = (0..25).map(|i| i * 10).collect();
    // Each record inserted ahead of the cursor is seen once; those behind it are not.
    let ahead: Vec<i64> = seen.iter().filter(|k| *k % 10 == 1).copied().collect();
    expected.extend(&ahead);
    expected.sort_unstable();
    assert_eq!(seen, expected);
    assert!(!ahead.is_empty());
    assert_eq!(things.len(), 25 + 2 * (pages - 1));
}

#[tokio::test]
async fn paginate_of_an_exact_multiple_ends_without_a_cursor() {
    let (_store, people) = people().await;
    let page = people.paginate(5, None);
    assert_eq!(page.records.len(), 5);
    assert_eq!(page.next, None);
    let page = people.paginate(3, None);
    assert_eq!(page.next, Some(Key::Int(3)));
    let page = people.paginate(3, page.next.as_ref());
    assert_eq!(names(&page.records), ["Dan", "Eve"]);
    assert_eq!(page.next, None);
}

#[tokio::test]
async fn paginate_after_a_deleted_or_unknown_key_goes_on_from_there() {
    let (_store, people) = people().await;
    people.delete(2).await.unwrap();
    let page = people.paginate(2, Some(&Key::Int(2)));
    assert_eq!(names(&page.records), ["Cyd", "Dan"]);
    let page = people.paginate(2, Some(&Key::Int(99)));
    assert!(page.records.is_empty());
    assert_eq!(page.next, None);
    // Strings sort after integers.
    assert!(people.paginate(2, Some(&Key::from("a"))).records.is_empty());
}

#[tokio::test]
async fn paginate_of_an_empty_bucket_is_one_empty_page() {
    let (_store, things) = bucket("things", BucketDef::new("k")).await;
    let page = things.paginate(10, None);
    assert!(page.records.is_empty());
    assert_eq!(page.next, None);
}

// ---- clear ----

#[tokio::test]
async fn clear_removes_every_record_and_says_how_many() {
    let (_store, people) = people().await;
    assert_eq!(people.clear().await.unwrap(), 5);
    assert!(people.is_empty());
    assert!(people.all().is_empty());
    assert!(people.find(&Filter::eq("age", 17)).is_empty());
    assert_eq!(people.clear().await.unwrap(), 0);
}

// ---- aggregates ----

#[tokio::test]
async fn sum_avg_min_max_over_numbers() {
    let (_store, people) = people().await;
    let all = Filter::all();
    assert_eq!(people.sum("age", &all), json!(110.5));
    assert_eq!(people.avg("age", &all), json!(110.5 / 4.0));
    assert_eq!(people.min("age", &all), json!(17));
    assert_eq!(people.max("age", &all), json!(45.5));
}

#[tokio::test]
async fn aggregates_take_a_filter() {
    let (_store, people) = people().await;
    let brno = Filter::eq("address.city", "Brno");
    assert_eq!(people.sum("age", &brno), json!(76.5));
    assert_eq!(people.avg("age", &brno), json!(38.25));
    assert_eq!(people.min("age", &brno), json!(31));
    assert_eq!(people.max("age", &brno), json!(45.5));
}

#[tokio::test]
async fn sum_of_integers_is_an_integer() {
    let (_store, people) = people().await;
    let sum = people.sum("age", &Filter::lt("age", 40).and(Filter::ne("name", "Eve")));
    assert_eq!(sum, json!(48));
    assert!(sum.is_i64());
}

#[tokio::test]
async fn sum_of_large_integers_is_exact() {
    let (_store, things) = bucket("things", BucketDef::new("k")).await;
    let big: i64 = 1 << 60;
    things.insert(&json!({"k": 1, "n": big})).await.unwrap();
    things.insert(&json!({"k": 2, "n": 1})).await.unwrap();
    assert_eq!(things.sum("n", &Filter::all()), json!(big + 1));
    things.insert(&json!({"k": 3, "n": -big})).await.unwrap();
    assert_eq!(things.sum("n", &Filter::all()), json!(1));
}

#[tokio::test]
async fn aggregates_of_no_records_are_zero_or_null() {
    let (_store, people) = people().await;
    let none = Filter::eq("name", "nobody");
    assert_eq!(people.sum("age", &none), json!(0));
    assert_eq!(people.avg("age", &none), Value::Null);
    assert_eq!(people.min("age", &none), Value::Null);
    assert_eq!(people.max("age", &none), Value::Null);
    // Likewise over a field no record holds.
    assert_eq!(people.sum("height", &Filter::all()), json!(0));
    assert_eq!(people.avg("height", &Filter::all()), Value::Null);
}

#[tokio::test]
async fn aggregates_leave_out_values_that_are_not_numbers() {
    let (_store, things) = bucket("things", BucketDef::new("k")).await;
    for (k, n) in [
        (1, json!(4)),
        (2, json!("9")),
        (3, json!(null)),
        (4, json!([1])),
        (5, json!(2)),
    ] {
        things.insert(&json!({ "k": k, "n": n })).await.unwrap();
    }
    assert_eq!(things.sum("n", &Filter::all()), json!(6));
    assert_eq!(things.avg("n", &Filter::all()), json!(3.0));
    assert_eq!(things.min("n", &Filter::all()), json!(2));
    assert_eq!(things.max("n", &Filter::all()), json!(4));
}

#[tokio::test]
async fn min_and_max_of_strings() {
    let (_store, people) = people().await;
    assert_eq!(people.min("name", &Filter::all()), json!("Ann"));
    assert_eq!(people.max("name", &Filter::all()), json!("Eve"));
    assert_eq!(people.max("address.city", &Filter::all()), json!("Praha"));
}

#[tokio::test]
async fn min_and_max_do_not_depend_on_record_order() {
    // Numbers come before strings, whichever record is first.
    for order in [
        [json!("b"), json!(5), json!(1)],
        [json!(5), json!("b"), json!(1)],
    ] {
        let (_store, things) = bucket("things", BucketDef::new("k")).await;
        for (k, v) in order.iter().enumerate() {
            things.insert(&json!({ "k": k, "v": v })).await.unwrap();
        }
        assert_eq!(things.min("v", &Filter::all()), json!(1), "{order:?}");
        assert_eq!(things.max("v", &Filter::all()), json!(5), "{order:?}");
    }
}

// ---- the store ----

#[tokio::test]
async fn buckets_lists_the_defined_buckets_sorted() {
    let store = store().await;
    assert!(store.buckets().is_empty());
    for name in ["users", "logs", "accounts"] {
        store
            .define_bucket(name, BucketDef::new("id"))
            .await
            .unwrap();
    }
    assert_eq!(store.buckets(), ["accounts", "logs", "users"]);
}

#[tokio::test]
async fn stats_count_records_reads_writes_and_indexes() {
    let store = store().await;
    let def = BucketDef::new("id")
        .field("id", Field::integer().generated(Generated::AutoIncrement))
        .field("role", Field::string().index())
        .field("age", Field::integer().index());
    let users = store.define_bucket("users", def).await.unwrap();
    store
        .define_bucket("empty", BucketDef::new("id"))
        .await
        .unwrap();
    for role in ["a", "b", "a"] {
        users.insert(&json!({ "role": role })).await.unwrap();
    }
    users.update(1, &json!({"role": "c"})).await.unwrap();
    users.delete(2).await.unwrap();
    users.get(1);
    users.find(&Filter::eq("role", "a"));
    let stats = store.stats();
    assert_eq!(stats.name, store.name());
    assert!(!stats.persistent);
    assert_eq!((stats.queries, stats.subscriptions), (0, 0));
    let names: Vec<&str> = stats.buckets.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(names, ["empty", "users"]);
    let empty = &stats.buckets[0];
    assert_eq!(
        (empty.records, empty.bytes, empty.reads, empty.writes),
        (0, 0, 0, 0)
    );
    let users_stats = &stats.buckets[1];
    assert_eq!(users_stats.records, 2);
    assert_eq!(users_stats.writes, 5);
    assert_eq!(users_stats.reads, 2);
    assert_eq!(users_stats.indexes, ["role", "age"]);
    assert!(users_stats.bytes > 0);
    users.clear().await.unwrap();
    assert_eq!(store.stats().buckets[1].bytes, 0);
}

#[tokio::test]
async fn writes_after_stop_are_refused() {
    let (store, people) = people().await;
    store.stop().await;
    let error = people.insert(&json!({"name": "late"})).await.unwrap_err();
    assert_eq!(error, StoreError::Stopped);
    // What was stored can still be read.
    assert_eq!(people.len(), 5);
}

// ---- the typed layer ----

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct User {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    name: String,
    age: u32,
    #[serde(default)]
    tags: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct VersionedUser {
    id: Option<String>,
    name: String,
    age: u32,
    #[serde(rename = "_version", default)]
    version: u64,
    #[serde(rename = "_created_at", default)]
    created_at: u64,
}

fn users_def() -> BucketDef {
    BucketDef::new("id")
        .field("id", Field::string().generated(Generated::Uuid))
        .field("name", Field::string().required().min_length(1))
        .field("age", Field::integer().min(0.0).index())
}

#[tokio::test]
async fn typed_insert_get_update_find() {
    let (_store, users) = bucket("users", users_def()).await;
    let typed = users.typed::<User>();
    let ann = typed
        .insert(&User {
            id: None,
            name: "Ann".into(),
            age: 31,
            tags: vec!["x".into()],
        })
        .await
        .unwrap();
    let id = ann.id.clone().expect("the store made the id");
    assert_eq!(ann.name, "Ann");
    assert_eq!(typed.get(&id).unwrap(), Some(ann.clone()));
    assert_eq!(typed.get("nobody").unwrap(), None);

    let older = typed.update(&id, &json!({"age": 32})).await.unwrap();
    assert_eq!(
        older,
        User {
            age: 32,
            ..ann.clone()
        }
    );
    // A struct as the patch.
    let renamed = typed
        .update(
            &id,
            &User {
                name: "Anna".into(),
                ..older.clone()
            },
        )
        .await
        .unwrap();
    assert_eq!(renamed.name, "Anna");
    assert_eq!(users.get(&id).unwrap().version(), 3);

    typed
        .insert(&User {
            id: None,
            name: "Bob".into(),
            age: 17,
            tags: vec![],
        })
        .await
        .unwrap();
    let adults = typed.find(&Filter::gte("age", 18)).unwrap();
    assert_eq!(adults, vec![renamed.clone()]);
    assert_eq!(
        typed
            .find_one(&Filter::lt("age", 18))
            .unwrap()
            .map(|u| u.name),
        Some("Bob".into())
    );
    assert_eq!(typed.find_one(&Filter::gt("age", 99)).unwrap(), None);
    let error = typed
        .update_if(&id, &json!({"age": 1}), 2)
        .await
        .unwrap_err();
    assert_eq!(error.code(), "CONFLICT");
    let kept = typed
        .update_if(&id, &json!({"tags": ["y"]}), 3)
        .await
        .unwrap();
    assert_eq!(kept.tags, ["y"]);
    assert_eq!(typed.all().unwrap().len(), 2);
    assert!(typed.delete(&id).await.unwrap());
    assert_eq!(typed.get(&id).unwrap(), None);
}

#[tokio::test]
async fn typed_struct_may_name_the_meta_fields() {
    let (_store, users) = bucket("users", users_def()).await;
    let typed = users.typed::<VersionedUser>();
    let ann = typed
        .insert(&VersionedUser {
            id: None,
            name: "Ann".into(),
            age: 31,
            // The store keeps its own version; what the caller says is ignored.
            version: 42,
            created_at: 7,
        })
        .await
        .unwrap();
    assert_eq!(ann.version, 1);
    assert!(ann.created_at > 7);
    let id = ann.id.clone().unwrap();
    let updated = typed
        .update(
            &id,
            &VersionedUser {
                age: 32,
                ..ann.clone()
            },
        )
        .await
        .unwrap();
    assert_eq!((updated.version, updated.age), (2, 32));
    assert_eq!(updated.created_at, ann.created_at);
    assert_eq!(
        typed.find(&Filter::eq("_version", 2)).unwrap(),
        vec![updated]
    );
}

#[tokio::test]
async fn typed_insert_breaking_a_rule_is_validation_error() {
    let (_store, users) = bucket("users", users_def()).await;
    let error = users
        .typed::<User>()
        .insert(&User {
            id: None,
            name: String::new(),
            age: 1,
            tags: vec![],
        })
        .await
        .unwrap_err();
    assert_eq!(fixture::violated(error), ("name".into(), "min_length"));
    assert!(users.is_empty());
}

#[tokio::test]
async fn typed_read_of_a_record_that_does_not_fit_is_an_error() {
    let (_store, users) = bucket("users", users_def()).await;
    users.insert(&json!({"name": "NoAge"})).await.unwrap();
    let error = users.typed::<User>().all().unwrap_err();
    assert_eq!(error.code(), "VALIDATION_ERROR");
    assert!(matches!(error, StoreError::Serde(_)), "{error:?}");
}

#[test]
fn every_error_has_the_seeds_code() {
    let validation = StoreError::Validation {
        bucket: "b".into(),
        field: "f".into(),
        rule: "min",
        message: "m".into(),
    };
    let conflict = StoreError::Conflict {
        bucket: "b".into(),
        key: "1".into(),
        expected: 1,
        found: 2,
    };
    let codes = [
        (validation, "VALIDATION_ERROR"),
        (StoreError::InvalidArgument("x".into()), "VALIDATION_ERROR"),
        (StoreError::Serde("x".into()), "VALIDATION_ERROR"),
        (
            StoreError::AlreadyExists {
                bucket: "b".into(),
                what: "key 1".into(),
            },
            "ALREADY_EXISTS",
        ),
        (
            StoreError::BucketAlreadyDefined("b".into()),
            "ALREADY_EXISTS",
        ),
        (
            StoreError::NotFound {
                bucket: "b".into(),
                key: "1".into(),
            },
            "NOT_FOUND",
        ),
        (
            StoreError::BucketNotDefined("b".into()),
            "BUCKET_NOT_DEFINED",
        ),
        (StoreError::QueryNotDefined("q".into()), "QUERY_NOT_DEFINED"),
        (conflict, "CONFLICT"),
        (StoreError::Persistence("disk".into()), "INTERNAL_ERROR"),
        (
            StoreError::Query {
                query: "q".into(),
                message: "m".into(),
            },
            "INTERNAL_ERROR",
        ),
        (StoreError::Stopped, "INTERNAL_ERROR"),
    ];
    for (error, code) in codes {
        assert_eq!(error.code(), code, "{error:?}");
    }
}

// ---- concurrent writers ----

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_inserts_get_distinct_auto_increment_keys() {
    let def = BucketDef::new("id")
        .field("id", Field::integer().generated(Generated::AutoIncrement))
        .field("email", Field::string().unique());
    let (_store, things) = bucket("things", def).await;
    let writers: Vec<_> = (0..200)
        .map(|i| {
            let things = things.clone();
            // Every other pair of writers races for the same unique email.
            tokio::spawn(async move {
                things
                    .insert(&json!({ "email": format!("{}", i / 2) }))
                    .await
            })
        })
        .collect();
    let mut stored = 0;
    for writer in writers {
        match writer.await.unwrap() {
            Ok(_) => stored += 1,
            Err(error) => assert_eq!(error.code(), "ALREADY_EXISTS"),
        }
    }
    assert_eq!(stored, 100);
    assert_eq!(things.len(), 100);
    let mut emails: Vec<Value> = things
        .all()
        .iter()
        .map(|r| r.get("email").cloned().unwrap())
        .collect();
    emails.sort_by_key(|e| e.as_str().unwrap().parse::<u32>().unwrap());
    emails.dedup();
    assert_eq!(emails.len(), 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_update_if_lets_one_writer_win_each_version() {
    let (_store, things) = bucket("things", BucketDef::new("k")).await;
    things.insert(&json!({"k": 1, "n": 0})).await.unwrap();
    let writers: Vec<_> = (0..50)
        .map(|i| {
            let things = things.clone();
            tokio::spawn(async move { things.update_if(1, &json!({ "n": i }), 1).await })
        })
        .collect();
    let mut won = Vec::new();
    for writer in writers {
        match writer.await.unwrap() {
            Ok(record) => won.push(record),
            Err(error) => assert_eq!(error.code(), "CONFLICT"),
        }
    }
    assert_eq!(won.len(), 1);
    assert_eq!(things.get(1), Some(won[0].clone()));
    assert_eq!(won[0].version(), 2);
}

#[tokio::test]
async fn bytes_follow_records_in_and_out() {
    let (store, things) = bucket("things", BucketDef::new("k")).await;
    let bytes = || store.stats().buckets[0].bytes;
    things
        .insert(&json!({"k": 1, "text": "short"}))
        .await
        .unwrap();
    let one = bytes();
    things
        .insert(&json!({"k": 2, "text": "x".repeat(1000)}))
        .await
        .unwrap();
    assert!(bytes() >= one + 1000, "{} after {one}", bytes());
    things.update(2, &json!({"text": "short"})).await.unwrap();
    assert_eq!(bytes(), 2 * one);
    things.delete(1).await.unwrap();
    things.delete(2).await.unwrap();
    assert_eq!(bytes(), 0);
}
