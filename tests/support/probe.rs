//! The few commands the harness itself sends while a server starts (PING, AUTH, INFO server), with a
//! minimal RESP2 reader of its own: no redwire code, so a broken codec never looks like a broken harness.

use std::io::{BufRead, BufReader, Read, Write};

use super::host::parse_version;

/// What `INFO server` said.
#[derive(Debug, Clone, Default)]
pub(crate) struct Info {
    pub process_id: Option<u32>,
    pub redis_version: Option<(u32, u32, u32)>,
    pub valkey_version: Option<(u32, u32, u32)>,
    pub valkey: bool,
}

/// Sends PING; `Some` for any well-formed reply (`+PONG`, or `-NOAUTH` when a password is required).
pub(crate) fn ping(s: &mut (impl Read + Write)) -> Option<()> {
    s.write_all(b"*1\r\n$4\r\nPING\r\n").ok()?;
    read_reply(s).ok().map(|_| ())
}

/// `INFO server`, authenticating first with a `--requirepass` from `extra` when the server asks for it.
pub(crate) fn fetch_info(s: &mut (impl Read + Write), extra: &[String]) -> Option<Info> {
    let mut reply = command(s, &["INFO", "server"])?;
    if reply.starts_with("-NOAUTH") {
        let pass = extra.iter().position(|a| a == "--requirepass").and_then(|i| extra.get(i + 1))?;
        command(s, &["AUTH", pass]).filter(|r| r.starts_with('+'))?;
        reply = command(s, &["INFO", "server"])?;
    }
    let text = reply.strip_prefix('$')?;
    let field = |name: &str| {
        text.lines().find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(':'))).map(str::trim)
    };
    Some(Info {
        process_id: field("process_id").and_then(|p| p.parse().ok()),
        redis_version: field("redis_version").and_then(parse_version),
        valkey_version: field("valkey_version").and_then(parse_version),
        valkey: field("valkey_version").is_some() || field("server_name") == Some("valkey"),
    })
}

fn command(s: &mut (impl Read + Write), args: &[&str]) -> Option<String> {
    let mut out = format!("*{}\r\n", args.len());
    for a in args {
        out.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    s.write_all(out.as_bytes()).ok()?;
    read_reply(s).ok()
}

/// Reads one RESP2 reply of the kinds the harness asks for (`+`, `-`, `:`, `$`) and returns it as text:
/// a line reply with its type byte, a bulk string as `$` followed by its payload. Reads byte by byte on
/// purpose (startup only), so nothing past the reply is consumed.
fn read_reply(s: &mut impl Read) -> std::io::Result<String> {
    let mut r = BufReader::with_capacity(1, s);
    let mut line = String::new();
    r.read_line(&mut line)?;
    let line = line.trim_end_matches("\r\n");
    let bad = || std::io::Error::new(std::io::ErrorKind::InvalidData, format!("unexpected reply {line:?}"));
    match line.as_bytes().first() {
        Some(b'+' | b'-' | b':') => Ok(line.to_string()),
        Some(b'$') => {
            let len: usize = line[1..].parse().map_err(|_| bad())?;
            let mut body = vec![0; len.min(1 << 20) + 2];
            r.read_exact(&mut body)?;
            body.truncate(len);
            Ok(format!("${}", String::from_utf8_lossy(&body)))
        }
        _ => Err(bad()),
    }
}
