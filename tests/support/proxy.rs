//! [`DelayProxy`]: a loopback TCP proxy in front of a real server that passes client bytes straight through
//! and hands the server's bytes back split into random small pieces with random short pauses between
//! them, so replies arrive at every possible boundary and late. For tests of cancellation and partial
//! reads; it never changes, drops or reorders a byte.
//!
//! Include it with `#[path = "support/proxy.rs"] mod proxy;` (it depends on std only).
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

/// A running proxy; stops accepting when dropped (connections already open close with their peers).
pub struct DelayProxy {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    accept: Option<thread::JoinHandle<()>>,
}

/// How the server's bytes are delayed.
#[derive(Debug, Clone, Copy)]
pub struct Delay {
    /// The largest piece written at once.
    pub max_piece: usize,
    /// The longest pause before a piece, in microseconds (each pause is random in `0..=max_pause_us`).
    pub max_pause_us: u64,
}

impl Default for Delay {
    fn default() -> Self {
        Delay { max_piece: 7, max_pause_us: 300 }
    }
}

impl DelayProxy {
    /// Listens on a free `127.0.0.1` port and forwards every connection to `server`.
    pub fn start(server: SocketAddr, delay: Delay) -> DelayProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let addr = listener.local_addr().expect("proxy address");
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let accept = thread::spawn(move || {
            let mut seed = 0x9E37_79B9_7F4A_7C15u64;
            for client in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                let Ok(upstream) = TcpStream::connect(server) else { continue };
                let _ = client.set_nodelay(true);
                let _ = upstream.set_nodelay(true);
                seed = seed.wrapping_add(0x2545_F491_4F6C_DD1D);
                forward(client, upstream, delay, seed);
            }
        });
        DelayProxy { addr, stop, accept: Some(accept) }
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `redis://127.0.0.1:PORT` of the proxy.
    pub fn url(&self) -> String {
        format!("redis://{}", self.addr)
    }
}

impl Drop for DelayProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr); // wakes the accept loop
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

/// Two threads: client → server unchanged; server → client in random pieces after random pauses.
fn forward(client: TcpStream, upstream: TcpStream, delay: Delay, seed: u64) {
    let (Ok(mut c_read), Ok(mut u_write)) = (client.try_clone(), upstream.try_clone()) else { return };
    thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        while let Ok(n @ 1..) = c_read.read(&mut buf) {
            if u_write.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = u_write.shutdown(Shutdown::Write);
    });
    let (mut u_read, mut c_write) = (upstream, client);
    thread::spawn(move || {
        let mut rng = XorShift(seed | 1);
        let mut buf = [0u8; 16 * 1024];
        'outer: while let Ok(n @ 1..) = u_read.read(&mut buf) {
            let mut rest = &buf[..n];
            while !rest.is_empty() {
                let piece = 1 + rng.below(delay.max_piece.max(1) as u64) as usize;
                let (now, later) = rest.split_at(piece.min(rest.len()));
                let pause = rng.below(delay.max_pause_us + 1);
                if pause > 0 {
                    thread::sleep(Duration::from_micros(pause));
                }
                if c_write.write_all(now).is_err() {
                    break 'outer;
                }
                rest = later;
            }
        }
        let _ = c_write.shutdown(Shutdown::Both);
    });
}

/// A tiny deterministic generator (xorshift64).
pub struct XorShift(pub u64);

impl XorShift {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}
