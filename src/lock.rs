//! Locking a mutex whose value is always valid.

use std::sync::{Mutex, MutexGuard};

/// Locks a mutex, recovering from a panic in another thread: every value
/// behind the library's locks (caches, pools, a lost-device reason) is valid
/// at all times, so a poisoned lock carries no broken state.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
