//! The sans-IO Connection state machine (filled by the Connection issue).
