//! The runtime's locks: std's mutex and read-write lock, without poisoning.
//!
//! A panic in a handler is contained by its process, and every lock here is held for
//! a few plain reads and writes that leave the data whole: a lock whose holder
//! panicked guards data as good as any, so poisoning would only turn one contained
//! crash into a panic in every process that touches the lock next.

use std::sync::PoisonError;
#[cfg(feature = "agent")]
use std::sync::TryLockError;

pub(crate) use std::sync::{MutexGuard, RwLockReadGuard, RwLockWriteGuard};

#[derive(Default)]
pub(crate) struct Mutex<T: ?Sized>(std::sync::Mutex<T>);

impl<T> Mutex<T> {
    pub(crate) const fn new(value: T) -> Self {
        Mutex(std::sync::Mutex::new(value))
    }
}

impl<T: ?Sized> Mutex<T> {
    #[inline]
    pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The guard, unless another thread holds the lock.
    #[cfg(feature = "agent")]
    pub(crate) fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        match self.0.try_lock() {
            Ok(guard) => Some(guard),
            Err(TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
            Err(TryLockError::WouldBlock) => None,
        }
    }
}

#[derive(Default)]
pub(crate) struct RwLock<T: ?Sized>(std::sync::RwLock<T>);

impl<T: ?Sized> RwLock<T> {
    #[inline]
    pub(crate) fn read(&self) -> RwLockReadGuard<'_, T> {
        self.0.read().unwrap_or_else(PoisonError::into_inner)
    }

    #[inline]
    pub(crate) fn write(&self) -> RwLockWriteGuard<'_, T> {
        self.0.write().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_under_the_lock_leaves_it_usable() {
        let mutex = std::sync::Arc::new(Mutex::new(1));
        let held = std::sync::Arc::clone(&mutex);
        let panicked = std::thread::spawn(move || {
            let mut guard = held.lock();
            *guard = 2;
            panic!("while holding the lock");
        })
        .join();
        assert!(panicked.is_err());
        assert_eq!(*mutex.lock(), 2);

        let rwlock = std::sync::Arc::new(RwLock::<u32>::default());
        let held = std::sync::Arc::clone(&rwlock);
        let panicked = std::thread::spawn(move || {
            *held.write() = 3;
            panic!("while holding the write lock");
        })
        .join();
        assert!(panicked.is_err());
        assert_eq!(*rwlock.read(), 3);
        #[cfg(feature = "agent")]
        assert_eq!(mutex.try_lock().map(|guard| *guard), Some(2));
    }
}
