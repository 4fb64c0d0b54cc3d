//! The floor: the least client work a workload needs, as a reference column. The request bytes are
//! encoded once, before the clock starts; each batch writes them and reads exactly the reply's known
//! length into a buffer allocated once (`read_exact`), then compares (GET 1 MiB: as `check_big` samples
//! it). No parsing, no allocation, no pool. What is left is the kernel (loopback TCP) and the server,
//! which every client pays alike, so `floor / redis sync` is about the most a client could gain over the
//! `redis` crate. (Not a strict bound for large replies: a client whose reads are sized differently can
//! be scheduled differently, and GET 1 MiB sometimes runs faster on redwire than here.)

use crate::measure::{timed, Sample};
use crate::workload::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// One connection, with the request and reply buffers of the workload being run.
pub struct Floor {
    stream: TcpStream,
    reply: Vec<u8>,
}

fn bulk(out: &mut Vec<u8>, data: &[u8]) {
    out.extend_from_slice(format!("${}\r\n", data.len()).as_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

fn command(out: &mut Vec<u8>, args: &[&[u8]]) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    args.iter().for_each(|a| bulk(out, a));
}

/// The request bytes and the exact reply bytes of one batch; `None` without a sync form.
fn exchange(w: Workload) -> Option<(Vec<u8>, Vec<u8>)> {
    let (mut request, mut reply) = (Vec::new(), Vec::new());
    match w {
        Workload::Set { depth } => (0..depth).for_each(|_| {
            command(&mut request, &[b"SET", SET_KEY.as_bytes(), VALUE16]);
            reply.extend_from_slice(b"+OK\r\n");
        }),
        Workload::Get { depth } => (0..depth).for_each(|_| {
            command(&mut request, &[b"GET", GET_KEY.as_bytes()]);
            bulk(&mut reply, VALUE16);
        }),
        Workload::Lrange600 => {
            let last = (LIST_LEN - 1).to_string();
            command(&mut request, &[b"LRANGE", LIST_KEY.as_bytes(), b"0", last.as_bytes()]);
            reply.extend_from_slice(format!("*{LIST_LEN}\r\n").as_bytes());
            (0..LIST_LEN).for_each(|i| bulk(&mut reply, &element(i)));
        }
        Workload::GetBig => {
            command(&mut request, &[b"GET", BIG_KEY.as_bytes()]);
            bulk(&mut reply, &big_value());
        }
        Workload::Tasks | Workload::Joined => return None,
    }
    Some((request, reply))
}

impl Floor {
    pub fn connect(port: u16) -> Floor {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect the floor client");
        stream.set_nodelay(true).expect("TCP_NODELAY");
        Floor { stream, reply: Vec::new() }
    }

    /// One batch: the request written in one call, the reply read in full and checked.
    fn batch(&mut self, request: &[u8], want: &[u8], ops: u64, big: bool) -> u64 {
        self.stream.write_all(request).expect("write");
        self.stream.read_exact(&mut self.reply[..want.len()]).expect("read");
        let got = &self.reply[..want.len()];
        if big {
            let header = want.len() - BIG_LEN - 2;
            assert_eq!(got[..header], want[..header], "GET {BIG_KEY} header");
            check_big(&got[header..header + BIG_LEN]);
        } else {
            assert_eq!(got, want, "the floor client got an unexpected reply");
        }
        ops
    }

    /// One cell; `None` for workloads that need an async client.
    pub fn run(&mut self, w: Workload, secs: Duration) -> Option<Sample> {
        let (request, want) = exchange(w)?;
        self.reply.resize(want.len(), 0);
        let ops = match w {
            Workload::Set { depth } | Workload::Get { depth } => depth as u64,
            _ => 1,
        };
        let big = w == Workload::GetBig;
        Some(timed!(secs, self.batch(&request, &want, ops, big)))
    }
}
