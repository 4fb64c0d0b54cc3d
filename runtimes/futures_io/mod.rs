//! The shared futures-io driver for smol and async-std (filled by its issue).
