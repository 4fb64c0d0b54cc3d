//! [`join_all`]: polls many futures together in the calling task, no spawning, outputs in order. Used
//! where a bench compares "N futures joined in one task" with N spawned tasks and an explicit pipeline.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::Poll;

/// Polls every future until all are done; their outputs, in the order given. Each wake-up polls only
/// the futures still pending.
pub async fn join_all<F: Future + Unpin>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut slots: Vec<(Option<F>, Option<F::Output>)> =
        futures.into_iter().map(|f| (Some(f), None)).collect();
    poll_fn(|cx| {
        let mut pending = false;
        for (future, out) in &mut slots {
            if let Some(f) = future {
                match Pin::new(f).poll(cx) {
                    Poll::Ready(v) => {
                        *out = Some(v);
                        *future = None;
                    }
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    slots.into_iter().map(|(_, out)| out.expect("every future finished")).collect()
}
