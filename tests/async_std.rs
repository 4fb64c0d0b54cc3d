//! The async client on async-std against real servers: the shared cases in `async_common/cases.rs`.

mod pubsub_common;
mod support;

/// What the shared cases need from the runtime under test.
mod rt {
    pub use redwire::async_std::{Client, PubSub, PubSubEvent};
    use std::future::Future;
    use std::time::Duration;

    pub fn block_on<T>(f: impl Future<Output = T>) -> T {
        async_std::task::block_on(f)
    }

    pub fn spawn<T: Send + 'static>(
        f: impl Future<Output = T> + Send + 'static,
    ) -> async_std::task::JoinHandle<T> {
        async_std::task::spawn(f)
    }

    pub async fn sleep(d: Duration) {
        async_std::task::sleep(d).await;
    }

    pub async fn timeout<T>(d: Duration, f: impl Future<Output = T>) -> Option<T> {
        async_std::future::timeout(d, f).await.ok()
    }
}

include!("async_common/cases.rs");
