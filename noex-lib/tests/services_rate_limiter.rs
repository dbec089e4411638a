//! The RateLimiter contract, one rule per test. Time is tokio's paused clock: the
//! window is crossed with `advance`, never by sleeping.

use std::time::Duration;

use noex::StartError;
use noex::rate_limiter::{
    ConsumeError, RateLimitExceededError, RateLimitStatus, RateLimiter, RateLimiterOptions,
};
use tokio::time::advance;

mod support;

const WINDOW: Duration = Duration::from_secs(10);
const NS: Duration = Duration::from_nanos(1);

async fn limiter(max_requests: u32) -> RateLimiter {
    RateLimiter::start(RateLimiterOptions::new(max_requests, WINDOW))
        .await
        .unwrap()
}

fn exceeded(outcome: Result<RateLimitStatus, ConsumeError>) -> RateLimitExceededError {
    match outcome {
        Err(ConsumeError::Exceeded(error)) => error,
        other => panic!("expected the limit to be exceeded, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn check_reports_the_standing_without_consuming() {
    let limiter = limiter(3).await;
    let fresh = limiter.check("a").await.unwrap();
    assert_eq!(
        fresh,
        RateLimitStatus {
            limit: 3,
            remaining: 3,
            reset_in: Duration::ZERO,
            retry_after: Duration::ZERO
        }
    );
    for _ in 0..5 {
        assert_eq!(limiter.check("a").await.unwrap(), fresh);
    }

    let after = limiter.consume("a").await.unwrap();
    assert_eq!((after.remaining, after.reset_in), (2, WINDOW));
    advance(Duration::from_secs(4)).await;
    let status = limiter.check("a").await.unwrap();
    assert_eq!(
        (status.remaining, status.reset_in),
        (2, Duration::from_secs(6))
    );
    assert!(status.is_allowed());
    assert_eq!(
        limiter.check("b").await.unwrap(),
        fresh,
        "keys are independent"
    );
}

#[tokio::test(start_paused = true)]
async fn the_window_slides_a_request_counts_until_exactly_one_window_later() {
    let limiter = limiter(3).await;
    // Requests at t = 0, 2 s and 4 s.
    for _ in 0..3 {
        limiter.consume("k").await.unwrap();
        advance(Duration::from_secs(2)).await;
    }
    // t = 6 s: full; the request from t = 0 frees a slot at t = 10 s.
    let error = exceeded(limiter.consume("k").await);
    assert_eq!(error.retry_after, Duration::from_secs(4));
    assert_eq!(
        (error.key.as_str(), error.limit, error.window),
        ("k", 3, WINDOW)
    );

    advance(Duration::from_secs(4) - NS).await;
    let error = exceeded(limiter.consume("k").await);
    assert_eq!(
        error.retry_after, NS,
        "one nanosecond before the boundary: still full"
    );

    advance(NS).await;
    let status = limiter.consume("k").await.unwrap();
    assert_eq!(
        status.remaining, 0,
        "at the boundary the t = 0 request left; t = 10 s took its place"
    );
    // The next slot frees when the t = 2 s request leaves, at t = 12 s.
    assert_eq!(status.retry_after, Duration::from_secs(2));
    assert_eq!(status.reset_in, WINDOW);
    assert!(!limiter.check("k").await.unwrap().is_allowed());
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_exact_and_a_refused_request_is_not_counted() {
    let limiter = limiter(2).await;
    limiter.consume("k").await.unwrap();
    advance(Duration::from_millis(1500)).await;
    limiter.consume("k").await.unwrap();

    // Refused over and over: none of these counts, so the wait only shrinks.
    for waited in 1..=5u32 {
        advance(Duration::from_millis(700)).await;
        let error = exceeded(limiter.consume("k").await);
        let elapsed = Duration::from_millis(1500) + Duration::from_millis(700) * waited;
        assert_eq!(error.retry_after, WINDOW - elapsed);
    }
    let retry_after = exceeded(limiter.consume("k").await).retry_after;
    advance(retry_after).await;
    assert_eq!(limiter.consume("k").await.unwrap().remaining, 0);
}

#[tokio::test(start_paused = true)]
async fn expired_keys_are_dropped() {
    let limiter = limiter(5).await;
    for n in 0..100 {
        limiter.consume(&format!("user:{n}")).await.unwrap();
    }
    advance(Duration::from_secs(5)).await;
    limiter.consume("late").await.unwrap();
    assert_eq!(limiter.key_count().await.unwrap(), 101);

    advance(Duration::from_secs(5)).await;
    assert_eq!(
        limiter.key_count().await.unwrap(),
        1,
        "only the key used 5 s ago is left"
    );
    assert_eq!(limiter.check("user:1").await.unwrap().remaining, 5);

    advance(Duration::from_secs(5)).await;
    assert_eq!(limiter.key_count().await.unwrap(), 0);
}

#[tokio::test(start_paused = true)]
async fn reset_forgets_a_key() {
    let limiter = limiter(1).await;
    limiter.consume("k").await.unwrap();
    exceeded(limiter.consume("k").await);

    assert!(limiter.reset("k").await.unwrap());
    limiter.consume("k").await.unwrap();
    assert!(!limiter.reset("other").await.unwrap());
}

#[tokio::test]
async fn a_limiter_without_requests_or_window_does_not_start() {
    for options in [
        RateLimiterOptions::new(0, WINDOW),
        RateLimiterOptions::new(1, Duration::ZERO),
    ] {
        let error = RateLimiter::start(options).await.unwrap_err();
        assert!(matches!(error, StartError::Initialization(_)), "{error}");
    }
}
