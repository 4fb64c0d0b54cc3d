//! Parsing of `redis://` and `redis+unix://` URLs into a [`Config`].
//!
//! Only string handling: no name resolution, no file system access. Every error names the part of the URL
//! that is wrong and never repeats a password.

use crate::config::{Config, Protocol};
use crate::{Error, Result};
use std::path::PathBuf;
use std::time::Duration;

const PARAMS: &str = "db, protocol, client_name, connect_timeout, response_timeout";

/// Parses `url` (see [`Config::from_url`] for the grammar).
pub(crate) fn parse(url: &str) -> Result<Config> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| bad(format!("`{url}` has no scheme; expected `redis://host`")))?;
    let unix = match scheme.to_ascii_lowercase().as_str() {
        "redis" => false,
        "redis+unix" | "unix" => true,
        other => {
            return Err(bad(format!(
                "unsupported scheme `{other}://`; expected `redis://` or `redis+unix://`"
            )))
        }
    };
    if rest.contains('#') {
        return Err(bad("URL fragments (`#...`) are not allowed".into()));
    }
    let (rest, query) = match rest.split_once('?') {
        Some((r, q)) => (r, Some(q)),
        None => (rest, None),
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let (userinfo, hostport) = match authority.rfind('@') {
        Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
        None => (None, authority),
    };

    let mut config;
    let mut path_db = None;
    if unix {
        if !hostport.is_empty() {
            return Err(bad(format!(
                "a unix socket URL has no host (got `{hostport}`); write `redis+unix:///path/to/socket`"
            )));
        }
        if path.is_empty() || path == "/" {
            return Err(bad("the unix socket path is missing; write `redis+unix:///path/to/socket`".into()));
        }
        config = Config::unix(PathBuf::from(decode("socket path", path)?));
    } else {
        let (host, port) = host_port(hostport)?;
        config = Config::tcp(host, port);
        let db = path.strip_prefix('/').unwrap_or(path);
        if !db.is_empty() {
            path_db = Some(parse_db(db, "path")?);
        }
    }

    if let Some(info) = userinfo {
        let (user, password) = match info.split_once(':') {
            Some((u, p)) => (u, Some(p)),
            None => (info, None),
        };
        if !user.is_empty() {
            config.username = Some(decode("user name", user)?);
        }
        if let Some(p) = password {
            config.password = Some(decode("password", p)?);
        }
    }

    let mut seen: Vec<&str> = Vec::new();
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if seen.contains(&key) {
            return Err(bad(format!("parameter `{key}` is given twice")));
        }
        seen.push(key);
        let value = decode(key, value)?;
        match key {
            "db" => {
                let db = parse_db(&value, "`db` parameter")?;
                if path_db.is_some_and(|p| p != db) {
                    return Err(bad(format!("the database is given twice, in the path and as `db={db}`")));
                }
                path_db = Some(db);
            }
            "protocol" => {
                config.protocol = match value.to_ascii_lowercase().as_str() {
                    "2" | "resp2" => Protocol::Resp2,
                    "3" | "resp3" => Protocol::Resp3,
                    _ => return Err(bad(format!("`protocol={value}`: expected 2 or 3"))),
                }
            }
            "client_name" => {
                if value.is_empty() || value.bytes().any(|b| b <= b' ' || b == 0x7f) {
                    return Err(bad(format!(
                        "`client_name={value}`: a client name must be non-empty, without spaces or control \
                         characters"
                    )));
                }
                config.client_name = Some(value);
            }
            "connect_timeout" => config.connect_timeout = parse_timeout(key, &value)?,
            "response_timeout" => config.response_timeout = parse_timeout(key, &value)?,
            other => return Err(bad(format!("unknown parameter `{other}`; known parameters: {PARAMS}"))),
        }
    }
    config.db = path_db.unwrap_or(0);
    Ok(config)
}

fn bad(message: String) -> Error {
    Error::Config(message)
}

fn host_port(hostport: &str) -> Result<(String, u16)> {
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (host, after) = v6
            .split_once(']')
            .ok_or_else(|| bad(format!("host `{hostport}`: an IPv6 address needs a closing `]`")))?;
        match after {
            "" => (host, None),
            p => (
                host,
                Some(p.strip_prefix(':').ok_or_else(|| bad(format!("host `{hostport}`: junk after `]`")))?),
            ),
        }
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        }
    };
    if host.contains(':') && !hostport.starts_with('[') {
        return Err(bad(format!("host `{hostport}`: write IPv6 addresses in brackets, like `[::1]:6379`")));
    }
    let port = match port {
        None | Some("") => 6379,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 => n,
            _ => return Err(bad(format!("port `{p}` is not a number from 1 to 65535"))),
        },
    };
    let host = if host.is_empty() { "127.0.0.1".to_string() } else { decode("host", host)? };
    Ok((host, port))
}

fn parse_db(text: &str, part: &str) -> Result<u32> {
    text.parse::<u32>()
        .map_err(|_| bad(format!("database `{text}` in the {part} is not a number from 0 to 4294967295")))
}

/// Parses `5s`, `250ms`, `1.5` (seconds); `0` means no timeout.
pub(crate) fn parse_timeout(key: &str, text: &str) -> Result<Option<Duration>> {
    let (number, scale) = if let Some(n) = text.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1.0)
    } else {
        (text, 1.0)
    };
    let valid = !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    let seconds = number.parse::<f64>().ok().filter(|_| valid).map(|n| n * scale);
    match seconds.and_then(|s| Duration::try_from_secs_f64(s).ok()) {
        Some(d) if d.is_zero() => Ok(None),
        Some(d) => Ok(Some(d)),
        None => Err(bad(format!(
            "`{key}={text}` is not a duration; write seconds (`5`, `1.5`), `5s` or `250ms` (`0` for none)"
        ))),
    }
}

/// Percent-decodes `text`; the result must be UTF-8.
fn decode(part: &str, text: &str) -> Result<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
            let byte = hex.and_then(|h| u8::from_str_radix(h, 16).ok()).ok_or_else(|| {
                bad(format!(
                    "the {part} has an invalid percent escape; `%` must be followed by two hex digits"
                ))
            })?;
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| bad(format!("the {part} is not valid UTF-8 once percent-decoded")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Address;

    fn err(url: &str) -> String {
        match parse(url) {
            Err(Error::Config(m)) => m,
            other => panic!("{url}: expected a config error, got {other:?}"),
        }
    }

    #[test]
    fn full_tcp_url() {
        let c = parse("redis://user:p%40ss%3Aw@example.com:7000/3?protocol=2&client_name=worker-1&connect_timeout=5s&response_timeout=250ms").unwrap();
        assert_eq!(c.addr, Address::Tcp { host: "example.com".into(), port: 7000 });
        assert_eq!(c.username.as_deref(), Some("user"));
        assert_eq!(c.password.as_deref(), Some("p@ss:w"));
        assert_eq!(c.db, 3);
        assert_eq!(c.protocol, Protocol::Resp2);
        assert_eq!(c.client_name.as_deref(), Some("worker-1"));
        assert_eq!(c.connect_timeout, Some(Duration::from_secs(5)));
        assert_eq!(c.response_timeout, Some(Duration::from_millis(250)));
    }

    #[test]
    fn defaults_and_short_forms() {
        assert_eq!(parse("redis://").unwrap(), Config::default());
        assert_eq!(parse("redis://localhost").unwrap(), Config::tcp("localhost", 6379));
        assert_eq!(parse("REDIS://h:1/").unwrap(), Config::tcp("h", 1));
        let c = parse("redis://:secret@h").unwrap();
        assert_eq!((c.username, c.password.as_deref()), (None, Some("secret")));
        let c = parse("redis://[::1]:6380/1").unwrap();
        assert_eq!((c.addr, c.db), (Address::Tcp { host: "::1".into(), port: 6380 }, 1));
        assert_eq!(parse("redis://[::1]").unwrap().addr, Address::Tcp { host: "::1".into(), port: 6379 });
        assert_eq!(parse("redis://h?db=4").unwrap().db, 4);
        assert_eq!(parse("redis://h/4?db=4").unwrap().db, 4);
        assert_eq!(parse("redis://h?protocol=3").unwrap().protocol, Protocol::Resp3);
    }

    #[test]
    fn unix_urls() {
        let c = parse("redis+unix:///run/redis%20x.sock?db=2&protocol=2").unwrap();
        assert_eq!(c.addr, Address::Unix("/run/redis x.sock".into()));
        assert_eq!((c.db, c.protocol), (2, Protocol::Resp2));
        let c = parse("unix://:pw@/tmp/s").unwrap();
        assert_eq!((c.addr, c.password.as_deref()), (Address::Unix("/tmp/s".into()), Some("pw")));
    }

    #[test]
    fn timeouts() {
        for (text, want) in [
            ("5", Some(Duration::from_secs(5))),
            ("1.5", Some(Duration::from_millis(1500))),
            ("2s", Some(Duration::from_secs(2))),
            ("250ms", Some(Duration::from_millis(250))),
            ("0", None),
            ("0ms", None),
        ] {
            assert_eq!(parse_timeout("t", text).unwrap(), want, "{text}");
        }
        for text in ["", "s", "-1", "1e3", "abc", "5 s", "1h", "nan", "inf"] {
            assert!(parse_timeout("t", text).is_err(), "{text}");
        }
    }

    #[test]
    fn errors_name_the_bad_part() {
        assert!(err("localhost:6379").contains("no scheme"));
        assert!(err("http://h").contains("`http://`"));
        assert!(err("redis://h:99999").contains("port `99999`"));
        assert!(err("redis://h:0").contains("port `0`"));
        assert!(err("redis://h:x").contains("port `x`"));
        assert!(err("redis://h/abc").contains("database `abc`"));
        assert!(err("redis://h/-1").contains("database `-1`"));
        assert!(err("redis://h?db=x").contains("database `x`"));
        assert!(err("redis://h/1?db=2").contains("given twice"));
        assert!(err("redis://h?protocol=4").contains("`protocol=4`"));
        assert!(err("redis://h?timeout=3").contains("unknown parameter `timeout`"));
        assert!(err("redis://h?db=1&db=1").contains("`db` is given twice"));
        assert!(err("redis://h?response_timeout=soon").contains("`response_timeout=soon`"));
        assert!(err("redis://h?client_name=a%20b").contains("client_name"));
        assert!(err("redis://::1").contains("brackets"));
        assert!(err("redis://[::1").contains("closing `]`"));
        assert!(err("redis://h#frag").contains("fragment"));
        assert!(err("redis+unix://host/tmp/s").contains("no host"));
        assert!(err("redis+unix://").contains("path is missing"));
        let m = err("redis://u:secret%zz@h");
        assert!(m.contains("password") && !m.contains("secret"), "{m}");
        let m = err("redis://u:%ff%fe@h");
        assert!(m.contains("password") && m.contains("UTF-8"), "{m}");
    }
}
