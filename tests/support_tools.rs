//! Tests of the fault-injection tools in `tests/support/`: the fault proxy against a real server, the
//! fake server against plain sockets and `RawClient`. The reliability scenarios trust these tools, so each
//! mode is shown to do what it says (and each test fails when it does not).

mod support;

#[path = "support_tools/fake.rs"]
mod fake_server;
#[path = "support_tools/fault.rs"]
mod fault_proxy;

/// Plain-socket helpers both halves use.
mod io {
    use std::io::{ErrorKind, Read};
    use std::time::{Duration, Instant};

    /// Everything that arrives until `quiet` passes without a byte (EOF ends it too: the flag says so).
    pub fn read_for(stream: &mut impl Readable, quiet: Duration) -> (Vec<u8>, bool) {
        stream.set_timeout(quiet);
        let (mut got, mut buf) = (Vec::new(), [0u8; 64 * 1024]);
        loop {
            match stream.read(&mut buf) {
                Ok(0) => return (got, true),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return (got, false)
                }
                Err(e) if e.kind() == ErrorKind::ConnectionReset => return (got, true),
                Err(e) => panic!("read failed: {e}"),
            }
        }
    }

    /// Everything until EOF; panics when EOF does not come within `limit`.
    pub fn read_to_eof(stream: &mut impl Readable, limit: Duration) -> Vec<u8> {
        let start = Instant::now();
        let mut got = Vec::new();
        while start.elapsed() < limit {
            let (more, eof) = read_for(stream, Duration::from_millis(100));
            got.extend(more);
            if eof {
                return got;
            }
        }
        panic!("no EOF within {limit:?}; got {:?}", got.escape_ascii().to_string());
    }

    /// Reads exactly `n` bytes (panics on EOF or after 10 s).
    pub fn read_exact(stream: &mut impl Readable, n: usize) -> Vec<u8> {
        stream.set_timeout(Duration::from_secs(10));
        let mut got = vec![0u8; n];
        stream.read_exact(&mut got).unwrap_or_else(|e| panic!("reading {n} bytes: {e}"));
        got
    }

    /// A socket whose read timeout can be set.
    pub trait Readable: Read {
        fn set_timeout(&mut self, d: Duration);
    }

    impl Readable for std::net::TcpStream {
        fn set_timeout(&mut self, d: Duration) {
            self.set_read_timeout(Some(d)).unwrap();
        }
    }

    impl Readable for std::os::unix::net::UnixStream {
        fn set_timeout(&mut self, d: Duration) {
            self.set_read_timeout(Some(d)).unwrap();
        }
    }
}
