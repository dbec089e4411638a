//! Byte budgets: what the agent holds for its clients is bounded in bytes, not frames.
//!
//! Every encoded frame waiting to be written carries a [`Charge`] against its
//! connection's budget and against the agent-wide one; writing the frame drops the
//! charge. Replies wait for room (so a client that does not read stops being read:
//! flow control by not reading), and may then overshoot by the one frame admitted;
//! events only take what fits, and are dropped and counted otherwise.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Notify;

/// A number of bytes that charges may hold at once.
#[derive(Debug)]
pub(crate) struct ByteBudget {
    limit: usize,
    used: AtomicUsize,
    freed: Notify,
}

impl ByteBudget {
    pub(crate) fn new(limit: usize) -> Arc<ByteBudget> {
        Arc::new(ByteBudget {
            limit,
            used: AtomicUsize::new(0),
            freed: Notify::new(),
        })
    }

    pub(crate) fn used(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }

    /// Whether `bytes` more fit, or the budget is empty (one frame of any size is
    /// always admitted, or a reply larger than the budget could never be sent).
    pub(crate) fn fits(&self, bytes: usize) -> bool {
        let used = self.used();
        used == 0 || used.saturating_add(bytes) <= self.limit
    }

    /// Waits until [`fits`](Self::fits) holds for `bytes`.
    pub(crate) async fn room_for(&self, bytes: usize) {
        self.until(|budget| budget.fits(bytes)).await;
    }

    /// Waits until `ready` holds; checked again after every release.
    pub(crate) async fn until(&self, ready: impl Fn(&ByteBudget) -> bool) {
        loop {
            let freed = self.freed.notified();
            tokio::pin!(freed);
            // Registered before the check, so a release in between is not missed.
            freed.as_mut().enable();
            if ready(self) {
                return;
            }
            freed.await;
        }
    }

    /// Charges `bytes` whatever is free: the caller waited for room first.
    pub(crate) fn charge(self: &Arc<Self>, bytes: usize) -> Charge {
        self.used.fetch_add(bytes, Ordering::AcqRel);
        Charge {
            budget: Arc::clone(self),
            bytes,
        }
    }

    /// Charges `bytes` only if they fit under the limit, even in an empty budget.
    pub(crate) fn try_charge_within(self: &Arc<Self>, bytes: usize) -> Option<Charge> {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                (used.saturating_add(bytes) <= self.limit).then(|| used + bytes)
            })
            .ok()?;
        Some(Charge {
            budget: Arc::clone(self),
            bytes,
        })
    }

    /// Whether `bytes` more fit under the limit, even in an empty budget.
    pub(crate) fn fits_within(&self, bytes: usize) -> bool {
        self.used().saturating_add(bytes) <= self.limit
    }

    /// Charges `bytes` only if they fit.
    pub(crate) fn try_charge(self: &Arc<Self>, bytes: usize) -> Option<Charge> {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                (used == 0 || used.saturating_add(bytes) <= self.limit).then(|| used + bytes)
            })
            .ok()?;
        Some(Charge {
            budget: Arc::clone(self),
            bytes,
        })
    }
}

/// The budgets one frame for a client is charged to: its connection's own (replies or
/// events), and then either the connection's small reserve or, when the reserve cannot
/// hold it, the agent-wide budget. The reserve keeps small answers flowing to a
/// well-behaved client while clients that do not read have filled the agent's budget.
#[derive(Clone, Debug)]
pub(crate) struct FrameBudget {
    pub connection: Arc<ByteBudget>,
    pub reserve: Arc<ByteBudget>,
    pub agent: Arc<ByteBudget>,
}

impl FrameBudget {
    /// Whether a frame of about `bytes` may be queued now (see [`ByteBudget::fits`]).
    pub(crate) fn fits(&self, bytes: usize) -> bool {
        self.connection.fits(bytes) && (self.reserve.fits_within(bytes) || self.agent.fits(bytes))
    }

    /// Waits until [`fits`](Self::fits) holds.
    pub(crate) async fn room_for(&self, bytes: usize) {
        while !self.fits(bytes) {
            self.connection.room_for(bytes).await;
            tokio::select! {
                () = self.reserve.until(|reserve| reserve.fits_within(bytes)) => {}
                () = self.agent.room_for(bytes) => {}
            }
        }
    }

    /// Charges `bytes` whatever is free: the caller waited for room first.
    pub(crate) fn charge(&self, bytes: usize) -> [Charge; 2] {
        let shared = self
            .reserve
            .try_charge_within(bytes)
            .unwrap_or_else(|| self.agent.charge(bytes));
        [self.connection.charge(bytes), shared]
    }

    /// Charges `bytes` only if they fit.
    pub(crate) fn try_charge(&self, bytes: usize) -> Option<[Charge; 2]> {
        let connection = self.connection.try_charge(bytes)?;
        let shared = self
            .reserve
            .try_charge_within(bytes)
            .or_else(|| self.agent.try_charge(bytes))?;
        Some([connection, shared])
    }
}

/// Bytes held against a budget until dropped.
#[derive(Debug)]
pub(crate) struct Charge {
    budget: Arc<ByteBudget>,
    bytes: usize,
}

impl Drop for Charge {
    fn drop(&mut self) {
        self.budget.used.fetch_sub(self.bytes, Ordering::AcqRel);
        self.budget.freed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_are_released_when_dropped() {
        let budget = ByteBudget::new(100);
        let a = budget.charge(60);
        let b = budget.charge(30);
        assert_eq!(budget.used(), 90);
        drop(a);
        assert_eq!(budget.used(), 30);
        drop(b);
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn try_charge_takes_only_what_fits_but_an_empty_budget_takes_anything() {
        let budget = ByteBudget::new(100);
        let big = budget
            .try_charge(500)
            .expect("an empty budget admits one frame");
        assert!(budget.try_charge(1).is_none());
        drop(big);
        let most = budget.try_charge(100).expect("exactly the limit fits");
        assert!(budget.try_charge(1).is_none());
        drop(most);
        let _some = budget.try_charge(99).unwrap();
        assert!(budget.try_charge(1).is_some());
    }

    #[test]
    fn within_means_under_the_limit_even_when_empty() {
        let reserve = ByteBudget::new(100);
        assert!(!reserve.fits_within(101));
        assert!(reserve.try_charge_within(101).is_none());
        let held = reserve.try_charge_within(100).unwrap();
        assert!(!reserve.fits_within(1));
        drop(held);
        assert!(reserve.fits_within(100));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn room_waits_for_a_release() {
        let budget = ByteBudget::new(10);
        let held = budget.charge(10);
        let waiter = tokio::spawn({
            let budget = Arc::clone(&budget);
            async move { budget.room_for(5).await }
        });
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert!(!waiter.is_finished(), "no room while the budget is full");
        drop(held);
        waiter.await.unwrap();
        let _one = budget.charge(1);
        assert!(budget.fits(9));
        assert!(!budget.fits(10));
    }
}
