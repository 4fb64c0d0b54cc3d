//! [`PushSink`]: where a runtime hands the RESP3 pushes that answer no request ([`Event::Push`]:
//! `invalidate` from client-side caching, a module's own pushes), so none is dropped unseen.
//!
//! Runtimes create one sink per client (or pool) and give every connection of it a clone; the
//! connection-reading loop passes each [`Event::Push`] here instead of to whoever waits for a reply.
//! Plain data and a callback: no threads, no I/O. Pub/sub messages are not pushes of this kind: they
//! stay [`Event::Message`] for the pub/sub API.
//!
//! [`Event::Push`]: crate::Event::Push
//! [`Event::Message`]: crate::Event::Message

use crate::resp::Value;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The user's function for pushes, as runtimes store it.
pub(crate) type PushHandler = Arc<dyn Fn(Value) + Send + Sync + 'static>;

/// A push handler, or a count of the pushes that had nowhere to go. Cheap to clone (shared).
#[derive(Clone, Default)]
pub(crate) struct PushSink {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    handler: Option<PushHandler>,
    unhandled: AtomicU64,
}

impl PushSink {
    /// A sink that calls `handler` for every push.
    pub(crate) fn new(handler: Option<PushHandler>) -> PushSink {
        PushSink { inner: Arc::new(Inner { handler, unhandled: AtomicU64::new(0) }) }
    }

    /// Hands `push` to the handler; without one, counts it.
    pub(crate) fn deliver(&self, push: Value) {
        match &self.inner.handler {
            Some(handler) => handler(push),
            None => {
                self.inner.unhandled.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Pushes that arrived with no handler set.
    pub(crate) fn unhandled(&self) -> u64 {
        self.inner.unhandled.load(Ordering::Relaxed)
    }
}

impl fmt::Debug for PushSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PushSink")
            .field("handler", &self.inner.handler.is_some())
            .field("unhandled", &self.unhandled())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn pushes_reach_the_handler_or_are_counted() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let sink = PushSink::new(Some(Arc::new(move |v| log.lock().unwrap().push(v))));
        let clone = sink.clone();
        clone.deliver(Value::Push(vec![Value::BulkString("invalidate".into())]));
        assert_eq!(seen.lock().unwrap().len(), 1);
        assert_eq!(sink.unhandled(), 0);

        let nowhere = PushSink::default();
        nowhere.clone().deliver(Value::Null);
        nowhere.deliver(Value::Null);
        assert_eq!(nowhere.unhandled(), 2);
    }
}
