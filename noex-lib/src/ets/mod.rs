//! Shared in-memory tables owned by a process (ETS).
