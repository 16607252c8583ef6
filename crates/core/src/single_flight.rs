//! One fetch for many waiters.
//!
//! When many requests need the same missing thing at once (a JWKS after an unknown `kid`, an
//! introspection answer for a new token), only the first runs the fetch; the others wait for its
//! result. No lock is held while the fetch runs. If the leader is cancelled (its request was
//! dropped), a waiter takes over.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::Mutex;

use tokio::sync::watch;

use crate::sync::lock;

/// Deduplicates concurrent calls by key.
#[derive(Debug)]
pub struct SingleFlight<K, V> {
    in_flight: Mutex<HashMap<K, watch::Receiver<Option<V>>>>,
}

impl<K, V> Default for SingleFlight<K, V> {
    fn default() -> Self {
        Self {
            in_flight: Mutex::new(HashMap::new()),
        }
    }
}

enum Role<V> {
    Leader(watch::Sender<Option<V>>),
    Follower(watch::Receiver<Option<V>>),
}

impl<K: Hash + Eq + Clone, V: Clone> SingleFlight<K, V> {
    /// Creates an empty group.
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs `make()` unless a call for `key` is already running, in which case this waits for
    /// that call's result. Every caller gets a clone of the same value.
    pub async fn run<F, Fut>(&self, key: K, make: F) -> V
    where
        F: Fn() -> Fut,
        Fut: Future<Output = V>,
    {
        loop {
            match self.join(&key) {
                Role::Leader(sender) => {
                    let guard = LeaderGuard {
                        group: self,
                        key: key.clone(),
                    };
                    let value = make().await;
                    // Publish before removing, so a waiter never sees the entry vanish empty.
                    sender.send_replace(Some(value.clone()));
                    drop(guard);
                    return value;
                }
                Role::Follower(mut receiver) => {
                    if let Ok(done) = receiver.wait_for(Option::is_some).await
                        && let Some(value) = done.as_ref()
                    {
                        return value.clone();
                    }
                    // The leader was cancelled before it finished: try again, maybe as leader.
                }
            }
        }
    }

    /// Waits for the call for `key` that is running now, if any; never starts one.
    pub async fn wait(&self, key: &K) -> Option<V> {
        let mut receiver = {
            let map = lock(&self.in_flight);
            map.get(key)?.clone()
        };
        let done = receiver.wait_for(Option::is_some).await.ok()?;
        done.as_ref().cloned()
    }

    fn join(&self, key: &K) -> Role<V> {
        let mut map = lock(&self.in_flight);
        if let Some(receiver) = map.get(key) {
            return Role::Follower(receiver.clone());
        }
        let (sender, receiver) = watch::channel(None);
        map.insert(key.clone(), receiver);
        Role::Leader(sender)
    }

    /// How many keys are being fetched right now.
    pub fn in_flight(&self) -> usize {
        lock(&self.in_flight).len()
    }
}

struct LeaderGuard<'a, K: Hash + Eq, V> {
    group: &'a SingleFlight<K, V>,
    key: K,
}

impl<K: Hash + Eq, V> Drop for LeaderGuard<'_, K, V> {
    fn drop(&mut self) {
        let mut map = lock(&self.group.in_flight);
        map.remove(&self.key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::pin::Pin;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Poll;
    use std::time::Duration;

    /// Polls `future` once (so it has joined its group) and returns it with that poll's result.
    async fn poll_once<F: Future + Unpin>(mut future: F) -> (F, Poll<F::Output>) {
        let first = std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut future).poll(cx))).await;
        (future, first)
    }

    async fn until(what: &str, done: impl Fn() -> bool) {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !done() {
            assert!(std::time::Instant::now() < deadline, "never: {what}");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    #[tokio::test]
    async fn concurrent_calls_for_one_key_run_the_fetch_once() {
        let group = Arc::new(SingleFlight::<&str, usize>::new());
        let calls = Arc::new(AtomicUsize::new(0));
        let joined = Arc::new(AtomicUsize::new(0));
        // The fetch is held open until every caller has joined: no sleep decides the overlap.
        let (open, opened) = watch::channel(false);
        let mut tasks = Vec::new();
        for _ in 0..50 {
            let (group, calls, joined, opened) =
                (group.clone(), calls.clone(), joined.clone(), opened.clone());
            tasks.push(tokio::spawn(async move {
                let call = Box::pin(group.run("jwks", || {
                    let (calls, mut opened) = (calls.clone(), opened.clone());
                    async move {
                        calls.fetch_add(1, Ordering::SeqCst);
                        let _ = opened.wait_for(|open| *open).await;
                        7
                    }
                }));
                let (call, first) = poll_once(call).await;
                assert!(first.is_pending(), "the fetch is held open");
                joined.fetch_add(1, Ordering::SeqCst);
                call.await
            }));
        }
        until("all 50 joined", || joined.load(Ordering::SeqCst) == 50).await;
        assert_eq!(group.in_flight(), 1);
        open.send_replace(true);
        for task in tasks {
            assert_eq!(task.await.unwrap(), 7);
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(group.in_flight(), 0);
    }

    #[tokio::test]
    async fn when_the_leader_is_cancelled_a_follower_takes_over() {
        let group = Arc::new(SingleFlight::<u8, u8>::new());
        let leader = {
            let group = group.clone();
            tokio::spawn(async move {
                group
                    .run(1, || async { std::future::pending::<u8>().await })
                    .await
            })
        };
        until("the leader runs", || group.in_flight() == 1).await;
        let joined = Arc::new(AtomicUsize::new(0));
        let follower = {
            let (group, joined) = (group.clone(), joined.clone());
            tokio::spawn(async move {
                let call = Box::pin(group.run(1, || async { 9 }));
                let (call, first) = poll_once(call).await;
                assert!(first.is_pending(), "the follower waits for the leader");
                joined.fetch_add(1, Ordering::SeqCst);
                call.await
            })
        };
        until("the follower waits", || joined.load(Ordering::SeqCst) == 1).await;
        leader.abort();
        let value = tokio::time::timeout(Duration::from_secs(10), follower)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(value, 9);
    }
}
