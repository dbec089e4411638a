//! The Cache contract, one rule per test. Time is tokio's paused clock: TTLs are
//! crossed with `advance`, never by sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use noex::StartError;
use noex::cache::{Cache, CacheOptions, GetOrSetError};
use tokio::time::advance;

mod support;
use support::{eventually, within};

async fn start(options: CacheOptions) -> Cache<String, u32> {
    Cache::start(options).await.unwrap()
}

fn key(n: u32) -> String {
    format!("k{n}")
}

#[tokio::test(start_paused = true)]
async fn lru_evicts_the_least_recently_used_entry_when_full() {
    let cache = start(CacheOptions::new().max_size(3)).await;
    for n in 1..=3 {
        cache.set(key(n), n).await.unwrap();
    }
    // Using k1 makes k2 the least recently used; `has` is not a use.
    assert_eq!(cache.get("k1").await.unwrap(), Some(1));
    assert!(cache.has("k2").await.unwrap());

    cache.set(key(4), 4).await.unwrap();

    assert_eq!(cache.get("k2").await.unwrap(), None, "k2 was evicted");
    for n in [1, 3, 4] {
        assert_eq!(cache.get(&key(n)).await.unwrap(), Some(n));
    }
    // Overwriting a key is a use, not an insertion: nothing is evicted.
    cache.set(key(1), 10).await.unwrap();
    cache.set(key(5), 5).await.unwrap();
    assert_eq!(cache.get("k3").await.unwrap(), None, "k3 was next in line");
    assert_eq!(cache.get("k1").await.unwrap(), Some(10));
    let stats = cache.stats().await.unwrap();
    assert_eq!((stats.size, stats.max_size, stats.evictions), (3, 3, 2));
}

#[tokio::test(start_paused = true)]
async fn entries_expire_after_the_default_or_their_own_ttl() {
    let cache = start(CacheOptions::new().default_ttl(Duration::from_secs(10))).await;
    cache.set(key(1), 1).await.unwrap();
    cache
        .set_with_ttl(key(2), 2, Some(Duration::from_secs(3)))
        .await
        .unwrap();
    cache.set_with_ttl(key(3), 3, None).await.unwrap();

    advance(Duration::from_secs(3) - Duration::from_millis(1)).await;
    assert_eq!(
        cache.get("k2").await.unwrap(),
        Some(2),
        "alive just before its TTL"
    );
    advance(Duration::from_millis(1)).await;
    assert_eq!(cache.get("k2").await.unwrap(), None, "gone at its TTL");
    assert!(cache.has("k1").await.unwrap());

    advance(Duration::from_secs(7)).await;
    assert!(!cache.has("k1").await.unwrap(), "gone at the default TTL");
    advance(Duration::from_secs(3600)).await;
    assert_eq!(cache.get("k3").await.unwrap(), Some(3), "no TTL: kept");

    let stats = cache.stats().await.unwrap();
    assert_eq!((stats.size, stats.expirations, stats.evictions), (1, 2, 0));
}

#[tokio::test(start_paused = true)]
async fn expired_entries_are_reclaimed_by_purge_and_by_the_sweep() {
    let cache = start(CacheOptions::new().default_ttl(Duration::from_secs(1))).await;
    for n in 0..5 {
        cache.set(key(n), n).await.unwrap();
    }
    cache.set_with_ttl(key(9), 9, None).await.unwrap();
    advance(Duration::from_secs(1)).await;
    assert_eq!(
        cache.stats().await.unwrap().size,
        6,
        "untouched, not yet removed"
    );
    assert_eq!(cache.purge_expired().await.unwrap(), 5);
    assert_eq!(cache.stats().await.unwrap().size, 1);

    let swept = start(
        CacheOptions::new()
            .default_ttl(Duration::from_secs(1))
            .sweep_interval(Duration::from_secs(5)),
    )
    .await;
    swept.set(key(1), 1).await.unwrap();
    tokio::time::sleep(Duration::from_secs(6)).await; // paused clock: instant
    let stats = swept.stats().await.unwrap();
    assert_eq!((stats.size, stats.expirations), (0, 1));
}

#[tokio::test(start_paused = true)]
async fn stats_count_hits_misses_and_hit_rate() {
    let cache = start(CacheOptions::new()).await;
    assert_eq!(cache.stats().await.unwrap().hit_rate, 0.0);
    cache.set(key(1), 1).await.unwrap();
    for _ in 0..3 {
        cache.get("k1").await.unwrap();
    }
    cache.get("missing").await.unwrap();

    let stats = cache.stats().await.unwrap();
    assert_eq!((stats.hits, stats.misses), (3, 1));
    assert_eq!(stats.hit_rate, 0.75);

    assert!(cache.delete("k1").await.unwrap());
    assert!(!cache.delete("k1").await.unwrap());
    cache.set(key(2), 2).await.unwrap();
    cache.clear().await.unwrap();
    let stats = cache.stats().await.unwrap();
    assert_eq!((stats.size, stats.hits), (0, 3), "clear keeps the counters");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_or_set_computes_once_for_100_concurrent_callers() {
    let cache = start(CacheOptions::new()).await;
    let computed = Arc::new(AtomicUsize::new(0));
    let (release, gate) = tokio::sync::watch::channel(false);

    let callers: Vec<_> = (0..100)
        .map(|_| {
            let (cache, computed, gate) = (cache.clone(), computed.clone(), gate.clone());
            tokio::spawn(async move {
                cache
                    .get_or_set("answer", || async move {
                        computed.fetch_add(1, Ordering::SeqCst);
                        // Hold the computation until every caller has asked.
                        let mut gate = gate;
                        let _ = gate.wait_for(|open| *open).await;
                        42
                    })
                    .await
                    .unwrap()
            })
        })
        .collect();
    wait_for_lookups(&cache, 100).await;
    release.send(true).unwrap();

    for caller in callers {
        assert_eq!(caller.await.unwrap(), 42);
    }
    assert_eq!(computed.load(Ordering::SeqCst), 1);
    let stats = cache.stats().await.unwrap();
    assert_eq!(
        (stats.misses, stats.hits),
        (1, 99),
        "only the computing caller missed"
    );
    assert_eq!(cache.get("answer").await.unwrap(), Some(42));
    assert_eq!(
        cache.get_or_set("answer", || async { 0 }).await.unwrap(),
        42
    );
}

#[tokio::test(start_paused = true)]
async fn a_failed_or_cancelled_computation_hands_over_to_a_waiting_caller() {
    let cache = start(CacheOptions::new()).await;
    let (release, gate) = tokio::sync::watch::channel(false);

    // The first caller fails after the others have queued up behind it.
    let failing = {
        let (cache, mut gate) = (cache.clone(), gate.clone());
        tokio::spawn(async move {
            cache
                .try_get_or_set("k", || async move {
                    let _ = gate.wait_for(|open| *open).await;
                    Err::<u32, _>("database down")
                })
                .await
        })
    };
    wait_for_lookups(&cache, 1).await;
    // The second is cancelled while waiting; the third takes over and computes.
    let cancelled = {
        let cache = cache.clone();
        tokio::spawn(async move { cache.get_or_set("k", || async { 2 }).await })
    };
    wait_for_lookups(&cache, 2).await;
    let third = {
        let cache = cache.clone();
        tokio::spawn(async move { cache.get_or_set("k", || async { 3 }).await })
    };
    wait_for_lookups(&cache, 3).await;
    cancelled.abort();
    let _ = cancelled.await;
    release.send(true).unwrap();

    assert!(matches!(
        within("the failing computation", failing).await.unwrap(),
        Err(GetOrSetError::Compute("database down"))
    ));
    assert_eq!(
        within("the third caller takes over", third).await.unwrap(),
        Ok(3)
    );
    assert_eq!(cache.get("k").await.unwrap(), Some(3));
}

#[tokio::test(start_paused = true)]
async fn a_panicking_computation_releases_the_waiters() {
    let cache = start(CacheOptions::new()).await;
    let panicking = {
        let cache = cache.clone();
        tokio::spawn(async move {
            cache
                .get_or_set("k", || async {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    panic!("compute failed")
                })
                .await
        })
    };
    wait_for_lookups(&cache, 1).await;
    let waiter = {
        let cache = cache.clone();
        tokio::spawn(async move { cache.get_or_set("k", || async { 7 }).await })
    };
    // The waiter is queued behind the computation before it panics.
    wait_for_lookups(&cache, 2).await;

    assert!(panicking.await.unwrap_err().is_panic());
    assert_eq!(
        within("the waiter is released", waiter).await.unwrap(),
        Ok(7)
    );
    assert!(cache.is_running());
}

#[tokio::test]
async fn a_cache_of_size_zero_does_not_start() {
    let error = Cache::<String, u32>::start(CacheOptions::new().max_size(0))
        .await
        .unwrap_err();
    assert!(matches!(error, StartError::Initialization(_)), "{error}");
}

/// Wait until `lookups` get/get_or_set calls have reached the cache.
async fn wait_for_lookups(cache: &Cache<String, u32>, lookups: u64) {
    eventually(&format!("{lookups} lookups reach the cache"), || async {
        let stats = cache.stats().await.unwrap();
        (stats.hits + stats.misses >= lookups).then_some(())
    })
    .await
}

/// A cache started on its own is registered as what the caller knows it by, so
/// a lookup with other types says both in words.
#[tokio::test]
async fn a_lookup_with_other_types_is_refused_in_the_handles_words() {
    let cache = Cache::<String, u64>::start(CacheOptions::new().name("cache.typed"))
        .await
        .unwrap();
    let error = Cache::<String, String>::lookup("cache.typed").unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "\"cache.typed\" is registered to {}, a Cache<String, u64>, not a Cache<String, String>",
            cache.pid()
        )
    );
}

/// A per-call TTL is the computed value's, not the default: it counts from when
/// the value is stored (after a computation of 5 s here), the value is served
/// until just before it without computing again, and is gone at it.
#[tokio::test(start_paused = true)]
async fn get_or_set_with_ttl_keeps_the_value_for_that_ttl_and_not_the_default() {
    let cache = start(CacheOptions::new().default_ttl(Duration::from_secs(10))).await;
    let computed = Arc::new(AtomicUsize::new(0));
    let compute = |n: u32| {
        let computed = computed.clone();
        move || async move {
            computed.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_secs(5)).await;
            n
        }
    };
    let ttl = Some(Duration::from_secs(3));

    let value = cache.get_or_set_with_ttl("k", ttl, compute(1)).await;
    assert_eq!(value.unwrap(), 1);
    // The value is stored by a cast; a call behind it waits until it is.
    assert!(cache.has("k").await.unwrap());
    advance(Duration::from_secs(3) - Duration::from_millis(1)).await;
    let value = cache.get_or_set_with_ttl("k", ttl, compute(2)).await;
    assert_eq!(value.unwrap(), 1, "alive just before its TTL: not computed");
    advance(Duration::from_millis(1)).await;
    assert_eq!(
        cache.get("k").await.unwrap(),
        None,
        "gone at its TTL, long before the default"
    );
    let value = cache.get_or_set_with_ttl("k", ttl, compute(3)).await;
    assert_eq!(value.unwrap(), 3, "computed again once expired");
    assert_eq!(computed.load(Ordering::SeqCst), 2);

    // `None`: kept past the default TTL; the fallible form takes a TTL too.
    let value = cache.get_or_set_with_ttl("kept", None, compute(4)).await;
    assert_eq!(value.unwrap(), 4);
    let value = cache
        .try_get_or_set_with_ttl("brief", ttl, || async { Ok::<u32, &str>(5) })
        .await;
    assert_eq!(value.unwrap(), 5);
    assert!(cache.has("brief").await.unwrap());
    advance(Duration::from_secs(3)).await;
    assert_eq!(cache.get("brief").await.unwrap(), None, "gone at its TTL");
    advance(Duration::from_secs(3600)).await;
    assert_eq!(cache.get("kept").await.unwrap(), Some(4), "no TTL: kept");
}

/// Single flight holds with a TTL: one of the concurrent callers computes, all
/// get its value, which then lives for exactly the TTL.
#[tokio::test(start_paused = true)]
async fn get_or_set_with_ttl_computes_once_for_concurrent_callers() {
    let cache = start(CacheOptions::new()).await;
    let computed = Arc::new(AtomicUsize::new(0));
    let (release, gate) = tokio::sync::watch::channel(false);
    let ttl = Some(Duration::from_secs(5));

    let callers: Vec<_> = (0..10)
        .map(|_| {
            let (cache, computed, gate) = (cache.clone(), computed.clone(), gate.clone());
            tokio::spawn(async move {
                cache
                    .get_or_set_with_ttl("answer", ttl, || async move {
                        computed.fetch_add(1, Ordering::SeqCst);
                        let mut gate = gate;
                        let _ = gate.wait_for(|open| *open).await;
                        42
                    })
                    .await
                    .unwrap()
            })
        })
        .collect();
    wait_for_lookups(&cache, 10).await;
    release.send(true).unwrap();
    for caller in callers {
        assert_eq!(within("a caller", caller).await.unwrap(), 42);
    }

    assert_eq!(computed.load(Ordering::SeqCst), 1);
    let stats = cache.stats().await.unwrap();
    assert_eq!((stats.misses, stats.hits), (1, 9));
    advance(Duration::from_secs(5) - Duration::from_millis(1)).await;
    assert!(cache.has("answer").await.unwrap(), "alive before its TTL");
    advance(Duration::from_millis(1)).await;
    assert!(!cache.has("answer").await.unwrap(), "gone at its TTL");
}
