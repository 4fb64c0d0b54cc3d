//! [`ToArgs`]: how Rust values become command arguments, and its implementations for std and `bytes` types.
//!
//! Nothing here allocates per argument: numbers are formatted into stack buffers and written straight into
//! the [`Cmd`] body. This file knows no command names.

use super::Cmd;
use bytes::{Bytes, BytesMut};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt::Write as _;

/// Something that can be written as zero, one or more command arguments.
///
/// Strings and byte strings are one argument each; numbers are written in decimal; collections (slices,
/// `Vec`s, arrays, sets, maps, tuples) write each element in turn, so `key [key ...]` parameters take any of
/// them; `None` writes nothing. `Vec<u8>`, `[u8]` and `[u8; N]` are one binary argument, not a list of
/// numbers.
///
/// Floats follow Redis spelling: `inf`, `-inf`, otherwise the shortest decimal that parses back to the
/// same value (`0.1`, `1e300`). NaN is written as `nan`, which every Redis command rejects with an error
/// reply; it is never a silent wrong value.
///
/// `bool` is deliberately not an argument: Redis spells booleans per command (`1`/`0`, `YES`/`NO`,
/// `ON`/`OFF`), so the typed constructors take enums such as [`OnOff`](crate::cmd::OnOff) instead.
///
/// ```
/// use redwire::{Cmd, ToArgs};
///
/// // A user type that is written as two arguments.
/// struct Range(i64, i64);
/// impl ToArgs for Range {
///     fn write_args(&self, cmd: &mut Cmd) {
///         cmd.push_int(self.0);
///         cmd.push_int(self.1);
///     }
/// }
/// let cmd = Cmd::new("ZRANGE").arg("z").arg(Range(0, -1)).arg(Some("WITHSCORES")).arg(None::<&str>);
/// assert_eq!(cmd.args().collect::<Vec<_>>(), [&b"ZRANGE"[..], b"z", b"0", b"-1", b"WITHSCORES"]);
/// let cmd = Cmd::new("DEL").arg(["a", "b"]).arg(vec![b"c".to_vec()]).arg(("d", 2.5, f64::INFINITY));
/// assert_eq!(cmd.args().collect::<Vec<_>>(), [&b"DEL"[..], b"a", b"b", b"c", b"d", b"2.5", b"inf"]);
/// ```
pub trait ToArgs {
    /// Appends this value's arguments to `cmd` (usually through [`Cmd::push_arg`]).
    fn write_args(&self, cmd: &mut Cmd);

    /// Appends a slice of values. The default writes each element; `u8` overrides it so that byte slices
    /// and `Vec<u8>` are one binary argument.
    #[doc(hidden)]
    fn write_slice(items: &[Self], cmd: &mut Cmd)
    where
        Self: Sized,
    {
        for item in items {
            item.write_args(cmd);
        }
    }
}

impl<T: ToArgs + ?Sized> ToArgs for &T {
    fn write_args(&self, cmd: &mut Cmd) {
        (**self).write_args(cmd)
    }
}

impl<T: ToArgs + ?Sized> ToArgs for &mut T {
    fn write_args(&self, cmd: &mut Cmd) {
        (**self).write_args(cmd)
    }
}

impl<T: ToArgs + ?Sized> ToArgs for Box<T> {
    fn write_args(&self, cmd: &mut Cmd) {
        (**self).write_args(cmd)
    }
}

impl ToArgs for str {
    fn write_args(&self, cmd: &mut Cmd) {
        cmd.push_arg(self.as_bytes())
    }
}

impl ToArgs for String {
    fn write_args(&self, cmd: &mut Cmd) {
        cmd.push_arg(self.as_bytes())
    }
}

impl ToArgs for Cow<'_, str> {
    fn write_args(&self, cmd: &mut Cmd) {
        cmd.push_arg(self.as_bytes())
    }
}

impl ToArgs for Cow<'_, [u8]> {
    fn write_args(&self, cmd: &mut Cmd) {
        cmd.push_arg(self)
    }
}

impl ToArgs for Bytes {
    fn write_args(&self, cmd: &mut Cmd) {
        cmd.push_arg(self)
    }
}

impl ToArgs for BytesMut {
    fn write_args(&self, cmd: &mut Cmd) {
        cmd.push_arg(self)
    }
}

impl<T: ToArgs> ToArgs for [T] {
    fn write_args(&self, cmd: &mut Cmd) {
        T::write_slice(self, cmd)
    }
}

impl<T: ToArgs, const N: usize> ToArgs for [T; N] {
    fn write_args(&self, cmd: &mut Cmd) {
        T::write_slice(self, cmd)
    }
}

impl<T: ToArgs> ToArgs for Vec<T> {
    fn write_args(&self, cmd: &mut Cmd) {
        T::write_slice(self, cmd)
    }
}

impl<T: ToArgs> ToArgs for Option<T> {
    fn write_args(&self, cmd: &mut Cmd) {
        if let Some(v) = self {
            v.write_args(cmd)
        }
    }
}

impl<T: ToArgs, S> ToArgs for HashSet<T, S> {
    fn write_args(&self, cmd: &mut Cmd) {
        self.iter().for_each(|v| v.write_args(cmd))
    }
}

impl<T: ToArgs> ToArgs for BTreeSet<T> {
    fn write_args(&self, cmd: &mut Cmd) {
        self.iter().for_each(|v| v.write_args(cmd))
    }
}

/// A map is written as `key value key value ...` (the shape of HSET, MSET, CONFIG SET).
impl<K: ToArgs, V: ToArgs, S> ToArgs for HashMap<K, V, S> {
    fn write_args(&self, cmd: &mut Cmd) {
        for (k, v) in self {
            k.write_args(cmd);
            v.write_args(cmd);
        }
    }
}

/// A map is written as `key value key value ...`, in key order.
impl<K: ToArgs, V: ToArgs> ToArgs for BTreeMap<K, V> {
    fn write_args(&self, cmd: &mut Cmd) {
        for (k, v) in self {
            k.write_args(cmd);
            v.write_args(cmd);
        }
    }
}

impl ToArgs for u8 {
    fn write_args(&self, cmd: &mut Cmd) {
        cmd.push_uint(u64::from(*self))
    }

    fn write_slice(items: &[u8], cmd: &mut Cmd) {
        cmd.push_arg(items)
    }
}

macro_rules! int_args {
    ($($t:ty => $push:ident as $as:ty),*) => {$(
        impl ToArgs for $t {
            fn write_args(&self, cmd: &mut Cmd) {
                cmd.$push(*self as $as)
            }
        }
    )*};
}
int_args!(i8 => push_int as i64, i16 => push_int as i64, i32 => push_int as i64, i64 => push_int as i64,
    isize => push_int as i64, u16 => push_uint as u64, u32 => push_uint as u64,
    u64 => push_uint as u64, usize => push_uint as u64);

/// A fixed stack buffer for `write!`: numbers are formatted without a heap allocation.
struct StackBuf {
    buf: [u8; 48],
    len: usize,
}

impl StackBuf {
    fn new() -> StackBuf {
        StackBuf { buf: [0; 48], len: 0 }
    }
    fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl std::fmt::Write for StackBuf {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        self.buf.get_mut(self.len..end).ok_or(std::fmt::Error)?.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

macro_rules! wide_int_args {
    ($($t:ty),*) => {$(
        impl ToArgs for $t {
            fn write_args(&self, cmd: &mut Cmd) {
                let mut b = StackBuf::new();
                // At most 40 digits and a sign: fits the 48-byte buffer.
                write!(b, "{self}").expect("a 128-bit integer fits 48 bytes");
                cmd.push_arg(b.bytes())
            }
        }
    )*};
}
wide_int_args!(i128, u128);

/// Writes a float the way Redis reads it back: `inf`, `-inf`, `nan`, or the shortest round-trip decimal.
fn push_float(cmd: &mut Cmd, is_nan: bool, is_inf: bool, negative: bool, debug: &dyn std::fmt::Debug) {
    if is_nan {
        cmd.push_arg(b"nan")
    } else if is_inf {
        cmd.push_arg(if negative { b"-inf" } else { b"inf" })
    } else {
        let mut b = StackBuf::new();
        // `{:?}` is the shortest representation that parses back exactly, in exponent form for very large
        // or small magnitudes ("1e300", "5e-324"): at most 24 bytes.
        write!(b, "{debug:?}").expect("a float's shortest form fits 48 bytes");
        cmd.push_arg(b.bytes())
    }
}

impl ToArgs for f64 {
    fn write_args(&self, cmd: &mut Cmd) {
        push_float(cmd, self.is_nan(), self.is_infinite(), *self < 0.0, self)
    }
}

impl ToArgs for f32 {
    fn write_args(&self, cmd: &mut Cmd) {
        push_float(cmd, self.is_nan(), self.is_infinite(), *self < 0.0, self)
    }
}

macro_rules! tuple_args {
    ($($name:ident)+) => {
        impl<$($name: ToArgs),+> ToArgs for ($($name,)+) {
            #[allow(non_snake_case)]
            fn write_args(&self, cmd: &mut Cmd) {
                let ($($name,)+) = self;
                $($name.write_args(cmd);)+
            }
        }
    };
}
tuple_args!(A);
tuple_args!(A B);
tuple_args!(A B C);
tuple_args!(A B C D);
tuple_args!(A B C D E);
tuple_args!(A B C D E F);
tuple_args!(A B C D E F G);
tuple_args!(A B C D E F G H);
tuple_args!(A B C D E F G H I);
tuple_args!(A B C D E F G H I J);
tuple_args!(A B C D E F G H I J K);
tuple_args!(A B C D E F G H I J K L);

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: impl ToArgs) -> Vec<Vec<u8>> {
        Cmd::new("X").arg(a).args().skip(1).map(<[u8]>::to_vec).collect()
    }

    fn strs(list: &[&str]) -> Vec<Vec<u8>> {
        list.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    #[test]
    fn bytes_are_one_argument_lists_are_many() {
        assert_eq!(args(b"a\r\nb"), strs(&["a\r\nb"]));
        assert_eq!(args(vec![1u8, 2]), vec![vec![1u8, 2]]);
        assert_eq!(args(&[1u8, 2][..]), vec![vec![1u8, 2]]);
        assert_eq!(args(Bytes::from_static(b"xy")), strs(&["xy"]));
        assert_eq!(args(["a", "b"]), strs(&["a", "b"]));
        assert_eq!(args(vec![vec![1u8], vec![2u8]]), vec![vec![1u8], vec![2u8]]);
        assert_eq!(args(&[1u16, 2][..]), strs(&["1", "2"]));
        assert_eq!(args(7u8), strs(&["7"]));
    }

    #[test]
    fn numbers_in_redis_spelling() {
        assert_eq!(
            args((-5i8, 300u16, u64::MAX, i64::MIN)),
            strs(&["-5", "300", "18446744073709551615", "-9223372036854775808"])
        );
        assert_eq!(args((u128::MAX, i128::MIN)), strs(&[&u128::MAX.to_string(), &i128::MIN.to_string()]));
        assert_eq!(args((1.5f64, 3.0f64, 0.1f32, 1e300f64)), strs(&["1.5", "3.0", "0.1", "1e300"]));
        assert_eq!(args((f64::INFINITY, f64::NEG_INFINITY, f64::NAN)), strs(&["inf", "-inf", "nan"]));
        assert_eq!(args(-f64::MAX), strs(&["-1.7976931348623157e308"]));
        assert_eq!(args(f64::MIN_POSITIVE / 1e10), strs(&[&format!("{:?}", f64::MIN_POSITIVE / 1e10)]));
        for x in [0.1, 1.0 / 3.0, 123456.789e-30, -2.5e-300] {
            let a = args(x);
            assert_eq!(std::str::from_utf8(&a[0]).unwrap().parse::<f64>().unwrap(), x);
        }
    }

    #[test]
    fn options_tuples_and_maps() {
        assert_eq!(args(None::<&str>), Vec::<Vec<u8>>::new());
        assert_eq!(args(Some(("a", 1))), strs(&["a", "1"]));
        assert_eq!(args(vec![("f1", "v1"), ("f2", "v2")]), strs(&["f1", "v1", "f2", "v2"]));
        let m: BTreeMap<&str, i32> = [("b", 2), ("a", 1)].into_iter().collect();
        assert_eq!(args(&m), strs(&["a", "1", "b", "2"]));
        let s: BTreeSet<String> = ["y".to_string(), "x".to_string()].into_iter().collect();
        assert_eq!(args(s), strs(&["x", "y"]));
        assert_eq!(args((1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, "12")).len(), 12);
        assert_eq!(args(Cow::Borrowed("c")), strs(&["c"]));
        assert_eq!(args(Box::new("b")), strs(&["b"]));
    }
}
