//! One proxied connection ([`Link`]) and its two pump threads, each moving bytes one way under the
//! proxy's current rules: read what is there, then write it out piece by piece, pausing, holding or cutting
//! as the rules say. A pump never changes or reorders a byte.

use super::{Delay, Direction, Shared, Split};
use crate::support::net::{timed_out, Stream};
use crate::support::rng::Rng;
use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often a blocked read wakes to check whether its link was closed (shutdown wakes it sooner).
const POLL: Duration = Duration::from_millis(100);
/// The longest a write may block (a peer that stopped reading); then the connection is cut.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a holding or pausing pump sleeps before it looks at the rules again without being woken.
const RECHECK: Duration = Duration::from_millis(50);

/// One client connection and its upstream connection.
pub(super) struct Link {
    id: u64,
    client: Stream,
    upstream: Stream,
    /// Cut (by a rule, or because one side failed): nothing more is forwarded.
    cut: AtomicBool,
    /// The proxy is dropped: both pumps end now.
    closed: AtomicBool,
    /// Pumps still running; the last to end removes the link from the proxy's list.
    running: AtomicUsize,
}

impl Link {
    /// Cuts the connection: FIN to the client after what was already written, FIN to the server. The
    /// client's socket stays open for reading (its later bytes are discarded), so closing it can never
    /// turn into an RST that would destroy bytes still on their way. Only the first cut counts: it calls
    /// `count` before the sockets are shut, so a peer that sees the EOF also sees the count.
    pub fn cut(&self, count: impl FnOnce()) -> bool {
        if self.cut.swap(true, Ordering::SeqCst) {
            return false;
        }
        count();
        self.client.shutdown(Shutdown::Write);
        self.upstream.shutdown(Shutdown::Both);
        true
    }

    /// Shuts both sockets entirely, waking both pumps to end (the proxy is dropped).
    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.cut.store(true, Ordering::SeqCst);
        self.client.shutdown(Shutdown::Both);
        self.upstream.shutdown(Shutdown::Both);
    }

    fn is_cut(&self) -> bool {
        self.cut.load(Ordering::SeqCst)
    }

    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }
}

/// Starts both pumps of a new link, registered in the proxy's list (and counted open) before either runs,
/// so a pump that ends at once still finds its link to remove. Drop cannot race this: it joins the
/// accept threads (which call this) before it takes the list.
pub(super) fn start(shared: Arc<Shared>, id: u64, client: Stream, upstream: Stream) -> io::Result<()> {
    client.set_timeouts(Some(POLL), Some(WRITE_TIMEOUT))?;
    upstream.set_timeouts(Some(POLL), Some(WRITE_TIMEOUT))?;
    let link = Arc::new(Link {
        id,
        client: client.try_clone()?,
        upstream: upstream.try_clone()?,
        cut: AtomicBool::new(false),
        closed: AtomicBool::new(false),
        running: AtomicUsize::new(2),
    });
    let (client_in, upstream_out) = (client.try_clone()?, upstream.try_clone()?);
    let mut state = shared.lock();
    state.stats.open += 1;
    state.links.push(link.clone());
    let up = {
        let (shared, link) = (shared.clone(), link.clone());
        std::thread::spawn(move || Pump::new(shared, link, Direction::ToServer).run(client_in, upstream_out))
    };
    let down = {
        let (shared, link) = (shared.clone(), link.clone());
        std::thread::spawn(move || Pump::new(shared, link, Direction::ToClient).run(upstream, client))
    };
    // Forget the pumps that already ended, so a long test does not collect handles.
    state.pumps.retain(|t| !t.is_finished());
    state.pumps.extend([up, down]);
    drop(state);
    shared.stats_changed.notify_all();
    Ok(())
}

/// Why a pump stopped forwarding.
struct Stopped;

/// One direction of one link.
struct Pump {
    shared: Arc<Shared>,
    link: Arc<Link>,
    direction: Direction,
    rng: Rng,
}

impl Pump {
    fn new(shared: Arc<Shared>, link: Arc<Link>, direction: Direction) -> Pump {
        let seed = shared.seed ^ link.id.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ direction as u64;
        Pump { shared, link, direction, rng: Rng::new(seed) }
    }

    /// Reads from `from` until EOF, an error or the link's end, forwarding under the rules to `to`.
    fn run(mut self, mut from: Stream, mut to: Stream) {
        let mut buf = vec![0u8; 16 * 1024];
        // Client → server after a cut or a failed write: keep reading the client (so its socket never
        // closes with unread bytes, which would be an RST) and drop what it sends.
        let mut discarding = false;
        loop {
            let n = match from.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if timed_out(&e) => {
                    if self.link.is_closed() || (self.direction == Direction::ToClient && self.link.is_cut())
                    {
                        break;
                    }
                    continue;
                }
                Err(_) => break,
            };
            if discarding || self.link.is_cut() || self.forward(&buf[..n], &mut to).is_err() {
                match self.direction {
                    Direction::ToServer => discarding = true,
                    Direction::ToClient => {
                        self.cut();
                        break;
                    }
                }
            }
        }
        // The sender finished (or failed): pass its FIN on. After a cut this repeats what cut() did.
        to.shutdown(Shutdown::Write);
        self.ended();
    }

    /// Writes `data` to `to` piece by piece under the rules; `Err` when the link was cut or closed, or the
    /// write failed.
    fn forward(&mut self, mut data: &[u8], to: &mut Stream) -> Result<(), Stopped> {
        let d = self.direction.index();
        while !data.is_empty() {
            let (n, pause, cut_after_write) = {
                let mut state = self.shared.lock();
                let mut holding = false;
                while state.rules[d].pass == Some(0) && !self.link.is_cut() {
                    if !holding {
                        holding = true;
                        state.stats.flow_mut(self.direction).held += data.len();
                        self.shared.stats_changed.notify_all();
                    }
                    state = self.wait(state, RECHECK);
                }
                if holding {
                    state.stats.flow_mut(self.direction).held -= data.len();
                }
                if self.link.is_cut() {
                    return Err(Stopped);
                }
                let rules = &mut state.rules[d];
                let mut n = match rules.split {
                    Split::None => data.len(),
                    Split::Bytes => 1,
                    Split::UpTo(max) => self.rng.one_to(max),
                }
                .min(data.len());
                if let Some(pass) = rules.pass {
                    n = n.min(pass as usize);
                    rules.pass = Some(pass - n as u64);
                }
                let mut cut_after_write = false;
                if let Some(left) = rules.cut_after {
                    if left == 0 {
                        rules.cut_after = None;
                        drop(state);
                        self.cut();
                        return Err(Stopped);
                    }
                    n = n.min(left as usize);
                    rules.cut_after = (left > n as u64).then(|| left - n as u64);
                    cut_after_write = rules.cut_after.is_none();
                }
                let pause = match rules.delay {
                    Delay::None => Duration::ZERO,
                    Delay::Fixed(d) => d,
                    Delay::UpTo(max) => Duration::from_nanos(self.rng.below(max.as_nanos() as u64 + 1)),
                };
                (n, pause, cut_after_write)
            };
            self.pause(pause)?;
            // Counted before the write, so whoever reacts to these bytes (the server answering a command,
            // the client reading a reply) finds them already counted.
            {
                let mut state = self.shared.lock();
                let flow = state.stats.flow_mut(self.direction);
                flow.bytes += n as u64;
                flow.writes += 1;
                flow.largest_write = flow.largest_write.max(n);
            }
            self.shared.stats_changed.notify_all();
            if to.write_all(&data[..n]).is_err() {
                return Err(Stopped);
            }
            if cut_after_write {
                self.cut();
                return Err(Stopped);
            }
            data = &data[n..];
        }
        Ok(())
    }

    /// Sleeps `pause`, waking early (with `Err`) when the link is cut.
    fn pause(&self, pause: Duration) -> Result<(), Stopped> {
        if pause.is_zero() {
            return Ok(());
        }
        let until = Instant::now() + pause;
        let mut state = self.shared.lock();
        loop {
            if self.link.is_cut() {
                return Err(Stopped);
            }
            let now = Instant::now();
            if now >= until {
                return Ok(());
            }
            state = self.wait(state, until - now);
        }
    }

    fn wait<'a>(
        &self,
        state: std::sync::MutexGuard<'a, super::State>,
        at_most: Duration,
    ) -> std::sync::MutexGuard<'a, super::State> {
        self.shared.rules_changed.wait_timeout(state, at_most).unwrap_or_else(|e| e.into_inner()).0
    }

    /// Cuts the link, counting it once.
    fn cut(&self) {
        if self.link.cut(|| self.shared.lock().stats.cuts += 1) {
            self.shared.rules_changed.notify_all();
            self.shared.stats_changed.notify_all();
        }
    }

    /// The pump ends; the last of a link's two takes it off the proxy's list.
    fn ended(&self) {
        if self.link.running.fetch_sub(1, Ordering::SeqCst) == 1 {
            let mut state = self.shared.lock();
            state.links.retain(|l| !Arc::ptr_eq(l, &self.link));
            state.stats.open = state.stats.open.saturating_sub(1);
            drop(state);
            self.shared.stats_changed.notify_all();
        }
    }
}
