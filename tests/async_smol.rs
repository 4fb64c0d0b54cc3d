//! The async client on smol against real servers: the shared cases in `async_common/cases.rs`.

mod pubsub_common;
mod support;

/// What the shared cases need from the runtime under test.
mod rt {
    pub use redwire::smol::{Client, PubSub, PubSubEvent};
    use std::future::Future;
    use std::time::Duration;

    pub fn block_on<T>(f: impl Future<Output = T>) -> T {
        smol::block_on(f)
    }

    pub fn spawn<T: Send + 'static>(f: impl Future<Output = T> + Send + 'static) -> smol::Task<T> {
        smol::spawn(f)
    }

    pub async fn sleep(d: Duration) {
        smol::Timer::after(d).await;
    }

    pub async fn timeout<T>(d: Duration, f: impl Future<Output = T>) -> Option<T> {
        smol::future::or(async { Some(f.await) }, async {
            smol::Timer::after(d).await;
            None
        })
        .await
    }
}

include!("async_common/cases.rs");
