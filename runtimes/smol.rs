//! The smol runtime (filled by its issue).
