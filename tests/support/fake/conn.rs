//! One fake-server connection: runs its [`Script`] step by step on its own thread, recording what the
//! client sends into the server's shared [`Received`] list, then sends FIN and drains.

use super::command::{handshake_reply, parse, Command};
use super::{End, Received, Script, Shared, Step};
use crate::support::net::{timed_out, Stream, Via};
use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::Shutdown;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often a blocked read wakes to check whether the server is being dropped.
const POLL: Duration = Duration::from_millis(50);

/// On the accept thread: records the connection and starts its script (or closes it: no script left).
pub(super) fn accept(shared: &Arc<Shared>, stream: Stream, via: Via) {
    let mut state = shared.lock();
    let index = state.received.len();
    let Some(script) = shared.scripts.for_connection(index).cloned() else {
        state.received.push(Received::new(index, via, End::NoScript));
        drop(state);
        shared.changed.notify_all();
        return; // dropping `stream` closes it
    };
    state.received.push(Received::new(index, via, End::Running { step: 0 }));
    let Ok(second) = stream.try_clone() else {
        state.received[index].end = End::Io { step: 0, error: "cannot clone the socket".into() };
        return;
    };
    state.sockets.push(second);
    let shared2 = shared.clone();
    let thread = std::thread::spawn(move || {
        let mut conn = Conn {
            shared: shared2,
            index,
            stream,
            unparsed: Vec::new(),
            pending: VecDeque::new(),
            resp3: false,
            eof: false,
            timeout: script.timeout,
        };
        conn.serve(&script);
    });
    state.threads.push(thread);
    state.threads.retain(|t| !t.is_finished());
}

struct Conn {
    shared: Arc<Shared>,
    index: usize,
    stream: Stream,
    /// Bytes read that are not a complete command yet.
    unparsed: Vec<u8>,
    /// Complete commands no step has consumed yet.
    pending: VecDeque<Command>,
    /// The protocol `HELLO` switched to.
    resp3: bool,
    /// The client closed its side.
    eof: bool,
    timeout: Duration,
}

impl Conn {
    fn serve(&mut self, script: &Script) {
        let end = match self.stream.set_timeouts(Some(POLL), Some(self.timeout)) {
            Ok(()) => self.run(script),
            Err(e) => End::Io { step: 0, error: e.to_string() },
        };
        self.record(|r| r.end = end);
        self.stream.shutdown(Shutdown::Write);
        self.drain();
    }

    fn run(&mut self, script: &Script) -> End {
        for (i, step) in script.steps().iter().enumerate() {
            self.record(|r| r.end = End::Running { step: i });
            if let Err(end) = self.step(i, step) {
                return end;
            }
        }
        End::Done
    }

    fn step(&mut self, i: usize, step: &Step) -> Result<(), End> {
        match step {
            Step::Handshake { knows_hello } => loop {
                let command = self.next_command(i)?.clone();
                let reply = handshake_reply(&command, &mut self.resp3, self.index + 1, *knows_hello);
                let Some(reply) = reply else { return Ok(()) }; // the first other command stays pending
                self.pending.pop_front();
                self.write(i, &reply)?;
            },
            Step::Read(n) => {
                for _ in 0..*n {
                    self.next_command(i)?;
                    self.pending.pop_front();
                }
                Ok(())
            }
            Step::Reply(bytes) => self.write(i, bytes),
            Step::ReplySlowly { bytes, piece, pause } => {
                for (k, chunk) in bytes.chunks(*piece).enumerate() {
                    if k > 0 {
                        self.sleep(i, *pause)?;
                    }
                    self.write(i, chunk)?;
                }
                Ok(())
            }
            Step::Pause(d) => self.sleep(i, *d),
            Step::Hold(d) => {
                let until = Instant::now() + *d;
                loop {
                    match self.fill(i, until) {
                        Ok(()) => {}
                        Err(End::TimedOut { .. } | End::ClientClosed { .. }) => return Ok(()),
                        Err(end) => return Err(end),
                    }
                }
            }
            Step::Close => Ok(()), // serve() sends the FIN after the last step
        }
    }

    /// The oldest unconsumed command, reading until one is complete (at most the script's timeout).
    fn next_command(&mut self, step: usize) -> Result<&Command, End> {
        let until = Instant::now() + self.timeout;
        while self.pending.is_empty() {
            self.fill(step, until)?;
        }
        Ok(self.pending.front().expect("the loop above waited for one"))
    }

    /// One read (waiting at most `POLL`), recording the bytes and any commands they complete. `Err` when the
    /// client closed, sent garbage, the read failed, the server stops, or `until` passed.
    fn fill(&mut self, step: usize, until: Instant) -> Result<(), End> {
        if self.shared.lock().stopping {
            return Err(End::Stopped { step });
        }
        if self.eof {
            return Err(End::ClientClosed { step });
        }
        if Instant::now() >= until {
            return Err(End::TimedOut { step });
        }
        let mut buf = [0u8; 64 * 1024];
        let n = match self.stream.read(&mut buf) {
            Ok(0) => {
                self.eof = true;
                self.record(|r| r.client_closed = true);
                return Err(End::ClientClosed { step });
            }
            Ok(n) => n,
            Err(e) if timed_out(&e) => return Ok(()),
            Err(e) => return Err(End::Io { step, error: e.to_string() }),
        };
        self.unparsed.extend_from_slice(&buf[..n]);
        let mut complete = Vec::new();
        let mut used = 0;
        let bad = loop {
            match parse(&self.unparsed[used..]) {
                Ok(Some((command, len))) => {
                    used += len;
                    complete.push(command);
                }
                Ok(None) => break None,
                Err(why) => break Some(why),
            }
        };
        self.unparsed.drain(..used);
        self.pending.extend(complete.iter().cloned());
        self.record(|r| {
            r.raw.extend_from_slice(&buf[..n]);
            r.commands.extend(complete);
        });
        match bad {
            Some(why) => Err(End::BadInput { step, why }),
            None => Ok(()),
        }
    }

    fn write(&mut self, step: usize, bytes: &[u8]) -> Result<(), End> {
        self.stream.write_all(bytes).map_err(|e| End::Io { step, error: e.to_string() })
    }

    /// Sleeps `d`; `Err` when the server stops meanwhile.
    fn sleep(&self, step: usize, d: Duration) -> Result<(), End> {
        let until = Instant::now() + d;
        let mut state = self.shared.lock();
        loop {
            if state.stopping {
                return Err(End::Stopped { step });
            }
            let now = Instant::now();
            if now >= until {
                return Ok(());
            }
            state = self.shared.changed.wait_timeout(state, until - now).unwrap_or_else(|e| e.into_inner()).0;
        }
    }

    /// After the FIN: read and drop what the client still sends, until it closes, the server stops, or a
    /// timeout passes; then the socket closes with nothing unread (a FIN, not an RST).
    fn drain(&mut self) {
        let until = Instant::now() + self.timeout;
        let mut buf = [0u8; 64 * 1024];
        while Instant::now() < until && !self.shared.lock().stopping {
            match self.stream.read(&mut buf) {
                Ok(0) => return,
                Ok(_) => {}
                Err(e) if timed_out(&e) => {}
                Err(_) => return,
            }
        }
    }

    fn record(&self, f: impl FnOnce(&mut Received)) {
        f(&mut self.shared.lock().received[self.index]);
        self.shared.changed.notify_all();
    }
}
