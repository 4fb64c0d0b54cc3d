//! [`ScanState`]: the sans-IO cursor loop behind every runtime's SCAN, SSCAN, HSCAN and ZSCAN iterators.
//!
//! It builds the next command and consumes its reply; it never sends anything itself. A runtime's
//! iterator is a thin loop: send [`ScanState::next_cmd`], feed the reply to [`ScanState::handle_reply`],
//! yield the items, stop when `next_cmd` returns `None`.

use super::from_value::{conversion, describe};
use super::{Cmd, FromValue};
use crate::error::{Error, Result};
use crate::resp::Value;
use bytes::Bytes;

/// Follows a SCAN-family cursor until the server returns cursor 0.
///
/// ```
/// use redwire::cmd::{self, ScanState};
/// use redwire::resp::Value;
///
/// let mut scan = ScanState::new(cmd::hscan("h", 0).count(100)).unwrap();
/// let first = scan.next_cmd().unwrap();
/// assert_eq!(first.args().collect::<Vec<_>>(), [&b"HSCAN"[..], b"h", b"0", b"COUNT", b"100"]);
///
/// // The server answers with the next cursor and a page of field/value pairs.
/// let page = Value::Array(vec![
///     Value::BulkString("17".into()),
///     Value::Array(vec![Value::BulkString("f".into()), Value::BulkString("v".into())]),
/// ]);
/// let items: Vec<(String, String)> = scan.handle_reply(page).unwrap();
/// assert_eq!(items, [("f".to_string(), "v".to_string())]);
/// assert_eq!(scan.next_cmd().unwrap().arg_at(2), Some(&b"17"[..]));
///
/// let last = Value::Array(vec![Value::BulkString("0".into()), Value::Array(vec![])]);
/// assert!(scan.handle_reply::<(String, String)>(last).unwrap().is_empty());
/// assert!(scan.next_cmd().is_none());
/// ```
#[derive(Debug, Clone)]
pub struct ScanState {
    cmd: Cmd,
    cursor_at: usize,
    cursor: Bytes,
    done: bool,
}

impl ScanState {
    /// Starts iterating with `cmd`, a SCAN, SSCAN, HSCAN or ZSCAN command built with any cursor (its
    /// cursor argument is where iteration starts; pass 0 to scan everything).
    ///
    /// # Errors
    /// [`Error::Usage`] when `cmd` is not one of those four commands.
    pub fn new(cmd: impl Into<Cmd>) -> Result<ScanState> {
        let cmd = cmd.into();
        let cursor_at = match cmd.name().to_ascii_uppercase().as_slice() {
            b"SCAN" => 1,
            b"SSCAN" | b"HSCAN" | b"ZSCAN" => 2,
            other => {
                return Err(Error::Usage(format!(
                    "ScanState needs a SCAN, SSCAN, HSCAN or ZSCAN command, not {}; build one with cmd::scan(0) or cmd::hscan(key, 0)",
                    String::from_utf8_lossy(other)
                )))
            }
        };
        let cursor = match cmd.arg_at(cursor_at) {
            Some(c) => Bytes::copy_from_slice(c),
            None => {
                return Err(Error::Usage("the scan command has no cursor argument; pass 0 to start".into()))
            }
        };
        Ok(ScanState { cmd, cursor_at, cursor, done: false })
    }

    /// The command that fetches the next page, or `None` once the server has returned cursor 0.
    #[must_use]
    pub fn next_cmd(&self) -> Option<Cmd> {
        if self.done {
            return None;
        }
        let mut next = Cmd::empty();
        for (i, arg) in self.cmd.args().enumerate() {
            next.push_arg(if i == self.cursor_at { &self.cursor } else { arg });
        }
        Some(next)
    }

    /// Consumes the reply to the last [`next_cmd`](Self::next_cmd): remembers the new cursor and returns
    /// the page's items (for HSCAN and ZSCAN use a pair type such as `(String, f64)`).
    ///
    /// On error the state is unchanged, so the same page can be fetched again.
    ///
    /// # Errors
    /// [`Error::Server`] for an error reply, [`Error::Conversion`] when the reply is not
    /// `[cursor, [items...]]` or the items do not convert into `T`.
    pub fn handle_reply<T: FromValue>(&mut self, reply: Value) -> Result<Vec<T>> {
        let expected = "a scan reply [cursor, [items...]]";
        let (cursor, items) = match reply.strip_attributes() {
            Value::Error(e) => return Err(Error::Server(e)),
            Value::Array(parts) if parts.len() == 2 => {
                let mut parts = parts.into_iter();
                match (parts.next(), parts.next()) {
                    (Some(c), Some(items)) => (c, items),
                    _ => unreachable!("an array of length 2 has two elements"),
                }
            }
            other => return Err(conversion(expected, describe(&other))),
        };
        let cursor = match cursor.strip_attributes() {
            Value::BulkString(c) | Value::SimpleString(c)
                if !c.is_empty() && c.iter().all(u8::is_ascii_digit) =>
            {
                c
            }
            other => return Err(conversion("a scan cursor (decimal digits)", describe(&other))),
        };
        let items = Vec::<T>::from_value(items)?;
        self.done = &cursor[..] == b"0";
        self.cursor = cursor;
        Ok(items)
    }

    /// `true` once the server has returned cursor 0.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// The cursor the next command will send.
    pub fn cursor(&self) -> &[u8] {
        &self.cursor
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd;

    #[test]
    fn rejects_other_commands_and_bad_replies() {
        let err = ScanState::new(cmd::get("k")).unwrap_err();
        assert!(err.to_string().contains("ScanState needs a SCAN"), "{err}");
        let mut scan = ScanState::new(cmd::scan(0).match_("a*")).unwrap();
        assert_eq!(
            scan.next_cmd().unwrap().args().collect::<Vec<_>>(),
            [&b"SCAN"[..], b"0", b"MATCH", b"a*"]
        );
        let err = scan.handle_reply::<String>(Value::Integer(1)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot convert reply: expected a scan reply [cursor, [items...]], got integer 1"
        );
        let bad_cursor = Value::Array(vec![Value::BulkString("x1".into()), Value::Array(vec![])]);
        assert!(scan.handle_reply::<String>(bad_cursor).is_err());
        let err = scan.handle_reply::<String>(Value::Error("ERR invalid cursor".into())).unwrap_err();
        assert!(matches!(err, Error::Server(_)));
        assert!(!scan.is_done());
        assert_eq!(scan.cursor(), b"0");
    }

    #[test]
    fn sscan_cursor_is_the_third_argument() {
        let mut scan = ScanState::new(cmd::sscan("s", 5)).unwrap();
        assert_eq!(scan.cursor(), b"5");
        let page = Value::Array(vec![
            Value::BulkString("9".into()),
            Value::Set(vec![Value::BulkString("m".into())]),
        ]);
        assert_eq!(scan.handle_reply::<String>(page).unwrap(), ["m"]);
        assert_eq!(scan.next_cmd().unwrap().args().collect::<Vec<_>>(), [&b"SSCAN"[..], b"s", b"9"]);
    }
}
