//! The RESP encoder: commands (arrays of bulk strings) and whole [`Value`]s, in one pass into a `BytesMut`.

use super::Value;
use bytes::{BufMut, BytesMut};

/// Appends one command, as a RESP array of bulk strings, to `buf`.
///
/// One pass, no allocation per argument (only `buf` may grow, reserved once up front).
///
/// ```
/// use bytes::BytesMut;
/// let mut buf = BytesMut::new();
/// redwire::resp::encode_command(&mut buf, &["SET", "key", "value"]);
/// assert_eq!(&buf[..], b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n");
/// ```
pub fn encode_command<A: AsRef<[u8]>>(buf: &mut BytesMut, args: &[A]) {
    let payload: usize = args.iter().map(|a| a.as_ref().len() + 16).sum();
    buf.reserve(payload + 16);
    write_header(buf, b'*', args.len() as i64);
    for arg in args {
        let arg = arg.as_ref();
        write_header(buf, b'$', arg.len() as i64);
        buf.put_slice(arg);
        buf.put_slice(b"\r\n");
    }
}

/// Writes `<prefix><n>\r\n`. A command's array header (`*3\r\n`) almost always has one digit: four
/// bytes, appended as one fixed-size copy.
#[inline]
pub(crate) fn write_header(buf: &mut BytesMut, prefix: u8, n: i64) {
    match u8::try_from(n) {
        Ok(d @ 0..=9) => buf.extend_from_slice(&[prefix, b'0' + d, b'\r', b'\n']),
        _ => buf.extend_from_slice(Header::new(prefix, n).as_bytes()),
    }
}

/// `<prefix><n>\r\n`, formatted on the stack, to be appended in one copy (headers are written twice per
/// argument).
pub(crate) struct Header {
    line: [u8; 24],
    start: usize,
}

impl Header {
    pub(crate) fn new(prefix: u8, n: i64) -> Header {
        let mut line = [0u8; 24];
        let digits = format_i64(n, (&mut line[..21]).try_into().expect("21 bytes")).len();
        let start = 21 - digits - 1;
        line[start] = prefix;
        line[21] = b'\r';
        line[22] = b'\n';
        Header { line, start }
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.line[self.start..23]
    }
}

/// Formats `n` in decimal into the end of `out` and returns the digits, without `format!`.
pub(crate) fn format_i64(n: i64, out: &mut [u8; 21]) -> &[u8] {
    let mut pos = out.len();
    let neg = n < 0;
    let mut u = n.unsigned_abs();
    loop {
        pos -= 1;
        out[pos] = b'0' + (u % 10) as u8;
        u /= 10;
        if u == 0 {
            break;
        }
    }
    if neg {
        pos -= 1;
        out[pos] = b'-';
    }
    &out[pos..]
}

/// Formats `n` in decimal without `format!`.
pub(crate) fn format_u64(n: u64, out: &mut [u8; 21]) -> &[u8] {
    let mut pos = out.len();
    let mut u = n;
    loop {
        pos -= 1;
        out[pos] = b'0' + (u % 10) as u8;
        u /= 10;
        if u == 0 {
            break;
        }
    }
    &out[pos..]
}

fn write_blob(buf: &mut BytesMut, prefix: u8, data: &[u8]) {
    write_header(buf, prefix, data.len() as i64);
    buf.reserve(data.len() + 2);
    buf.put_slice(data);
    buf.put_slice(b"\r\n");
}

fn write_line(buf: &mut BytesMut, prefix: u8, data: &[u8]) {
    buf.reserve(data.len() + 3);
    buf.put_u8(prefix);
    buf.put_slice(data);
    buf.put_slice(b"\r\n");
}

fn write_pairs(buf: &mut BytesMut, pairs: &[(Value, Value)]) {
    for (k, v) in pairs {
        encode_value(k, buf);
        encode_value(v, buf);
    }
}

/// Encodes a double the way RESP3 spells it: `inf`, `-inf`, `nan`, or a decimal that parses back exactly.
pub(crate) fn format_double(d: f64) -> std::borrow::Cow<'static, str> {
    if d.is_nan() {
        "nan".into()
    } else if d.is_infinite() {
        if d > 0.0 { "inf" } else { "-inf" }.into()
    } else {
        // `{:?}` is the shortest representation that round-trips (e.g. "1e300", "0.1", "3.0").
        format!("{d:?}").into()
    }
}

pub(crate) fn encode_value(v: &Value, buf: &mut BytesMut) {
    match v {
        Value::Null => buf.put_slice(b"_\r\n"),
        Value::SimpleString(s) => {
            if s.iter().any(|&b| b == b'\r' || b == b'\n') {
                write_blob(buf, b'$', s)
            } else {
                write_line(buf, b'+', s)
            }
        }
        Value::Error(e) => {
            if e.iter().any(|&b| b == b'\r' || b == b'\n') {
                write_blob(buf, b'!', e)
            } else {
                write_line(buf, b'-', e)
            }
        }
        Value::Integer(i) => write_header(buf, b':', *i),
        Value::BulkString(b) => write_blob(buf, b'$', b),
        Value::Array(items) => {
            write_header(buf, b'*', items.len() as i64);
            items.iter().for_each(|i| encode_value(i, buf));
        }
        Value::Double(d) => write_line(buf, b',', format_double(*d).as_bytes()),
        Value::Boolean(b) => buf.put_slice(if *b { b"#t\r\n" } else { b"#f\r\n" }),
        Value::BigNumber(n) => write_line(buf, b'(', n),
        Value::VerbatimString { format, text } => {
            write_header(buf, b'=', text.len() as i64 + 4);
            buf.reserve(text.len() + 6);
            buf.put_slice(format);
            buf.put_u8(b':');
            buf.put_slice(text);
            buf.put_slice(b"\r\n");
        }
        Value::Map(pairs) => {
            write_header(buf, b'%', pairs.len() as i64);
            write_pairs(buf, pairs);
        }
        Value::Set(items) => {
            write_header(buf, b'~', items.len() as i64);
            items.iter().for_each(|i| encode_value(i, buf));
        }
        Value::Attribute { attributes, value } => {
            write_header(buf, b'|', attributes.len() as i64);
            write_pairs(buf, attributes);
            encode_value(value, buf);
        }
        Value::Push(items) => {
            write_header(buf, b'>', items.len() as i64);
            items.iter().for_each(|i| encode_value(i, buf));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_format_like_display() {
        for n in [0i64, 1, -1, 9, 10, 99, 100, 12345, i64::MAX, i64::MIN] {
            let mut d = [0u8; 21];
            assert_eq!(format_i64(n, &mut d), n.to_string().as_bytes());
        }
        for n in [0u64, 7, 10, u64::MAX] {
            let mut d = [0u8; 21];
            assert_eq!(format_u64(n, &mut d), n.to_string().as_bytes());
        }
    }

    #[test]
    fn command_with_binary_args() {
        let mut buf = BytesMut::new();
        encode_command(&mut buf, &[&b"SET"[..], b"a\r\nb", b""]);
        assert_eq!(&buf[..], b"*3\r\n$3\r\nSET\r\n$4\r\na\r\nb\r\n$0\r\n\r\n");
    }

    #[test]
    fn doubles_spelled_the_resp3_way() {
        assert_eq!(format_double(f64::INFINITY), "inf");
        assert_eq!(format_double(f64::NEG_INFINITY), "-inf");
        assert_eq!(format_double(f64::NAN), "nan");
        assert_eq!(format_double(1.5), "1.5");
        assert_eq!(format_double(1e300).parse::<f64>().unwrap(), 1e300);
    }
}
