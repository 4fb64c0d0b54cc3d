//! The load scenario's workload, written once for every runtime: [`Worker`] yields a deterministic
//! stream of operations (single commands, plain and atomic pipelines) whose replies can each be checked
//! against the request that caused it, and [`Report`] adds the outcomes up.
//!
//! Every reply is predictable from what this worker sent before (its keys are its own), so a reply
//! delivered to the wrong request is caught: `ECHO` payloads are unique per operation, `INCR` counters
//! advance by exactly one, `GET` returns this worker's last `SET`. A failed request (a connection killed
//! under it) may or may not have run on the server, so after a failure the checks that depend on it
//! accept either outcome once, then tighten again.

use redwire::resp::Value;
use redwire::{Cmd, Error, Result};
use std::fmt;

/// What one operation sends.
pub enum Op {
    /// One command.
    Single(Cmd),
    /// A pipeline; `atomic` runs it in `MULTI`/`EXEC`.
    Pipeline { cmds: Vec<Cmd>, atomic: bool },
}

/// What one reply should be, slot by slot.
#[derive(Debug, Clone)]
enum Expect {
    Echo(String),
    Ok,
    /// `INCR`: the value after the last known one; `None` when unknown (after a failure).
    Incr,
    /// `GET`: this worker's last value for the key.
    Get(usize),
}

/// One worker's operations and what it knows about its keys.
pub struct Worker {
    id: usize,
    n: u64,
    /// The counter's last known value, and how many failed INCRs may have run since.
    counter: i64,
    unsure_incrs: i64,
    /// Per key: the last value known to be set, and the values of failed SETs since (each may have run).
    values: [Option<String>; 4],
    maybe_values: [Vec<String>; 4],
    pending: Vec<Expect>,
    /// `INCR` slots in the operation in flight (to settle `counter` after a failure).
    pending_incrs: usize,
    pending_sets: Vec<(usize, String)>,
}

impl Worker {
    pub fn new(id: usize) -> Worker {
        Worker {
            id,
            n: 0,
            counter: 0,
            unsure_incrs: 0,
            values: Default::default(),
            maybe_values: Default::default(),
            pending: Vec::new(),
            pending_incrs: 0,
            pending_sets: Vec::new(),
        }
    }

    fn key(&self, k: usize) -> String {
        format!("load:{}:k{k}", self.id)
    }

    fn counter_key(&self) -> String {
        format!("load:{}:ctr", self.id)
    }

    fn echo(&mut self) -> Cmd {
        let text = format!("w{}-op{}", self.id, self.n);
        self.pending.push(Expect::Echo(text.clone()));
        Cmd::new("ECHO").arg(text)
    }

    fn incr(&mut self) -> Cmd {
        self.pending.push(Expect::Incr);
        self.pending_incrs += 1;
        Cmd::new("INCR").arg(self.counter_key())
    }

    fn set(&mut self, k: usize) -> Cmd {
        let value = format!("w{}-op{}-v", self.id, self.n);
        self.pending.push(Expect::Ok);
        self.pending_sets.push((k, value.clone()));
        Cmd::new("SET").arg(self.key(k)).arg(value)
    }

    fn get(&mut self, k: usize) -> Cmd {
        self.pending.push(Expect::Get(k));
        Cmd::new("GET").arg(self.key(k))
    }

    /// The next operation; its reply goes to [`check`](Self::check) before the next call.
    pub fn next_op(&mut self) -> Op {
        self.n += 1;
        self.pending.clear();
        self.pending_incrs = 0;
        self.pending_sets.clear();
        let k = (self.n % 4) as usize;
        match self.n % 6 {
            0 => Op::Single(self.echo()),
            1 => Op::Single(self.incr()),
            2 => Op::Single(self.set(k)),
            3 => Op::Single(self.get(k)),
            4 => {
                let cmds = vec![self.echo(), self.set(k), self.get(k), self.incr(), self.echo()];
                Op::Pipeline { cmds, atomic: false }
            }
            _ => {
                let cmds = vec![self.incr(), self.get(k), self.set(k), self.echo()];
                Op::Pipeline { cmds, atomic: true }
            }
        }
    }

    /// Checks the replies to the last operation (one per command; server errors as `Value::Error`).
    pub fn check(&mut self, replies: Result<Vec<Value>>) -> Outcome {
        let replies = match replies {
            Ok(r) => r,
            Err(e) => return self.failed(e),
        };
        if replies.len() != self.pending.len() {
            return Outcome::Mismatch(format!(
                "worker {} op {}: {} replies for {} commands: {replies:?}",
                self.id,
                self.n,
                replies.len(),
                self.pending.len()
            ));
        }
        let expects = std::mem::take(&mut self.pending);
        // SETs in a pipeline take effect in order, before a GET of the same key later in it.
        let mut sets = std::mem::take(&mut self.pending_sets).into_iter();
        for (slot, (expect, reply)) in expects.iter().zip(&replies).enumerate() {
            let wrong = |why: String| {
                Outcome::Mismatch(format!("worker {} op {} slot {slot}: {why}", self.id, self.n))
            };
            match expect {
                Expect::Echo(text) => {
                    if !matches!(reply, Value::BulkString(b) if b[..] == *text.as_bytes()) {
                        return wrong(format!("ECHO {text} answered {reply:?}"));
                    }
                }
                Expect::Ok => {
                    if !matches!(reply, Value::SimpleString(s) if &s[..] == b"OK") {
                        return wrong(format!("SET answered {reply:?}"));
                    }
                    let (k, value) = sets.next().expect("one pending SET per Ok");
                    self.values[k] = Some(value);
                    self.maybe_values[k].clear();
                }
                Expect::Incr => {
                    let Value::Integer(n) = *reply else { return wrong(format!("INCR answered {reply:?}")) };
                    let (low, high) = (self.counter + 1, self.counter + 1 + self.unsure_incrs);
                    if !(low..=high).contains(&n) {
                        return wrong(format!("INCR answered {n}, expected {low}..={high}"));
                    }
                    self.counter = n;
                    self.unsure_incrs = 0;
                }
                Expect::Get(k) => {
                    let k = *k;
                    let now = match reply {
                        Value::Null => None,
                        Value::BulkString(b) => Some(String::from_utf8_lossy(b).into_owned()),
                        other => return wrong(format!("GET answered {other:?}")),
                    };
                    let known = now == self.values[k];
                    let maybe = now.as_ref().is_some_and(|v| self.maybe_values[k].contains(v));
                    if !known && !maybe {
                        return wrong(format!(
                            "GET {} answered {now:?}, expected {:?} (or one of {:?})",
                            self.key(k),
                            self.values[k],
                            self.maybe_values[k]
                        ));
                    }
                    self.values[k] = now;
                    self.maybe_values[k].clear();
                }
            }
        }
        Outcome::Ok
    }

    /// A request failed: whatever it changed may or may not have happened.
    fn failed(&mut self, error: Error) -> Outcome {
        self.unsure_incrs += self.pending_incrs as i64;
        for (k, value) in std::mem::take(&mut self.pending_sets) {
            // Either the old value stays, or this one replaced it.
            self.maybe_values[k].push(value);
        }
        self.pending.clear();
        Outcome::Failed(error)
    }
}

/// How one checked operation went.
pub enum Outcome {
    Ok,
    /// The request failed (an error, not a wrong reply).
    Failed(Error),
    /// A reply that cannot be the answer to its request.
    Mismatch(String),
}

/// The sum of a load run.
#[derive(Default)]
pub struct Report {
    pub ops: u64,
    pub failures: u64,
    /// The first few failures' messages.
    pub failure_samples: Vec<String>,
    pub mismatches: Vec<String>,
}

impl Report {
    /// Counts one outcome.
    pub fn add(&mut self, outcome: Outcome) {
        self.ops += 1;
        match outcome {
            Outcome::Ok => {}
            Outcome::Failed(e) => {
                self.failures += 1;
                if self.failure_samples.len() < 5 {
                    self.failure_samples.push(e.to_string());
                }
            }
            Outcome::Mismatch(m) => self.mismatches.push(m),
        }
    }

    /// Adds another worker's report.
    pub fn merge(&mut self, other: Report) {
        self.ops += other.ops;
        self.failures += other.failures;
        let room = 5usize.saturating_sub(self.failure_samples.len());
        self.failure_samples.extend(other.failure_samples.into_iter().take(room));
        self.mismatches.extend(other.mismatches);
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} operations, {} failed (e.g. {:?}), {} mismatched (first: {:?})",
            self.ops,
            self.failures,
            self.failure_samples,
            self.mismatches.len(),
            self.mismatches.first()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a correct server answers to `op`, given the keys' values and the counter so far.
    fn answer(
        op: &Op,
        values: &mut std::collections::HashMap<Vec<u8>, Vec<u8>>,
        counter: &mut i64,
    ) -> Vec<Value> {
        let cmds = match op {
            Op::Single(c) => std::slice::from_ref(c),
            Op::Pipeline { cmds, .. } => &cmds[..],
        };
        cmds.iter()
            .map(|c| {
                let args: Vec<&[u8]> = c.args().collect();
                match args[0] {
                    b"ECHO" => Value::BulkString(args[1].to_vec().into()),
                    b"INCR" => {
                        *counter += 1;
                        Value::Integer(*counter)
                    }
                    b"SET" => {
                        values.insert(args[1].to_vec(), args[2].to_vec());
                        Value::SimpleString("OK".into())
                    }
                    b"GET" => {
                        values.get(args[1]).map_or(Value::Null, |v| Value::BulkString(v.clone().into()))
                    }
                    other => panic!("{other:?}"),
                }
            })
            .collect()
    }

    #[test]
    fn the_worker_accepts_right_replies_and_catches_wrong_ones() {
        let (mut values, mut counter) = (Default::default(), 0);
        let mut w = Worker::new(7);
        for _ in 0..60 {
            let op = w.next_op();
            let replies = answer(&op, &mut values, &mut counter);
            assert!(matches!(w.check(Ok(replies)), Outcome::Ok));
        }
        // A failure whose INCR and SET ran on the server anyway: accepted once, then exact again.
        let op = loop {
            let op = w.next_op();
            if matches!(&op, Op::Pipeline { atomic: false, .. }) {
                break op;
            }
            let replies = answer(&op, &mut values, &mut counter);
            assert!(matches!(w.check(Ok(replies)), Outcome::Ok));
        };
        answer(&op, &mut values, &mut counter); // ran, but the client saw the connection die
        assert!(matches!(w.check(Err(Error::Closed("killed".into()))), Outcome::Failed(_)));
        for _ in 0..12 {
            let op = w.next_op();
            let replies = answer(&op, &mut values, &mut counter);
            assert!(matches!(w.check(Ok(replies)), Outcome::Ok));
        }
        // Another request's reply (a shifted stream) is caught in every shape of operation.
        for _ in 0..6 {
            let op = w.next_op();
            let mut replies = answer(&op, &mut values, &mut counter);
            replies.rotate_left(1);
            if replies.len() == 1 {
                replies[0] = Value::BulkString("someone else's".into());
            }
            assert!(matches!(w.check(Ok(replies)), Outcome::Mismatch(_)), "{:?}", w.n);
        }
    }
}
