//! A 50 MiB value through `redwire::mio::Connection`, over TCP and a unix socket: the SET's writes hit
//! `WouldBlock` many times (the rest waits for writable events), the GET's reply arrives in many partial
//! reads, and both round-trip byte for byte with commands queued behind them answered in order.

mod mio_common;
mod support;

use bytes::Bytes;
use mio::Interest;
use mio_common::{ok, Loop};
use redwire::resp::Value;
use redwire::{Cmd, Event};
use std::time::Instant;
use support::Server;

const SIZE: usize = 50 * 1024 * 1024;

#[test]
fn fifty_mib_set_and_get_over_tcp_and_unix() {
    let server = Server::start();
    // Not one repeated byte: a value the server cannot have produced by accident.
    let value: Bytes = (0..SIZE).map(|i| (i % 251) as u8).collect::<Vec<u8>>().into();
    for url in [format!("{}?protocol=2", server.url()), format!("{}?protocol=3", server.unix_url())] {
        let mut lp = Loop::new();
        let c = lp.connect_url(&url);
        lp.ready(c);
        lp.connected(c);
        let before = lp.conn(c).stats();

        let set =
            lp.conn(c).send(&Cmd::new("SET").arg("mio:big").arg(value.clone()), Instant::now()).unwrap();
        let ping = lp.send(c, &["PING"]);
        // The socket took what it could at once; the rest waits, and WRITABLE is asked for.
        assert!(lp.conn(c).unwritten() > 0, "{url}: 50 MiB fit in one write?");
        assert_eq!(lp.conn(c).interest(), Some(Interest::READABLE | Interest::WRITABLE), "{url}");
        match lp.next(c).unwrap() {
            Event::Reply { id, value, .. } => assert_eq!((id, value), (set, ok()), "{url}"),
            other => panic!("{url}: {other:?}"),
        }
        assert!(matches!(lp.next(c).unwrap(), Event::Reply { id, .. } if id == ping), "{url}");
        let after_set = lp.conn(c).stats();
        let sent = after_set.bytes_written - before.bytes_written;
        assert!(sent > SIZE as u64, "{url}: wrote {sent} bytes");
        assert!(after_set.write_would_block - before.write_would_block > 1, "{url}: {after_set:?}");
        assert!(after_set.writes - before.writes > 1, "{url}: {after_set:?}");
        assert_eq!(lp.conn(c).interest(), Some(Interest::READABLE), "{url}: WRITABLE kept after the flush");

        let get = lp.send(c, &["GET", "mio:big"]);
        let strlen = lp.send(c, &["STRLEN", "mio:big"]);
        match lp.wait(c, get).unwrap() {
            Event::Reply { value: Value::BulkString(got), .. } => {
                assert_eq!(got.len(), SIZE, "{url}");
                assert!(got == value, "{url}: the value came back different");
            }
            other => panic!("{url}: {other:?}"),
        }
        assert!(
            matches!(lp.wait(c, strlen).unwrap(), Event::Reply { value: Value::Integer(n), .. } if n == SIZE as i64)
        );
        let after_get = lp.conn(c).stats();
        let reads = after_get.reads - after_set.reads;
        assert!(reads > 1, "{url}: {after_get:?}");
        assert!(after_get.bytes_read - after_set.bytes_read > SIZE as u64, "{url}");
        println!(
            "{url}: SET {} writes, {} WouldBlock; GET {reads} reads; {} reregisters; {} polls",
            after_set.writes - before.writes,
            after_set.write_would_block - before.write_would_block,
            after_get.reregisters,
            lp.polls
        );
    }
}
