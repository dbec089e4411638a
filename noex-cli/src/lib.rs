//! The `noex` command's parts, as a library: the binary (`src/main.rs`) parses and
//! runs, and the dashboard's end-to-end test and the benchmarks drive the same
//! modules.

pub mod cli;
pub mod commands;
pub mod context;
pub mod demo;
pub mod error;
pub mod metrics;
pub mod recording;
pub mod render;
pub mod ssh;
pub mod target;
pub mod top;
