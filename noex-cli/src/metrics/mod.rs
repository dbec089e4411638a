//! The Prometheus view of noex applications: `noex metrics` prints it, `noex exporter`
//! serves it. Collection happens at scrape time (`collect`), the snapshots become
//! metric families with a cap on per-process series (`families`), and the families
//! become text (`exposition`). docs/prometheus.md lists every metric.

pub mod collect;
pub mod exposition;
pub mod families;
