//! What the audit log keeps: an [`AuditEntry`] per recorded operation, its
//! [`AuditOutcome`], and the [`AuditTier`] that decides whether it is recorded.

use serde::Serialize;

use crate::protocol::ErrorCode;

/// How important an operation is to audit; [`AuditConfig::tiers`](super::AuditConfig::tiers)
/// chooses the tiers recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum AuditTier {
    /// Who got in and what was destroyed: `auth.login`, `auth.logout` (successes and
    /// failures alike: a run of failed logins is what an audit is for),
    /// `observer.kill`, `observer.restart`, `store.clear`, and `audit.query` (who read
    /// the log of others' actions).
    Admin,
    /// What changed data: `store.insert`, `store.update`, `store.delete`,
    /// `store.transaction`, `rules.emit`, `rules.setFact`, `rules.deleteFact`,
    /// `events.publish`.
    Write,
    /// Everything else: reads, subscriptions, statistics, `auth.whoami`, and names the
    /// gateway does not serve. `server.stats` and `server.connections` are here, not in
    /// Admin: they change nothing, and a dashboard polls them.
    Read,
}

impl AuditTier {
    /// Every tier.
    pub const ALL: [AuditTier; 3] = [AuditTier::Admin, AuditTier::Write, AuditTier::Read];

    /// The tier of `operation` (see each tier for its operations).
    pub fn of(operation: &str) -> AuditTier {
        match operation {
            "auth.login" | "auth.logout" | "observer.kill" | "observer.restart" | "store.clear"
            | "audit.query" => AuditTier::Admin,
            "store.insert" | "store.update" | "store.delete" | "store.transaction"
            | "rules.emit" | "rules.setFact" | "rules.deleteFact" | "events.publish" => {
                AuditTier::Write
            }
            _ => AuditTier::Read,
        }
    }

    pub(super) fn bit(self) -> u8 {
        1 << self as u8
    }
}

/// How a recorded operation ended. In an entry's JSON it is `"result": "ok"`, or
/// `"result": "error", "error": "FORBIDDEN"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "camelCase")]
pub enum AuditOutcome {
    /// It succeeded.
    Ok,
    /// It failed with this code (a refusal too: `UNAUTHORIZED`, `FORBIDDEN`).
    Error {
        /// The error's code.
        #[serde(rename = "error")]
        code: ErrorCode,
    },
}

impl From<Result<(), ErrorCode>> for AuditOutcome {
    fn from(result: Result<(), ErrorCode>) -> AuditOutcome {
        match result {
            Ok(()) => AuditOutcome::Ok,
            Err(code) => AuditOutcome::Error { code },
        }
    }
}

/// One recorded operation. Its texts are clipped to [`AuditEntry::TEXT_LIMIT`] bytes
/// each, so an entry stays under about 1.2 KB whatever names a client sends, and the log
/// under capacity × that.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    /// Its number in the log: 1 for the first, then one more for each entry recorded
    /// (entries dropped at capacity leave the numbers of the rest unchanged).
    pub seq: u64,
    /// When it was recorded, in milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// The gateway's number for the connection it came on.
    pub connection_id: u64,
    /// The client's address (`203.0.113.7:51234`).
    pub remote: String,
    /// Who was logged in on the connection; `None`: nobody.
    pub user_id: Option<String>,
    /// The operation (`store.insert`).
    pub operation: String,
    /// What it acted on (a bucket, a topic, a process), when it names one.
    pub resource: Option<String>,
    /// How it ended.
    #[serde(flatten)]
    pub outcome: AuditOutcome,
}

impl AuditEntry {
    /// The most bytes each of an entry's texts keeps (`remote`, `user_id`, `operation`,
    /// `resource`); a longer one is cut and says its length.
    pub const TEXT_LIMIT: usize = 256;
}

/// What happened, as the gateway tells [`AuditLog::record`](super::AuditLog::record):
/// an entry without its number and time, borrowing its texts (they are clipped and
/// copied only when recorded).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuditRecord<'a> {
    /// The gateway's number for the connection.
    pub connection_id: u64,
    /// The client's address.
    pub remote: &'a str,
    /// Who is logged in, if anyone.
    pub user_id: Option<&'a str>,
    /// The operation.
    pub operation: &'a str,
    /// What it acted on, if it names something.
    pub resource: Option<&'a str>,
    /// How it ended.
    pub outcome: AuditOutcome,
}
