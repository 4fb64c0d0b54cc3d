//! [`Connection`]: the sans-IO protocol state machine. Commands in, bytes out; bytes in, events out; time
//! passed in as an argument.
//!
//! No sockets, clocks, threads or runtimes here. Mode transitions live in `src/state.rs`, reply folding in
//! `src/request.rs`, the handshake's commands in `src/handshake.rs`; this file routes frames and owns the
//! buffers and the FIFO.

use crate::classify::{classify, Class};
use crate::config::{Config, Protocol};
use crate::event::{Attributes, Event, RequestId, SubscriptionKind};
use crate::handshake::{self, Verdict};
use crate::pipeline::Pipeline;
use crate::pubsub::{self, Frame};
use crate::request::{Deadline, Entry, Fold, Pending};
use crate::resp::{DecodeError, Decoder, ReplyParser, Value};
use crate::state::{Ctx, Fatal, State};
use crate::{Cmd, Result};
use bytes::{Bytes, BytesMut};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

const MULTI: &[u8] = b"*1\r\n$5\r\nMULTI\r\n";
const EXEC: &[u8] = b"*1\r\n$4\r\nEXEC\r\n";

/// One Redis connection's protocol state, without any I/O.
///
/// A `Connection` turns requests into bytes for the runtime to write, and bytes the runtime read into
/// [`Event`]s. It never reads a clock: methods that need the time take `now`.
///
/// # Methods, by role
/// - **Construct**: [`new`](Self::new) queues the handshake (`HELLO 3` with `AUTH` and `SETNAME` inside,
///   or RESP2 `AUTH` / `CLIENT SETNAME`; `CLIENT TRACKING ON` with [`Config::with_tracking`]; `SELECT`
///   when the database is not 0).
/// - **Send** (mutators, may be called at any time, even before the handshake completes; requests wait
///   behind it, in order): [`send`](Self::send), [`send_pipeline`](Self::send_pipeline),
///   [`send_transaction`](Self::send_transaction). Each returns the [`RequestId`] its event will carry.
/// - **Inputs**: [`handle_input`](Self::handle_input) (or read straight into [`read_buf`](Self::read_buf)),
///   [`handle_timeout`](Self::handle_timeout), [`handle_eof`](Self::handle_eof).
/// - **Outputs**: [`poll_transmit`](Self::poll_transmit) (bytes to write), [`poll_event`](Self::poll_event)
///   (what happened), [`poll_timeout`](Self::poll_timeout) (when to call `handle_timeout` next).
/// - **Getters**: [`is_ready`](Self::is_ready), [`protocol`](Self::protocol),
///   [`in_flight`](Self::in_flight), [`is_subscribed`](Self::is_subscribed),
///   [`subscriptions`](Self::subscriptions), [`resubscribe_commands`](Self::resubscribe_commands),
///   [`is_watching`](Self::is_watching), [`in_multi`](Self::in_multi), [`db`](Self::db),
///   [`is_poisoned`](Self::is_poisoned), [`is_fatal`](Self::is_fatal), [`is_reusable`](Self::is_reusable)
///   for pools, and [`bytes_needed`](Self::bytes_needed) for sizing reads.
///
/// # Call order
/// After anything that may produce output (constructing, sending, an input), drain the outputs:
/// write every [`poll_transmit`](Self::poll_transmit) chunk, take every [`poll_event`](Self::poll_event)
/// until `Ok(None)`, and sleep no later than [`poll_timeout`](Self::poll_timeout). Parsing is lazy: bytes
/// given to `handle_input` are decoded by `poll_event`.
///
/// ```
/// use redwire::{Cmd, Config, Connection, Event};
/// use redwire::config::Protocol;
/// use redwire::resp::Value;
/// use std::time::Instant;
///
/// let now = Instant::now(); // the runtime's clock; the core never reads one
/// let mut conn = Connection::new(Config::default().with_protocol(Protocol::Resp2));
/// let id = conn.send(&Cmd::new("GET").arg("greeting"), now)?;
///
/// // 1. Write what the connection wants sent (one chunk, however many requests are queued).
/// let bytes = conn.poll_transmit().expect("the GET is queued");
/// assert_eq!(&bytes[..], b"*2\r\n$3\r\nGET\r\n$8\r\ngreeting\r\n");
///
/// // 2. Hand over what the socket returned, in whatever pieces it came.
/// conn.handle_input(b"$5\r\nhel");
/// conn.handle_input(b"lo\r\n");
///
/// // 3. Drain the events.
/// assert!(matches!(conn.poll_event()?, Some(Event::Ready)));
/// match conn.poll_event()? {
///     Some(Event::Reply { id: got, value, .. }) => {
///         assert_eq!(got, id);
///         assert_eq!(value, Value::BulkString("hello".into()));
///     }
///     other => panic!("unexpected {other:?}"),
/// }
/// assert!(conn.poll_event()?.is_none());
/// assert!(conn.is_reusable());
/// # Ok::<(), redwire::Error>(())
/// ```
///
/// # Errors: usage versus fatal
/// A **usage** error ([`Error::Usage`](crate::Error::Usage)) refuses one request and changes nothing: the
/// connection stays usable. A **fatal** error (a decode or protocol error, a refused handshake, a passed
/// deadline, the server closing) is sticky: every later `send*` and `poll_event` returns it again,
/// `poll_transmit` returns `None`, and the connection must be dropped.
///
/// # Pub/sub
/// Subscription commands are answered by one [`Event::Subscription`] per channel or pattern (never by a
/// `Reply`); the last one has `done: true`. Messages come as [`Event::Message`]. In RESP2 the connection
/// is then in subscribed mode: only subscription commands, `PING` (answered `["pong", ""]`), `QUIT` and
/// `RESET` may be sent, others are refused with a usage error; it leaves subscribed mode when the last
/// subscription is confirmed gone. In RESP3 push frames bypass the FIFO, so any command may be sent
/// meanwhile, and pushes that are not pub/sub traffic come as [`Event::Push`].
///
/// # Transactions
/// [`send_transaction`](Self::send_transaction) (or an atomic [`Pipeline`]) folds `MULTI`, `+QUEUED` and
/// `EXEC` into one [`Event::Transaction`]. `MULTI`, `EXEC`, `DISCARD` and `WATCH` sent one by one with
/// [`send`](Self::send) are tracked too: their replies (`+OK`, `+QUEUED`, the `EXEC` array or nil) come as
/// ordinary `Reply` events, and nesting mistakes (`MULTI` inside `MULTI`, `EXEC` without `MULTI`) are
/// refused locally.
///
/// # Refused commands
/// `MONITOR`, `SYNC`, `PSYNC`, `CLIENT REPLY OFF|SKIP` (they break one-request-one-reply) and `HELLO` with
/// arguments (the protocol belongs to [`Config`]) are refused with a usage error. `QUIT` is sent and
/// answered, after which the connection refuses everything. `RESET` is answered `+RESET` and the handshake
/// is replayed right behind it, so the connection comes back as configured, unsubscribed, not watching,
/// not in `MULTI` (in RESP2 subscribed mode, wait for its reply before sending other commands).
///
/// # Deadlines
/// With [`Config::with_response_timeout`] set, each request must be answered within that time from
/// `send`. A blocking command (`BLPOP`, `BRPOP`, `BLMOVE`, `BRPOPLPUSH`, `BLMPOP`, `BZPOPMIN`, `BZPOPMAX`,
/// `BZMPOP`, `XREAD`/`XREADGROUP ... BLOCK`, `WAIT`, `WAITAOF`) gets its own timeout plus the response
/// timeout; a timeout of 0 means no deadline. A request queued behind another cannot be answered before
/// it, so its deadline is never earlier (and a request behind one with no deadline has none either).
/// When a deadline passes, [`handle_timeout`](Self::handle_timeout) emits [`Event::TimedOut`] and poisons
/// the connection. Without a response timeout there are no deadlines. The handshake has none: runtimes
/// bound connect plus handshake with [`Config::connect_timeout`].
///
/// # Parser
/// Replies are parsed by redwire's [`Decoder`] unless another [`ReplyParser`] is plugged in with
/// [`Connection::with_parser`]; the type parameter `P` names it and is `Decoder` by default.
pub struct Connection<P = Decoder> {
    config: Config,
    state: State,
    decoder: P,
    /// Bytes read from the server, not decoded yet.
    read: BytesMut,
    /// Bytes to write, handed out by `poll_transmit`.
    out: BytesMut,
    /// Requests sent before the handshake completed: their bytes and entries wait here.
    held: BytesMut,
    held_queue: VecDeque<Entry>,
    /// Requests written (or about to be), oldest first; the server answers in this order.
    queue: VecDeque<Entry>,
    events: VecDeque<Event>,
    next_id: u64,
    user_in_flight: usize,
    /// The latest deadline of a request in flight: the floor for the next one.
    tail: Deadline,
    eof: bool,
}

impl Connection {
    /// A connection that will set itself up as `config` says. The handshake is queued at once:
    /// [`poll_transmit`](Self::poll_transmit) returns it. When no handshake is needed (RESP2, no
    /// credentials, no name, database 0), [`Event::Ready`] is already waiting.
    pub fn new(config: Config) -> Connection {
        let decoder = Decoder::with_limits(config.limits);
        Connection::with_parser(config, decoder)
    }
}

impl<P: ReplyParser<Output = Value, Error = DecodeError>> Connection<P> {
    /// Like [`Connection::new`], with replies parsed by `parser` instead of redwire's [`Decoder`]
    /// ([`Config::limits`] are then the parser's business). The parser must behave as
    /// [`ReplyParser::parse`] says: complete values split off the front, `Ok(None)` for more bytes, and an
    /// error is fatal for the connection.
    pub fn with_parser(config: Config, parser: P) -> Connection<P> {
        let mut conn = Connection {
            state: State::new(config.protocol, config.db),
            decoder: parser,
            config,
            read: BytesMut::with_capacity(16 * 1024),
            out: BytesMut::with_capacity(1024),
            held: BytesMut::new(),
            held_queue: VecDeque::new(),
            queue: VecDeque::new(),
            events: VecDeque::new(),
            next_id: 0,
            user_in_flight: 0,
            tail: Deadline::Free,
            eof: false,
        };
        conn.queue_handshake(conn.state.target);
        conn.check_handshake_done();
        conn
    }

    // ---- getters ----

    /// The configuration this connection was made from.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// `true` once the handshake completed ([`Event::Ready`] was queued).
    pub fn is_ready(&self) -> bool {
        self.state.ready
    }

    /// The protocol the server speaks now: RESP3 once `HELLO 3` is answered, RESP2 before, when asked for,
    /// or when the server does not know `HELLO`.
    pub fn protocol(&self) -> Protocol {
        self.state.protocol
    }

    /// The number of requests sent and not answered yet (handshake steps not counted).
    pub fn in_flight(&self) -> usize {
        self.user_in_flight
    }

    /// `true` while a subscription is confirmed or a subscription command awaits confirmation.
    pub fn is_subscribed(&self) -> bool {
        self.state.is_subscribed()
    }

    /// The confirmed subscriptions: channels as [`SubscriptionKind::Subscribe`], patterns as
    /// [`SubscriptionKind::PSubscribe`], shard channels as [`SubscriptionKind::SSubscribe`] (in no
    /// particular order). A runtime replays these after reconnecting.
    pub fn subscriptions(&self) -> impl Iterator<Item = (SubscriptionKind, &Bytes)> + '_ {
        let subs = &self.state.subs;
        let tag = |kind| move |c| (kind, c);
        subs.channels
            .iter()
            .map(tag(SubscriptionKind::Subscribe))
            .chain(subs.patterns.iter().map(tag(SubscriptionKind::PSubscribe)))
            .chain(subs.shard_channels.iter().map(tag(SubscriptionKind::SSubscribe)))
    }

    /// The commands that give a new connection every subscription this one has confirmed: a `SUBSCRIBE`,
    /// `PSUBSCRIBE` and `SSUBSCRIBE` with every name of its kind (names sorted; kinds with none left
    /// out). They stay available after the connection failed: a runtime that reconnects takes them from
    /// the dead connection and sends them on the new one.
    pub fn resubscribe_commands(&self) -> Vec<Cmd> {
        let subs = &self.state.subs;
        [("SUBSCRIBE", &subs.channels), ("PSUBSCRIBE", &subs.patterns), ("SSUBSCRIBE", &subs.shard_channels)]
            .into_iter()
            .filter(|(_, names)| !names.is_empty())
            .map(|(name, names)| {
                let mut names: Vec<&Bytes> = names.iter().collect();
                names.sort_unstable();
                Cmd::new(name).arg(names)
            })
            .collect()
    }

    /// `true` after `WATCH` until `UNWATCH`, `EXEC`, `DISCARD`, a transaction or `RESET` is sent.
    pub fn is_watching(&self) -> bool {
        self.state.watching
    }

    /// `true` after `MULTI` was sent with [`send`](Self::send) until `EXEC`, `DISCARD` or `RESET`.
    pub fn in_multi(&self) -> bool {
        self.state.in_multi
    }

    /// The database selected: the configured one, or the last `SELECT` sent.
    pub fn db(&self) -> u32 {
        self.state.db
    }

    /// `true` when a deadline passed: the connection must be dropped.
    pub fn is_poisoned(&self) -> bool {
        matches!(self.state.fatal, Some(Fatal::Poisoned(_)))
    }

    /// `true` when the connection must be dropped: a fatal error happened (decode, protocol, handshake,
    /// poisoned, closed by the server) or `QUIT` was sent.
    pub fn is_fatal(&self) -> bool {
        self.state.fatal.is_some() || self.state.quit_sent
    }

    /// At least how many more bytes the reply being read needs before [`poll_event`](Self::poll_event)
    /// can yield it: exact for a string reply whose header has arrived (the rest of a 1 MiB `GET`), 0
    /// when unknown or when the connection is dead. Runtimes may size their next read with it, so as
    /// not to prepare (zero) more room than the reply will fill; never allocate that much up front: the
    /// length is the server's claim.
    pub fn bytes_needed(&self) -> usize {
        if self.state.fatal.is_some() || !self.events.is_empty() {
            return 0;
        }
        self.decoder.bytes_needed(&self.read)
    }

    /// `true` when a pool may hand this connection to someone else: the handshake completed, nothing is
    /// in flight, no fatal error, no subscription, no `WATCH`, no `MULTI`, the configured database.
    pub fn is_reusable(&self) -> bool {
        self.state.is_clean() && self.queue.is_empty() && self.held_queue.is_empty()
    }

    // ---- mutators ----

    /// Queues one command and returns the id its [`Event::Reply`] (or, for a subscription command, its
    /// [`Event::Subscription`]s) will carry. `now` starts its deadline.
    ///
    /// # Errors
    /// - [`Error::Usage`](crate::Error::Usage), with nothing sent, for a command refused in the current
    ///   mode (see the type's docs: RESP2 subscribed mode, `MULTI` nesting, refused commands).
    /// - The sticky fatal error once the connection is dead ([`Error::Poisoned`](crate::Error::Poisoned),
    ///   [`Error::Closed`](crate::Error::Closed), ...).
    pub fn send(&mut self, cmd: &Cmd, now: Instant) -> Result<RequestId> {
        let class = classify(cmd);
        self.state.admit(class, Ctx::Single)?;
        let extra = self.block_time(class);
        let pending = match class {
            Class::PubSub(kind, n) => Pending::PubSub { kind, remaining: (n > 0).then_some(n) },
            _ => Pending::Single { class },
        };
        self.state.on_send(class);
        let id = self.push_user(pending, now, extra, |buf| cmd.encode(buf));
        if class == Class::Reset {
            self.queue_handshake(self.state.target);
        }
        Ok(id)
    }

    /// Queues a pipeline: one [`Event::Pipeline`] with a reply per command, or, for an atomic pipeline,
    /// one [`Event::Transaction`] (see [`send_transaction`](Self::send_transaction)). An empty plain
    /// pipeline sends nothing and is answered at once.
    ///
    /// # Errors
    /// [`Error::Usage`](crate::Error::Usage), with nothing sent, when a command cannot be part of a
    /// pipeline (subscription commands, `MULTI`/`EXEC`/`DISCARD`, `QUIT`, `RESET`, refused commands) or
    /// is refused in the current mode; the sticky fatal error once the connection is dead.
    pub fn send_pipeline(&mut self, pipeline: &Pipeline, now: Instant) -> Result<RequestId> {
        if pipeline.is_atomic() {
            return self.send_transaction(pipeline.cmds(), now);
        }
        let cmds = pipeline.cmds();
        let mut extra = Some(Duration::ZERO);
        // Commands with a send-time effect (WATCH, SELECT, ...): few, applied once all are admitted.
        let mut effects = Vec::new();
        for cmd in cmds {
            let class = classify(cmd);
            self.state.admit(class, Ctx::Pipeline)?;
            extra = match (extra, self.block_time(class)) {
                (Some(a), Some(b)) => a.checked_add(b),
                _ => None,
            };
            if !matches!(class, Class::Plain | Class::Blocking(_)) {
                effects.push(class);
            }
        }
        effects.into_iter().for_each(|class| self.state.on_send(class));
        if cmds.is_empty() {
            self.next_id += 1;
            let id = RequestId(self.next_id);
            self.events.push_back(Event::Pipeline { id, values: Vec::new(), attributes: Vec::new() });
            return Ok(id);
        }
        let pending = Pending::Pipeline {
            expected: cmds.len(),
            values: Vec::with_capacity(cmds.len()),
            attributes: Vec::new(),
        };
        Ok(self.push_user(pending, now, extra, |buf| {
            buf.reserve(cmds.iter().map(Cmd::encoded_len).sum());
            cmds.iter().for_each(|c| c.encode(buf));
        }))
    }

    /// Queues `MULTI`, `cmds`, `EXEC`, answered by one [`Event::Transaction`]: the committed replies,
    /// [`Error::Watch`](crate::Error::Watch) when a watched key changed, or
    /// [`Error::ExecAbort`](crate::Error::ExecAbort) with the errors the server gave while queueing.
    /// Blocking commands do not block inside a transaction, so only the response timeout applies.
    ///
    /// # Errors
    /// [`Error::Usage`](crate::Error::Usage), with nothing sent, inside `MULTI`, in RESP2 subscribed mode,
    /// or for a command that cannot be queued (`WATCH`, subscription commands, `MULTI`/`EXEC`/`DISCARD`,
    /// `QUIT`, `RESET`, refused commands); the sticky fatal error once the connection is dead.
    pub fn send_transaction(&mut self, cmds: &[Cmd], now: Instant) -> Result<RequestId> {
        self.state.admit(Class::Multi, Ctx::Single)?;
        let mut effects = Vec::new();
        for cmd in cmds {
            let class = classify(cmd);
            self.state.admit(class, Ctx::Transaction)?;
            if !matches!(class, Class::Plain | Class::Blocking(_)) {
                effects.push(class);
            }
        }
        effects.into_iter().for_each(|class| self.state.on_send(class));
        self.state.on_send_transaction();
        let pending = Pending::Transaction {
            commands: cmds.len(),
            seen: 0,
            multi_error: None,
            queue_errors: Vec::new(),
        };
        Ok(self.push_user(pending, now, Some(Duration::ZERO), |buf| {
            buf.reserve(MULTI.len() + EXEC.len() + cmds.iter().map(Cmd::encoded_len).sum::<usize>());
            buf.extend_from_slice(MULTI);
            cmds.iter().for_each(|c| c.encode(buf));
            buf.extend_from_slice(EXEC);
        }))
    }

    // ---- inputs ----

    /// Appends bytes read from the server. Nothing is decoded until [`poll_event`](Self::poll_event).
    /// Ignored once the connection is dead.
    pub fn handle_input(&mut self, bytes: &[u8]) {
        if self.state.fatal.is_none() {
            self.read.extend_from_slice(bytes);
        }
    }

    /// The buffer [`handle_input`](Self::handle_input) appends to, for runtimes that read straight into
    /// it (no copy): append the bytes read at its end, then drain [`poll_event`](Self::poll_event).
    ///
    /// ```
    /// # use redwire::{Config, Connection};
    /// # let mut conn = Connection::new(Config::default());
    /// # let mut socket: &[u8] = b"+OK\r\n";
    /// use std::io::Read;
    /// let buf = conn.read_buf();
    /// let start = buf.len();
    /// buf.resize(start + 16 * 1024, 0);
    /// let n = socket.read(&mut buf[start..])?;
    /// buf.truncate(start + n);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn read_buf(&mut self) -> &mut BytesMut {
        &mut self.read
    }

    /// The server closed its end. Replies already read are still delivered; then
    /// [`poll_event`](Self::poll_event) returns [`Error::Closed`](crate::Error::Closed) (sticky).
    pub fn handle_eof(&mut self) {
        self.eof = true;
    }

    /// Tells the connection the time. When the oldest deadline has passed, queues
    /// [`Event::TimedOut`] and poisons the connection.
    pub fn handle_timeout(&mut self, now: Instant) {
        let Some(at) = self.poll_timeout() else { return };
        if now < at {
            return;
        }
        let expired = self.queue.iter().chain(&self.held_queue).find(|e| e.deadline == Deadline::At(at));
        let Some(id) = expired.map(|e| e.id) else { return };
        self.events.push_back(Event::TimedOut { id });
        self.state.fail(Fatal::Poisoned(format!(
            "request {id} got no reply in time; replies still on their way could be matched to the wrong \
             request, so this connection must be closed"
        )));
    }

    // ---- outputs ----

    /// The bytes to write next: everything queued since the last call, in one chunk. `None` when there is
    /// nothing to write or the connection is dead.
    #[must_use = "the returned bytes must be written to the server"]
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        if self.state.fatal.is_some() || self.out.is_empty() {
            return None;
        }
        Some(self.out.split().freeze())
    }

    /// The next event, decoding buffered input as needed. `Ok(None)`: nothing more until more input.
    ///
    /// # Errors
    /// Once the connection is dead, the sticky fatal error, on this call and every later one: a decode
    /// or protocol error, the handshake's refusal ([`Error::Handshake`](crate::Error::Handshake) naming the
    /// step), [`Error::Poisoned`](crate::Error::Poisoned) after [`Event::TimedOut`], or
    /// [`Error::Closed`](crate::Error::Closed) after [`handle_eof`](Self::handle_eof). Events queued before
    /// the failure are delivered first.
    #[must_use = "events must be drained after every input"]
    pub fn poll_event(&mut self) -> Result<Option<Event>> {
        loop {
            if let Some(event) = self.events.pop_front() {
                return Ok(Some(event));
            }
            if let Some(fatal) = &self.state.fatal {
                return Err(fatal.error());
            }
            match self.decoder.parse(&mut self.read) {
                Ok(Some(frame)) => self.handle_frame(frame),
                Ok(None) if self.eof => {
                    let message = match self.user_in_flight {
                        0 => "the server closed the connection".to_string(),
                        n => format!("the server closed the connection with {n} request(s) unanswered"),
                    };
                    self.state.fail(Fatal::Closed(message));
                }
                Ok(None) => return Ok(None),
                Err(e) => self.state.fail(Fatal::Decode(e)),
            }
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) must be called next: the oldest deadline of a request
    /// in flight. `None` when no request has a deadline (or the connection is dead).
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.state.fatal.is_some() || self.config.response_timeout.is_none() {
            return None;
        }
        // Deadlines never decrease along the FIFO, so the first one that is set is the earliest.
        match self.queue.iter().chain(&self.held_queue).map(|e| e.deadline).find(|d| *d != Deadline::Free) {
            Some(Deadline::At(at)) => Some(at),
            _ => None,
        }
    }

    // ---- internals ----

    /// How long `class` may block server-side: `Some(ZERO)` for ordinary commands, `None` for forever.
    /// Inside MULTI nothing blocks.
    fn block_time(&self, class: Class) -> Option<Duration> {
        match class {
            Class::Blocking(time) if !self.state.in_multi => time,
            _ => Some(Duration::ZERO),
        }
    }

    fn deadline(&mut self, now: Instant, extra: Option<Duration>) -> Deadline {
        let Some(timeout) = self.config.response_timeout else { return Deadline::Free };
        let own = match extra.and_then(|e| e.checked_add(timeout)).and_then(|d| now.checked_add(d)) {
            Some(at) => Deadline::At(at),
            None => Deadline::Forever,
        };
        self.tail = self.tail.max(own);
        self.tail
    }

    fn push_user(
        &mut self,
        pending: Pending,
        now: Instant,
        extra: Option<Duration>,
        encode: impl FnOnce(&mut BytesMut),
    ) -> RequestId {
        self.next_id += 1;
        let id = RequestId(self.next_id);
        let entry = Entry { id, deadline: self.deadline(now, extra), pending };
        if self.state.ready {
            encode(&mut self.out);
            self.queue.push_back(entry);
        } else {
            encode(&mut self.held);
            self.held_queue.push_back(entry);
        }
        self.user_in_flight += 1;
        id
    }

    /// A user request left the FIFO.
    fn complete_user(&mut self) {
        self.user_in_flight -= 1;
        if self.user_in_flight == 0 {
            self.tail = Deadline::Free;
        }
    }

    fn queue_handshake(&mut self, protocol: Protocol) {
        if let Some((step, message)) = handshake::refusal(&self.config, protocol) {
            return self.state.fail(Fatal::Handshake { step, message });
        }
        for (step, cmd) in handshake::steps(&self.config, protocol) {
            cmd.encode(&mut self.out);
            let pending = Pending::Handshake { step, ignore: false };
            self.queue.push_back(Entry { id: RequestId(0), deadline: Deadline::Free, pending });
        }
    }

    /// Completes the initial handshake once no step is left: `Ready`, then the held requests go out.
    fn check_handshake_done(&mut self) {
        if self.state.ready || self.state.fatal.is_some() || self.queue.front().is_some_and(|e| !e.is_user())
        {
            return;
        }
        self.state.on_ready();
        self.events.push_back(Event::Ready);
        self.out.extend_from_slice(&self.held);
        self.held = BytesMut::new();
        self.queue.append(&mut self.held_queue);
    }

    fn fail_protocol(&mut self, message: String) {
        self.state.fail(Fatal::Protocol(message));
    }

    fn handle_frame(&mut self, frame: Value) {
        let (attribute, value) = split_attribute(frame);
        if let Value::Push(items) = value {
            return match pubsub::parse(items) {
                Ok(frame) => self.handle_pubsub(frame),
                Err(items) => {
                    let push = Value::Push(items);
                    self.events.push_back(Event::Push(match attribute {
                        Some(attributes) => Value::Attribute { attributes, value: Box::new(push) },
                        None => push,
                    }));
                }
            };
        }
        let head_is_pubsub =
            matches!(self.queue.front(), Some(Entry { pending: Pending::PubSub { .. }, .. }));
        if self.state.pubsub_arrays_expected(head_is_pubsub) {
            if let Value::Array(items) = value {
                return match pubsub::parse(items) {
                    Ok(frame) => self.handle_pubsub(frame),
                    Err(items) => self.handle_reply(Value::Array(items), attribute),
                };
            }
        }
        self.handle_reply(value, attribute)
    }

    fn handle_pubsub(&mut self, frame: Frame) {
        let (kind, channel, count) = match frame {
            Frame::Message(message) => return self.events.push_back(Event::Message(message)),
            Frame::Confirmation { kind, channel, count } => (kind, channel, count),
        };
        self.state.on_confirmation(kind, channel.as_ref());
        match self.queue.front_mut() {
            Some(Entry { id, pending: Pending::PubSub { kind: wanted, remaining }, .. })
                if *wanted == kind =>
            {
                let done = match remaining {
                    Some(n) => {
                        *n -= 1;
                        *n == 0
                    }
                    None => channel.is_none() || self.state.subs.set(kind).is_empty(),
                };
                let id = Some(*id);
                self.events.push_back(Event::Subscription { id, kind, channel, count, done });
                if done {
                    self.queue.pop_front();
                    self.state.on_pubsub_done();
                    self.complete_user();
                }
            }
            // The server may drop subscriptions on its own (a cluster slot moved away).
            _ if !kind.is_subscribe() => {
                self.events.push_back(Event::Subscription { id: None, kind, channel, count, done: false })
            }
            _ => self.fail_protocol(format!(
                "a `{}` confirmation arrived while no {} command was waiting for one",
                kind.as_str(),
                kind.as_str().to_uppercase()
            )),
        }
    }

    fn handle_reply(&mut self, value: Value, attribute: Option<Attributes>) {
        let Some(head) = self.queue.front_mut() else {
            return self.fail_protocol(format!(
                "the server sent a reply ({}) while no request was waiting",
                value.kind()
            ));
        };
        match head.pending {
            Pending::Handshake { step, ignore } => {
                self.queue.pop_front();
                self.handle_handshake_reply(step, ignore, &value);
            }
            Pending::PubSub { .. } => {
                if !matches!(value, Value::Error(_)) {
                    return self.fail_protocol(format!(
                        "a subscription command was answered with a {} instead of confirmations",
                        value.kind()
                    ));
                }
                let id = head.id;
                self.queue.pop_front();
                self.state.on_pubsub_done();
                self.complete_user();
                self.events.push_back(Event::Reply { id, value, attribute });
            }
            Pending::Single { class } => {
                self.state.on_reply(class, &value);
                let id = head.id;
                self.queue.pop_front();
                self.complete_user();
                self.events.push_back(Event::Reply { id, value, attribute });
            }
            Pending::Pipeline { .. } | Pending::Transaction { .. } => match head.fold(value, attribute) {
                Fold::More => {}
                Fold::Done(event) => {
                    self.queue.pop_front();
                    self.complete_user();
                    self.events.push_back(event);
                }
                Fold::Broken(message) => self.fail_protocol(message),
            },
        }
    }

    fn handle_handshake_reply(&mut self, step: handshake::Step, ignore: bool, reply: &Value) {
        if !ignore {
            match handshake::judge(step, &self.config, reply) {
                Verdict::Ok(Some(protocol)) => self.state.on_hello(protocol),
                Verdict::Ok(None) => {}
                Verdict::FallBack if !self.state.ready => {
                    // The steps already sent behind HELLO may have failed for want of AUTH: redo them all.
                    for entry in &mut self.queue {
                        if let Pending::Handshake { ignore, .. } = &mut entry.pending {
                            *ignore = true;
                        }
                    }
                    self.state.on_fallback();
                    self.queue_handshake(Protocol::Resp2);
                }
                Verdict::FallBack => {
                    return self.state.fail(Fatal::Handshake {
                        step: "HELLO",
                        message: "the server refused HELLO 3 after RESET although it accepted it before"
                            .into(),
                    })
                }
                Verdict::Failed { step, message } => {
                    return self.state.fail(Fatal::Handshake { step, message })
                }
            }
        }
        self.check_handshake_done();
    }
}

impl<P> std::fmt::Debug for Connection<P> {
    /// A summary: buffers are shown by length, never by content.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("addr", &self.config.addr)
            .field("protocol", &self.state.protocol)
            .field("ready", &self.state.ready)
            .field("fatal", &self.state.fatal)
            .field("in_flight", &self.user_in_flight)
            .field("subscribed", &self.state.is_subscribed())
            .field("watching", &self.state.watching)
            .field("in_multi", &self.state.in_multi)
            .field("db", &self.state.db)
            .field("buffered_in", &self.read.len())
            .field("buffered_out", &(self.out.len() + self.held.len()))
            .field("events", &self.events.len())
            .finish()
    }
}

/// Takes the attributes off the front of a frame (several in a row are merged). Inlined, so the usual
/// frame (no attribute) costs a tag check.
#[inline]
fn split_attribute(frame: Value) -> (Option<Attributes>, Value) {
    if !matches!(frame, Value::Attribute { .. }) {
        return (None, frame);
    }
    let mut attribute: Option<Attributes> = None;
    let mut value = frame;
    while let Value::Attribute { attributes, value: inner } = value {
        attribute.get_or_insert_with(Vec::new).extend(attributes);
        value = *inner;
    }
    (attribute, value)
}
