//! Connection configuration and URL parsing (filled by the Connection issue).
