//! The mio runtime (filled by its issue).
