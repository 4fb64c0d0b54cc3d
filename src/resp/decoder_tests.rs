//! Decoder tests: a table of cases (each also checked at every proper prefix and byte by byte), hostile
//! input, limits, linear cost, and properties (decode ∘ encode = id, whole = chunked).

use super::*;
use proptest::prelude::*;

fn b(s: &str) -> Value {
    Value::BulkString(Bytes::copy_from_slice(s.as_bytes()))
}
fn simple(s: &str) -> Value {
    Value::SimpleString(Bytes::copy_from_slice(s.as_bytes()))
}

/// Decodes `input` whole and byte by byte, checks every proper prefix is incomplete, returns the value.
fn decode_all_ways(input: &[u8]) -> Value {
    for cut in 0..input.len() {
        let mut buf = BytesMut::from(&input[..cut]);
        assert_eq!(Decoder::new().decode(&mut buf), Ok(None), "prefix {cut} of {input:?} must be incomplete");
    }
    let mut buf = BytesMut::from(input);
    let whole = Decoder::new().decode(&mut buf).unwrap().expect("whole input decodes");
    assert!(buf.is_empty(), "value must consume exactly its bytes");

    let mut d = Decoder::new();
    let mut buf = BytesMut::new();
    let mut got = None;
    for (i, byte) in input.iter().enumerate() {
        buf.extend_from_slice(&[*byte]);
        let r = d.decode(&mut buf).unwrap();
        if i + 1 < input.len() {
            assert_eq!(r, None, "byte-at-a-time: value too early at {i}");
        } else {
            got = r;
        }
    }
    // Compared through Debug so that a NaN double equals itself.
    assert_eq!(format!("{got:?}"), format!("{:?}", Some(&whole)), "byte-at-a-time differs from whole");
    whole
}

macro_rules! cases {
    ($($name:ident: $input:expr => $expected:expr;)*) => {$(
        #[test]
        fn $name() {
            assert_eq!(decode_all_ways($input), $expected);
        }
    )*};
}

cases! {
    simple_string: b"+OK\r\n" => simple("OK");
    empty_simple_string: b"+\r\n" => simple("");
    simple_error: b"-ERR bad thing\r\n" => Value::Error("ERR bad thing".into());
    blob_error: b"!22\r\nSYNTAX invalid\r\nsyntax\r\n" => Value::Error("SYNTAX invalid\r\nsyntax".into());
    integer: b":1000\r\n" => Value::Integer(1000);
    negative_integer: b":-42\r\n" => Value::Integer(-42);
    plus_integer: b":+7\r\n" => Value::Integer(7);
    integer_min: b":-9223372036854775808\r\n" => Value::Integer(i64::MIN);
    integer_max: b":9223372036854775807\r\n" => Value::Integer(i64::MAX);
    bulk: b"$5\r\nhello\r\n" => b("hello");
    bulk_with_crlf: b"$4\r\na\r\nb\r\n" => b("a\r\nb");
    empty_bulk: b"$0\r\n\r\n" => b("");
    null_bulk: b"$-1\r\n" => Value::Null;
    null_array: b"*-1\r\n" => Value::Null;
    resp3_null: b"_\r\n" => Value::Null;
    array: b"*2\r\n$3\r\nfoo\r\n:1\r\n" => Value::Array(vec![b("foo"), Value::Integer(1)]);
    empty_array: b"*0\r\n" => Value::Array(vec![]);
    nested_array: b"*2\r\n*1\r\n+a\r\n*0\r\n" => Value::Array(vec![Value::Array(vec![simple("a")]), Value::Array(vec![])]);
    array_with_nulls: b"*3\r\n$-1\r\n_\r\n*-1\r\n" => Value::Array(vec![Value::Null, Value::Null, Value::Null]);
    double: b",3.25\r\n" => Value::Double(3.25);
    double_exponent: b",1.5e-3\r\n" => Value::Double(1.5e-3);
    double_big_exponent: b",-2E10\r\n" => Value::Double(-2e10);
    double_integer: b",10\r\n" => Value::Double(10.0);
    double_inf: b",inf\r\n" => Value::Double(f64::INFINITY);
    double_neg_inf: b",-inf\r\n" => Value::Double(f64::NEG_INFINITY);
    boolean_true: b"#t\r\n" => Value::Boolean(true);
    boolean_false: b"#f\r\n" => Value::Boolean(false);
    big_number: b"(3492890328409238509324850943850943825024385\r\n" => Value::BigNumber("3492890328409238509324850943850943825024385".into());
    negative_big_number: b"(-12\r\n" => Value::BigNumber("-12".into());
    verbatim: b"=15\r\ntxt:Some string\r\n" => Value::VerbatimString { format: *b"txt", text: "Some string".into() };
    verbatim_empty_text: b"=4\r\nmkd:\r\n" => Value::VerbatimString { format: *b"mkd", text: "".into() };
    map: b"%2\r\n+first\r\n:1\r\n+second\r\n:2\r\n" => Value::Map(vec![(simple("first"), Value::Integer(1)), (simple("second"), Value::Integer(2))]);
    empty_map: b"%0\r\n" => Value::Map(vec![]);
    set: b"~3\r\n+a\r\n:1\r\n#f\r\n" => Value::Set(vec![simple("a"), Value::Integer(1), Value::Boolean(false)]);
    push: b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n" => Value::Push(vec![b("message"), b("ch"), b("hi")]);
    attribute: b"|1\r\n+key-popularity\r\n%1\r\n$1\r\na\r\n,0.19\r\n*1\r\n:2\r\n" => Value::Attribute {
        attributes: vec![(simple("key-popularity"), Value::Map(vec![(b("a"), Value::Double(0.19))]))],
        value: Box::new(Value::Array(vec![Value::Integer(2)])),
    };
    empty_attribute: b"|0\r\n:1\r\n" => Value::Attribute { attributes: vec![], value: Box::new(Value::Integer(1)) };
    attribute_inside_array: b"*2\r\n|1\r\n+ttl\r\n:3\r\n:10\r\n:20\r\n" => Value::Array(vec![
        Value::Attribute { attributes: vec![(simple("ttl"), Value::Integer(3))], value: Box::new(Value::Integer(10)) },
        Value::Integer(20),
    ]);
    streamed_string: b"$?\r\n;4\r\nHell\r\n;5\r\no wor\r\n;1\r\nd\r\n;0\r\n" => b("Hello word");
    streamed_string_empty: b"$?\r\n;0\r\n" => b("");
    streamed_array: b"*?\r\n:1\r\n:2\r\n:3\r\n.\r\n" => Value::Array(vec![Value::Integer(1), Value::Integer(2), Value::Integer(3)]);
    streamed_empty_array: b"*?\r\n.\r\n" => Value::Array(vec![]);
    streamed_map: b"%?\r\n+a\r\n:1\r\n+b\r\n:2\r\n.\r\n" => Value::Map(vec![(simple("a"), Value::Integer(1)), (simple("b"), Value::Integer(2))]);
    streamed_set: b"~?\r\n+a\r\n.\r\n" => Value::Set(vec![simple("a")]);
    streamed_nested: b"*?\r\n*?\r\n$?\r\n;1\r\nx\r\n;0\r\n.\r\n%1\r\n+k\r\n*?\r\n.\r\n.\r\n" => Value::Array(vec![
        Value::Array(vec![b("x")]),
        Value::Map(vec![(simple("k"), Value::Array(vec![]))]),
    ]);
}

#[test]
fn nan_double() {
    match decode_all_ways(b",nan\r\n") {
        Value::Double(d) => assert!(d.is_nan()),
        v => panic!("{v:?}"),
    }
}

#[test]
fn bulk_payload_is_a_slice_of_the_read_buffer() {
    let mut buf = BytesMut::from(&b"*2\r\n$5\r\nhello\r\n$5\r\nworld\r\n"[..]);
    let base = buf.as_ptr() as usize;
    let v = Decoder::new().decode(&mut buf).unwrap().unwrap();
    let Value::Array(items) = v else { panic!() };
    let Value::BulkString(hello) = &items[0] else { panic!() };
    assert_eq!(hello.as_ptr() as usize, base + 8, "payload must point into the original buffer");
}

#[test]
fn consecutive_values_and_leftovers() {
    let mut buf = BytesMut::from(&b"+OK\r\n:5\r\n$3\r\nab"[..]);
    let mut d = Decoder::new();
    assert_eq!(d.decode(&mut buf).unwrap(), Some(simple("OK")));
    assert_eq!(d.decode(&mut buf).unwrap(), Some(Value::Integer(5)));
    assert_eq!(d.decode(&mut buf).unwrap(), None);
    assert_eq!(&buf[..], b"$3\r\nab", "an incomplete value stays in the buffer");
    buf.extend_from_slice(b"c\r\n");
    assert_eq!(d.decode(&mut buf).unwrap(), Some(b("abc")));
    assert!(buf.is_empty());
}

fn decode_err(input: &[u8]) -> DecodeError {
    let mut d = Decoder::new();
    let mut buf = BytesMut::from(input);
    let e = d.decode(&mut buf).expect_err("must be rejected");
    // Sticky: the same error again, even with more (valid) bytes.
    buf.extend_from_slice(b"+OK\r\n");
    assert_eq!(d.decode(&mut buf), Err(e.clone()));
    // Byte by byte reaches the same error.
    let mut d = Decoder::new();
    let mut buf = BytesMut::new();
    for byte in input {
        buf.extend_from_slice(&[*byte]);
        if let Err(e2) = d.decode(&mut buf) {
            assert_eq!(std::mem::discriminant(&e2), std::mem::discriminant(&e));
            return e;
        }
    }
    panic!("byte-at-a-time feeding did not reach the error {e:?}");
}

#[test]
fn hostile_and_malformed_input() {
    let cases: &[(&[u8], &str)] = &[
        (b"x\r\n", "UnknownType"),
        (b"*1\r\n@\r\n", "UnknownType"),
        (b"$-2\r\n", "InvalidLength"),
        (b"*-5\r\n", "InvalidLength"),
        (b"%-1\r\n", "InvalidLength"),
        (b"$1x\r\n", "InvalidLength"),
        (b"$\r\n", "InvalidLength"),
        (b"$+1\r\nA\r\n", "InvalidLength"),
        (b"*99999999999999999999\r\n", "InvalidLength"),
        (b"$9223372036854775808\r\n", "InvalidLength"),
        (b"$1234567890123456789012345", "InvalidLength"),
        (b":12a\r\n", "InvalidScalar"),
        (b":\r\n", "InvalidScalar"),
        (b":9223372036854775808\r\n", "InvalidScalar"),
        (b":-9223372036854775809\r\n", "InvalidScalar"),
        (b",\r\n", "InvalidScalar"),
        (b",infinity\r\n", "InvalidScalar"),
        (b",1.2.3\r\n", "InvalidScalar"),
        (b"#x\r\n", "InvalidScalar"),
        (b"(\r\n", "InvalidScalar"),
        (b"(12a\r\n", "InvalidScalar"),
        (b"_x\r\n", "InvalidScalar"),
        (b"$3\r\nabcd\r\n", "MissingCrlf"),
        (b"$3\r\nabc\n\r", "MissingCrlf"),
        (b"+OK\n", "MissingCrlf"),
        (b"+OK\rX", "MissingCrlf"),
        (b".\r\n", "Unexpected"),
        (b";3\r\nabc\r\n", "Unexpected"),
        (b"$?\r\n+OK\r\n", "Unexpected"),
        (b"%?\r\n+a\r\n.\r\n", "Unexpected"),
        (b"=3\r\ntxt\r\n", "Unexpected"),
        (b"=5\r\ntxt-x\r\n", "Unexpected"),
        (b">?\r\n", "InvalidLength"),
    ];
    for (input, kind) in cases {
        let e = decode_err(input);
        assert!(format!("{e:?}").starts_with(kind), "{input:?}: expected {kind}, got {e:?}");
        assert!(!e.to_string().is_empty());
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let input = b"*1\r\n".repeat(100_000);
    let mut buf = BytesMut::from(&input[..]);
    assert_eq!(Decoder::new().decode(&mut buf), Err(DecodeError::TooDeep { limit: 1024 }));
    // Exactly at the limit is fine.
    let mut ok = b"*1\r\n".repeat(1024);
    ok.extend_from_slice(b":1\r\n");
    let mut buf = BytesMut::from(&ok[..]);
    assert!(Decoder::new().decode(&mut buf).unwrap().is_some());
    // Deep streamed aggregates count too.
    let mut buf = BytesMut::from(&b"*?\r\n".repeat(2000)[..]);
    assert_eq!(Decoder::new().decode(&mut buf), Err(DecodeError::TooDeep { limit: 1024 }));
}

#[test]
fn huge_declared_lengths_allocate_nothing() {
    // 2^31 declared, ten bytes behind: incomplete, and nothing was reserved for it.
    let mut buf = BytesMut::from(&b"$2147483648\r\n0123456789"[..]);
    let cap = buf.capacity();
    let mut d = Decoder::new();
    assert!(matches!(d.decode(&mut buf), Err(DecodeError::TooLong { .. })), "2^31 > 512 MiB default");
    assert_eq!(buf.capacity(), cap);
    let mut d = Decoder::with_limits(Limits { max_bulk_len: usize::MAX, ..Limits::default() });
    let mut buf = BytesMut::from(&b"$2147483648\r\n0123456789"[..]);
    assert_eq!(d.decode(&mut buf), Ok(None));
    assert_eq!(buf.capacity(), cap);
    // 2^32 elements declared with two present: incomplete, no Vec of that size exists.
    let mut buf = BytesMut::from(&b"*4294967296\r\n:1\r\n:2\r\n"[..]);
    assert_eq!(Decoder::new().decode(&mut buf), Ok(None));
    let mut buf = BytesMut::from(&b"*4294967297\r\n"[..]);
    assert!(matches!(Decoder::new().decode(&mut buf), Err(DecodeError::TooManyElements { .. })));
    let mut buf = BytesMut::from(&b"%4294967296\r\n"[..]);
    assert_eq!(Decoder::new().decode(&mut buf), Ok(None), "a map of 2^32 pairs is within the limit");
}

#[test]
fn limits_are_enforced() {
    let limits = Limits { max_depth: 2, max_bulk_len: 4, max_elements: 3 };
    let check = |input: &[u8]| Decoder::with_limits(limits).decode(&mut BytesMut::from(input));
    assert!(check(b"*1\r\n*1\r\n:1\r\n").unwrap().is_some());
    assert_eq!(check(b"*1\r\n*1\r\n*1\r\n:1\r\n"), Err(DecodeError::TooDeep { limit: 2 }));
    assert!(check(b"$4\r\nabcd\r\n").unwrap().is_some());
    assert!(matches!(check(b"$5\r\n"), Err(DecodeError::TooLong { len: 5, .. })));
    assert!(matches!(check(b"+abcdefgh"), Err(DecodeError::TooLong { .. })));
    assert!(matches!(check(b"+abcde\r\n"), Err(DecodeError::TooLong { len: 5, .. })));
    assert!(matches!(check(b"$?\r\n;3\r\nabc\r\n;3\r\nabc\r\n"), Err(DecodeError::TooLong { len: 6, .. })));
    assert!(matches!(check(b"*4\r\n"), Err(DecodeError::TooManyElements { count: 4, .. })));
    assert!(matches!(check(b"*?\r\n:1\r\n:1\r\n:1\r\n:1\r\n"), Err(DecodeError::TooManyElements { .. })));
    assert!(check(b"%3\r\n:1\r\n:1\r\n:2\r\n:1\r\n:3\r\n:1\r\n").unwrap().is_some());
}

/// Found by the `chunked` fuzz target: the search for a line's CR looked past the line limit when the
/// bytes were all there, so an overlong line got `MissingCrlf` (or, for a length, `TooLong` instead of
/// `InvalidLength`) read whole but `TooLong` (`InvalidLength`) read in small pieces.
#[test]
fn overlong_line_verdict_does_not_depend_on_read_sizes() {
    let limits = Limits { max_depth: 4, max_bulk_len: 16, max_elements: 8 };
    let cases: &[(&[u8], &str)] = &[
        (b"-ERR unknown command 'foo'\r\x05", "TooLong"),
        (b"+aaaaaaaaaaaaaaaaaaaa\n", "TooLong"),
        (b"+aaaaaaaaaaaaaaaaaaaa\r\n", "TooLong"),
        (b"$1234567890123456789012345", "InvalidLength"),
        (b"*1234567890123456789012\r\n", "InvalidLength"),
    ];
    for (input, kind) in cases {
        let whole = Decoder::with_limits(limits).decode(&mut BytesMut::from(*input));
        let mut d = Decoder::with_limits(limits);
        let mut buf = BytesMut::new();
        let mut piecewise = Ok(None);
        for byte in *input {
            buf.extend_from_slice(&[*byte]);
            piecewise = d.decode(&mut buf);
            if piecewise.is_err() {
                break;
            }
        }
        for verdict in [&whole, &piecewise] {
            let e = verdict.as_ref().expect_err("overlong line must be rejected");
            assert!(format!("{e:?}").starts_with(kind), "{input:?}: expected {kind}, got {e:?}");
        }
    }
    // A number is bounded by its own 21 bytes, not by the string limit.
    let mut buf = BytesMut::from(&b":-12345678901234567\r\n"[..]);
    assert_eq!(Decoder::with_limits(limits).decode(&mut buf), Ok(Some(Value::Integer(-12345678901234567))));
}

#[test]
fn a_64_mib_bulk_in_4_kib_reads_is_scanned_once() {
    let len = 64 << 20;
    let mut input = format!("*2\r\n${len}\r\n").into_bytes();
    input.resize(input.len() + len, b'x');
    input.extend_from_slice(b"\r\n+after\r\n");
    let mut d = Decoder::new();
    let mut buf = BytesMut::new();
    let mut got = None;
    for chunk in input.chunks(4096) {
        buf.extend_from_slice(chunk);
        if let Some(v) = d.decode(&mut buf).unwrap() {
            got = Some(v);
        }
    }
    let Some(Value::Array(items)) = got else { panic!("no value") };
    assert!(matches!(&items[0], Value::BulkString(p) if p.len() == len));
    // Payload bytes are skipped by length, never examined; headers are examined once each.
    assert!(d.bytes_examined() < 64, "examined {} bytes", d.bytes_examined());
}

#[test]
fn a_long_line_in_small_reads_is_searched_once() {
    let line = vec![b'a'; 1 << 20];
    let mut input = vec![b'+'];
    input.extend_from_slice(&line);
    input.extend_from_slice(b"\r\n");
    let mut d = Decoder::new();
    let mut buf = BytesMut::new();
    for chunk in input.chunks(1000) {
        buf.extend_from_slice(chunk);
        let _ = d.decode(&mut buf).unwrap();
    }
    assert!(buf.is_empty());
    // Each byte searched once.
    assert!(d.bytes_examined() <= input.len() as u64 + 8, "examined {}", d.bytes_examined());
}

#[test]
fn bytes_needed_is_exact_for_a_top_level_string_and_zero_when_unknown() {
    let mut d = Decoder::new();
    let mut buf = BytesMut::from(&b"$1000\r\n"[..]);
    assert_eq!(d.decode(&mut buf), Ok(None));
    assert_eq!(d.bytes_needed(buf.len()), 1002);
    buf.extend_from_slice(&[b'x'; 600]);
    assert_eq!(d.decode(&mut buf), Ok(None));
    assert_eq!(d.bytes_needed(buf.len()), 402);
    buf.extend_from_slice(&[b'x'; 400]);
    buf.extend_from_slice(b"\r\n*2\r\n$5000\r\n");
    assert!(matches!(d.decode(&mut buf), Ok(Some(Value::BulkString(p))) if p.len() == 1000));
    assert_eq!(d.bytes_needed(buf.len()), 0, "nothing started");
    assert_eq!(d.decode(&mut buf), Ok(None));
    assert_eq!(d.bytes_needed(buf.len()), 0, "inside an aggregate the total is unknown");
    let mut bad = BytesMut::from(&b"?\r\n"[..]);
    let mut d = Decoder::new();
    assert!(d.decode(&mut bad).is_err());
    assert_eq!(d.bytes_needed(bad.len()), 0);
}

// ---- properties ----

fn arb_bytes() -> impl Strategy<Value = Bytes> {
    prop::collection::vec(any::<u8>(), 0..24).prop_map(Bytes::from)
}

fn arb_line() -> impl Strategy<Value = Bytes> {
    "[ -~]{0,16}".prop_map(Bytes::from)
}

fn arb_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        arb_line().prop_map(Value::SimpleString),
        arb_bytes().prop_map(Value::Error),
        any::<i64>().prop_map(Value::Integer),
        arb_bytes().prop_map(Value::BulkString),
        any::<f64>().prop_filter("NaN != NaN", |d| !d.is_nan()).prop_map(Value::Double),
        any::<bool>().prop_map(Value::Boolean),
        "-?[1-9][0-9]{0,40}".prop_map(|s| Value::BigNumber(s.into())),
        ("[a-z]{3}", arb_bytes())
            .prop_map(|(f, text)| Value::VerbatimString { format: f.as_bytes().try_into().unwrap(), text }),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((inner.clone(), inner.clone()), 0..4).prop_map(Value::Map),
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Set),
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Push),
            (prop::collection::vec((inner.clone(), inner.clone()), 0..3), inner)
                .prop_map(|(attributes, v)| Value::Attribute { attributes, value: Box::new(v) }),
        ]
    })
}

/// Simple strings holding CR/LF are encoded as bulk strings (the only faithful encoding), and so decode as
/// bulk strings; the same for simple errors, which become blob errors (still `Value::Error`).
fn normalize(v: Value) -> Value {
    match v {
        Value::SimpleString(s) if s.iter().any(|&c| c == b'\r' || c == b'\n') => Value::BulkString(s),
        Value::Array(items) => Value::Array(items.into_iter().map(normalize).collect()),
        Value::Set(items) => Value::Set(items.into_iter().map(normalize).collect()),
        Value::Push(items) => Value::Push(items.into_iter().map(normalize).collect()),
        Value::Map(pairs) => {
            Value::Map(pairs.into_iter().map(|(k, v)| (normalize(k), normalize(v))).collect())
        }
        Value::Attribute { attributes, value } => Value::Attribute {
            attributes: attributes.into_iter().map(|(k, v)| (normalize(k), normalize(v))).collect(),
            value: Box::new(normalize(*value)),
        },
        v => v,
    }
}

proptest! {
    #[test]
    fn decode_of_encode_is_identity(v in arb_value()) {
        let mut buf = BytesMut::new();
        v.encode(&mut buf);
        let decoded = Decoder::new().decode(&mut buf).unwrap();
        prop_assert_eq!(decoded, Some(normalize(v)));
        prop_assert!(buf.is_empty());
    }

    #[test]
    fn whole_equals_chunked(values in prop::collection::vec(arb_value(), 1..6), cuts in prop::collection::vec(1usize..40, 0..30)) {
        let mut input = BytesMut::new();
        for v in &values {
            v.encode(&mut input);
        }
        let mut whole_buf = input.clone();
        let mut whole = Vec::new();
        let mut d = Decoder::new();
        while let Some(v) = d.decode(&mut whole_buf).unwrap() {
            whole.push(v);
        }
        let mut chunked = Vec::new();
        let mut d = Decoder::new();
        let mut buf = BytesMut::new();
        let mut rest = &input[..];
        let mut cuts = cuts.into_iter().cycle();
        while !rest.is_empty() {
            let n = cuts.next().unwrap_or(1).min(rest.len());
            buf.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
            while let Some(v) = d.decode(&mut buf).unwrap() {
                chunked.push(v);
            }
        }
        prop_assert_eq!(whole.len(), values.len());
        prop_assert_eq!(chunked, whole);
    }

    #[test]
    fn bytes_needed_never_overstates(v in arb_value(), cut in 0usize..200) {
        // Whatever the prefix, the hint is at most what the value still lacks: a read sized by it never
        // waits for bytes that are not coming.
        let mut input = BytesMut::new();
        v.encode(&mut input);
        let cut = cut.min(input.len() - 1);
        let mut d = Decoder::new();
        let mut buf = BytesMut::from(&input[..cut]);
        prop_assert_eq!(d.decode(&mut buf).unwrap(), None);
        prop_assert!(d.bytes_needed(buf.len()) <= input.len() - cut);
    }

    #[test]
    fn arbitrary_bytes_never_panic(input in prop::collection::vec(any::<u8>(), 0..256), cut in 0usize..256) {
        let cut = cut.min(input.len());
        let mut d = Decoder::with_limits(Limits { max_depth: 8, max_bulk_len: 1 << 16, max_elements: 1 << 10 });
        let mut buf = BytesMut::from(&input[..cut]);
        let mut out = Vec::new();
        let mut result = loop {
            match d.decode(&mut buf) {
                Ok(Some(v)) => out.push(v),
                other => break other,
            }
        };
        buf.extend_from_slice(&input[cut..]);
        if result.is_ok() {
            result = loop {
                match d.decode(&mut buf) {
                    Ok(Some(v)) => out.push(v),
                    other => break other,
                }
            };
        }
        // The same bytes whole give the same values and the same verdict.
        let mut d2 = Decoder::with_limits(Limits { max_depth: 8, max_bulk_len: 1 << 16, max_elements: 1 << 10 });
        let mut buf2 = BytesMut::from(&input[..]);
        let mut out2 = Vec::new();
        let result2 = loop {
            match d2.decode(&mut buf2) {
                Ok(Some(v)) => out2.push(v),
                other => break other,
            }
        };
        prop_assert_eq!(format!("{out:?}"), format!("{out2:?}"));
        prop_assert_eq!(result.is_err(), result2.is_err());
    }
}
