//! A fixed table of tokens, each standing for a session: for demos, tests and small
//! deployments whose operators share a few secrets.
//!
//! ```
//! use std::time::Duration;
//! use noex_server::{AuthConfig, RolePermissions, StaticTokens};
//!
//! let tokens = StaticTokens::new()
//!     .user("secret-op", "olga", ["operator"])
//!     .user("secret-view", "victor", ["viewer"])
//!     .expires_in(Duration::from_secs(8 * 3600));
//! let auth = AuthConfig::new(tokens).permissions(RolePermissions::viewer_and_operator());
//! ```

use std::time::Duration;

use futures_util::future::BoxFuture;

use super::{Session, TokenValidator};

/// Tokens known in advance, each with its session. A token is compared with every
/// known one in constant time, so how long a refusal takes does not tell how much of a
/// guess was right.
#[derive(Clone, Default)]
pub struct StaticTokens {
    known: Vec<(Box<[u8]>, Session)>,
    ttl: Option<Duration>,
}

impl StaticTokens {
    /// No token yet: every login is refused.
    pub fn new() -> StaticTokens {
        StaticTokens::default()
    }

    /// `token` stands for `session` (replacing what it stood for before). An empty token
    /// is never accepted.
    pub fn token(mut self, token: impl Into<String>, session: Session) -> StaticTokens {
        let token = token.into().into_bytes().into_boxed_slice();
        self.known.retain(|(known, _)| *known != token);
        self.known.push((token, session));
        self
    }

    /// `token` stands for the user `user_id` with `roles`, a session without an end of
    /// its own.
    pub fn user(
        self,
        token: impl Into<String>,
        user_id: impl Into<String>,
        roles: impl IntoIterator<Item = impl Into<String>>,
    ) -> StaticTokens {
        let session = Session {
            user_id: user_id.into(),
            roles: roles.into_iter().map(Into::into).collect(),
            expires_at: None,
        };
        self.token(token, session)
    }

    /// Sessions end `ttl` after their login: a login's session has `expires_at` = the
    /// login's time + `ttl`, or its own `expires_at` if that is sooner.
    pub fn expires_in(mut self, ttl: Duration) -> StaticTokens {
        self.ttl = Some(ttl);
        self
    }

    /// The session `token` stands for when logging in at `now_ms`.
    fn session_at(&self, token: &[u8], now_ms: u64) -> Option<Session> {
        if token.is_empty() {
            return None;
        }
        // Every entry is compared, not only up to the match: where the match is in the
        // table would otherwise show in the time.
        let mut found = None;
        for (known, session) in &self.known {
            if constant_time_eq(known, token) {
                found = Some(session);
            }
        }
        let mut session = found?.clone();
        if let Some(ttl) = self.ttl {
            let ends = now_ms.saturating_add(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX));
            session.expires_at = Some(session.expires_at.map_or(ends, |own| own.min(ends)));
        }
        Some(session)
    }
}

impl TokenValidator for StaticTokens {
    fn validate(&self, token: String) -> BoxFuture<'_, Option<Session>> {
        let session = self.session_at(token.as_bytes(), noex_agent::process_start::now_ms());
        Box::pin(std::future::ready(session))
    }
}

/// Shows the users, never the tokens.
impl std::fmt::Debug for StaticTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaticTokens")
            .field(
                "users",
                &self
                    .known
                    .iter()
                    .map(|(_, s)| &s.user_id)
                    .collect::<Vec<_>>(),
            )
            .field("ttl", &self.ttl)
            .finish()
    }
}

/// Whether `a` equals `b`, in a time that depends on the lengths only. A comparison that
/// stops at the first differing byte lets a client that times its logins find a token
/// byte by byte. The length is not hidden (nor is it by the `subtle` crate): a token's
/// strength is in its bytes. `black_box` keeps the optimizer from turning the fold back
/// into an early exit.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let difference = a
        .iter()
        .zip(b)
        .fold(0u8, |acc, (x, y)| acc | std::hint::black_box(x ^ y));
    std::hint::black_box(difference) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(user: &str, expires_at: Option<u64>) -> Session {
        Session {
            user_id: user.into(),
            roles: vec!["viewer".into()],
            expires_at,
        }
    }

    #[tokio::test]
    async fn static_token_known_gives_its_session() {
        let tokens = StaticTokens::new()
            .user("secret-op", "olga", ["operator"])
            .token("secret-view", session("victor", None));
        let olga = tokens.validate("secret-op".into()).await.unwrap();
        assert_eq!(olga.user_id, "olga");
        assert_eq!(olga.roles, ["operator"]);
        assert_eq!(olga.expires_at, None);
        let victor = tokens.validate("secret-view".into()).await.unwrap();
        assert_eq!(victor, session("victor", None));
    }

    #[tokio::test]
    async fn static_token_unknown_is_refused() {
        let tokens = StaticTokens::new().user("secret-op", "olga", ["operator"]);
        for guess in ["", "secret-o", "secret-op ", "secret-oq", "SECRET-OP", "x"] {
            assert_eq!(tokens.validate(guess.into()).await, None, "{guess:?}");
        }
        assert_eq!(StaticTokens::new().validate("anything".into()).await, None);
    }

    #[test]
    fn an_empty_token_is_never_accepted() {
        let tokens = StaticTokens::new().user("", "nobody", ["admin"]);
        assert_eq!(tokens.session_at(b"", 0), None);
    }

    #[test]
    fn a_token_given_again_replaces_its_session() {
        let tokens =
            StaticTokens::new()
                .user("t", "first", ["viewer"])
                .user("t", "second", ["viewer"]);
        assert_eq!(tokens.session_at(b"t", 0).unwrap().user_id, "second");
        assert_eq!(tokens.known.len(), 1);
    }

    #[test]
    fn ttl_ends_the_session_that_long_after_login() {
        let tokens = StaticTokens::new()
            .user("t", "u", ["viewer"])
            .expires_in(Duration::from_secs(60));
        let at_login = tokens.session_at(b"t", 1_000).unwrap();
        assert_eq!(at_login.expires_at, Some(61_000));
        // Computed per login, not once.
        let later = tokens.session_at(b"t", 5_000).unwrap();
        assert_eq!(later.expires_at, Some(65_000));
    }

    #[test]
    fn ttl_does_not_extend_a_session_ending_sooner() {
        let tokens = StaticTokens::new()
            .token("soon", session("u", Some(2_000)))
            .token("late", session("u", Some(900_000)))
            .expires_in(Duration::from_secs(60));
        assert_eq!(
            tokens.session_at(b"soon", 1_000).unwrap().expires_at,
            Some(2_000)
        );
        assert_eq!(
            tokens.session_at(b"late", 1_000).unwrap().expires_at,
            Some(61_000)
        );
    }

    #[test]
    fn expired_session_is_expired() {
        let tokens = StaticTokens::new()
            .user("t", "u", ["viewer"])
            .expires_in(Duration::from_millis(500));
        let session = tokens.session_at(b"t", 10_000).unwrap();
        assert!(!session.is_expired(10_000));
        assert!(!session.is_expired(10_499));
        assert!(session.is_expired(10_500));
        assert!(session.is_expired(99_999));
        // Without a ttl, never.
        let forever = StaticTokens::new().user("t", "u", ["viewer"]);
        assert!(!forever.session_at(b"t", 0).unwrap().is_expired(u64::MAX));
    }

    #[tokio::test]
    async fn validate_uses_the_wall_clock_for_the_login_time() {
        let tokens = StaticTokens::new()
            .user("t", "u", ["viewer"])
            .expires_in(Duration::from_secs(60));
        let before = noex_agent::process_start::now_ms();
        let session = tokens.validate("t".into()).await.unwrap();
        let after = noex_agent::process_start::now_ms();
        let login = session.expires_at.unwrap() - 60_000;
        assert!(
            (before..=after).contains(&login),
            "{before} {login} {after}"
        );
    }

    #[test]
    fn constant_time_eq_is_equality() {
        assert!(constant_time_eq(b"", b""));
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"bbc"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(!constant_time_eq(b"ab", b"abc"));
    }

    #[test]
    fn debug_shows_users_not_tokens() {
        let tokens = StaticTokens::new().user("hunter2", "olga", ["operator"]);
        let shown = format!("{tokens:?}");
        assert!(shown.contains("olga"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}
