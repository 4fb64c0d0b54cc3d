//! What the fake server understands of the client's bytes: [`Command`] (one RESP array of bulk strings, or
//! an inline command line), [`parse`] (one command off the front of a buffer, bounded, never allocating by
//! a declared length), and the handshake answers a real server would give.
//!
//! Std only, on purpose independent of redwire's decoder: what a broken client sends is recorded as it is.

use std::fmt;

/// The most arguments one command may have, and the longest argument (a real server's defaults).
const MAX_ARGS: usize = 1024 * 1024;
const MAX_ARG_LEN: usize = 512 * 1024 * 1024;
/// The longest header line (`*N` or `$N`) or inline command.
const MAX_LINE: usize = 64 * 1024;

/// One command the client sent: its words, as bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct Command(pub Vec<Vec<u8>>);

impl Command {
    /// The first word, upper-cased (`"SET"`).
    pub fn name(&self) -> String {
        self.0.first().map(|w| String::from_utf8_lossy(w).to_ascii_uppercase()).unwrap_or_default()
    }

    /// `true` when the command starts with `words` (space-separated, case-insensitive): `is("SET")`,
    /// `is("CLIENT SETNAME")`.
    pub fn is(&self, words: &str) -> bool {
        let wanted: Vec<&str> = words.split_whitespace().collect();
        wanted.len() <= self.0.len()
            && wanted.iter().zip(&self.0).all(|(w, got)| got.eq_ignore_ascii_case(w.as_bytes()))
    }

    /// The words after the first.
    pub fn args(&self) -> &[Vec<u8>] {
        self.0.get(1..).unwrap_or_default()
    }

    /// The words as (lossy) strings, for asserting: `["SET", "k", "v"]`.
    pub fn words(&self) -> Vec<String> {
        self.0.iter().map(|w| String::from_utf8_lossy(w).into_owned()).collect()
    }
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.0.iter().map(|w| w.escape_ascii().to_string())).finish()
    }
}

/// Parses one command off the front of `buf`: `Ok(None)` while it is incomplete, `Ok(Some((command,
/// bytes used)))`, or `Err(why)` for bytes no client sends. Costs O(number of words), not O(bytes), so a
/// large command arriving in many reads is cheap to re-parse.
pub(crate) fn parse(buf: &[u8]) -> Result<Option<(Command, usize)>, String> {
    let Some(&first) = buf.first() else { return Ok(None) };
    if first != b'*' {
        return parse_inline(buf);
    }
    let Some((count, mut at)) = number_line(buf, 0, b'*')? else { return Ok(None) };
    if count < 1 || count as usize > MAX_ARGS {
        return Err(format!("a command of {count} words"));
    }
    let mut words = Vec::new();
    for _ in 0..count {
        if at >= buf.len() {
            return Ok(None);
        }
        let Some((len, start)) = number_line(buf, at, b'$')? else { return Ok(None) };
        if len < 0 || len as usize > MAX_ARG_LEN {
            return Err(format!("a word of declared length {len}"));
        }
        let end = start + len as usize;
        if buf.len() < end + 2 {
            return Ok(None);
        }
        if &buf[end..end + 2] != b"\r\n" {
            return Err(format!("a word of length {len} not followed by CRLF"));
        }
        words.push(buf[start..end].to_vec());
        at = end + 2;
    }
    Ok(Some((Command(words), at)))
}

/// `<kind><decimal>\r\n` at `buf[at..]`: the number and where the line ends.
fn number_line(buf: &[u8], at: usize, kind: u8) -> Result<Option<(i64, usize)>, String> {
    if buf[at] != kind {
        return Err(format!("{:?} where {:?} was expected", buf[at] as char, kind as char));
    }
    let Some(cr) = buf[at..].windows(2).position(|w| w == b"\r\n") else {
        return if buf.len() - at > 32 { Err("a header line without CRLF".into()) } else { Ok(None) };
    };
    let digits = &buf[at + 1..at + cr];
    let n = std::str::from_utf8(digits)
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .ok_or_else(|| format!("{:?} is not a length", digits.escape_ascii().to_string()))?;
    Ok(Some((n, at + cr + 2)))
}

/// An inline command (`PING\r\n`, as telnet users type): words split on whitespace up to LF.
fn parse_inline(buf: &[u8]) -> Result<Option<(Command, usize)>, String> {
    let Some(lf) = buf.iter().position(|&b| b == b'\n') else {
        return if buf.len() > MAX_LINE { Err("an inline command without LF".into()) } else { Ok(None) };
    };
    let words: Vec<Vec<u8>> =
        buf[..lf].split(|b| b.is_ascii_whitespace()).filter(|w| !w.is_empty()).map(<[u8]>::to_vec).collect();
    if words.is_empty() {
        return Err("an empty inline command".into());
    }
    Ok(Some((Command(words), lf + 1)))
}

/// What a real server (Redis 7) answers to a handshake command, or `None` when `command` is not one.
/// `resp3` is the connection's protocol, switched by `HELLO`; `id` is the client id `HELLO` reports.
/// With `knows_hello == false` the server answers `HELLO` as Redis 5 does (unknown command).
pub(crate) fn handshake_reply(
    command: &Command,
    resp3: &mut bool,
    id: usize,
    knows_hello: bool,
) -> Option<Vec<u8>> {
    if command.is("HELLO") {
        if !knows_hello {
            let first = command.args().first().map(|a| a.escape_ascii().to_string()).unwrap_or_default();
            return Some(
                format!("-ERR unknown command 'HELLO', with args beginning with: '{first}' \r\n")
                    .into_bytes(),
            );
        }
        match command.args().first().map(Vec::as_slice) {
            None => {}
            Some(b"2") => *resp3 = false,
            Some(b"3") => *resp3 = true,
            Some(_) => return Some(b"-NOPROTO unsupported protocol version\r\n".to_vec()),
        }
        return Some(hello_reply(*resp3, id));
    }
    let plain = ["AUTH", "SELECT", "CLIENT SETNAME", "CLIENT SETINFO"];
    plain.iter().any(|w| command.is(w)).then(|| b"+OK\r\n".to_vec())
}

/// `HELLO`'s reply: a map in RESP3, a flat array in RESP2, with the fields Redis 7 sends.
fn hello_reply(resp3: bool, id: usize) -> Vec<u8> {
    fn bulk(out: &mut Vec<u8>, s: &str) {
        out.extend_from_slice(format!("${}\r\n{s}\r\n", s.len()).as_bytes());
    }
    let mut out = if resp3 { b"%7\r\n".to_vec() } else { b"*14\r\n".to_vec() };
    for (key, value) in [("server", "redis"), ("version", "7.0.15")] {
        bulk(&mut out, key);
        bulk(&mut out, value);
    }
    bulk(&mut out, "proto");
    out.extend_from_slice(if resp3 { b":3\r\n" } else { b":2\r\n" });
    bulk(&mut out, "id");
    out.extend_from_slice(format!(":{id}\r\n").as_bytes());
    for (key, value) in [("mode", "standalone"), ("role", "master")] {
        bulk(&mut out, key);
        bulk(&mut out, value);
    }
    bulk(&mut out, "modules");
    out.extend_from_slice(b"*0\r\n");
    out
}
