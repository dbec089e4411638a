//! Registries of processes under keys, unique or duplicate (Elixir's `Registry`).
