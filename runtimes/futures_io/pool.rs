//! Dedicated connections: for blocking commands and WATCH transactions (which would stall or leak state
//! onto the shared connection) and pub/sub (which keeps its connection). A connection is owned by one
//! task at a time, driven inline by that task's future (no background task), and goes back to the idle
//! list only when [`Wire::is_reusable`] says so — a future dropped mid-request leaves its connection in
//! flight, so it is closed instead.

use super::wire::Wire;
use super::Rt;
use crate::push::PushSink;
use crate::{Config, Result};
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex};

/// How many idle dedicated connections a client keeps. Busy ones are not limited: each blocking command
/// in progress holds one.
pub(crate) const MAX_IDLE: usize = 4;

pub(crate) struct Pool<R: Rt> {
    config: Config,
    pushes: PushSink,
    idle: Mutex<Vec<Wire<R>>>,
}

impl<R: Rt> Pool<R> {
    pub(crate) fn new(config: Config, pushes: PushSink) -> Arc<Pool<R>> {
        Arc::new(Pool { config, pushes, idle: Mutex::new(Vec::new()) })
    }

    /// Where every connection of this client hands the pushes that answer no request.
    pub(crate) fn pushes(&self) -> &PushSink {
        &self.pushes
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<Wire<R>>> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// An idle connection that passes a health check, or a new one.
    ///
    /// # Errors
    /// Connecting failed (I/O, connect timeout, handshake).
    pub(crate) async fn checkout(self: &Arc<Self>) -> Result<Lease<R>> {
        loop {
            let Some(mut wire) = self.idle().pop() else { break };
            if wire.is_idle_and_open() {
                return Ok(Lease { wire: Some(wire), pool: self.clone() });
            }
        }
        let wire = Wire::connect(&self.config, self.pushes.clone()).await?;
        Ok(Lease { wire: Some(wire), pool: self.clone() })
    }

    /// Takes a connection out of the pool for good (pub/sub).
    pub(crate) async fn take(self: &Arc<Self>) -> Result<Wire<R>> {
        let mut lease = self.checkout().await?;
        Ok(lease.wire.take().expect("a lease holds its wire until dropped"))
    }
}

/// A dedicated connection on loan; dropping it returns the connection when it is clean.
pub(crate) struct Lease<R: Rt> {
    wire: Option<Wire<R>>,
    pool: Arc<Pool<R>>,
}

impl<R: Rt> Deref for Lease<R> {
    type Target = Wire<R>;
    fn deref(&self) -> &Wire<R> {
        self.wire.as_ref().expect("a lease holds its wire until dropped")
    }
}

impl<R: Rt> DerefMut for Lease<R> {
    fn deref_mut(&mut self) -> &mut Wire<R> {
        self.wire.as_mut().expect("a lease holds its wire until dropped")
    }
}

impl<R: Rt> Drop for Lease<R> {
    fn drop(&mut self) {
        if let Some(wire) = self.wire.take().filter(Wire::is_reusable) {
            let mut idle = self.pool.idle();
            if idle.len() < MAX_IDLE {
                idle.push(wire);
            }
        }
    }
}
