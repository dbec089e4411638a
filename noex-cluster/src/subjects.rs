//! The NATS subjects and key-value buckets of one cluster. Everything a cluster
//! uses lives under `noex.<cluster>.` and in buckets named `noex-<cluster>-…`.

pub(crate) fn node_rpc(cluster: &str, node: &str) -> String {
    format!("noex.{cluster}.node.{node}.rpc")
}

/// One direction (`up` to the node, `down` from it) of agent tunnel `session`.
pub(crate) fn tunnel(cluster: &str, session: &str, direction: &str) -> String {
    format!("noex.{cluster}.tunnel.{session}.{direction}")
}

/// Whether `text` can stand as one token of a subject: no dots, spaces or wildcards.
pub(crate) fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Where `Down` messages for the monitors a node set are sent.
pub(crate) fn node_downs(cluster: &str, node: &str) -> String {
    format!("noex.{cluster}.node.{node}.down")
}

/// Every topic of bus `bus`: `noex.<cluster>.bus.<bus>.<topic>`.
pub(crate) fn bus_prefix(cluster: &str, bus: &str) -> String {
    format!("noex.{cluster}.bus.{bus}.")
}

pub(crate) fn nodes_bucket(cluster: &str) -> String {
    format!("noex-{cluster}-nodes")
}

pub(crate) fn names_bucket(cluster: &str) -> String {
    format!("noex-{cluster}-names")
}
