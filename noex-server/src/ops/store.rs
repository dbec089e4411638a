//! `store.*`: the seed's store operations, on the server's noex-store.

use noex_store::{Filter, Key, Store, TxOp};
use serde_json::{Value, json};

use super::fields::Fields;
use super::{Op, Subscribed};
use crate::protocol::{ErrorCode, OpError};

fn key(fields: &Fields) -> Result<Key, OpError> {
    Key::from_value(fields.value("key")?)
        .ok_or_else(|| OpError::invalid("`key` must be a string or an integer"))
}

fn filter(fields: &Fields, name: &str, required: bool) -> Result<Filter, OpError> {
    match fields.opt_value(name) {
        Some(json) => Ok(Filter::from_json(json)?),
        None if required => Err(OpError::invalid(format!("`{name}` is required"))),
        None => Ok(Filter::all()),
    }
}

fn records(records: Vec<noex_store::Record>) -> Value {
    Value::Array(records.iter().map(|record| record.to_value()).collect())
}

pub(super) async fn run(op: &mut Op<'_>, store: &Store) -> Result<Value, OpError> {
    let fields = Fields(op.fields);
    let bucket =
        || -> Result<noex_store::BucketRef, OpError> { Ok(store.bucket(fields.str("bucket")?)?) };
    Ok(match op.kind {
        "store.insert" => bucket()?.insert(fields.object("data")?).await?.to_value(),
        "store.get" => bucket()?
            .get(key(&fields)?)
            .map_or(Value::Null, |r| r.to_value()),
        "store.update" => {
            let bucket = bucket()?;
            let data = fields.object("data")?;
            // A version, given as `version` or in the data, makes the update conditional.
            let version = fields
                .opt_value("version")
                .or_else(|| data.get(noex_store::VERSION))
                .and_then(Value::as_u64);
            match version {
                Some(version) => bucket.update_if(key(&fields)?, data, version).await?,
                None => bucket.update(key(&fields)?, data).await?,
            }
            .to_value()
        }
        "store.delete" => {
            let deleted = bucket()?.delete(key(&fields)?).await?;
            json!({"deleted": deleted})
        }
        "store.all" => records(bucket()?.all()),
        "store.where" => records(bucket()?.find(&filter(&fields, "filter", true)?)),
        "store.findOne" => bucket()?
            .find_one(&filter(&fields, "filter", true)?)
            .map_or(Value::Null, |r| r.to_value()),
        "store.count" => Value::from(bucket()?.count(&filter(&fields, "filter", false)?)),
        "store.first" => records(bucket()?.first(fields.count("n")?)),
        "store.last" => records(bucket()?.last(fields.count("n")?)),
        "store.paginate" => {
            let after = match fields.opt_value("after") {
                Some(after) => Some(
                    Key::from_value(after)
                        .ok_or_else(|| OpError::invalid("`after` must be a key"))?,
                ),
                None => None,
            };
            let page = bucket()?.paginate(fields.count("limit")?, after.as_ref());
            json!({
                "records": records(page.records),
                "hasMore": page.next.is_some(),
                "nextCursor": page.next.map(|key| key.to_value()),
            })
        }
        "store.clear" => {
            let cleared = bucket()?.clear().await?;
            json!({"cleared": cleared})
        }
        "store.sum" | "store.avg" | "store.min" | "store.max" => {
            let bucket = bucket()?;
            let field = fields.str("field")?;
            let filter = filter(&fields, "filter", false)?;
            match op.kind {
                "store.sum" => bucket.sum(field, &filter),
                "store.avg" => bucket.avg(field, &filter),
                "store.min" => bucket.min(field, &filter),
                _ => bucket.max(field, &filter),
            }
        }
        "store.buckets" => json!(store.buckets()),
        "store.stats" => serde_json::to_value(store.stats()).unwrap_or(Value::Null),
        "store.transaction" => {
            let operations = fields.value("operations")?;
            let ops: Vec<TxOp> = serde_json::from_value(operations.clone())
                .map_err(|error| OpError::invalid(format!("`operations`: {error}")))?;
            if ops.is_empty() {
                return Err(OpError::invalid("`operations` is empty"));
            }
            let results = store.transaction_ops(ops).await?;
            json!({"results": results})
        }
        "store.subscribe" => {
            let query = fields.str("query")?;
            let params = fields.opt_value("params").cloned().unwrap_or(Value::Null);
            op.check_room()?;
            let mut subscription = store.subscribe(query, params)?;
            op.subscribe_with(Subscribed::store, |pusher| async move {
                while let Some(result) = subscription.next().await {
                    match result {
                        Ok(data) => pusher.result(data),
                        Err(error) => {
                            tracing::warn!(%error, "noex-server: a subscribed query failed")
                        }
                    }
                }
            })
        }
        "store.unsubscribe" => op.unsubscribe().await?,
        _ => return Err(unknown(op.kind)),
    })
}

pub(super) fn unknown(kind: &str) -> OpError {
    OpError::new(
        ErrorCode::UnknownOperation,
        format!("unknown operation `{}`", noex_agent::text::clip(kind, 100)),
    )
}
