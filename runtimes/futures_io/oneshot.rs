//! A one-shot reply slot (a `Mutex` and a `Waker`): the driver task fills it, the request's future waits
//! on it. Dropping the [`Receiver`] is how a cancelled request tells the driver to discard its reply.
//!
//! Runtime-independent and protocol-free: no redwire types here.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

struct State<T> {
    value: Option<T>,
    waker: Option<Waker>,
    sender_gone: bool,
    receiver_gone: bool,
}

struct Slot<T> {
    state: Mutex<State<T>>,
}

impl<T> Slot<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // A panic while holding this lock cannot leave the state half-written (every critical section is
        // a few field assignments), so a poisoned lock is still consistent.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The filling half, held by the driver.
pub(crate) struct Sender<T> {
    slot: Arc<Slot<T>>,
}

/// The waiting half, a future: `Ok(value)`, or `Err(Canceled)` when the sender was dropped unfilled.
pub(crate) struct Receiver<T> {
    slot: Arc<Slot<T>>,
}

/// The sender was dropped without sending (the driver stopped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Canceled;

/// A connected pair. One allocation.
pub(crate) fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let slot = Arc::new(Slot {
        state: Mutex::new(State { value: None, waker: None, sender_gone: false, receiver_gone: false }),
    });
    (Sender { slot: slot.clone() }, Receiver { slot })
}

impl<T> Sender<T> {
    /// Fills the slot and wakes the receiver; gives the value back when the receiver is gone.
    pub(crate) fn send(self, value: T) -> Result<(), T> {
        if let Some(w) = self.send_deferred(value)? {
            w.wake();
        }
        Ok(())
    }

    /// Fills the slot and returns the receiver's waker instead of waking it, so a batch of replies can be
    /// handed out first and their tasks woken after (one wake-up for a task awaiting many of them).
    /// Gives the value back when the receiver is gone.
    pub(crate) fn send_deferred(self, value: T) -> Result<Option<Waker>, T> {
        let mut state = self.slot.lock();
        if state.receiver_gone {
            return Err(value);
        }
        state.value = Some(value);
        // Taken now, so the sender's drop (right after) finds no waker to wake.
        Ok(state.waker.take())
    }

    /// `true` once the receiver was dropped: nobody will read a reply.
    pub(crate) fn is_canceled(&self) -> bool {
        self.slot.lock().receiver_gone
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let waker = {
            let mut state = self.slot.lock();
            state.sender_gone = true;
            state.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl<T> Future for Receiver<T> {
    type Output = Result<T, Canceled>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.slot.lock();
        if let Some(value) = state.value.take() {
            return Poll::Ready(Ok(value));
        }
        if state.sender_gone {
            return Poll::Ready(Err(Canceled));
        }
        match &mut state.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            slot => *slot = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let mut state = self.slot.lock();
        state.receiver_gone = true;
        // Drop an unread value here, not in the sender's thread later.
        let _value = state.value.take();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn poll<T>(rx: &mut Receiver<T>, waker: &Waker) -> Poll<Result<T, Canceled>> {
        Pin::new(rx).poll(&mut Context::from_waker(waker))
    }

    #[test]
    fn value_sent_before_and_after_the_first_poll() {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let (tx, mut rx) = channel();
        tx.send(1).unwrap();
        assert_eq!(poll(&mut rx, &waker), Poll::Ready(Ok(1)));

        let (tx, mut rx) = channel();
        assert_eq!(poll(&mut rx, &waker), Poll::Pending);
        assert_eq!(poll(&mut rx, &waker), Poll::Pending); // same waker: kept, not cloned again
        assert_eq!(count.0.load(Ordering::SeqCst), 0);
        tx.send(2).unwrap();
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        assert_eq!(poll(&mut rx, &waker), Poll::Ready(Ok(2)));
    }

    #[test]
    fn dropped_sender_cancels_and_wakes() {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let (tx, mut rx) = channel::<u8>();
        assert_eq!(poll(&mut rx, &waker), Poll::Pending);
        drop(tx);
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        assert_eq!(poll(&mut rx, &waker), Poll::Ready(Err(Canceled)));
    }

    #[test]
    fn dropped_receiver_gives_the_value_back() {
        let (tx, rx) = channel();
        assert!(!tx.is_canceled());
        drop(rx);
        assert!(tx.is_canceled());
        assert_eq!(tx.send("reply"), Err("reply"));
    }

    #[test]
    fn unread_value_is_dropped_with_the_receiver() {
        let value = Arc::new(());
        let (tx, rx) = channel();
        tx.send(value.clone()).unwrap();
        assert_eq!(Arc::strong_count(&value), 2);
        drop(rx);
        assert_eq!(Arc::strong_count(&value), 1);
    }

    #[test]
    fn threads_race_send_and_poll() {
        for _ in 0..200 {
            let (tx, rx) = channel();
            let t = std::thread::spawn(move || tx.send(7u32).is_ok());
            let got = block_on(rx);
            assert!(t.join().unwrap());
            assert_eq!(got, Ok(7));
        }
    }

    /// A minimal block_on for the test: parks the thread until woken.
    fn block_on<F: Future + Unpin>(mut f: F) -> F::Output {
        struct Unpark(std::thread::Thread);
        impl Wake for Unpark {
            fn wake(self: Arc<Self>) {
                self.0.unpark();
            }
        }
        let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
        let mut cx = Context::from_waker(&waker);
        loop {
            if let Poll::Ready(v) = Pin::new(&mut f).poll(&mut cx) {
                return v;
            }
            std::thread::park();
        }
    }
}
