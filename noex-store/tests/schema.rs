//! Schemas: types, required fields, defaults, generated values, unique fields, value
//! rules, meta fields and the errors a broken rule gives.

mod fixture;

use fixture::{bucket, store, violated, wait_past};
use noex_store::{BucketDef, Field, FieldType, Filter, Generated, Key, StoreError};
use serde_json::{Value, json};

/// A bucket keyed by an auto-increment `id` with one more field `v`.
fn one_field(field: Field) -> BucketDef {
    BucketDef::new("id")
        .field("id", Field::integer().generated(Generated::AutoIncrement))
        .field("v", field)
}

/// Inserts `{"v": value}` into a bucket whose field `v` is `field`: the stored value,
/// or the rule it broke.
async fn try_value(field: Field, value: Value) -> Result<Value, (String, &'static str)> {
    let (_store, things) = bucket("things", one_field(field)).await;
    match things.insert(&json!({ "v": value })).await {
        Ok(record) => Ok(record.get("v").cloned().unwrap_or(Value::Null)),
        Err(error) => Err(violated(error)),
    }
}

async fn accepts(field: Field, value: Value) {
    assert_eq!(
        try_value(field.clone(), value.clone()).await,
        Ok(value.clone()),
        "{:?} should accept {value}",
        field.kind()
    );
}

async fn refuses(field: Field, value: Value, rule: &str) {
    assert_eq!(
        try_value(field.clone(), value.clone()).await,
        Err(("v".to_string(), leak(rule))),
        "{:?} should refuse {value} by its {rule} rule",
        field.kind()
    );
}

fn leak(rule: &str) -> &'static str {
    Box::leak(rule.to_string().into_boxed_str())
}

// ---- types ----

#[tokio::test]
async fn string_field_accepts_strings_only() {
    accepts(Field::string(), json!("text")).await;
    accepts(Field::string(), json!("")).await;
    for other in [json!(1), json!(true), json!({}), json!([]), json!(1.5)] {
        refuses(Field::string(), other, "type").await;
    }
}

#[tokio::test]
async fn number_field_accepts_integers_and_fractions() {
    accepts(Field::number(), json!(3)).await;
    accepts(Field::number(), json!(-2.5)).await;
    accepts(Field::number(), json!(u64::MAX)).await;
    for other in [json!("3"), json!(true), json!({}), json!([3])] {
        refuses(Field::number(), other, "type").await;
    }
}

#[tokio::test]
async fn integer_field_accepts_whole_numbers_only() {
    accepts(Field::integer(), json!(7)).await;
    accepts(Field::integer(), json!(-7)).await;
    accepts(Field::integer(), json!(i64::MIN)).await;
    accepts(Field::integer(), json!(u64::MAX)).await;
    // A whole number written with a fraction part is still whole.
    accepts(Field::integer(), json!(7.0)).await;
    for other in [json!(7.5), json!("7"), json!(false), json!([7])] {
        refuses(Field::integer(), other, "type").await;
    }
}

#[tokio::test]
async fn boolean_field_accepts_true_and_false_only() {
    accepts(Field::boolean(), json!(true)).await;
    accepts(Field::boolean(), json!(false)).await;
    for other in [json!(0), json!("true"), json!({}), json!([])] {
        refuses(Field::boolean(), other, "type").await;
    }
}

#[tokio::test]
async fn object_field_accepts_objects_only() {
    accepts(Field::object(), json!({})).await;
    accepts(Field::object(), json!({"a": {"b": [1, 2]}})).await;
    for other in [json!([]), json!("{}"), json!(1), json!(true)] {
        refuses(Field::object(), other, "type").await;
    }
}

#[tokio::test]
async fn array_field_accepts_arrays_only() {
    accepts(Field::array(), json!([])).await;
    accepts(Field::array(), json!([1, "two", null, {"x": 3}])).await;
    for other in [json!({}), json!("[]"), json!(1), json!(false)] {
        refuses(Field::array(), other, "type").await;
    }
}

#[tokio::test]
async fn any_field_accepts_every_type() {
    for value in [
        json!("s"),
        json!(1),
        json!(1.5),
        json!(true),
        json!({"a": 1}),
        json!([1]),
    ] {
        accepts(Field::any(), value).await;
    }
}

#[tokio::test]
async fn type_error_says_what_was_expected_and_given() {
    let (_store, things) = bucket("things", one_field(Field::integer())).await;
    let error = things.insert(&json!({"v": "seven"})).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "bucket things: field `v` type: must be integer, not a string"
    );
    assert_eq!(
        error.details(),
        Some(json!({"bucket": "things", "field": "v", "rule": "type"}))
    );
}

#[tokio::test]
async fn fields_outside_the_schema_are_kept_unchecked() {
    let (_store, things) = bucket("things", one_field(Field::string())).await;
    let record = things
        .insert(&json!({"v": "x", "extra": [1, {"deep": true}]}))
        .await
        .unwrap();
    assert_eq!(record.get("extra"), Some(&json!([1, {"deep": true}])));
}

// ---- required and default ----

#[tokio::test]
async fn required_field_missing_is_validation_error() {
    let (_store, things) = bucket("things", one_field(Field::string().required())).await;
    let error = things.insert(&json!({})).await.unwrap_err();
    assert_eq!(violated(error), ("v".into(), "required"));
    assert!(things.is_empty());
}

#[tokio::test]
async fn required_field_null_is_validation_error() {
    let (_store, things) = bucket("things", one_field(Field::string().required())).await;
    let error = things.insert(&json!({"v": null})).await.unwrap_err();
    assert_eq!(violated(error), ("v".into(), "required"));
}

#[tokio::test]
async fn required_field_cannot_be_removed_by_update() {
    let (_store, things) = bucket("things", one_field(Field::string().required())).await;
    let record = things.insert(&json!({"v": "here"})).await.unwrap();
    let error = things.update(1, &json!({"v": null})).await.unwrap_err();
    assert_eq!(violated(error), ("v".into(), "required"));
    assert_eq!(things.get(1), Some(record));
}

#[tokio::test]
async fn default_fills_a_missing_field() {
    let (_store, things) =
        bucket("things", one_field(Field::string().default(json!("user")))).await;
    let record = things.insert(&json!({})).await.unwrap();
    assert_eq!(record.get("v"), Some(&json!("user")));
}

#[tokio::test]
async fn default_fills_a_null_field() {
    let (_store, things) =
        bucket("things", one_field(Field::string().default(json!("user")))).await;
    let record = things.insert(&json!({"v": null})).await.unwrap();
    assert_eq!(record.get("v"), Some(&json!("user")));
}

#[tokio::test]
async fn default_does_not_replace_a_given_value() {
    let (_store, things) =
        bucket("things", one_field(Field::string().default(json!("user")))).await;
    let record = things.insert(&json!({"v": "admin"})).await.unwrap();
    assert_eq!(record.get("v"), Some(&json!("admin")));
}

#[tokio::test]
async fn default_satisfies_required() {
    let field = Field::integer().required().default(json!(0));
    let (_store, things) = bucket("things", one_field(field)).await;
    assert_eq!(
        things.insert(&json!({})).await.unwrap().get("v"),
        Some(&json!(0))
    );
}

#[tokio::test]
async fn default_that_breaks_its_rules_fails_define_bucket() {
    let store = store().await;
    let def = one_field(
        Field::string()
            .default(json!("guest"))
            .one_of(["user", "admin"]),
    );
    let error = store.define_bucket("things", def).await.unwrap_err();
    assert_eq!(violated(error), ("v".into(), "enum"));
    assert_eq!(
        store.bucket("things").unwrap_err(),
        StoreError::BucketNotDefined("things".into())
    );
}

// ---- generated values ----

#[tokio::test]
async fn insert_generates_uuid_key() {
    let def = BucketDef::new("id").field("id", Field::string().generated(Generated::Uuid));
    let (_store, users) = bucket("users", def).await;
    let a = users.insert(&json!({"name": "a"})).await.unwrap();
    let b = users.insert(&json!({"name": "b"})).await.unwrap();
    let id = a.get("id").and_then(Value::as_str).unwrap();
    let parsed = uuid::Uuid::parse_str(id).expect("a uuid");
    assert_eq!(parsed.get_version_num(), 4);
    assert_ne!(a.get("id"), b.get("id"));
    assert_eq!(users.get(id), Some(a));
}

#[tokio::test]
async fn given_uuid_field_is_kept() {
    let def = BucketDef::new("id").field("id", Field::string().generated(Generated::Uuid));
    let (_store, users) = bucket("users", def).await;
    let record = users.insert(&json!({"id": "mine"})).await.unwrap();
    assert_eq!(record.get("id"), Some(&json!("mine")));
}

#[tokio::test]
async fn auto_increment_counts_from_one() {
    let (_store, things) = bucket("things", one_field(Field::any())).await;
    for expected in 1..=3 {
        let record = things.insert(&json!({})).await.unwrap();
        assert_eq!(record.get("id"), Some(&json!(expected)));
    }
}

#[tokio::test]
async fn auto_increment_continues_past_explicit_larger_key() {
    let (_store, things) = bucket("things", one_field(Field::any())).await;
    things.insert(&json!({})).await.unwrap();
    things.insert(&json!({"id": 100})).await.unwrap();
    let next = things.insert(&json!({})).await.unwrap();
    assert_eq!(next.get("id"), Some(&json!(101)));
    // A smaller explicit key does not move the counter back.
    things.insert(&json!({"id": 50})).await.unwrap();
    let next = things.insert(&json!({})).await.unwrap();
    assert_eq!(next.get("id"), Some(&json!(102)));
}

#[tokio::test]
async fn auto_increment_continues_past_an_explicit_key_written_as_a_float() {
    let (_store, things) = bucket("things", one_field(Field::any())).await;
    things.insert(&json!({"id": 5.0})).await.unwrap();
    let next = things.insert(&json!({})).await.unwrap();
    assert_eq!(next.get("id"), Some(&json!(6)));
}

#[tokio::test]
async fn auto_increment_keeps_counting_across_deletes() {
    let (_store, things) = bucket("things", one_field(Field::any())).await;
    things.insert(&json!({})).await.unwrap();
    things.insert(&json!({})).await.unwrap();
    assert!(things.delete(2).await.unwrap());
    assert!(things.delete(1).await.unwrap());
    let next = things.insert(&json!({})).await.unwrap();
    assert_eq!(next.get("id"), Some(&json!(3)));
}

#[tokio::test]
async fn auto_increment_keeps_counting_across_clear() {
    let (_store, things) = bucket("things", one_field(Field::any())).await;
    things.insert(&json!({})).await.unwrap();
    things.insert(&json!({})).await.unwrap();
    assert_eq!(things.clear().await.unwrap(), 2);
    let next = things.insert(&json!({})).await.unwrap();
    assert_eq!(next.get("id"), Some(&json!(3)));
}

#[tokio::test]
async fn auto_increment_of_a_non_key_field() {
    let def = BucketDef::new("name")
        .field("name", Field::string())
        .field("seq", Field::integer().generated(Generated::AutoIncrement));
    let (_store, things) = bucket("things", def).await;
    let a = things.insert(&json!({"name": "a"})).await.unwrap();
    let b = things.insert(&json!({"name": "b"})).await.unwrap();
    assert_eq!(
        (a.get("seq"), b.get("seq")),
        (Some(&json!(1)), Some(&json!(2)))
    );
}

#[tokio::test]
async fn auto_increment_past_the_largest_integer_is_an_error_not_a_panic() {
    let (_store, things) = bucket("things", one_field(Field::any())).await;
    things.insert(&json!({"id": i64::MAX})).await.unwrap();
    let error = things.insert(&json!({})).await.unwrap_err();
    assert_eq!(violated(error).0, "id");
}

#[tokio::test]
async fn generated_timestamp_is_the_insert_time() {
    let def = BucketDef::new("id")
        .field("id", Field::integer().generated(Generated::AutoIncrement))
        .field("at", Field::integer().generated(Generated::Timestamp));
    let (_store, things) = bucket("things", def).await;
    let before = fixture::now_ms();
    let record = things.insert(&json!({})).await.unwrap();
    let after = fixture::now_ms();
    let at = record.get("at").and_then(Value::as_u64).unwrap();
    assert!(
        (before..=after).contains(&at),
        "{before} <= {at} <= {after}"
    );
    assert_eq!(at, record.created_at());
    let given = things.insert(&json!({"at": 5})).await.unwrap();
    assert_eq!(given.get("at"), Some(&json!(5)));
}

#[tokio::test]
async fn auto_increment_on_a_string_field_fails_define_bucket() {
    let store = store().await;
    let def = BucketDef::new("id").field("id", Field::string().generated(Generated::AutoIncrement));
    let error = store.define_bucket("things", def).await.unwrap_err();
    assert_eq!(error.code(), "VALIDATION_ERROR");
    assert!(matches!(error, StoreError::InvalidArgument(_)), "{error:?}");
    assert!(store.buckets().is_empty());
}

#[tokio::test]
async fn uuid_on_an_integer_field_fails_define_bucket() {
    let store = store().await;
    let def = BucketDef::new("id").field("id", Field::integer().generated(Generated::Uuid));
    let error = store.define_bucket("things", def).await.unwrap_err();
    assert!(matches!(error, StoreError::InvalidArgument(_)), "{error:?}");
}

#[tokio::test]
async fn timestamp_on_a_string_field_fails_define_bucket() {
    // Else every insert that leaves the field out would break its type rule.
    let store = store().await;
    let def = BucketDef::new("id")
        .field("id", Field::integer().generated(Generated::AutoIncrement))
        .field("at", Field::string().generated(Generated::Timestamp));
    let error = store.define_bucket("things", def).await.unwrap_err();
    assert_eq!(
        error,
        StoreError::InvalidArgument(
            "bucket things: field `at`: a timestamp needs a number or integer field".into()
        )
    );
}

#[tokio::test]
async fn key_field_of_a_non_key_type_fails_define_bucket() {
    let store = store().await;
    let def = BucketDef::new("id").field("id", Field::boolean());
    let error = store.define_bucket("things", def).await.unwrap_err();
    assert!(matches!(error, StoreError::InvalidArgument(_)), "{error:?}");
}

#[tokio::test]
async fn missing_key_is_validation_error_on_the_key_field() {
    let def = BucketDef::new("code").field("name", Field::string());
    let (_store, things) = bucket("things", def).await;
    let error = things.insert(&json!({"name": "no key"})).await.unwrap_err();
    assert_eq!(violated(error), ("code".into(), "required"));
}

#[tokio::test]
async fn key_of_a_non_key_value_is_validation_error() {
    let (_store, things) = bucket("things", BucketDef::new("code")).await;
    for bad in [
        json!(true),
        json!({"a": 1}),
        json!([1]),
        json!(1.5),
        json!(u64::MAX),
    ] {
        let error = things.insert(&json!({"code": bad})).await.unwrap_err();
        assert_eq!(violated(error), ("code".into(), "key"), "key {bad}");
    }
    assert!(things.is_empty());
}

#[tokio::test]
async fn integer_key_written_as_a_whole_float_is_an_integer_key() {
    // An integer field takes `7.0`; as a key it is the integer 7.
    let (_store, things) =
        bucket("things", BucketDef::new("id").field("id", Field::integer())).await;
    let record = things.insert(&json!({"id": 7.0})).await.unwrap();
    assert_eq!(record.get("id"), Some(&json!(7)));
    assert_eq!(things.get(7), Some(record));
    let error = things.insert(&json!({"id": 7})).await.unwrap_err();
    assert_eq!(error.code(), "ALREADY_EXISTS");
    assert_eq!(Key::from_value(&json!(7.0)), Some(Key::Int(7)));
    assert_eq!(Key::from_value(&json!(7.5)), None);
    assert_eq!(Key::from_value(&json!(1e300)), None);
}

#[tokio::test]
async fn key_error_says_what_a_key_may_be() {
    let (_store, things) = bucket("things", BucketDef::new("code")).await;
    let error = things.insert(&json!({"code": u64::MAX})).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "bucket things: field `code` key: a key must be a string or a whole number \
         within 64-bit signed integers, not 18446744073709551615"
    );
}

#[tokio::test]
async fn duplicate_key_is_already_exists() {
    let (_store, things) = bucket("things", BucketDef::new("code")).await;
    let first = things.insert(&json!({"code": "a", "n": 1})).await.unwrap();
    let error = things
        .insert(&json!({"code": "a", "n": 2}))
        .await
        .unwrap_err();
    assert_eq!(error.code(), "ALREADY_EXISTS");
    assert_eq!(
        error,
        StoreError::AlreadyExists {
            bucket: "things".into(),
            what: "key \"a\"".into()
        }
    );
    assert_eq!(things.get("a"), Some(first));
}

// ---- unique ----

fn emails() -> BucketDef {
    BucketDef::new("id")
        .field("id", Field::integer().generated(Generated::AutoIncrement))
        .field("email", Field::string().unique())
}

#[tokio::test]
async fn unique_violation_is_already_exists() {
    let (_store, users) = bucket("users", emails()).await;
    users.insert(&json!({"email": "a@x"})).await.unwrap();
    let error = users.insert(&json!({"email": "a@x"})).await.unwrap_err();
    assert_eq!(error.code(), "ALREADY_EXISTS");
    assert_eq!(
        error,
        StoreError::AlreadyExists {
            bucket: "users".into(),
            what: "email \"a@x\" (unique)".into()
        }
    );
    assert_eq!(users.len(), 1);
}

#[tokio::test]
async fn unique_violation_on_update_is_already_exists() {
    let (_store, users) = bucket("users", emails()).await;
    users.insert(&json!({"email": "a@x"})).await.unwrap();
    let b = users.insert(&json!({"email": "b@x"})).await.unwrap();
    let error = users.update(2, &json!({"email": "a@x"})).await.unwrap_err();
    assert_eq!(error.code(), "ALREADY_EXISTS");
    assert_eq!(users.get(2), Some(b));
    assert_eq!(users.count(&Filter::eq("email", "a@x")), 1);
}

#[tokio::test]
async fn update_may_keep_its_own_unique_value() {
    let (_store, users) = bucket("users", emails()).await;
    users.insert(&json!({"email": "a@x"})).await.unwrap();
    let updated = users
        .update(1, &json!({"email": "a@x", "name": "A"}))
        .await
        .unwrap();
    assert_eq!(updated.version(), 2);
    let updated = users.update(1, &json!({"name": "B"})).await.unwrap();
    assert_eq!(updated.get("email"), Some(&json!("a@x")));
}

#[tokio::test]
async fn unique_null_and_missing_do_not_collide() {
    let (_store, users) = bucket("users", emails()).await;
    users.insert(&json!({})).await.unwrap();
    users.insert(&json!({})).await.unwrap();
    users.insert(&json!({"email": null})).await.unwrap();
    users.insert(&json!({"email": null})).await.unwrap();
    assert_eq!(users.len(), 4);
}

#[tokio::test]
async fn unique_value_is_freed_after_delete() {
    let (_store, users) = bucket("users", emails()).await;
    users.insert(&json!({"email": "a@x"})).await.unwrap();
    users.delete(1).await.unwrap();
    users.insert(&json!({"email": "a@x"})).await.unwrap();
}

#[tokio::test]
async fn unique_value_is_freed_after_update_changes_it() {
    let (_store, users) = bucket("users", emails()).await;
    users.insert(&json!({"email": "a@x"})).await.unwrap();
    users.update(1, &json!({"email": "b@x"})).await.unwrap();
    users.insert(&json!({"email": "a@x"})).await.unwrap();
    let error = users.insert(&json!({"email": "b@x"})).await.unwrap_err();
    assert_eq!(error.code(), "ALREADY_EXISTS");
}

#[tokio::test]
async fn unique_value_is_freed_after_clear() {
    let (_store, users) = bucket("users", emails()).await;
    users.insert(&json!({"email": "a@x"})).await.unwrap();
    users.clear().await.unwrap();
    users.insert(&json!({"email": "a@x"})).await.unwrap();
}

#[tokio::test]
async fn unique_numbers_collide_by_value() {
    let def = BucketDef::new("id")
        .field("id", Field::integer().generated(Generated::AutoIncrement))
        .field("n", Field::number().unique());
    let (_store, things) = bucket("things", def).await;
    things.insert(&json!({"n": 1})).await.unwrap();
    let error = things.insert(&json!({"n": 1.0})).await.unwrap_err();
    assert_eq!(error.code(), "ALREADY_EXISTS");
}

#[tokio::test]
async fn unique_large_integers_collide_only_when_equal() {
    // Beyond 2^53 two integers can share the nearest f64: they are still two values.
    let def = BucketDef::new("id")
        .field("id", Field::integer().generated(Generated::AutoIncrement))
        .field("snowflake", Field::integer().unique());
    let (_store, things) = bucket("things", def).await;
    let big: i64 = 1 << 60;
    things.insert(&json!({"snowflake": big})).await.unwrap();
    things.insert(&json!({"snowflake": big + 1})).await.unwrap();
    things
        .insert(&json!({"snowflake": u64::MAX}))
        .await
        .unwrap();
    things
        .insert(&json!({"snowflake": u64::MAX - 1}))
        .await
        .unwrap();
    let error = things
        .insert(&json!({"snowflake": big + 1}))
        .await
        .unwrap_err();
    assert_eq!(error.code(), "ALREADY_EXISTS");
    assert_eq!(things.len(), 4);
}

// ---- value rules ----

#[tokio::test]
async fn one_of_refuses_other_values() {
    let field = || Field::string().one_of(["user", "admin"]);
    accepts(field(), json!("admin")).await;
    refuses(field(), json!("root"), "enum").await;
    refuses(field(), json!("Admin"), "enum").await;
}

#[tokio::test]
async fn one_of_numbers_compare_by_value() {
    let field = || Field::number().one_of([1, 2]);
    accepts(field(), json!(2)).await;
    accepts(field(), json!(2.0)).await;
    refuses(field(), json!(3), "enum").await;
}

#[tokio::test]
async fn enum_error_lists_the_allowed_values() {
    let (_store, users) = bucket(
        "users",
        one_field(Field::string().one_of(["user", "admin"])),
    )
    .await;
    let error = users.insert(&json!({"v": "root"})).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "bucket users: field `v` enum: must be one of \"user\", \"admin\""
    );
}

#[tokio::test]
async fn min_and_max_bound_numbers_inclusively() {
    let field = || Field::number().min(0.0).max(10.0);
    accepts(field(), json!(0)).await;
    accepts(field(), json!(10)).await;
    accepts(field(), json!(9.5)).await;
    refuses(field(), json!(-1), "min").await;
    refuses(field(), json!(-0.001), "min").await;
    refuses(field(), json!(10.5), "max").await;
    refuses(field(), json!(u64::MAX), "max").await;
    refuses(field(), json!(i64::MIN), "min").await;
    refuses(field(), json!(1e308), "max").await;
}

#[tokio::test]
async fn min_error_names_the_bound_and_the_value() {
    let (_store, things) = bucket("things", one_field(Field::integer().min(18.0))).await;
    let error = things.insert(&json!({"v": 17})).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "bucket things: field `v` min: must be at least 18, not 17"
    );
}

#[tokio::test]
async fn min_length_and_max_length_count_string_characters() {
    let field = || Field::string().min_length(2).max_length(3);
    accepts(field(), json!("ab")).await;
    accepts(field(), json!("abc")).await;
    // Three characters, six bytes.
    accepts(field(), json!("žšč")).await;
    accepts(field(), json!("日本語")).await;
    refuses(field(), json!("a"), "min_length").await;
    refuses(field(), json!("é"), "min_length").await;
    refuses(field(), json!("abcd"), "max_length").await;
    refuses(field(), json!("日本語です"), "max_length").await;
}

#[tokio::test]
async fn min_length_and_max_length_count_array_items() {
    let field = || Field::array().min_length(1).max_length(2);
    accepts(field(), json!([1])).await;
    accepts(field(), json!(["long string", {"a": 1}])).await;
    refuses(field(), json!([]), "min_length").await;
    refuses(field(), json!([1, 2, 3]), "max_length").await;
}

#[tokio::test]
async fn pattern_is_searched_not_anchored() {
    accepts(Field::string().pattern("@"), json!("a@b.c")).await;
    refuses(Field::string().pattern("@"), json!("abc"), "pattern").await;
    let anchored = || Field::string().pattern("^[a-z]+$");
    accepts(anchored(), json!("abc")).await;
    refuses(anchored(), json!("abc1"), "pattern").await;
    refuses(anchored(), json!(""), "pattern").await;
}

#[tokio::test]
async fn pattern_matches_unicode() {
    let field = || Field::string().pattern("^.{3}$");
    accepts(field(), json!("日本語")).await;
    refuses(field(), json!("日本"), "pattern").await;
}

#[tokio::test]
async fn bad_pattern_fails_define_bucket() {
    let store = store().await;
    let def = one_field(Field::string().pattern("([a-z]"));
    let error = store.define_bucket("things", def).await.unwrap_err();
    assert_eq!(error.code(), "VALIDATION_ERROR");
    let StoreError::InvalidArgument(message) = &error else {
        panic!("expected InvalidArgument, got {error:?}");
    };
    assert!(
        message.starts_with("bucket things: field `v`: bad pattern"),
        "{message}"
    );
    assert!(store.buckets().is_empty());
}

#[tokio::test]
async fn rules_apply_on_update_too() {
    let def = one_field(Field::integer().min(0.0).max(10.0));
    let (_store, things) = bucket("things", def).await;
    let record = things.insert(&json!({"v": 5})).await.unwrap();
    let error = things.update(1, &json!({"v": 11})).await.unwrap_err();
    assert_eq!(violated(error), ("v".into(), "max"));
    let error = things.update(1, &json!({"v": "five"})).await.unwrap_err();
    assert_eq!(violated(error), ("v".into(), "type"));
    assert_eq!(things.get(1), Some(record));
}

// ---- meta fields and keys ----

#[tokio::test]
async fn version_is_one_after_insert_and_one_more_per_update() {
    let (_store, things) = bucket("things", one_field(Field::any())).await;
    let record = things.insert(&json!({"v": 0})).await.unwrap();
    assert_eq!(record.version(), 1);
    assert_eq!(record.get("_version"), Some(&json!(1)));
    for n in 1..=3 {
        let record = things.update(1, &json!({"v": n})).await.unwrap();
        assert_eq!(record.version(), n + 1);
    }
    assert_eq!(things.get(1).unwrap().version(), 4);
}

#[tokio::test]
async fn caller_given_meta_fields_are_ignored() {
    let (_store, things) = bucket("things", one_field(Field::any())).await;
    let record = things
        .insert(&json!({"_version": 99, "_created_at": 5, "_updated_at": "never"}))
        .await
        .unwrap();
    assert_eq!(record.version(), 1);
    assert!(record.created_at() > 5);
    assert_eq!(record.created_at(), record.updated_at());
    let updated = things
        .update(
            1,
            &json!({"_version": 99, "_created_at": 5, "_updated_at": 6}),
        )
        .await
        .unwrap();
    assert_eq!(updated.version(), 2);
    assert_eq!(updated.created_at(), record.created_at());
    assert!(updated.updated_at() >= record.updated_at());
}

#[tokio::test]
async fn a_field_named_like_a_meta_field_fails_define_bucket() {
    // The store writes these itself and drops a caller's: a rule on one could
    // never be met.
    let store = store().await;
    for meta in ["_version", "_created_at", "_updated_at"] {
        let def = one_field(Field::any()).field(meta, Field::integer().required());
        let error = store.define_bucket("things", def).await.unwrap_err();
        assert_eq!(
            error,
            StoreError::InvalidArgument(format!(
                "bucket things: field `{meta}`: the store keeps this field itself"
            ))
        );
    }
}

#[tokio::test]
async fn update_keeps_created_at_and_moves_updated_at() {
    let (_store, things) = bucket("things", one_field(Field::any())).await;
    let record = things.insert(&json!({"v": 1})).await.unwrap();
    assert_eq!(record.created_at(), record.updated_at());
    wait_past(record.updated_at());
    let updated = things.update(1, &json!({"v": 2})).await.unwrap();
    assert_eq!(updated.created_at(), record.created_at());
    assert!(updated.updated_at() > record.updated_at());
}

#[tokio::test]
async fn key_cannot_change_on_update() {
    let (_store, things) = bucket("things", one_field(Field::any())).await;
    let record = things.insert(&json!({"v": 1})).await.unwrap();
    let error = things
        .update(1, &json!({"id": 2, "v": 2}))
        .await
        .unwrap_err();
    assert_eq!(violated(error), ("id".into(), "key"));
    let error = things.update(1, &json!({"id": null})).await.unwrap_err();
    assert_eq!(violated(error), ("id".into(), "key"));
    assert_eq!(things.get(1), Some(record));
    assert_eq!(things.get(2), None);
    // Giving the same key is no change, however it is written.
    let same = things.update(1, &json!({"id": 1, "v": 3})).await.unwrap();
    assert_eq!(same.get("v"), Some(&json!(3)));
    let same = things.update(1, &json!({"id": 1.0, "v": 4})).await.unwrap();
    assert_eq!(
        (same.get("id"), same.get("v")),
        (Some(&json!(1)), Some(&json!(4)))
    );
}

#[tokio::test]
async fn update_null_removes_an_optional_field() {
    let (_store, things) = bucket("things", one_field(Field::any())).await;
    things.insert(&json!({"v": 1, "w": 2})).await.unwrap();
    let record = things.update(1, &json!({"v": null})).await.unwrap();
    assert_eq!(record.get("v"), None);
    assert_eq!(record.get("w"), Some(&json!(2)));
}

// ---- typed errors ----

#[tokio::test]
async fn update_of_a_missing_key_is_not_found() {
    let (_store, things) = bucket("things", one_field(Field::any())).await;
    let error = things.update(7, &json!({"v": 1})).await.unwrap_err();
    assert_eq!(error.code(), "NOT_FOUND");
    assert_eq!(
        error,
        StoreError::NotFound {
            bucket: "things".into(),
            key: "7".into()
        }
    );
    assert!(things.is_empty());
}

#[tokio::test]
async fn unknown_bucket_is_bucket_not_defined() {
    let store = store().await;
    let error = store.bucket("ghosts").unwrap_err();
    assert_eq!(error.code(), "BUCKET_NOT_DEFINED");
    assert_eq!(error, StoreError::BucketNotDefined("ghosts".into()));
    assert_eq!(error.to_string(), "bucket ghosts is not defined");
}

#[tokio::test]
async fn defining_a_bucket_twice_is_already_exists() {
    let store = store().await;
    let users = store.define_bucket("users", emails()).await.unwrap();
    users.insert(&json!({"email": "a@x"})).await.unwrap();
    let error = store.define_bucket("users", emails()).await.unwrap_err();
    assert_eq!(error.code(), "ALREADY_EXISTS");
    assert_eq!(error, StoreError::BucketAlreadyDefined("users".into()));
    assert_eq!(store.bucket("users").unwrap().len(), 1);
}

// ---- odd input ----

#[tokio::test]
async fn a_record_that_is_not_an_object_is_refused() {
    let (_store, things) = bucket("things", one_field(Field::any())).await;
    for odd in [
        json!(42),
        json!("text"),
        json!([1, 2]),
        json!(null),
        json!(true),
    ] {
        let error = things.insert(&odd).await.unwrap_err();
        assert_eq!(error.code(), "VALIDATION_ERROR", "{odd}");
        assert!(matches!(error, StoreError::InvalidArgument(_)), "{error:?}");
    }
    things.insert(&json!({})).await.unwrap();
    let error = things.update(1, &json!([1])).await.unwrap_err();
    assert!(matches!(error, StoreError::InvalidArgument(_)), "{error:?}");
    assert_eq!(things.len(), 1);
}

#[tokio::test]
async fn huge_and_tiny_numbers_are_stored_as_given() {
    let (_store, things) = bucket("things", one_field(Field::number())).await;
    for n in [
        json!(u64::MAX),
        json!(i64::MIN),
        json!(1e308),
        json!(-1e308),
        json!(5e-324),
    ] {
        let record = things.insert(&json!({ "v": n })).await.unwrap();
        assert_eq!(record.get("v"), Some(&n));
    }
    assert_eq!(things.len(), 5);
}

#[tokio::test]
async fn extreme_integer_keys_are_kept_in_order() {
    let (_store, things) =
        bucket("things", BucketDef::new("id").field("id", Field::integer())).await;
    for id in [i64::MAX, 0, i64::MIN, -1] {
        things.insert(&json!({ "id": id })).await.unwrap();
    }
    let keys: Vec<Value> = things
        .all()
        .iter()
        .map(|r| r.get("id").cloned().unwrap())
        .collect();
    assert_eq!(
        keys,
        vec![json!(i64::MIN), json!(-1), json!(0), json!(i64::MAX)]
    );
    assert!(things.get(i64::MAX).is_some());
}

#[tokio::test]
async fn unicode_field_names_keys_and_values_round_trip() {
    let def = BucketDef::new("jméno")
        .field("jméno", Field::string())
        .field("město 🏙", Field::string().min_length(1).index());
    let (_store, people) = bucket("lidé", def).await;
    let record = people
        .insert(&json!({"jméno": "Žofie 👩‍💻", "město 🏙": "Plzeň"}))
        .await
        .unwrap();
    assert_eq!(people.get("Žofie 👩‍💻"), Some(record.clone()));
    assert_eq!(people.find(&Filter::eq("město 🏙", "Plzeň")), vec![record]);
    let empty_key = people
        .insert(&json!({"jméno": "", "město 🏙": "x"}))
        .await
        .unwrap();
    assert_eq!(people.get(""), Some(empty_key));
}

#[tokio::test]
async fn nested_objects_and_dotted_field_names_are_plain_data() {
    let def = BucketDef::new("id")
        .field("id", Field::integer().generated(Generated::AutoIncrement))
        .field("address", Field::object().required())
        .field("a.b", Field::string());
    let (_store, things) = bucket("things", def).await;
    let record = things
        .insert(&json!({"address": {"city": {"name": "Brno"}}, "a.b": "literal"}))
        .await
        .unwrap();
    assert_eq!(record.get("a.b"), Some(&json!("literal")));
    let error = things
        .insert(&json!({"a.b": 1, "address": {}}))
        .await
        .unwrap_err();
    assert_eq!(violated(error), ("a.b".into(), "type"));
    let deep = (0..100).fold(json!("bottom"), |inner, _| json!({ "x": inner }));
    things.insert(&json!({"address": deep})).await.unwrap();
    assert_eq!(things.len(), 2);
}

#[test]
fn field_builders_keep_their_type() {
    let kinds = [
        (Field::string(), FieldType::String, "string"),
        (Field::number(), FieldType::Number, "number"),
        (Field::integer(), FieldType::Integer, "integer"),
        (Field::boolean(), FieldType::Boolean, "boolean"),
        (Field::object(), FieldType::Object, "object"),
        (Field::array(), FieldType::Array, "array"),
        (Field::any(), FieldType::Any, "any"),
    ];
    for (field, kind, name) in kinds {
        assert_eq!(field.clone().required().unique().index().kind(), kind);
        assert_eq!(kind.as_str(), name);
    }
}

/// Any JSON value: scalars of every kind (huge numbers and unicode included),
/// nested arrays and objects; now and then one a rule of the bucket below accepts.
fn any_json() -> impl proptest::strategy::Strategy<Value = Value> {
    use proptest::prelude::*;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        (0i64..200).prop_map(Value::from),
        "\\PC{0,6}".prop_map(Value::from),
        prop_oneof![Just("user"), Just("admin"), Just("Ann"), Just("a@b")].prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::from),
            any_object(inner),
        ]
    })
}

/// An object of the bucket's field names (and a few others) holding `values`.
fn any_object(
    values: impl proptest::strategy::Strategy<Value = Value>,
) -> impl proptest::strategy::Strategy<Value = Value> {
    use proptest::prelude::*;
    let name = prop_oneof![
        Just("id".to_string()),
        Just("name".to_string()),
        Just("role".to_string()),
        Just("age".to_string()),
        Just("tags".to_string()),
        Just("meta".to_string()),
        Just("_version".to_string()),
        "\\PC{0,4}",
    ];
    prop::collection::btree_map(name, values, 0..5)
        .prop_map(|map| Value::Object(map.into_iter().collect()))
}

#[test]
fn any_input_is_stored_or_refused_with_a_typed_error() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let def = BucketDef::new("id")
        .field("id", Field::integer().generated(Generated::AutoIncrement))
        .field(
            "name",
            Field::string()
                .min_length(1)
                .max_length(5)
                .pattern("^\\w+$"),
        )
        .field(
            "role",
            Field::string()
                .default(json!("user"))
                .one_of(["user", "admin"]),
        )
        .field("age", Field::integer().min(0.0).max(150.0).index())
        .field("tags", Field::array().max_length(3).unique())
        .field("meta", Field::object());
    let (store, things) = runtime.block_on(bucket("things", def));
    let inputs = (
        prop_oneof![1 => any_json(), 3 => any_object(any_json())],
        prop_oneof![1 => any_json(), 3 => any_object(any_json())],
    );
    let mut runner = TestRunner::new(Config::default());
    let result = runner.run(&inputs, |(record, patch)| {
        runtime.block_on(async {
            let known = ["VALIDATION_ERROR", "ALREADY_EXISTS"];
            let before = things.len();
            match things.insert(&record).await {
                Ok(stored) => {
                    prop_assert_eq!(things.len(), before + 1);
                    prop_assert_eq!(stored.version(), 1);
                    let key = Key::from_value(stored.get("id").unwrap()).unwrap();
                    prop_assert_eq!(things.get(key.clone()), Some(stored.clone()));
                    match things.update(key.clone(), &patch).await {
                        Ok(updated) => prop_assert_eq!(updated.version(), 2),
                        Err(error) => {
                            prop_assert!(known.contains(&error.code()), "{:?}", error);
                            prop_assert_eq!(things.get(key), Some(stored));
                        }
                    }
                }
                Err(error) => {
                    prop_assert!(known.contains(&error.code()), "{:?}", error);
                    prop_assert_eq!(things.len(), before);
                }
            }
            Ok(())
        })
    });
    runtime.block_on(store.stop());
    if let Err(error) = result {
        panic!("{error}");
    }
}
