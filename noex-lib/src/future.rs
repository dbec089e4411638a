//! The few future tools the runtime needs: catching a panic inside a future, polling
//! once. Small enough that a futures crate would cost more to build than it saves to
//! write.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

/// A boxed, sendable future, as `futures` names it (and the agent's `Backend`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

pin_project_lite::pin_project! {
    /// `future`, with a panic in any of its polls caught as `Err(payload)`.
    pub(crate) struct CatchUnwind<F> {
        #[pin]
        future: F,
    }
}

/// Runs `future`, catching a panic in it as `Err` with the panic's payload. The caller
/// asserts that nothing the future touches is left broken by a panic: the process whose
/// handler panicked is ended.
pub(crate) fn catch_panic<F: Future>(future: F) -> CatchUnwind<F> {
    CatchUnwind { future }
}

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, Box<dyn Any + Send>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let future = self.project().future;
        match catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Err(payload) => Poll::Ready(Err(payload)),
        }
    }
}

/// The output of `future` if it is ready at its first poll. Nothing wakes it: a future
/// that was pending must be polled again by its owner, with a real waker.
pub(crate) fn now_or_never<F: Future + ?Sized>(future: Pin<&mut F>) -> Option<F::Output> {
    match future.poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => Some(output),
        Poll::Pending => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_inside_a_future_comes_back_as_its_payload() {
        let caught = catch_panic(async {
            tokio::task::yield_now().await;
            panic!("boom")
        })
        .await
        .unwrap_err();
        assert_eq!(caught.downcast_ref::<&str>(), Some(&"boom"));
        assert_eq!(catch_panic(async { 7 }).await.unwrap(), 7);
    }

    #[test]
    fn now_or_never_answers_only_a_ready_future() {
        assert_eq!(now_or_never(std::pin::pin!(async { 3 })), Some(3));
        assert_eq!(
            now_or_never(std::pin::pin!(std::future::pending::<u8>())),
            None
        );
    }
}
