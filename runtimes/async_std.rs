//! The async-std runtime (filled by its issue).
