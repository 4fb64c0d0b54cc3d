//! Every mode transition of a connection (filled by the Connection issue).
