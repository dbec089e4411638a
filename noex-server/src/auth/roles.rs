//! Permissions by role (to be written).

/// Operations allowed per role.
pub struct RolePermissions;
