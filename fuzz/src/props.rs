//! The properties the fuzz targets check, one function per target, so that `cargo test` in this crate replays
//! the committed seeds and regression inputs through exactly what the fuzzer runs. Each panics on a violation.

use crate::{arb, decode_chunked, decode_whole, encode, limit_sets};
use arbitrary::Unstructured;
use bytes::BytesMut;
use redwire::resp::{Decoder, Limits};

/// `decode`: arbitrary bytes, decoded under each limit set, never panic the decoder and never exhaust memory
/// (libFuzzer's -rss_limit_mb / -malloc_limit_mb enforce the bound); an error is sticky, even after more valid
/// bytes arrive; and every value decoded re-encodes to bytes that decode, under the same limits
/// (but for a double's spelling), to itself.
pub fn decode(data: &[u8]) {
    for limits in limit_sets() {
        let mut decoder = Decoder::with_limits(limits);
        let mut buf = BytesMut::from(data);
        let mut values = Vec::new();
        loop {
            let before = buf.len();
            match decoder.decode(&mut buf) {
                Ok(Some(v)) => {
                    assert!(buf.len() < before, "value without consuming bytes: {v:?}");
                    values.push(v);
                }
                Ok(None) => {
                    // Asking again without new bytes changes nothing.
                    assert_eq!(buf.len(), before, "incomplete must leave the buffer alone");
                    assert_eq!(decoder.decode(&mut buf), Ok(None));
                    break;
                }
                Err(e) => {
                    assert_eq!(decoder.decode(&mut buf), Err(e.clone()), "error not sticky");
                    buf.extend_from_slice(b"+OK\r\n");
                    assert_eq!(decoder.decode(&mut buf), Err(e), "error not sticky after more bytes");
                    break;
                }
            }
        }
        // Re-encoding spells a double the shortest way Rust round-trips it, which can be longer than the
        // peer's (`,-1.5e13` comes back as `,-15000000000000.0`), so a line may grow up to 24 bytes.
        let relimits = Limits { max_bulk_len: limits.max_bulk_len.max(24), ..limits };
        for v in values {
            let mut again = encode(&v);
            let back = Decoder::with_limits(relimits).decode(&mut again);
            let back = back.unwrap_or_else(|e| panic!("re-encoding of {v:?} fails to decode: {e}"));
            assert_eq!(format!("{back:?}"), format!("{:?}", Some(&v)), "re-encoding changed the value");
            assert!(again.is_empty(), "re-encoding of {v:?} left {again:?}");
        }
    }
}

/// `chunked`: the same bytes, decoded whole and appended in arbitrary pieces (draining after each), give the
/// same values, the same leftover bytes, and the same error (see [`crate::error_key`]); and the decoder
/// examines at most about three times as many bytes as the input holds, however it was cut.
///
/// Input layout: byte 0 picks the limit set (low 2 bits) and how many cut-size bytes follow (bits 2..5; 0
/// means byte at a time); each cut-size byte `b` gives a piece of `(b & 63) + 1` bytes, times 16 when `b`'s
/// high bit is set; the sizes repeat; the rest is the RESP input.
pub fn chunked(data: &[u8]) {
    let Some((&control, rest)) = data.split_first() else { return };
    let sets = limit_sets();
    let limits = sets[usize::from(control & 3) % sets.len()];
    let (cuts, input) = rest.split_at(usize::from((control >> 2) & 7).min(rest.len()));
    let sizes: Vec<usize> =
        cuts.iter().map(|&b| (usize::from(b & 63) + 1) * if b & 128 != 0 { 16 } else { 1 }).collect();
    let whole = decode_whole(limits, input);
    let (chunked, examined) = decode_chunked(limits, input, &sizes);
    assert_eq!(whole, chunked, "whole vs pieces of {sizes:?} under {limits:?}");
    // Linear cost however the bytes are cut: the scan resumes where it stopped and never re-reads a value
    // from its start. A header may be counted up to three times (searched while incomplete, parsed when it
    // is whole but its payload is not, parsed again once the payload is there), payloads not at all.
    let bound = 3 * input.len() as u64 + 8;
    assert!(examined <= bound, "examined {examined} bytes of {} in pieces of {sizes:?}", input.len());
}

/// `roundtrip`: an arbitrary `Value` (from [`arb::value`]), encoded, decodes back to itself (after
/// [`arb::normalize`]), consuming exactly the encoded bytes; a proper prefix of the encoding is incomplete,
/// and the same decoder finishes the value once the rest arrives.
pub fn roundtrip(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(value) = arb::value(&mut u) else { return };
    let encoded = encode(&value);
    let cut = u.int_in_range(0..=encoded.len() - 1).unwrap_or(0);
    let expected = format!("{:?}", Some(arb::normalize(value)));

    let mut decoder = Decoder::new();
    let mut buf = BytesMut::from(&encoded[..cut]);
    assert_eq!(decoder.decode(&mut buf), Ok(None), "prefix of {cut} bytes of {encoded:?}");
    buf.extend_from_slice(&encoded[cut..]);
    buf.extend_from_slice(b"+next\r\n");
    let got = decoder.decode(&mut buf).unwrap_or_else(|e| panic!("{encoded:?} fails to decode: {e}"));
    assert_eq!(format!("{got:?}"), expected, "decode(encode(v)) != v for {encoded:?}");
    assert_eq!(&buf[..], b"+next\r\n", "must consume exactly the encoded bytes");
}
