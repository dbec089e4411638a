//! noex-bench: the side-by-side benches live in `benches/`; this library holds the
//! chaos soak, so that the `chaos` binary and the `chaos` test run the same code.

pub mod chaos;
