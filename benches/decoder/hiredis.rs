//! hiredis's C reader (libhiredis 0.14, RESP2 only) behind `ReplyParser`, through a minimal FFI block.
//!
//! Compiled only with the `bench-hiredis` feature; this is the only `unsafe` in the project, and it stays
//! in this bench file. What a hiredis user pays is measured: feeding (hiredis copies into its own buffer),
//! building the reply objects (a `malloc` per string and array), walking them, and freeing them.

use super::workloads::{Sum, Tally};
use bytes::BytesMut;
use redwire::resp::ReplyParser;
use std::ffi::{c_char, c_int, c_longlong, c_void, CStr};

/// The leading fields of `redisReader` (hiredis/read.h): enough to read the error text.
#[repr(C)]
struct ReaderHead {
    err: c_int,
    errstr: [c_char; 128],
}

/// `redisReply` (hiredis/hiredis.h, 0.14).
#[repr(C)]
struct Reply {
    kind: c_int,
    integer: c_longlong,
    len: usize,
    str: *mut c_char,
    elements: usize,
    element: *mut *mut Reply,
}

const REDIS_OK: c_int = 0;
const REPLY_STRING: c_int = 1;
const REPLY_ARRAY: c_int = 2;
const REPLY_INTEGER: c_int = 3;
const REPLY_NIL: c_int = 4;
const REPLY_STATUS: c_int = 5;
const REPLY_ERROR: c_int = 6;

#[link(name = "hiredis")]
extern "C" {
    fn redisReaderCreate() -> *mut ReaderHead;
    fn redisReaderFree(r: *mut ReaderHead);
    fn redisReaderFeed(r: *mut ReaderHead, buf: *const c_char, len: usize) -> c_int;
    fn redisReaderGetReply(r: *mut ReaderHead, reply: *mut *mut c_void) -> c_int;
    fn freeReplyObject(reply: *mut c_void);
}

/// One `redisReader`, freed on drop, and the tally of what it parsed.
pub struct Hiredis(*mut ReaderHead, Sum);

impl Hiredis {
    pub fn new() -> Hiredis {
        // SAFETY: no preconditions; a null return is an allocation failure, checked here.
        let r = unsafe { redisReaderCreate() };
        assert!(!r.is_null(), "redisReaderCreate returned NULL");
        Hiredis(r, Sum::default())
    }

    fn error(&self) -> String {
        // SAFETY: `self.0` is a live reader; `errstr` is NUL-terminated by hiredis whenever `err` is set.
        unsafe { CStr::from_ptr((*self.0).errstr.as_ptr()).to_string_lossy().into_owned() }
    }
}

impl Drop for Hiredis {
    fn drop(&mut self) {
        // SAFETY: created by `redisReaderCreate`, freed once.
        unsafe { redisReaderFree(self.0) }
    }
}

/// Walks a reply tree the way a hiredis user reads it.
///
/// # Safety
/// `r` points to a live reply built by hiredis's default functions.
unsafe fn walk(r: *const Reply, s: &mut Sum) {
    let r = &*r;
    match r.kind {
        REPLY_STRING | REPLY_STATUS | REPLY_ERROR => s.leaf(r.len as u64),
        REPLY_INTEGER => s.leaf(r.integer as u64),
        REPLY_NIL => s.leaf(0),
        REPLY_ARRAY => (0..r.elements).for_each(|i| walk(*r.element.add(i), s)),
        other => panic!("hiredis reply type {other}"),
    }
}

impl Tally for Hiredis {
    fn tally(&self) -> Sum {
        self.1
    }
}

impl ReplyParser for Hiredis {
    type Output = ();
    type Error = String;
    /// Moves whatever `buf` holds into hiredis's buffer, then asks for the next reply.
    #[inline]
    fn parse(&mut self, buf: &mut BytesMut) -> Result<Option<()>, String> {
        if !buf.is_empty() {
            // SAFETY: a live reader and a valid slice; hiredis copies the bytes.
            if unsafe { redisReaderFeed(self.0, buf.as_ptr().cast(), buf.len()) } != REDIS_OK {
                return Err(self.error());
            }
            buf.clear();
        }
        let mut reply: *mut c_void = std::ptr::null_mut();
        // SAFETY: a live reader and a valid out-pointer.
        if unsafe { redisReaderGetReply(self.0, &mut reply) } != REDIS_OK {
            return Err(self.error());
        }
        if reply.is_null() {
            return Ok(None);
        }
        self.1.replies += 1;
        // SAFETY: a reply hiredis just built; freed exactly once, after the walk.
        unsafe { walk(reply.cast(), &mut self.1) };
        unsafe { freeReplyObject(reply) };
        Ok(Some(()))
    }
}
