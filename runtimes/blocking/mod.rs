//! The blocking runtime: std sockets, a pool, pipelines, transactions and pub/sub (filled by its issue).
