//! noex-store
