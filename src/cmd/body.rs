//! [`Body`]: the bytes of a [`Cmd`](super::Cmd)'s encoded arguments, kept inline (no allocation) while
//! they fit in [`INLINE`] bytes and on the heap beyond.
//!
//! Most commands are small (`GET key`, `SET key 16-bytes`, `INCR key`): a pipeline of 128 of them used
//! to make 128 allocations and 128 frees, about a fifth of the client's CPU per command. Plain bytes
//! only: what they mean is `Cmd`'s business.

/// How many bytes a body holds without allocating: `SET` of a 20-byte key and a 20-byte value fits (a
/// `Cmd` is then 96 bytes).
pub(crate) const INLINE: usize = 70;

/// A growable byte string with inline storage for short contents.
#[derive(Clone)]
pub(crate) enum Body {
    Inline { len: u8, bytes: [u8; INLINE] },
    Heap(Vec<u8>),
}

impl Body {
    /// An empty body; allocates nothing.
    pub(crate) const fn new() -> Body {
        Body::Inline { len: 0, bytes: [0; INLINE] }
    }

    /// An empty body that will hold `n` bytes without growing.
    pub(crate) fn with_capacity(n: usize) -> Body {
        if n <= INLINE {
            Body::new()
        } else {
            Body::Heap(Vec::with_capacity(n))
        }
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            Body::Inline { len, .. } => usize::from(*len),
            Body::Heap(v) => v.len(),
        }
    }

    pub(crate) fn as_slice(&self) -> &[u8] {
        match self {
            Body::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Body::Heap(v) => v,
        }
    }

    /// Appends `arg` as a RESP bulk string, `$<len>\r\n<arg>\r\n`: what every argument of a command is.
    /// Written in place while it fits inline (one copy, of `arg`; the header's few bytes are stored
    /// directly).
    pub(crate) fn push_bulk(&mut self, arg: &[u8]) {
        let mut digits = 1;
        let mut rest = arg.len() / 10;
        while rest > 0 {
            digits += 1;
            rest /= 10;
        }
        let add = digits + arg.len() + 5;
        if let Body::Inline { len, bytes } = self {
            let start = usize::from(*len);
            if let Some(room) = bytes.get_mut(start..start + add) {
                let (header, tail) = room.split_at_mut(digits + 3);
                header[0] = b'$';
                let mut n = arg.len();
                for d in header[1..=digits].iter_mut().rev() {
                    *d = b'0' + (n % 10) as u8;
                    n /= 10;
                }
                header[digits + 1] = b'\r';
                header[digits + 2] = b'\n';
                let (data, end) = tail.split_at_mut(arg.len());
                data.copy_from_slice(arg);
                end.copy_from_slice(b"\r\n");
                *len = (start + add) as u8; // fits: start + add <= INLINE < 256
                return;
            }
        }
        let mut header = [0u8; 21];
        let header = crate::resp::encoder::format_u64(arg.len() as u64, &mut header);
        self.extend(&[b"$", header, b"\r\n", arg, b"\r\n"]);
    }

    /// Appends `parts`, one after the other (a header, an argument and its `\r\n` in one call: one
    /// capacity check).
    pub(crate) fn extend(&mut self, parts: &[&[u8]]) {
        let add: usize = parts.iter().map(|p| p.len()).sum();
        match self {
            Body::Inline { len, bytes } => {
                let start = usize::from(*len);
                if let Some(room) = bytes.get_mut(start..start + add) {
                    let mut at = 0;
                    for p in parts {
                        room[at..at + p.len()].copy_from_slice(p);
                        at += p.len();
                    }
                    *len = (start + add) as u8; // fits: start + add <= INLINE < 256
                    return;
                }
                let mut v = Vec::with_capacity((start + add).max(2 * INLINE));
                v.extend_from_slice(&bytes[..start]);
                *self = Body::Heap(v);
            }
            Body::Heap(_) => {}
        }
        if let Body::Heap(v) = self {
            v.reserve(add);
            parts.iter().for_each(|p| v.extend_from_slice(p));
        }
    }
}

impl PartialEq for Body {
    fn eq(&self, other: &Body) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for Body {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_from_inline_to_heap_keeping_the_bytes() {
        let mut b = Body::new();
        let mut want = Vec::new();
        for i in 0..40u8 {
            let part = [i; 7];
            b.extend(&[&part, b"\r\n"]);
            want.extend_from_slice(&part);
            want.extend_from_slice(b"\r\n");
            assert_eq!(b.as_slice(), &want[..]);
            assert_eq!(b.len(), want.len());
            assert_eq!(matches!(b, Body::Inline { .. }), want.len() <= INLINE, "at {} bytes", want.len());
        }
        let mut exact = Body::new();
        exact.extend(&[&[1; INLINE]]);
        assert!(matches!(exact, Body::Inline { .. }));
        exact.extend(&[b""]);
        assert!(matches!(exact, Body::Inline { .. }));
        exact.extend(&[b"x"]);
        assert!(matches!(exact, Body::Heap(_)));
        assert_eq!(exact.len(), INLINE + 1);
    }

    #[test]
    fn bulk_strings_inline_and_on_the_heap() {
        for n in [0, 1, 9, 10, 11, 60, 64, 65, 99, 100, 1000, 12345] {
            let arg: Vec<u8> = (0..n).map(|i| b'a' + (i % 26) as u8).collect();
            for prefix in [&b""[..], b"$3\r\nGET\r\n", &[b'x'; INLINE - 6]] {
                let mut b = Body::new();
                b.extend(&[prefix]);
                b.push_bulk(&arg);
                let want = [prefix, format!("${n}\r\n").as_bytes(), &arg, b"\r\n"].concat();
                assert_eq!(b.as_slice(), &want[..], "{n} bytes after {} bytes", prefix.len());
            }
        }
    }

    #[test]
    fn a_cmd_stays_small() {
        assert_eq!(std::mem::size_of::<Body>(), INLINE + 2);
        assert_eq!(std::mem::size_of::<crate::Cmd>(), 96);
    }

    #[test]
    fn equality_ignores_where_the_bytes_live() {
        let mut heap = Body::with_capacity(1000);
        heap.extend(&[b"abc"]);
        let mut inline = Body::new();
        inline.extend(&[b"ab", b"c"]);
        assert!(matches!(heap, Body::Heap(_)) && matches!(inline, Body::Inline { .. }));
        assert!(heap == inline);
        assert!(heap != Body::new());
    }
}
