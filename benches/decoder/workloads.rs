//! The inputs every parser is fed, and the checksum each must reproduce.
//!
//! A small RESP writer builds each input and, as it writes, the [`Sum`] a correct parser must report, so the
//! expected checksums come from what was written, not from any parser. Nothing here parses or measures.

/// What a parser produced, reduced so that skipping work changes it: top-level replies, leaf frames (strings,
/// integers, nulls), and a weight (payload lengths plus integer values, wrapping).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sum {
    pub replies: u64,
    pub leaves: u64,
    pub weight: u64,
}

impl Sum {
    /// Counts one leaf of the given weight (a string's length, an integer's value).
    #[inline(always)]
    pub fn leaf(&mut self, weight: u64) {
        self.leaves += 1;
        self.weight = self.weight.wrapping_add(weight);
    }
}

/// A parser adapter that accumulates the [`Sum`] of everything it parsed, in place (a `Sum` returned per
/// reply would cost a store-to-load stall per reply, measuring the harness rather than the parser).
pub trait Tally {
    fn tally(&self) -> Sum;
}

/// How the input reaches the parser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feed {
    /// Appended in slices of this many bytes (socket reads), every complete reply drained after each.
    Slices(usize),
    /// The whole input is already in the buffer, but it never completes: `calls` parse calls must each
    /// return "incomplete" without consuming or allocating anything.
    Stalled { calls: u64 },
}

/// One benchmark input.
pub struct Workload {
    /// The criterion group name (also the table's row).
    pub name: &'static str,
    pub input: Vec<u8>,
    pub expected: Sum,
    pub feed: Feed,
    /// Uses RESP3 frames: RESP2-only parsers skip it.
    pub resp3: bool,
    /// Contains RESP2 nulls (`$-1`), which RESP3-only parsers reject.
    pub resp2_nulls: bool,
    /// Deepest nesting of aggregates (top-level scalars are depth 0).
    pub depth: usize,
}

/// 16 KiB, a typical socket read.
pub const READ: usize = 16 * 1024;

/// Writes RESP and tallies the [`Sum`] of what it wrote.
#[derive(Default)]
struct Writer {
    out: Vec<u8>,
    sum: Sum,
    resp2_nulls: bool,
}

impl Writer {
    fn line(&mut self, kind: u8, text: impl std::fmt::Display) {
        self.out.push(kind);
        self.out.extend_from_slice(text.to_string().as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }
    fn simple(&mut self, s: &str) {
        self.line(b'+', s);
        self.sum.leaf(s.len() as u64);
    }
    fn int(&mut self, i: i64) {
        self.line(b':', i);
        self.sum.leaf(i as u64);
    }
    fn bulk(&mut self, b: &[u8]) {
        self.line(b'$', b.len());
        self.out.extend_from_slice(b);
        self.out.extend_from_slice(b"\r\n");
        self.sum.leaf(b.len() as u64);
    }
    fn null(&mut self) {
        self.out.extend_from_slice(b"$-1\r\n");
        self.resp2_nulls = true;
        self.sum.leaf(0);
    }
    fn array(&mut self, n: usize) {
        self.line(b'*', n);
    }
    fn map(&mut self, pairs: usize) {
        self.line(b'%', pairs);
    }
    /// Marks the end of one top-level reply.
    fn done(&mut self) {
        self.sum.replies += 1;
    }
    /// Writes `n` replies with `f` (given the reply's index).
    fn replies(mut self, n: usize, mut f: impl FnMut(&mut Writer, usize)) -> Writer {
        for i in 0..n {
            f(&mut self, i);
            self.done();
        }
        self
    }
}

/// A 16-byte payload that varies with `i`.
fn b16(i: usize) -> [u8; 16] {
    let mut b = *b"value:0000000000";
    let digits = format!("{:010}", i % 10_000_000_000);
    b[6..].copy_from_slice(digits.as_bytes());
    b
}

fn slices(name: &'static str, w: Writer, resp3: bool, depth: usize) -> Workload {
    let resp2_nulls = w.resp2_nulls;
    Workload { name, input: w.out, expected: w.sum, feed: Feed::Slices(READ), resp3, resp2_nulls, depth }
}

/// One reply of mixed types, three levels deep (hiredis 0.14 accepts at most 7).
fn nested(w: &mut Writer, i: usize) {
    w.array(4);
    w.int(i as i64 - 5000);
    w.array(2);
    w.bulk(&b16(i));
    w.simple("OK");
    w.array(3);
    w.int(-7);
    w.null();
    w.array(2);
    w.bulk(b"hello");
    w.array(1);
    w.int(i as i64);
    w.bulk(b"");
}

/// Every workload, in table order.
pub fn all() -> Vec<Workload> {
    let kib = vec![b'x'; 1024];
    let mib = vec![b'y'; 1024 * 1024];
    let mut v = vec![
        slices("ok_100k", Writer::default().replies(100_000, |w, _| w.simple("OK")), false, 0),
        slices("int_100k", Writer::default().replies(100_000, |w, i| w.int(i as i64 * 37)), false, 0),
        slices("bulk16_100k", Writer::default().replies(100_000, |w, i| w.bulk(&b16(i))), false, 0),
        slices("bulk1k_10k", Writer::default().replies(10_000, |w, _| w.bulk(&kib)), false, 0),
        slices("bulk1m_100", Writer::default().replies(100, |w, _| w.bulk(&mib)), false, 0),
        slices(
            "lrange600_1k",
            Writer::default().replies(1_000, |w, i| {
                w.array(600);
                for j in 0..600 {
                    w.bulk(&b16(i * 600 + j));
                }
            }),
            false,
            1,
        ),
        slices("nested_10k", Writer::default().replies(10_000, nested), false, 4),
        slices(
            "map10_10k",
            Writer::default().replies(10_000, |w, i| {
                w.map(10);
                for k in 0..10 {
                    w.bulk(format!("field{k}").as_bytes());
                    if k % 2 == 0 {
                        w.int((i * 10 + k) as i64);
                    } else {
                        w.bulk(&b16(i + k));
                    }
                }
            }),
            true,
            1,
        ),
    ];
    // Pathological inputs.
    let mut bytewise = slices("bytewise_nested_1k", Writer::default().replies(1_000, nested), false, 4);
    bytewise.feed = Feed::Slices(1);
    v.push(bytewise);
    let deep = Writer::default().replies(100, |w, i| {
        for _ in 0..1000 {
            w.array(1);
        }
        w.int(i as i64);
    });
    v.push(slices("deep1000_100", deep, false, 1000));
    v.push(Workload {
        name: "huge_len_10k_calls",
        input: b"$2147483647\r\nabc".to_vec(),
        expected: Sum { weight: 10_000, ..Sum::default() }, // every call reports "incomplete"
        feed: Feed::Stalled { calls: 10_000 },
        resp3: false,
        resp2_nulls: false,
        depth: 0,
    });
    v
}
