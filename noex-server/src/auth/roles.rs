//! Permissions by role: each role allows and denies operations by pattern (`store.get`,
//! `observer.*`, `*`), and a session may run what any of its roles allows unless one of
//! them denies it.
//!
//! ```
//! use noex_server::{RolePermissions, Permissions, Session};
//!
//! let permissions = RolePermissions::new()
//!     .allow("viewer", ["store.get", "observer.*"])
//!     .deny("viewer", ["observer.kill"]);
//! let alice = Session { user_id: "alice".into(), roles: vec!["viewer".into()], expires_at: None };
//! assert!(permissions.check(&alice, "observer.tree", None));
//! assert!(!permissions.check(&alice, "observer.kill", Some("worker")));
//! assert!(!permissions.check(&alice, "store.insert", Some("orders")));
//! ```

use std::collections::HashMap;

use super::{Permissions, Session};

/// The operations that read or watch and change nothing: what the `viewer` role of
/// [`RolePermissions::viewer_and_operator`] may run (besides `auth.*`). `audit.query` is
/// not among them: the audit log tells what other users did, which is for operators.
pub const READ_OPERATIONS: &[&str] = &[
    // Store reads, aggregates and the store's description.
    "store.get",
    "store.all",
    "store.where",
    "store.findOne",
    "store.count",
    "store.first",
    "store.last",
    "store.paginate",
    "store.sum",
    "store.avg",
    "store.min",
    "store.max",
    "store.buckets",
    "store.stats",
    "store.subscribe",
    "store.unsubscribe",
    // Facts and rule events.
    "rules.getFact",
    "rules.queryFacts",
    "rules.getAllFacts",
    "rules.subscribe",
    "rules.unsubscribe",
    "rules.stats",
    // The Observer, without kill and restart.
    "observer.snapshot",
    "observer.tree",
    "observer.state",
    "observer.subscribe",
    "observer.unsubscribe",
    // Events, without publish.
    "events.subscribe",
    "events.unsubscribe",
    // The gateway itself.
    "server.stats",
    "server.connections",
];

/// Which operations a pattern names: one (`store.get`), a group (`store.*`: every
/// operation whose name starts with `store.`), or all (`*`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum OperationPattern {
    /// Every operation.
    Any,
    /// The operations starting with this prefix, its dot included (`store.`).
    Group(String),
    /// This one operation.
    Exact(String),
}

impl OperationPattern {
    /// The pattern `text` writes. A `*` anywhere but alone or after the last dot is
    /// taken literally, so it matches no operation.
    pub(crate) fn new(text: &str) -> OperationPattern {
        if text == "*" {
            OperationPattern::Any
        } else if let Some(group) = text.strip_suffix('*').filter(|g| g.ends_with('.')) {
            OperationPattern::Group(group.to_owned())
        } else {
            OperationPattern::Exact(text.to_owned())
        }
    }

    /// Whether `text` is a pattern whose every `*` means something (see [`Self::new`]).
    fn is_well_formed(text: &str) -> bool {
        match OperationPattern::new(text) {
            OperationPattern::Any => true,
            OperationPattern::Group(name) | OperationPattern::Exact(name) => !name.contains('*'),
        }
    }

    /// Whether the pattern names `operation`.
    pub(crate) fn matches(&self, operation: &str) -> bool {
        match self {
            OperationPattern::Any => true,
            OperationPattern::Group(prefix) => {
                operation.len() > prefix.len() && operation.starts_with(prefix.as_str())
            }
            OperationPattern::Exact(name) => name == operation,
        }
    }
}

/// What one role allows and denies.
#[derive(Clone, Debug, Default)]
struct RoleRules {
    allowed: Vec<OperationPattern>,
    /// Allowed on one resource only (a bucket, a query, a process): (operations, resource).
    allowed_on: Vec<(OperationPattern, String)>,
    denied: Vec<OperationPattern>,
}

impl RoleRules {
    fn denies(&self, operation: &str) -> bool {
        self.denied.iter().any(|p| p.matches(operation))
    }

    fn allows(&self, operation: &str, resource: Option<&str>) -> bool {
        self.allowed.iter().any(|p| p.matches(operation))
            || self
                .allowed_on
                .iter()
                .any(|(p, on)| Some(on.as_str()) == resource && p.matches(operation))
    }
}

/// [`Permissions`] by role: a session may run an operation when one of its roles allows
/// it and none of its roles denies it (a deny wins). A role no rule names allows nothing;
/// a session without roles is judged by the role [`RolePermissions::ANONYMOUS`].
///
/// Patterns are an operation's name (`store.get`), a group (`store.*`) or `*`.
#[derive(Clone, Debug, Default)]
pub struct RolePermissions {
    roles: HashMap<String, RoleRules>,
}

impl RolePermissions {
    /// The role that may read: [`READ_OPERATIONS`] and `auth.*`.
    pub const VIEWER: &'static str = "viewer";
    /// The role that may do everything, writes, kills and restarts included.
    pub const OPERATOR: &'static str = "operator";
    /// The role that may do everything.
    pub const ADMIN: &'static str = "admin";
    /// The role a session without roles is judged by (an anonymous client when the
    /// gateway does not require a login).
    pub const ANONYMOUS: &'static str = "anonymous";

    /// No role allows anything yet.
    pub fn new() -> RolePermissions {
        RolePermissions::default()
    }

    /// `viewer` may read ([`READ_OPERATIONS`]) and log in and out, but not write, publish,
    /// kill, restart or query the audit log; `operator` and `admin` may do everything.
    ///
    /// The viewer is limited by what it is allowed, not by denies, so a session that is
    /// both viewer and operator may do what an operator may.
    pub fn viewer_and_operator() -> RolePermissions {
        RolePermissions::new()
            .allow(Self::VIEWER, READ_OPERATIONS)
            .allow(Self::VIEWER, ["auth.*"])
            .allow(Self::OPERATOR, ["*"])
            .allow(Self::ADMIN, ["*"])
    }

    /// `role` may run the operations `patterns` name.
    ///
    /// # Panics
    ///
    /// If a pattern has a `*` that is neither the whole pattern nor after its last dot
    /// (`store*`, `*.get`): it would match nothing, silently.
    pub fn allow<P: AsRef<str>>(
        mut self,
        role: impl Into<String>,
        patterns: impl IntoIterator<Item = P>,
    ) -> RolePermissions {
        let rules = self.roles.entry(role.into()).or_default();
        rules
            .allowed
            .extend(patterns.into_iter().map(|p| parse(p.as_ref())));
        self
    }

    /// `role` may run the operations `patterns` name, but only on `resource` (a bucket, a
    /// query, a process): a check with another resource, or with none, is not allowed by
    /// this rule.
    ///
    /// # Panics
    ///
    /// As [`RolePermissions::allow`].
    pub fn allow_on<P: AsRef<str>>(
        mut self,
        role: impl Into<String>,
        patterns: impl IntoIterator<Item = P>,
        resource: impl Into<String>,
    ) -> RolePermissions {
        let resource = resource.into();
        let rules = self.roles.entry(role.into()).or_default();
        rules.allowed_on.extend(
            patterns
                .into_iter()
                .map(|p| (parse(p.as_ref()), resource.clone())),
        );
        self
    }

    /// A session with `role` may not run the operations `patterns` name, whatever its
    /// other roles allow.
    ///
    /// # Panics
    ///
    /// As [`RolePermissions::allow`].
    pub fn deny<P: AsRef<str>>(
        mut self,
        role: impl Into<String>,
        patterns: impl IntoIterator<Item = P>,
    ) -> RolePermissions {
        let rules = self.roles.entry(role.into()).or_default();
        rules
            .denied
            .extend(patterns.into_iter().map(|p| parse(p.as_ref())));
        self
    }
}

fn parse(pattern: &str) -> OperationPattern {
    assert!(
        OperationPattern::is_well_formed(pattern),
        "operation pattern {pattern:?}: `*` may only be the whole pattern or follow the last dot (`store.*`)"
    );
    OperationPattern::new(pattern)
}

impl Permissions for RolePermissions {
    fn check(&self, session: &Session, operation: &str, resource: Option<&str>) -> bool {
        let roles = std::iter::once(Self::ANONYMOUS)
            .filter(|_| session.roles.is_empty())
            .chain(session.roles.iter().map(String::as_str));
        let mut allowed = false;
        for rules in roles.filter_map(|role| self.roles.get(role)) {
            if rules.denies(operation) {
                return false;
            }
            allowed |= rules.allows(operation, resource);
        }
        allowed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every operation the gateway serves: the seed's and the Observer's, events',
    /// server's and audit's.
    const ALL_OPERATIONS: &[&str] = &[
        "store.insert",
        "store.get",
        "store.update",
        "store.delete",
        "store.all",
        "store.where",
        "store.findOne",
        "store.count",
        "store.first",
        "store.last",
        "store.paginate",
        "store.clear",
        "store.sum",
        "store.avg",
        "store.min",
        "store.max",
        "store.subscribe",
        "store.unsubscribe",
        "store.transaction",
        "store.buckets",
        "store.stats",
        "rules.emit",
        "rules.setFact",
        "rules.getFact",
        "rules.deleteFact",
        "rules.queryFacts",
        "rules.getAllFacts",
        "rules.subscribe",
        "rules.unsubscribe",
        "rules.stats",
        "auth.login",
        "auth.logout",
        "auth.whoami",
        "observer.snapshot",
        "observer.tree",
        "observer.subscribe",
        "observer.unsubscribe",
        "observer.kill",
        "observer.restart",
        "observer.state",
        "events.publish",
        "events.subscribe",
        "events.unsubscribe",
        "server.stats",
        "server.connections",
        "audit.query",
    ];

    fn session(roles: &[&str]) -> Session {
        Session {
            user_id: "u".into(),
            roles: roles.iter().map(|r| r.to_string()).collect(),
            expires_at: None,
        }
    }

    #[test]
    fn deny_wins_over_allow() {
        let permissions = RolePermissions::new()
            .allow("ops", ["*"])
            .deny("ops", ["observer.kill"]);
        assert!(permissions.check(&session(&["ops"]), "observer.restart", None));
        assert!(!permissions.check(&session(&["ops"]), "observer.kill", None));
    }

    #[test]
    fn one_roles_deny_wins_over_another_roles_allow() {
        let permissions = RolePermissions::new()
            .allow("operator", ["*"])
            .deny("intern", ["store.clear"]);
        let both = session(&["operator", "intern"]);
        assert!(!permissions.check(&both, "store.clear", Some("orders")));
        let reversed = session(&["intern", "operator"]);
        assert!(!permissions.check(&reversed, "store.clear", Some("orders")));
        assert!(permissions.check(&both, "store.insert", Some("orders")));
    }

    #[test]
    fn any_role_that_allows_is_enough() {
        let permissions = RolePermissions::new()
            .allow("reader", ["store.get"])
            .allow("writer", ["store.insert"]);
        let both = session(&["reader", "writer"]);
        assert!(permissions.check(&both, "store.get", None));
        assert!(permissions.check(&both, "store.insert", None));
        assert!(!permissions.check(&both, "store.delete", None));
    }

    #[test]
    fn prefix_pattern_allows_the_whole_group() {
        let permissions = RolePermissions::new().allow("watcher", ["observer.*"]);
        let watcher = session(&["watcher"]);
        for operation in ALL_OPERATIONS {
            assert_eq!(
                permissions.check(&watcher, operation, None),
                operation.starts_with("observer."),
                "{operation}"
            );
        }
        // The prefix is the group's name and its dot, not a name's start.
        assert!(!permissions.check(&watcher, "observers.tree", None));
        assert!(!permissions.check(&watcher, "observer.", None));
    }

    #[test]
    fn star_allows_every_operation() {
        let permissions = RolePermissions::new().allow("root", ["*"]);
        for operation in ALL_OPERATIONS {
            assert!(permissions.check(&session(&["root"]), operation, None));
        }
    }

    #[test]
    fn exact_pattern_allows_that_operation_only() {
        let permissions = RolePermissions::new().allow("r", ["store.get"]);
        assert!(permissions.check(&session(&["r"]), "store.get", Some("orders")));
        assert!(!permissions.check(&session(&["r"]), "store.getAll", None));
        assert!(!permissions.check(&session(&["r"]), "store.all", None));
    }

    #[test]
    fn unknown_roles_and_no_roles_allow_nothing() {
        let permissions = RolePermissions::viewer_and_operator();
        assert!(!permissions.check(&session(&["guest"]), "store.get", None));
        assert!(!permissions.check(&session(&[]), "store.get", None));
    }

    #[test]
    fn a_session_without_roles_is_judged_as_anonymous() {
        let permissions =
            RolePermissions::new().allow(RolePermissions::ANONYMOUS, ["server.stats"]);
        assert!(permissions.check(&session(&[]), "server.stats", None));
        assert!(!permissions.check(&session(&[]), "server.connections", None));
        // A session with roles is not anonymous too.
        assert!(!permissions.check(&session(&["viewer"]), "server.stats", None));
    }

    #[test]
    fn allow_on_restricts_to_that_resource() {
        let permissions = RolePermissions::new().allow_on("clerk", ["store.get"], "orders");
        let clerk = session(&["clerk"]);
        assert!(permissions.check(&clerk, "store.get", Some("orders")));
        assert!(!permissions.check(&clerk, "store.get", Some("payroll")));
        assert!(!permissions.check(&clerk, "store.get", None));
        assert!(!permissions.check(&clerk, "store.insert", Some("orders")));
    }

    #[test]
    fn viewer_may_read_but_not_kill() {
        let permissions = RolePermissions::viewer_and_operator();
        let viewer = session(&["viewer"]);
        for operation in ALL_OPERATIONS {
            let may = READ_OPERATIONS.contains(operation) || operation.starts_with("auth.");
            assert_eq!(
                permissions.check(&viewer, operation, Some("x")),
                may,
                "{operation}"
            );
        }
        for forbidden in [
            "observer.kill",
            "observer.restart",
            "store.insert",
            "store.clear",
            "rules.emit",
            "events.publish",
            "audit.query",
        ] {
            assert!(!permissions.check(&viewer, forbidden, None), "{forbidden}");
        }
    }

    #[test]
    fn operator_and_admin_may_do_everything() {
        let permissions = RolePermissions::viewer_and_operator();
        for role in ["operator", "admin"] {
            for operation in ALL_OPERATIONS {
                assert!(
                    permissions.check(&session(&[role]), operation, Some("x")),
                    "{role} {operation}"
                );
            }
        }
        // Being a viewer as well takes nothing away.
        let both = session(&["viewer", "operator"]);
        assert!(permissions.check(&both, "observer.kill", None));
    }

    #[test]
    fn read_operations_are_operations_the_gateway_serves() {
        for operation in READ_OPERATIONS {
            assert!(ALL_OPERATIONS.contains(operation), "{operation}");
        }
    }

    #[test]
    #[should_panic(expected = "may only be the whole pattern")]
    fn a_star_that_would_match_nothing_is_refused() {
        let _ = RolePermissions::new().allow("r", ["store*"]);
    }

    #[test]
    fn pattern_forms() {
        assert_eq!(OperationPattern::new("*"), OperationPattern::Any);
        assert_eq!(
            OperationPattern::new("store.*"),
            OperationPattern::Group("store.".into())
        );
        assert_eq!(
            OperationPattern::new("store.get"),
            OperationPattern::Exact("store.get".into())
        );
        assert!(OperationPattern::is_well_formed("a.b.*"));
        assert!(!OperationPattern::is_well_formed("*.get"));
        assert!(!OperationPattern::is_well_formed("store.*x"));
        assert!(!OperationPattern::is_well_formed("a.*.*"));
    }
}
