//! Who waits for a process's exit.

use std::sync::atomic::{Ordering, fence};

use once_cell::race::OnceBox;
use tokio::sync::Notify;

/// Who waits for the process's exit (its reason is kept in its notes).
#[derive(Default)]
pub(crate) struct ExitWaiters {
    /// Made by the first waiter: most processes end with nobody waiting, and a
    /// `Notify` in every cell would cost each idle process 32 bytes.
    notify: OnceBox<Notify>,
}

impl ExitWaiters {
    /// Wake whoever waits, if anyone has come to wait.
    pub(crate) fn wake(&self) {
        // Paired with the fence in `notify`: either the waiter sees what was set
        // before this, or this sees the waiter's `Notify`.
        fence(Ordering::SeqCst);
        if let Some(notify) = self.notify.get() {
            notify.notify_waiters();
        }
    }

    /// The `Notify` to wait on; after it, check what is awaited.
    pub(crate) fn notify(&self) -> &Notify {
        let notify = self.notify.get_or_init(Box::default);
        fence(Ordering::SeqCst);
        notify
    }
}
