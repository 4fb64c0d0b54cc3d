//! Shared by the `commands_*` tests: a real server (from `tests/support`) and a tiny client that sends
//! typed `Cmd`s over the harness's `RawClient` and implements redwire's [`Commands`] trait, so every test
//! goes through the generated methods and constructors exactly as a runtime would.
//!
//! It must not grow protocol logic: one command, one reply, conversion through `FromValue`.
#![allow(dead_code)]

use redwire::cmd::Commands;
use redwire::resp::Value;
use redwire::{Cmd, FromValue};
use std::cell::RefCell;

pub use crate::support::{RawClient, Server};

/// A blocking test client speaking RESP2 or RESP3 (after `HELLO 3`).
pub struct Client {
    raw: RefCell<RawClient>,
    pub protocol: u8,
}

impl Client {
    /// Connects to `server` and, for protocol 3, switches with `HELLO 3`.
    pub fn new(server: &Server, protocol: u8) -> Client {
        let mut raw = server.raw();
        if protocol == 3 {
            let hello = raw.cmd(&[b"HELLO", b"3"]);
            assert!(matches!(hello, Value::Map(_)), "HELLO 3 answered {hello:?}");
        }
        Client { raw: RefCell::new(raw), protocol }
    }

    /// Sends a command and returns the raw reply (errors included, as values).
    pub fn value(&self, cmd: impl Into<Cmd>) -> Value {
        let cmd = cmd.into();
        let args: Vec<&[u8]> = cmd.args().collect();
        self.raw.borrow_mut().cmd(&args)
    }

    /// Sends a command and converts its reply, panicking with the command on failure.
    pub fn ok<T: FromValue>(&self, cmd: impl Into<Cmd>) -> T {
        let cmd = cmd.into();
        let shown = format!("{cmd:?}");
        self.run(cmd).unwrap_or_else(|e| panic!("RESP{}: {shown} failed: {e}", self.protocol))
    }
}

impl Commands for Client {
    type Reply<'a, T: FromValue> = redwire::Result<T>;

    fn run<T: FromValue>(&self, cmd: impl Into<Cmd>) -> redwire::Result<T> {
        T::from_value(self.value(cmd))
    }
}

/// Runs `body` once per protocol against one fresh server, flushing between runs.
pub fn each_protocol(body: impl Fn(&Client)) {
    let server = Server::start();
    for protocol in [2u8, 3] {
        let c = Client::new(&server, protocol);
        let _: () = c.ok(redwire::cmd::flushall());
        body(&c);
    }
}
