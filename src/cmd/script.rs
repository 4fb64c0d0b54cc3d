//! [`Script`]: a Lua script sent by its SHA1 (EVALSHA), falling back to EVAL when the server answers
//! NOSCRIPT; plus the SHA1 it needs, implemented here so the core keeps its three dependencies.
//!
//! Sans-IO: this file builds commands and inspects replies; the runtimes send them.

use super::{Cmd, ToArgs};
use crate::error::Error;
use crate::resp::Value;

/// A Lua script, identified on the server by the SHA1 of its source.
///
/// A call first tries `EVALSHA`, which sends only the 40-character digest. When the server does not have
/// the script cached it answers `NOSCRIPT`; [`ScriptCall::fallback`] then gives the `EVAL` that sends the
/// source (and caches it for next time). A runtime's `invoke` is:
///
/// ```
/// # use redwire::{cmd::Script, resp::Value, Cmd};
/// # // Stands in for a runtime's round trip to a server that has not cached the script yet.
/// # fn send(cmd: Cmd) -> Value {
/// #     match cmd.name() {
/// #         b"EVALSHA" => Value::Error("NOSCRIPT No matching script. Please use EVAL.".into()),
/// #         _ => Value::Integer(5),
/// #     }
/// # }
/// let script = Script::new("return redis.call('INCRBY', KEYS[1], ARGV[1])");
/// let call = script.call().key("counter").arg(5);
/// let mut reply = send(call.evalsha());
/// if let Some(eval) = call.fallback(&reply) {
///     reply = send(eval);
/// }
/// assert_eq!(reply, Value::Integer(5));
/// ```
///
/// ```
/// use redwire::cmd::Script;
/// let script = Script::new("return 1");
/// assert_eq!(script.sha1(), "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
/// let cmd = script.call().key(["a", "b"]).arg("x").evalsha();
/// assert_eq!(
///     cmd.args().collect::<Vec<_>>(),
///     [&b"EVALSHA"[..], script.sha1().as_bytes(), b"2", b"a", b"b", b"x"]
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    source: String,
    sha1: String,
}

impl Script {
    /// A script with this Lua source. Computes its SHA1 (O(length of the source)).
    pub fn new(source: impl Into<String>) -> Script {
        let source = source.into();
        let sha1 = hex(&sha1(source.as_bytes()));
        Script { source, sha1 }
    }

    /// The lowercase hex SHA1 of the source: the name the server caches the script under.
    pub fn sha1(&self) -> &str {
        &self.sha1
    }

    /// The Lua source.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Starts a call; add keys and arguments, then send [`ScriptCall::evalsha`].
    pub fn call(&self) -> ScriptCall<'_> {
        ScriptCall { script: self, keys: Cmd::empty(), args: Cmd::empty(), read_only: false }
    }

    /// `SCRIPT LOAD source`: caches the script without running it (useful before a pipeline of EVALSHAs).
    pub fn load(&self) -> Cmd {
        Cmd::new("SCRIPT").arg("LOAD").arg(self.source.as_str())
    }

    /// `true` when `reply` is the server's `NOSCRIPT` error: the script must be sent with EVAL.
    pub fn is_noscript(reply: &Value) -> bool {
        matches!(reply, Value::Error(e) if e.starts_with(b"NOSCRIPT"))
    }

    /// `true` when `err` is a `NOSCRIPT` server error (for runtimes that convert replies first).
    pub fn is_noscript_error(err: &Error) -> bool {
        err.server_code() == Some("NOSCRIPT")
    }
}

/// One invocation of a [`Script`]: its keys and arguments.
#[derive(Debug, Clone)]
#[must_use = "a script call does nothing until its evalsha() command is sent"]
pub struct ScriptCall<'a> {
    script: &'a Script,
    keys: Cmd,
    args: Cmd,
    read_only: bool,
}

impl ScriptCall<'_> {
    /// Adds key names (`KEYS[i]` in Lua); anything [`ToArgs`], so a slice adds several.
    pub fn key(mut self, key: impl ToArgs) -> Self {
        key.write_args(&mut self.keys);
        self
    }

    /// Adds arguments (`ARGV[i]` in Lua).
    pub fn arg(mut self, arg: impl ToArgs) -> Self {
        arg.write_args(&mut self.args);
        self
    }

    /// Uses `EVALSHA_RO` / `EVAL_RO` (Redis 7+), which replicas accept and which refuse writes.
    pub fn read_only(mut self) -> Self {
        self.read_only = true;
        self
    }

    fn build(&self, name: &str, first: &str) -> Cmd {
        let mut cmd = Cmd::new(name).arg(first).arg(self.keys.arg_count());
        cmd.append(&self.keys);
        cmd.append(&self.args);
        cmd
    }

    /// `EVALSHA sha1 numkeys key... arg...`: the first attempt.
    pub fn evalsha(&self) -> Cmd {
        self.build(if self.read_only { "EVALSHA_RO" } else { "EVALSHA" }, &self.script.sha1)
    }

    /// `EVAL source numkeys key... arg...`: runs the script and caches it on the server.
    pub fn eval(&self) -> Cmd {
        self.build(if self.read_only { "EVAL_RO" } else { "EVAL" }, &self.script.source)
    }

    /// Given the reply to [`evalsha`](Self::evalsha): the [`eval`](Self::eval) to send instead when the
    /// server answered NOSCRIPT, `None` when the reply is the script's result.
    pub fn fallback(&self, reply: &Value) -> Option<Cmd> {
        Script::is_noscript(reply).then(|| self.eval())
    }
}

fn hex(digest: &[u8; 20]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(40);
    for b in digest {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 15)] as char);
    }
    out
}

/// SHA-1 (FIPS 180-4) of `data`. Used only to name scripts, as Redis does; not for security.
pub(crate) fn sha1(data: &[u8]) -> [u8; 20] {
    let mut h: [u32; 5] = [0x6745_2301, 0xEFCD_AB89, 0x98BA_DCFE, 0x1032_5476, 0xC3D2_E1F0];
    // Padding: a 1 bit, zeros up to 56 mod 64 bytes, then the bit length as a big-endian u64.
    let bit_len = (data.len() as u64).wrapping_mul(8);
    let tail_len = if data.len() % 64 < 56 { 64 } else { 128 };
    let full = data.len() / 64 * 64;
    let mut tail = [0u8; 128];
    let rest = &data[full..];
    tail[..rest.len()].copy_from_slice(rest);
    tail[rest.len()] = 0x80;
    tail[tail_len - 8..tail_len].copy_from_slice(&bit_len.to_be_bytes());
    for block in data[..full].chunks_exact(64).chain(tail[..tail_len].chunks_exact(64)) {
        let mut w = [0u32; 80];
        for (i, word) in block.chunks_exact(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..80 {
            w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
        }
        let [mut a, mut b, mut c, mut d, mut e] = h;
        for (i, wi) in w.iter().enumerate() {
            let (f, k) = match i {
                0..=19 => ((b & c) | (!b & d), 0x5A82_7999),
                20..=39 => (b ^ c ^ d, 0x6ED9_EBA1),
                40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1B_BCDC),
                _ => (b ^ c ^ d, 0xCA62_C1D6),
            };
            let t = a.rotate_left(5).wrapping_add(f).wrapping_add(e).wrapping_add(k).wrapping_add(*wi);
            e = d;
            d = c;
            c = b.rotate_left(30);
            b = a;
            a = t;
        }
        for (hi, v) in h.iter_mut().zip([a, b, c, d, e]) {
            *hi = hi.wrapping_add(v);
        }
    }
    let mut out = [0u8; 20];
    for (chunk, v) in out.chunks_exact_mut(4).zip(h) {
        chunk.copy_from_slice(&v.to_be_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha1_hex(data: &[u8]) -> String {
        hex(&sha1(data))
    }

    #[test]
    fn sha1_known_vectors() {
        // FIPS 180-2 appendix A and common test vectors.
        assert_eq!(sha1_hex(b""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
        assert_eq!(sha1_hex(b"abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
        assert_eq!(
            sha1_hex(b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "84983e441c3bd26ebaae4aa1f95129e5e54670f1"
        );
        assert_eq!(
            sha1_hex(b"The quick brown fox jumps over the lazy dog"),
            "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12"
        );
        assert_eq!(sha1_hex(&vec![b'a'; 1_000_000]), "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
        // Lengths around the padding boundary (55, 56, 63, 64, 65 bytes), checked against `sha1sum`.
        for (n, want) in [
            (55, "cef734ba81a024479e09eb5a75b6ddae62e6abf1"),
            (56, "901305367c259952f4e7af8323f480d59f81335b"),
            (63, "0ddc4e0cccd9a12850deb5abb0853a4425559fec"),
            (64, "bb2fa3ee7afb9f54c6dfb5d021f14b1ffe40c163"),
            (65, "78c741ddc482e4cdf8c474a0876347a0905b6233"),
        ] {
            assert_eq!(sha1_hex(&vec![b'x'; n]), want, "{n} bytes");
        }
    }

    #[test]
    fn noscript_fallback() {
        let script = Script::new("return ARGV[1]");
        let call = script.call().arg("hi").read_only();
        assert_eq!(call.evalsha().name(), b"EVALSHA_RO");
        assert!(call.fallback(&Value::BulkString("hi".into())).is_none());
        let noscript = Value::Error("NOSCRIPT No matching script. Please use EVAL.".into());
        let eval = call.fallback(&noscript).unwrap();
        assert_eq!(eval.args().collect::<Vec<_>>(), [&b"EVAL_RO"[..], b"return ARGV[1]", b"0", b"hi"]);
        assert!(Script::is_noscript_error(&Error::Server("NOSCRIPT x".into())));
        assert!(!Script::is_noscript_error(&Error::Server("ERR x".into())));
        assert_eq!(script.load().args().collect::<Vec<_>>(), [&b"SCRIPT"[..], b"LOAD", b"return ARGV[1]"]);
    }
}
