//! The status line's message: its text, whether it is good or bad news, and when it
//! expires.

use std::time::Instant;

use super::App;

/// How a status line message reads: good news, bad news, or neither.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tone {
    Info,
    Good,
    Bad,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub text: String,
    pub tone: Tone,
    /// When it was set, so it can expire.
    pub since: Instant,
}

impl App {
    pub fn set_message(&mut self, tone: Tone, text: impl Into<String>) {
        self.message = Some(Message {
            text: text.into(),
            tone,
            since: Instant::now(),
        });
    }

    /// Forget a message shown for longer than `ttl`.
    pub fn expire_message(&mut self, now: Instant, ttl: std::time::Duration) {
        if self
            .message
            .as_ref()
            .is_some_and(|m| now.duration_since(m.since) >= ttl)
        {
            self.message = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Layout;
    use crate::top::testing;

    fn app() -> App {
        testing::app(Layout::Full)
    }

    #[test]
    fn messages_expire() {
        let mut app = app();
        app.set_message(Tone::Info, "hello");
        let now = Instant::now();
        app.expire_message(now, std::time::Duration::from_secs(60));
        assert!(app.message.is_some());
        app.expire_message(
            now + std::time::Duration::from_secs(61),
            std::time::Duration::from_secs(60),
        );
        assert!(app.message.is_none());
    }
}
