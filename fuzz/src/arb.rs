//! Arbitrary [`Value`]s from fuzzer bytes, with bounded depth and width, and the normalisation that says what
//! a value decodes back as. Lives here, not in redwire: the core must not depend on `arbitrary`.

use arbitrary::{Result, Unstructured};
use bytes::Bytes;
use redwire::resp::Value;

/// Deepest nesting generated (the decoder's default limit is far above).
pub const MAX_DEPTH: u32 = 6;
/// Most children of one generated aggregate.
const MAX_WIDTH: usize = 8;

/// An arbitrary value of every RESP2/RESP3 kind, nested at most [`MAX_DEPTH`] deep.
///
/// # Errors
///
/// Only when `u` runs out in a way `arbitrary` reports (it normally yields defaults instead).
pub fn value(u: &mut Unstructured<'_>) -> Result<Value> {
    value_at(u, 0)
}

fn bytes(u: &mut Unstructured<'_>) -> Result<Bytes> {
    Ok(Bytes::copy_from_slice(u.arbitrary::<&[u8]>()?))
}

fn value_at(u: &mut Unstructured<'_>, depth: u32) -> Result<Value> {
    // Leaves only once deep enough, or once the input is used up (so generation always terminates small).
    let kinds = if depth >= MAX_DEPTH || u.is_empty() { 9 } else { 14 };
    Ok(match u.choose_index(kinds)? {
        0 => Value::Null,
        1 => Value::SimpleString(bytes(u)?),
        2 => Value::Error(bytes(u)?),
        3 => Value::Integer(u.arbitrary()?),
        4 => Value::BulkString(bytes(u)?),
        5 => Value::Double(u.arbitrary()?),
        6 => Value::Boolean(u.arbitrary()?),
        7 => {
            // A big number is an optional `-` and at least one decimal digit.
            let neg: bool = u.arbitrary()?;
            let raw: &[u8] = u.arbitrary()?;
            let mut text = Vec::with_capacity(raw.len() + 2);
            if neg {
                text.push(b'-');
            }
            text.push(b'0' + u.int_in_range(0..=9)?);
            text.extend(raw.iter().map(|b| b'0' + b % 10));
            Value::BigNumber(text.into())
        }
        8 => Value::VerbatimString { format: u.arbitrary()?, text: bytes(u)? },
        9 => Value::Array(list(u, depth)?),
        10 => Value::Set(list(u, depth)?),
        11 => Value::Push(list(u, depth)?),
        12 => Value::Map(pairs(u, depth)?),
        _ => Value::Attribute { attributes: pairs(u, depth)?, value: Box::new(value_at(u, depth + 1)?) },
    })
}

fn list(u: &mut Unstructured<'_>, depth: u32) -> Result<Vec<Value>> {
    let n = u.int_in_range(0..=MAX_WIDTH)?;
    (0..n).map(|_| value_at(u, depth + 1)).collect()
}

fn pairs(u: &mut Unstructured<'_>, depth: u32) -> Result<Vec<(Value, Value)>> {
    let n = u.int_in_range(0..=MAX_WIDTH / 2)?;
    (0..n).map(|_| Ok((value_at(u, depth + 1)?, value_at(u, depth + 1)?))).collect()
}

/// What `v` decodes back as after encoding: a simple string holding CR or LF can only be sent as a bulk
/// string, so it comes back as one (a simple error holding them is sent as a blob error, still an `Error`).
pub fn normalize(v: Value) -> Value {
    match v {
        Value::SimpleString(s) if s.iter().any(|&c| c == b'\r' || c == b'\n') => Value::BulkString(s),
        Value::Array(items) => Value::Array(items.into_iter().map(normalize).collect()),
        Value::Set(items) => Value::Set(items.into_iter().map(normalize).collect()),
        Value::Push(items) => Value::Push(items.into_iter().map(normalize).collect()),
        Value::Map(pairs) => Value::Map(normalize_pairs(pairs)),
        Value::Attribute { attributes, value } => {
            Value::Attribute { attributes: normalize_pairs(attributes), value: Box::new(normalize(*value)) }
        }
        v => v,
    }
}

fn normalize_pairs(pairs: Vec<(Value, Value)>) -> Vec<(Value, Value)> {
    pairs.into_iter().map(|(k, v)| (normalize(k), normalize(v))).collect()
}
