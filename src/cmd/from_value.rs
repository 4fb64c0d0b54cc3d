//! [`FromValue`]: converting a reply [`Value`] into a Rust type, and its implementations for std types.
//!
//! RESP2 and RESP3 spell the same reply differently (a flat array of pairs or a map; a bulk string `"3.5"`
//! or a double); every conversion here accepts both, so code does not depend on the protocol version.
//! Conversions never panic on what the server sent; a mismatch is an [`Error::Conversion`] naming what was
//! expected and what arrived. This file knows no command names.

use crate::error::{Error, Result};
use crate::resp::Value;
use bytes::Bytes;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::hash::{BuildHasher, Hash};

/// A type a reply can be converted into. This is redwire's form of response callbacks.
///
/// Every conversion:
/// - looks through RESP3 attribute wrappers (`|`), at every level;
/// - turns an error reply into [`Error::Server`] (wrap the type in `Result` to keep errors as values, e.g.
///   `Vec<Result<String>>` for per-command results);
/// - accepts the RESP2 and the RESP3 shape of the same reply: a `HashMap` or a `Vec<(K, V)>` comes from a
///   RESP3 map, from a RESP2 flat array `[k1, v1, k2, v2]`, or from an array of pairs `[[k1, v1], ...]`;
///   numbers come from integers, doubles, big numbers and from bulk strings of digits;
/// - fails with [`Error::Conversion`] saying what was expected and what arrived.
///
/// | Rust type | accepts |
/// |---|---|
/// | `()` | anything but an error |
/// | `String`, `Bytes` | bulk, simple and verbatim strings, integers, doubles, big numbers |
/// | `Vec<u8>` | the same as `Bytes`, or an array of small integers |
/// | integers | integers, bulk/simple strings of digits, whole doubles, big numbers, booleans (0/1); range-checked |
/// | `f64`, `f32` | doubles, integers, strings such as `"3.14"`, `"inf"`, `"-inf"`, `"nan"` |
/// | `bool` | integers (0 is false), booleans, `+OK` (true), null (false), strings `"0"`/`"1"` |
/// | `Option<T>` | null is `None`, anything else is `Some(T)` |
/// | `Vec<T>`, sets | arrays, sets, pushes, maps (flattened to `k, v, ...`), null (empty); for a string or number `T`, nested pairs `[[m, s], ...]` are flattened too |
/// | `HashMap`, `BTreeMap` | maps, flat arrays of pairs, arrays of pairs, null (empty) |
/// | tuples (up to 12) | an array of exactly that many elements; inside a `Vec`, also consecutive elements |
/// | `Result<T>` | anything: an error reply or a failed conversion becomes `Err` inside |
/// | [`Value`] | anything but an error reply, unchanged |
///
/// # Implementing it for your own type
///
/// ```
/// use redwire::resp::Value;
/// use redwire::FromValue;
///
/// /// A GEOPOS answer: a longitude and a latitude.
/// #[derive(Debug, PartialEq)]
/// struct Position {
///     lon: f64,
///     lat: f64,
/// }
///
/// impl FromValue for Position {
///     fn from_value(value: Value) -> redwire::Result<Position> {
///         let (lon, lat) = <(f64, f64)>::from_value(value)?;
///         Ok(Position { lon, lat })
///     }
/// }
///
/// // RESP2 sends bulk strings, RESP3 may send doubles: both convert.
/// let reply = Value::Array(vec![
///     Value::Array(vec![Value::BulkString("13.36".into()), Value::Double(38.11)]),
///     Value::Null,
/// ]);
/// let positions: Vec<Option<Position>> = FromValue::from_value(reply).unwrap();
/// assert_eq!(positions, vec![Some(Position { lon: 13.36, lat: 38.11 }), None]);
///
/// let err = Position::from_value(Value::Integer(3)).unwrap_err();
/// assert_eq!(err.to_string(), "cannot convert reply: expected an array of 2 elements, got integer 3");
/// ```
pub trait FromValue: Sized {
    /// Converts a reply.
    ///
    /// # Errors
    /// [`Error::Server`] when the reply is an error reply; [`Error::Conversion`] when its shape or value does
    /// not fit `Self`.
    fn from_value(value: Value) -> Result<Self>;

    /// How many consecutive elements of a flat sequence one `Self` takes: a tuple's arity, 1 otherwise.
    /// This is how `Vec<(K, V)>` reads a RESP2 flat array of pairs.
    #[doc(hidden)]
    const FLAT_ARITY: usize = 1;

    /// `true` for strings, numbers and booleans: a `Vec` of them flattens nested pairs (RESP3's
    /// `[[member, score], ...]`) into RESP2's flat `[member, score, ...]`.
    #[doc(hidden)]
    const SCALAR: bool = false;

    /// Builds one `Self` from the next `FLAT_ARITY` elements of a flat sequence.
    #[doc(hidden)]
    fn from_flat(items: &mut std::vec::IntoIter<Value>) -> Result<Self> {
        match items.next() {
            Some(v) => Self::from_value(v),
            None => Err(conversion("one more element", "the end of the sequence")),
        }
    }

    /// Converts a reply into `Vec<Self>`; `u8` overrides it so `Vec<u8>` reads a bulk string.
    #[doc(hidden)]
    fn vec_from_value(value: Value) -> Result<Vec<Self>> {
        sequence(value)
    }
}

/// An [`Error::Conversion`].
pub(crate) fn conversion(expected: impl Into<String>, got: impl Into<String>) -> Error {
    Error::Conversion { expected: expected.into(), got: got.into() }
}

/// A short description of a value for error messages: its kind and a preview of its content.
pub(crate) fn describe(v: &Value) -> String {
    fn preview(b: &[u8]) -> String {
        let cut = &b[..b.len().min(40)];
        let text = String::from_utf8_lossy(cut);
        if b.len() > 40 {
            format!("{text:?}... ({} bytes)", b.len())
        } else {
            format!("{text:?}")
        }
    }
    match v {
        Value::Null => "null".into(),
        Value::SimpleString(s) => format!("simple string {}", preview(s)),
        Value::Error(e) => format!("error {}", preview(e)),
        Value::Integer(i) => format!("integer {i}"),
        Value::BulkString(b) => format!("bulk string {}", preview(b)),
        Value::Double(d) => format!("double {d}"),
        Value::Boolean(b) => format!("boolean {b}"),
        Value::BigNumber(n) => format!("big number {}", String::from_utf8_lossy(n)),
        Value::VerbatimString { text, .. } => format!("verbatim string {}", preview(text)),
        Value::Array(a) => format!("array of {} elements", a.len()),
        Value::Map(m) => format!("map of {} entries", m.len()),
        Value::Set(s) => format!("set of {} elements", s.len()),
        Value::Push(p) => format!("push of {} elements", p.len()),
        Value::Attribute { value, .. } => describe(value),
    }
}

/// Strips attributes and turns an error reply into `Err(Error::Server)`.
#[inline]
fn plain(v: Value) -> Result<Value> {
    match v.strip_attributes() {
        Value::Error(e) => Err(Error::Server(e)),
        v => Ok(v),
    }
}

/// The text of a string-like value, if it is one.
fn text_of(v: &Value) -> Option<&Bytes> {
    match v {
        Value::BulkString(b) | Value::SimpleString(b) | Value::BigNumber(b) => Some(b),
        Value::VerbatimString { text, .. } => Some(text),
        _ => None,
    }
}

/// The reply as it arrived (attributes included); only a top-level error reply becomes `Err`, as for every
/// other type. Use `Result<Value>` to keep error replies as values.
impl FromValue for Value {
    fn from_value(value: Value) -> Result<Value> {
        match value {
            Value::Error(e) => Err(Error::Server(e)),
            v => Ok(v),
        }
    }
}

impl FromValue for () {
    fn from_value(value: Value) -> Result<()> {
        plain(value).map(drop)
    }
}

impl<T: FromValue> FromValue for Result<T> {
    fn from_value(value: Value) -> Result<Result<T>> {
        Ok(T::from_value(value))
    }
}

impl<T: FromValue> FromValue for Option<T> {
    const SCALAR: bool = T::SCALAR;

    fn from_value(value: Value) -> Result<Option<T>> {
        match plain(value)? {
            Value::Null => Ok(None),
            v => T::from_value(v).map(Some),
        }
    }
}

/// Formats a double the way Redis 7 replies spell it in RESP2: whole numbers without a fraction.
fn double_text(d: f64) -> String {
    if d.is_finite() && d.fract() == 0.0 && d.abs() < 1e17 {
        format!("{}", d as i64)
    } else {
        crate::resp::encoder::format_double(d).into_owned()
    }
}

impl FromValue for Bytes {
    const SCALAR: bool = true;

    fn from_value(value: Value) -> Result<Bytes> {
        // Moved out, not cloned: a clone and the drop of the original are two atomic operations on the
        // read buffer's reference count, per element of an array.
        // Matched directly (attributes, rare, take one more turn): this runs for every element of an
        // LRANGE or MGET.
        match value {
            Value::BulkString(b) | Value::SimpleString(b) | Value::BigNumber(b) => Ok(b),
            Value::VerbatimString { text, .. } => Ok(text),
            Value::Integer(i) => Ok(Bytes::from(i.to_string())),
            Value::Double(d) => Ok(Bytes::from(double_text(d))),
            Value::Error(e) => Err(Error::Server(e)),
            v @ Value::Attribute { .. } => Bytes::from_value(v.strip_attributes()),
            v => Err(conversion("a string", describe(&v))),
        }
    }
}

impl FromValue for String {
    const SCALAR: bool = true;

    fn from_value(value: Value) -> Result<String> {
        let bytes = Bytes::from_value(value)?;
        match std::str::from_utf8(&bytes) {
            Ok(s) => Ok(s.to_owned()),
            Err(_) => Err(conversion("a UTF-8 string", format!("{} bytes of invalid UTF-8", bytes.len()))),
        }
    }
}

macro_rules! int_from_value {
    ($($t:ty),*) => {$(
        impl FromValue for $t {
            const SCALAR: bool = true;

            fn from_value(value: Value) -> Result<$t> {
                let name = stringify!($t);
                let v = plain(value)?;
                let out_of_range = |v: &Value| conversion(name, format!("{} (out of range)", describe(v)));
                match &v {
                    Value::Integer(i) => <$t>::try_from(*i).map_err(|_| out_of_range(&v)),
                    Value::Boolean(b) => Ok(<$t>::from(*b)),
                    Value::Double(d) if d.fract() == 0.0 => {
                        // A whole double below 2^127 converts to i128 exactly; the range check is then
                        // the integer one (`as` alone would saturate silently).
                        if d.abs() < 1.7e38 {
                            <$t>::try_from(*d as i128).map_err(|_| out_of_range(&v))
                        } else {
                            Err(out_of_range(&v))
                        }
                    }
                    _ => match text_of(&v).and_then(|b| std::str::from_utf8(b).ok()) {
                        // A number that does not fit (`-5` for a u32, 2^64 for an i64) is out of range;
                        // anything else is not a number at all.
                        Some(s) => s.parse::<$t>().map_err(|e| match e.kind() {
                            std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => {
                                out_of_range(&v)
                            }
                            _ if s.parse::<i128>().is_ok() => out_of_range(&v),
                            _ => conversion(name, describe(&v)),
                        }),
                        None => Err(conversion(name, describe(&v))),
                    },
                }
            }
        }
    )*};
}
int_from_value!(i8, i16, i32, i64, i128, isize, u16, u32, u64, u128, usize);

impl FromValue for u8 {
    const SCALAR: bool = true;

    fn from_value(value: Value) -> Result<u8> {
        let v = plain(value)?;
        match &v {
            Value::Integer(i) => {
                u8::try_from(*i).map_err(|_| conversion("u8", format!("{} (out of range)", describe(&v))))
            }
            _ => u16::from_value(v.clone())
                .ok()
                .and_then(|n| u8::try_from(n).ok())
                .ok_or_else(|| conversion("u8", describe(&v))),
        }
    }

    fn vec_from_value(value: Value) -> Result<Vec<u8>> {
        let v = plain(value)?;
        match text_of(&v) {
            Some(text) => Ok(text.to_vec()),
            None => sequence(v),
        }
    }
}

macro_rules! float_from_value {
    ($($t:ty),*) => {$(
        impl FromValue for $t {
            const SCALAR: bool = true;

            fn from_value(value: Value) -> Result<$t> {
                let v = plain(value)?;
                match &v {
                    Value::Double(d) => Ok(*d as $t),
                    Value::Integer(i) => Ok(*i as $t),
                    _ => text_of(&v)
                        .and_then(|b| std::str::from_utf8(b).ok())
                        .and_then(|s| s.parse::<$t>().ok())
                        .ok_or_else(|| conversion(stringify!($t), describe(&v))),
                }
            }
        }
    )*};
}
float_from_value!(f64, f32);

impl FromValue for bool {
    const SCALAR: bool = true;

    fn from_value(value: Value) -> Result<bool> {
        let v = plain(value)?;
        match &v {
            Value::Boolean(b) => Ok(*b),
            Value::Integer(i) => Ok(*i != 0),
            Value::Null => Ok(false),
            Value::SimpleString(s) if &s[..] == b"OK" => Ok(true),
            _ => match text_of(&v).map(|b| &b[..]) {
                Some(b"1") => Ok(true),
                Some(b"0") => Ok(false),
                _ => Err(conversion("a boolean (0 or 1, true or false, OK or null)", describe(&v))),
            },
        }
    }
}

/// The elements of an aggregate (a map flattened to `k, v, ...`), and whether it was a map.
fn elements(v: Value, expected: &dyn Fn() -> String) -> Result<(Vec<Value>, bool)> {
    match plain(v)? {
        Value::Array(items) | Value::Set(items) | Value::Push(items) => Ok((items, false)),
        Value::Map(pairs) => Ok((pairs.into_iter().flat_map(|(k, v)| [k, v]).collect(), true)),
        Value::Null => Ok((Vec::new(), false)),
        v => Err(conversion(expected(), describe(&v))),
    }
}

fn is_aggregate(v: &Value) -> Option<usize> {
    match v {
        Value::Array(a) | Value::Set(a) | Value::Push(a) => Some(a.len()),
        Value::Attribute { value, .. } => is_aggregate(value),
        _ => None,
    }
}

/// Converts any aggregate into a `Vec<T>`. When `T` takes several elements (a tuple), the aggregate may hold
/// nested arrays of that length (RESP3 `[[member, score], ...]`) or be flat (RESP2 `[member, score, ...]`).
fn sequence<T: FromValue>(value: Value) -> Result<Vec<T>> {
    let n = T::FLAT_ARITY;
    let expected = || {
        if n > 1 {
            format!("an array of {n}-element groups")
        } else {
            "an array".to_owned()
        }
    };
    let (mut items, was_map) = elements(value, &expected)?;
    if T::SCALAR && items.iter().any(|i| is_aggregate(i).is_some()) {
        items = items
            .into_iter()
            .flat_map(|i| match i.strip_attributes() {
                Value::Array(inner) | Value::Set(inner) | Value::Push(inner) => inner,
                scalar => vec![scalar],
            })
            .collect();
    }
    let nested = n > 1 && !(was_map && n == 2) && items.iter().all(|i| is_aggregate(i) == Some(n));
    if n <= 1 || nested {
        return items.into_iter().map(T::from_value).collect();
    }
    if items.len() % n != 0 {
        return Err(conversion(expected(), format!("a flat array of {} elements", items.len())));
    }
    let mut out = Vec::with_capacity(items.len() / n);
    let mut iter = items.into_iter();
    while iter.len() > 0 {
        out.push(T::from_flat(&mut iter)?);
    }
    Ok(out)
}

impl<T: FromValue> FromValue for Vec<T> {
    fn from_value(value: Value) -> Result<Vec<T>> {
        T::vec_from_value(value)
    }
}

impl<T: FromValue + Eq + Hash, S: BuildHasher + Default> FromValue for HashSet<T, S> {
    fn from_value(value: Value) -> Result<HashSet<T, S>> {
        Ok(sequence::<T>(value)?.into_iter().collect())
    }
}

impl<T: FromValue + Ord> FromValue for BTreeSet<T> {
    fn from_value(value: Value) -> Result<BTreeSet<T>> {
        Ok(sequence::<T>(value)?.into_iter().collect())
    }
}

impl<K: FromValue + Eq + Hash, V: FromValue, S: BuildHasher + Default> FromValue for HashMap<K, V, S> {
    fn from_value(value: Value) -> Result<HashMap<K, V, S>> {
        Ok(sequence::<(K, V)>(value)?.into_iter().collect())
    }
}

impl<K: FromValue + Ord, V: FromValue> FromValue for BTreeMap<K, V> {
    fn from_value(value: Value) -> Result<BTreeMap<K, V>> {
        Ok(sequence::<(K, V)>(value)?.into_iter().collect())
    }
}

macro_rules! tuple_from_value {
    ($n:literal: $($name:ident)+) => {
        impl<$($name: FromValue),+> FromValue for ($($name,)+) {
            const FLAT_ARITY: usize = $n;

            fn from_value(value: Value) -> Result<Self> {
                let expected = || format!("an array of {} elements", $n);
                let (items, _) = elements(value, &expected)?;
                if items.len() != $n {
                    return Err(conversion(expected(), format!("an array of {} elements", items.len())));
                }
                let mut iter = items.into_iter();
                Self::from_flat(&mut iter)
            }

            fn from_flat(items: &mut std::vec::IntoIter<Value>) -> Result<Self> {
                Ok(($(
                    $name::from_value(items.next().ok_or_else(|| conversion(
                        format!("a group of {} elements", $n), "the end of the sequence"))?)?,
                )+))
            }
        }
    };
}
tuple_from_value!(1: A);
tuple_from_value!(2: A B);
tuple_from_value!(3: A B C);
tuple_from_value!(4: A B C D);
tuple_from_value!(5: A B C D E);
tuple_from_value!(6: A B C D E F);
tuple_from_value!(7: A B C D E F G);
tuple_from_value!(8: A B C D E F G H);
tuple_from_value!(9: A B C D E F G H I);
tuple_from_value!(10: A B C D E F G H I J);
tuple_from_value!(11: A B C D E F G H I J K);
tuple_from_value!(12: A B C D E F G H I J K L);

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Value {
        Value::BulkString(Bytes::copy_from_slice(s.as_bytes()))
    }

    fn conv<T: FromValue>(v: Value) -> Result<T> {
        T::from_value(v)
    }

    fn message<T: FromValue + std::fmt::Debug>(v: Value) -> String {
        conv::<T>(v).unwrap_err().to_string()
    }

    #[test]
    fn strings_and_bytes() {
        assert_eq!(conv::<String>(bulk("héllo")).unwrap(), "héllo");
        assert_eq!(conv::<String>(Value::SimpleString("OK".into())).unwrap(), "OK");
        let verbatim = Value::VerbatimString { format: *b"txt", text: "some text".into() };
        assert_eq!(conv::<String>(verbatim).unwrap(), "some text");
        assert_eq!(conv::<String>(Value::Integer(-4)).unwrap(), "-4");
        assert_eq!(conv::<String>(Value::Double(3.0)).unwrap(), "3");
        assert_eq!(conv::<String>(Value::Double(2.5)).unwrap(), "2.5");
        assert_eq!(conv::<Bytes>(bulk("x")).unwrap(), Bytes::from_static(b"x"));
        assert_eq!(conv::<Vec<u8>>(bulk("ab")).unwrap(), b"ab".to_vec());
        assert_eq!(conv::<Vec<u8>>(Value::Array(vec![Value::Integer(1)])).unwrap(), vec![1u8]);
        assert_eq!(
            message::<String>(Value::BulkString(Bytes::from_static(b"\xff\xfe"))),
            "cannot convert reply: expected a UTF-8 string, got 2 bytes of invalid UTF-8"
        );
        assert_eq!(message::<String>(Value::Null), "cannot convert reply: expected a string, got null");
        assert_eq!(
            message::<String>(Value::Array(vec![])),
            "cannot convert reply: expected a string, got array of 0 elements"
        );
    }

    #[test]
    fn integers_are_range_checked() {
        assert_eq!(conv::<i64>(Value::Integer(-7)).unwrap(), -7);
        assert_eq!(conv::<u8>(Value::Integer(255)).unwrap(), 255);
        assert_eq!(
            message::<u8>(Value::Integer(256)),
            "cannot convert reply: expected u8, got integer 256 (out of range)"
        );
        assert_eq!(
            message::<u32>(Value::Integer(-1)),
            "cannot convert reply: expected u32, got integer -1 (out of range)"
        );
        assert_eq!(conv::<u64>(bulk("18446744073709551615")).unwrap(), u64::MAX);
        assert_eq!(
            message::<i64>(bulk("18446744073709551615")),
            "cannot convert reply: expected i64, got bulk string \"18446744073709551615\" (out of range)"
        );
        assert_eq!(
            message::<i32>(bulk("12a")),
            "cannot convert reply: expected i32, got bulk string \"12a\""
        );
        assert_eq!(
            message::<u32>(bulk("-5")),
            "cannot convert reply: expected u32, got bulk string \"-5\" (out of range)"
        );
        assert_eq!(conv::<i16>(Value::SimpleString("-12".into())).unwrap(), -12);
        assert_eq!(conv::<i64>(Value::Double(3.0)).unwrap(), 3);
        assert_eq!(message::<i64>(Value::Double(3.5)), "cannot convert reply: expected i64, got double 3.5");
        assert_eq!(
            message::<i8>(Value::Double(1e10)),
            "cannot convert reply: expected i8, got double 10000000000 (out of range)"
        );
        assert_eq!(
            conv::<u128>(Value::BigNumber("340282366920938463463374607431768211455".into())).unwrap(),
            u128::MAX
        );
        assert_eq!(conv::<u8>(Value::Boolean(true)).unwrap(), 1);
        assert_eq!(message::<usize>(Value::Null), "cannot convert reply: expected usize, got null");
    }

    #[test]
    fn floats_from_every_spelling() {
        assert_eq!(conv::<f64>(Value::Double(1.25)).unwrap(), 1.25);
        assert_eq!(conv::<f64>(bulk("3.25")).unwrap(), 3.25);
        assert_eq!(conv::<f64>(bulk("inf")).unwrap(), f64::INFINITY);
        assert_eq!(conv::<f64>(bulk("-inf")).unwrap(), f64::NEG_INFINITY);
        assert!(conv::<f64>(bulk("nan")).unwrap().is_nan());
        assert_eq!(conv::<f64>(Value::Integer(2)).unwrap(), 2.0);
        assert_eq!(conv::<f32>(bulk("0.5")).unwrap(), 0.5);
        assert_eq!(
            message::<f64>(bulk("abc")),
            "cannot convert reply: expected f64, got bulk string \"abc\""
        );
    }

    #[test]
    fn booleans() {
        assert!(conv::<bool>(Value::Integer(1)).unwrap());
        assert!(!conv::<bool>(Value::Integer(0)).unwrap());
        assert!(conv::<bool>(Value::Boolean(true)).unwrap());
        assert!(conv::<bool>(Value::SimpleString("OK".into())).unwrap());
        assert!(!conv::<bool>(Value::Null).unwrap());
        assert!(conv::<bool>(bulk("1")).unwrap());
        assert_eq!(
            message::<bool>(bulk("yes")),
            "cannot convert reply: expected a boolean (0 or 1, true or false, OK or null), got bulk string \"yes\""
        );
    }

    #[test]
    fn errors_and_attributes() {
        let err = conv::<String>(Value::Error("WRONGTYPE Operation".into())).unwrap_err();
        assert!(matches!(&err, Error::Server(e) if &e[..] == b"WRONGTYPE Operation"));
        assert_eq!(err.server_code(), Some("WRONGTYPE"));
        assert!(matches!(conv::<()>(Value::Error("ERR x".into())), Err(Error::Server(_))));
        assert!(matches!(conv::<Value>(Value::Error("ERR x".into())), Err(Error::Server(_))));
        let kept: Result<Value> = conv(Value::Error("ERR x".into())).unwrap();
        assert!(matches!(kept, Err(Error::Server(_))));
        let nested = Value::Array(vec![Value::Error("ERR y".into())]);
        assert_eq!(conv::<Value>(nested.clone()).unwrap(), nested);
        let wrapped = Value::Attribute {
            attributes: vec![(bulk("ttl"), Value::Integer(3))],
            value: Box::new(Value::Array(vec![Value::Attribute {
                attributes: vec![],
                value: Box::new(bulk("5")),
            }])),
        };
        assert_eq!(conv::<Vec<i64>>(wrapped).unwrap(), vec![5]);
        let mixed = Value::Array(vec![bulk("a"), Value::Error("ERR no".into())]);
        let results: Vec<Result<String>> = conv(mixed).unwrap();
        assert_eq!(results[0].as_ref().unwrap(), "a");
        assert!(matches!(results[1], Err(Error::Server(_))));
    }

    #[test]
    fn resp2_and_resp3_shapes_agree() {
        let flat = Value::Array(vec![bulk("a"), bulk("1"), bulk("b"), bulk("2")]);
        let map = Value::Map(vec![(bulk("a"), Value::Integer(1)), (bulk("b"), Value::Integer(2))]);
        let nested = Value::Array(vec![
            Value::Array(vec![bulk("a"), Value::Double(1.0)]),
            Value::Array(vec![bulk("b"), Value::Double(2.0)]),
        ]);
        for v in [flat, map, nested] {
            let h: HashMap<String, i64> = conv(v.clone()).unwrap();
            assert_eq!(h, HashMap::from([("a".to_string(), 1), ("b".to_string(), 2)]));
            let b: BTreeMap<String, u8> = conv(v.clone()).unwrap();
            assert_eq!(b.len(), 2);
            let pairs: Vec<(String, f64)> = conv(v).unwrap();
            assert_eq!(pairs, vec![("a".to_string(), 1.0), ("b".to_string(), 2.0)]);
        }
        let set: HashSet<String> = conv(Value::Set(vec![bulk("x"), bulk("y")])).unwrap();
        assert_eq!(set.len(), 2);
        let set: BTreeSet<i64> = conv(Value::Array(vec![bulk("2"), Value::Integer(1)])).unwrap();
        assert_eq!(set.into_iter().collect::<Vec<_>>(), vec![1, 2]);
        let flat_map: Vec<String> = conv(Value::Map(vec![(bulk("k"), bulk("v"))])).unwrap();
        assert_eq!(flat_map, vec!["k", "v"]);
        let resp3_pairs = Value::Array(vec![Value::Array(vec![bulk("m"), Value::Double(1.5)])]);
        assert_eq!(conv::<Vec<String>>(resp3_pairs.clone()).unwrap(), vec!["m", "1.5"]);
        let nested: Vec<Vec<String>> = conv(resp3_pairs).unwrap();
        assert_eq!(nested, vec![vec!["m".to_string(), "1.5".to_string()]]);
        assert_eq!(conv::<Vec<String>>(Value::Null).unwrap(), Vec::<String>::new());
        assert_eq!(
            message::<HashMap<String, String>>(Value::Array(vec![bulk("a")])),
            "cannot convert reply: expected an array of 2-element groups, got a flat array of 1 elements"
        );
    }

    #[test]
    fn tuples_options_and_nesting() {
        let v = Value::Array(vec![bulk("0"), Value::Array(vec![bulk("k1"), bulk("k2")])]);
        let (cursor, keys): (u64, Vec<String>) = conv(v).unwrap();
        assert_eq!((cursor, keys), (0, vec!["k1".to_string(), "k2".to_string()]));
        assert_eq!(conv::<Option<String>>(Value::Null).unwrap(), None);
        assert_eq!(conv::<Option<i64>>(Value::Integer(1)).unwrap(), Some(1));
        assert_eq!(
            conv::<Vec<Option<String>>>(Value::Array(vec![Value::Null, bulk("x")])).unwrap(),
            vec![None, Some("x".into())]
        );
        assert_eq!(
            message::<(i64, i64)>(Value::Array(vec![Value::Integer(1)])),
            "cannot convert reply: expected an array of 2 elements, got an array of 1 elements"
        );
        let triple: Vec<(String, i64, f64)> =
            conv(Value::Array(vec![bulk("a"), Value::Integer(1), bulk("0.5")])).unwrap();
        assert_eq!(triple, vec![("a".to_string(), 1, 0.5)]);
        let xrange =
            Value::Array(vec![Value::Array(vec![bulk("1-0"), Value::Array(vec![bulk("f"), bulk("v")])])]);
        let entries: Vec<(String, HashMap<String, String>)> = conv(xrange).unwrap();
        assert_eq!(entries[0].1["f"], "v");
        assert!(conv::<()>(Value::Null).is_ok());
    }
}
