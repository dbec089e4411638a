//! Who did what (to be written).

/// The audit log: a ring buffer of entries.
pub struct AuditLog;
