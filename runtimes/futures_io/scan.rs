//! The async client's helpers over the core's sans-IO command helpers: [`Scan`], a stream over a SCAN,
//! SSCAN, HSCAN or ZSCAN cursor ([`ScanState`] decides every step), and `Client::invoke` for scripts
//! (`EVALSHA`, then `EVAL` on `NOSCRIPT`, as [`ScriptCall`] decides).

use super::client::{Client, Reply};
use super::Rt;
use crate::cmd::{self, ScanState, ScriptCall};
use crate::resp::Value;
use crate::{Cmd, FromValue, Result, ToArgs};
use std::collections::VecDeque;
use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::{Context, Poll};

/// A reply taken as it came, error replies included (the core's helpers inspect them).
pub(crate) struct Raw(pub(crate) Value);

impl FromValue for Raw {
    fn from_value(value: Value) -> Result<Raw> {
        Ok(Raw(value))
    }
}

/// The items of a SCAN-family cursor, page by page (one request per page), from
/// [`Client::scan_iter`] and its siblings. A [`futures_core::Stream`] of `Result<T>`, or read with
/// [`next`](Self::next); a failed page ends it after its error.
#[must_use = "streams do nothing unless polled"]
pub struct Scan<'a, R: Rt, T> {
    client: &'a Client<R>,
    state: ScanState,
    page: VecDeque<T>,
    request: Option<Reply<'a, R, Raw>>,
    done: bool,
}

impl<R: Rt, T> fmt::Debug for Scan<'_, R, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scan").field("state", &self.state).field("buffered", &self.page.len()).finish()
    }
}

impl<R: Rt, T: FromValue> Scan<'_, R, T> {
    /// The next item; `None` once the server's cursor came back to 0 (or after an error).
    ///
    /// # Errors
    /// The page's error: the connection's, the server's, or a conversion error.
    pub async fn next(&mut self) -> Option<Result<T>> {
        poll_fn(|cx| self.poll_item(cx)).await
    }

    fn poll_item(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<T>>> {
        loop {
            if let Some(item) = self.page.pop_front() {
                return Poll::Ready(Some(Ok(item)));
            }
            if self.done {
                return Poll::Ready(None);
            }
            let client = self.client;
            let request = match &mut self.request {
                Some(r) => r,
                None => match self.state.next_cmd() {
                    Some(cmd) => self.request.insert(client.exec(cmd)),
                    None => {
                        self.done = true;
                        continue;
                    }
                },
            };
            let reply = std::task::ready!(Pin::new(request).poll(cx));
            self.request = None;
            match reply.and_then(|Raw(v)| self.state.handle_reply::<T>(v)) {
                Ok(items) => self.page.extend(items),
                Err(e) => {
                    self.done = true;
                    return Poll::Ready(Some(Err(e)));
                }
            }
        }
    }
}

impl<R: Rt, T: FromValue> futures_core::Stream for Scan<'_, R, T> {
    type Item = Result<T>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<T>>> {
        self.get_mut().poll_item(cx)
    }
}

impl<R: Rt, T> Unpin for Scan<'_, R, T> {}

impl<R: Rt> Client<R> {
    /// Iterates over a `SCAN`, `SSCAN`, `HSCAN` or `ZSCAN` command's items, fetching page after page on
    /// the shared connection. For HSCAN and ZSCAN use a pair for `T`.
    ///
    /// ```no_run
    /// # async fn demo(client: redwire::smol::Client) -> redwire::Result<()> {
    /// use redwire::cmd;
    /// let mut keys = client.scan_iter::<String>(cmd::scan(0).match_("user:*").count(500))?;
    /// while let Some(key) = keys.next().await {
    ///     println!("{}", key?);
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::Usage`](crate::Error::Usage) when `cmd` is not one of the four scan commands. Each item
    /// is a `Result`: a failed page ends the stream after its error.
    pub fn scan_iter<T: FromValue>(&self, cmd: impl Into<Cmd>) -> Result<Scan<'_, R, T>> {
        Ok(Scan {
            client: self,
            state: ScanState::new(cmd)?,
            page: VecDeque::new(),
            request: None,
            done: false,
        })
    }

    /// The members of the set at `key`, page by page (`SSCAN`).
    ///
    /// # Errors
    /// Never at creation; each item is a `Result`.
    pub fn sscan_iter<T: FromValue>(&self, key: impl ToArgs) -> Result<Scan<'_, R, T>> {
        self.scan_iter(cmd::sscan(key, 0))
    }

    /// The fields and values of the hash at `key`, page by page (`HSCAN`); `T` is a pair.
    ///
    /// # Errors
    /// Never at creation; each item is a `Result`.
    pub fn hscan_iter<T: FromValue>(&self, key: impl ToArgs) -> Result<Scan<'_, R, T>> {
        self.scan_iter(cmd::hscan(key, 0))
    }

    /// The members and scores of the sorted set at `key`, page by page (`ZSCAN`); `T` is a pair.
    ///
    /// # Errors
    /// Never at creation; each item is a `Result`.
    pub fn zscan_iter<T: FromValue>(&self, key: impl ToArgs) -> Result<Scan<'_, R, T>> {
        self.scan_iter(cmd::zscan(key, 0))
    }

    /// Runs a script call: `EVALSHA` first, and `EVAL` (which also caches the script) when the server
    /// answers `NOSCRIPT`.
    ///
    /// ```no_run
    /// # async fn demo(client: redwire::smol::Client) -> redwire::Result<()> {
    /// use redwire::cmd::Script;
    /// let add = Script::new("return redis.call('INCRBY', KEYS[1], ARGV[1])");
    /// let n: i64 = client.invoke(&add.call().key("counter").arg(5)).await?;
    /// # let _ = n;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::Server`](crate::Error::Server) when the script fails; otherwise as [`exec`](Self::exec).
    pub async fn invoke<T: FromValue>(&self, call: &ScriptCall<'_>) -> Result<T> {
        let Raw(mut reply) = self.exec(call.evalsha()).await?;
        if let Some(eval) = call.fallback(&reply) {
            Raw(reply) = self.exec(eval).await?;
        }
        T::from_value(reply)
    }
}
