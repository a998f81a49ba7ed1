//! The registry of virtual actors, shared by SKU actors and cart actors.
//!
//! An actor is virtual: it exists as far as callers know, and runs only
//! while it has work. The first call for a key activates its actor (loaded
//! from the store by the capability's `start`); an idle actor passivates by
//! leaving the registry and stopping; the next call activates a fresh one.
//! Callers never see an address. Every send is a `try_send` on a bounded
//! mailbox, so a full mailbox is a fast `busy` answer (503), never a queue
//! that grows.
//!
//! A call can meet an actor in the middle of passivating. Nothing was
//! applied then (the actor answers "passivated", or its mailbox is already
//! closed), so the registry forgets that actor and sends again to a fresh
//! one, a bounded number of times.

use dashmap::DashMap;
use std::hash::Hash;
use tokio::sync::oneshot;

/// Where an actor sends the answer to one message.
pub type Reply<T, E> = oneshot::Sender<Result<T, E>>;

/// How many actors one call tries before giving up: one that was
/// passivating, then fresh ones.
const ACTIVATION_TRIES: usize = 3;

/// Why a message did not reach an actor's mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Undelivered {
    /// The mailbox is at its bound.
    Full,
    /// The actor has stopped.
    Closed,
}

/// An actor's address as the registry keeps it.
pub trait Mailbox: Clone + Send + Sync + 'static {
    /// Whether `self` and `other` reach the same actor, so that a stopping
    /// actor removes its own entry and never a fresh successor's.
    fn same(&self, other: &Self) -> bool;
}

/// The answers the registry gives on its own, in a capability's error type.
pub trait CallError<K>: Sized {
    /// The actor passivated as the message arrived; nothing was applied.
    fn is_passivated(&self) -> bool;
    /// The actor's mailbox is full.
    fn busy(key: &K) -> Self;
    /// No actor answered: it stopped with the message (outcome unknown) or
    /// every try met a passivating one.
    fn no_answer(key: &K) -> Self;
}

/// Live actors by key. Counted in `surge_actors_active{actor}`.
pub struct Registry<K: Eq + Hash, M> {
    live: DashMap<K, M>,
    /// Names the actors in metrics (`surge_mailbox_full_total{actor}`).
    kind: &'static str,
}

impl<K: Eq + Hash + Clone, M: Mailbox> Registry<K, M> {
    pub fn new(kind: &'static str) -> Self {
        Self {
            live: DashMap::new(),
            kind,
        }
    }

    /// Sends the message `send` builds to `key`'s actor (activated by
    /// `start` if needed) and awaits its answer.
    pub async fn call<T, E: CallError<K>>(
        &self,
        key: &K,
        start: impl Fn() -> Result<M, E>,
        send: impl Fn(&M, Reply<T, E>) -> Result<(), Undelivered>,
    ) -> Result<T, E> {
        for _ in 0..ACTIVATION_TRIES {
            let mailbox = self.activate(key, &start)?;
            let (tx, rx) = oneshot::channel();
            match send(&mailbox, tx) {
                Ok(()) => match rx.await {
                    Ok(Err(e)) if e.is_passivated() => self.forget(key, &mailbox),
                    Ok(answer) => return answer,
                    Err(_) => return Err(E::no_answer(key)),
                },
                Err(Undelivered::Full) => {
                    metrics::counter!("surge_mailbox_full_total", "actor" => self.kind)
                        .increment(1);
                    return Err(E::busy(key));
                }
                Err(Undelivered::Closed) => self.forget(key, &mailbox),
            }
        }
        Err(E::no_answer(key))
    }

    /// The live actor of `key`, started by `start` if there is none. The
    /// entry lock makes activation happen once even when many calls for a
    /// cold key arrive together.
    pub fn activate<E>(&self, key: &K, start: impl FnOnce() -> Result<M, E>) -> Result<M, E> {
        if let Some(mailbox) = self.live.get(key) {
            return Ok(mailbox.clone());
        }
        match self.live.entry(key.clone()) {
            dashmap::Entry::Occupied(e) => Ok(e.get().clone()),
            dashmap::Entry::Vacant(slot) => {
                let mailbox = start()?;
                slot.insert(mailbox.clone());
                self.count();
                Ok(mailbox)
            }
        }
    }

    /// Publishes how many actors of this kind are live. Never called while
    /// an entry is locked: counting locks every shard.
    fn count(&self) {
        metrics::gauge!("surge_actors_active", "actor" => self.kind).set(self.live.len() as f64);
    }

    /// Removes `key`'s entry if it is still `mailbox` (a passivating actor
    /// leaving, or a caller that found it gone).
    pub fn forget(&self, key: &K, mailbox: &M) {
        if self
            .live
            .remove_if(key, |_, live| live.same(mailbox))
            .is_some()
        {
            self.count();
        }
    }

    /// Number of live actors.
    pub fn len(&self) -> usize {
        self.live.len()
    }

    pub fn is_empty(&self) -> bool {
        self.live.is_empty()
    }

    /// Forgets every actor (at shutdown, once they are being stopped).
    pub fn clear(&self) {
        self.live.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use tokio::sync::mpsc;

    /// A mailbox whose actor answers each message with `answer`.
    #[derive(Clone)]
    struct Inbox(mpsc::Sender<Reply<u32, Error>>);

    impl Mailbox for Inbox {
        fn same(&self, other: &Self) -> bool {
            self.0.same_channel(&other.0)
        }
    }

    #[derive(Debug, PartialEq)]
    enum Error {
        Passivated,
        Busy,
        NoAnswer,
    }

    impl CallError<u32> for Error {
        fn is_passivated(&self) -> bool {
            *self == Error::Passivated
        }
        fn busy(_: &u32) -> Self {
            Error::Busy
        }
        fn no_answer(_: &u32) -> Self {
            Error::NoAnswer
        }
    }

    fn spawn(answer: Result<u32, Error>, capacity: usize) -> Inbox {
        let (tx, mut rx) = mpsc::channel::<Reply<u32, Error>>(capacity);
        let answer = Arc::new(parking_lot::Mutex::new(Some(answer)));
        tokio::spawn(async move {
            while let Some(reply) = rx.recv().await {
                let a = answer.lock().take().unwrap_or(Ok(0));
                let _ = reply.send(a);
            }
        });
        Inbox(tx)
    }

    fn send(inbox: &Inbox, reply: Reply<u32, Error>) -> Result<(), Undelivered> {
        inbox.0.try_send(reply).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => Undelivered::Full,
            mpsc::error::TrySendError::Closed(_) => Undelivered::Closed,
        })
    }

    #[tokio::test]
    async fn a_cold_key_is_activated_once_and_then_reused() {
        let registry = Registry::new("test");
        let starts = AtomicUsize::new(0);
        let start = || {
            starts.fetch_add(1, Ordering::Relaxed);
            Ok(spawn(Ok(7), 4))
        };
        assert_eq!(registry.call(&1, start, send).await, Ok(7));
        assert_eq!(registry.call(&1, start, send).await, Ok(0));
        assert_eq!(starts.load(Ordering::Relaxed), 1);
        assert_eq!(registry.len(), 1);
    }

    #[tokio::test]
    async fn a_passivating_actor_is_forgotten_and_a_fresh_one_answers() {
        let registry = Registry::new("test");
        let fresh = AtomicUsize::new(0);
        let start = || {
            let answer = match fresh.fetch_add(1, Ordering::Relaxed) {
                0 => Err(Error::Passivated),
                _ => Ok(9),
            };
            Ok(spawn(answer, 4))
        };
        assert_eq!(registry.call(&1, start, send).await, Ok(9));
        assert_eq!(fresh.load(Ordering::Relaxed), 2, "a second actor started");
    }

    #[tokio::test]
    async fn a_full_mailbox_is_busy_at_once_and_a_stopped_actor_is_replaced() {
        let registry = Registry::new("test");
        let (full, _rx) = mpsc::channel::<Reply<u32, Error>>(1);
        let (tx, _) = oneshot::channel();
        let _ = full.try_send(tx);
        let jammed = Inbox(full);
        registry
            .activate(&1, || Ok::<_, Error>(jammed.clone()))
            .unwrap();
        assert_eq!(
            registry.call(&1, || Ok(spawn(Ok(1), 1)), send).await,
            Err(Error::Busy)
        );

        let (closed, rx) = mpsc::channel::<Reply<u32, Error>>(1);
        drop(rx);
        registry.forget(&1, &jammed);
        registry
            .activate(&1, || Ok::<_, Error>(Inbox(closed)))
            .unwrap();
        assert_eq!(registry.call(&1, || Ok(spawn(Ok(5), 1)), send).await, Ok(5));
    }

    #[tokio::test]
    async fn forget_leaves_a_successor_alone() {
        let registry = Registry::new("test");
        let old = spawn(Ok(1), 1);
        let new = spawn(Ok(2), 1);
        registry
            .activate(&1, || Ok::<_, Error>(new.clone()))
            .unwrap();
        registry.forget(&1, &old);
        assert_eq!(registry.len(), 1);
        registry.forget(&1, &new);
        assert!(registry.is_empty());
    }
}
