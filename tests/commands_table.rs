//! The generated command table against the running server (`REDWIRE_SERVER_BIN` picks Redis or Valkey):
//! every command and subcommand the server lists in `COMMAND` must be in `redwire::cmd::COMMANDS`, and
//! where the table was generated from this very server version, flags, arity, key positions and argument
//! names must match what the server says now.

mod support;

use redwire::cmd::{self, CommandFlags};
use redwire::resp::Value;
use support::Server;

/// Commands the table deliberately lacks, with the reason. Empty: the generator covers every command of
/// Redis 7.0 and Valkey 9; a module or a newer server adds entries here or a regenerated table.
const NOT_IN_TABLE: &[(&str, &str)] = &[];

fn text(v: &Value) -> String {
    match v {
        Value::BulkString(b) | Value::SimpleString(b) => String::from_utf8_lossy(b).into_owned(),
        Value::VerbatimString { text, .. } => String::from_utf8_lossy(text).into_owned(),
        other => panic!("expected a string, got {other:?}"),
    }
}

fn list(v: &Value) -> &[Value] {
    match v {
        Value::Array(a) | Value::Set(a) => a,
        other => panic!("expected an array, got {other:?}"),
    }
}

fn int(v: &Value) -> i64 {
    match v {
        Value::Integer(i) => *i,
        other => panic!("expected an integer, got {other:?}"),
    }
}

/// The server's label as the generator writes it: `redis 7.0.15`, `valkey 9.1.2`.
fn label(server: &Server) -> String {
    match server.valkey_version() {
        Some((a, b, c)) => format!("valkey {a}.{b}.{c}"),
        None => {
            let (a, b, c) = server.version();
            format!("redis {a}.{b}.{c}")
        }
    }
}

/// (name, arity, flags, first key, last key, step) of one command or subcommand in `COMMAND`.
type Entry = (String, i64, Vec<String>, i64, i64, i64);

/// Every command and subcommand in `COMMAND`.
fn server_commands(entries: &[Value], out: &mut Vec<Entry>) {
    for e in entries {
        let e = list(e);
        let flags = list(&e[2]).iter().map(text).collect();
        out.push((text(&e[0]).to_lowercase(), int(&e[1]), flags, int(&e[3]), int(&e[4]), int(&e[5])));
        if let Some(subs) = e.get(9) {
            server_commands(list(subs), out);
        }
    }
}

#[test]
fn every_server_command_is_in_the_table() {
    let server = Server::start();
    let mut raw = server.raw();
    let mut found = Vec::new();
    server_commands(list(&raw.cmd(&[b"COMMAND"])), &mut found);
    assert!(found.len() > 200, "COMMAND listed only {} commands", found.len());
    let missing: Vec<&str> = found
        .iter()
        .map(|c| c.0.as_str())
        .filter(|n| cmd::lookup(n).is_none() && !NOT_IN_TABLE.iter().any(|(x, _)| x == n))
        .collect();
    assert!(
        missing.is_empty(),
        "{} lists commands the table lacks: {missing:?}; regenerate src/cmd/generated.rs (see examples/generate_commands.rs)",
        label(&server)
    );
}

#[test]
fn table_matches_the_server_it_was_generated_from() {
    let server = Server::start();
    let label = label(&server);
    let mut raw = server.raw();
    let mut found = Vec::new();
    server_commands(list(&raw.cmd(&[b"COMMAND"])), &mut found);
    let newest = cmd::SERVERS.last().expect("the table names its servers");
    let mut compared = 0;
    for (name, arity, flags, first, last, step) in &found {
        let Some(info) = cmd::lookup(name) else { continue };
        // A command blocking on any server is blocking in the table (WAIT blocks on Valkey, not Redis 7.0).
        let blocking = flags.iter().any(|f| f == "blocking");
        assert!(info.is_blocking() || !blocking, "{name}: blocking on {label} but not in the table");
        if !cmd::SERVERS.contains(&label.as_str()) {
            continue; // another version: only the command list and blocking flags are comparable
        }
        assert!(
            info.servers.contains(&label.as_str()),
            "{name}: table does not list {label} among {:?}",
            info.servers
        );
        if label != *newest {
            continue; // the table's details come from the newest server
        }
        let mut want = CommandFlags::default();
        for f in flags {
            want = want | CommandFlags::from_name(f).unwrap_or_else(|| panic!("{name}: unknown flag {f}"));
        }
        let extra_blocking = if blocking { 0 } else { info.flags.0 & CommandFlags::BLOCKING.0 };
        assert_eq!(info.flags.0 & !extra_blocking, want.0, "{name}: flags");
        assert_eq!(i64::from(info.arity), *arity, "{name}: arity");
        assert_eq!(
            (i64::from(info.first_key), i64::from(info.last_key), i64::from(info.key_step)),
            (*first, *last, *step)
        );
        compared += 1;
    }
    if cmd::SERVERS.last() == Some(&label.as_str()) {
        assert!(compared > 200, "compared only {compared} commands in detail");
    }
}

#[test]
fn argument_names_match_command_docs() {
    let server = Server::start();
    let label = label(&server);
    if cmd::SERVERS.last() != Some(&label.as_str()) {
        return; // argument lists come from the newest server the table was generated from
    }
    let mut raw = server.raw();
    raw.cmd(&[b"HELLO", b"3"]);
    let docs = raw.cmd(&[b"COMMAND", b"DOCS", b"SET", b"XADD", b"CLIENT", b"GEOSEARCH"]);
    let Value::Map(docs) = docs else { panic!("COMMAND DOCS under RESP3 is a map, got {docs:?}") };
    let mut checked = 0;
    let mut check = |name: &str, doc: &Value| {
        let Value::Map(fields) = doc else { panic!("{name}: doc is not a map") };
        let args = fields
            .iter()
            .find(|(k, _)| text(k) == "arguments")
            .map(|(_, v)| list(v).to_vec())
            .unwrap_or_default();
        let names: Vec<String> = args
            .iter()
            .map(|a| match a {
                Value::Map(f) => text(&f.iter().find(|(k, _)| text(k) == "name").expect("argument name").1),
                other => panic!("{name}: argument {other:?}"),
            })
            .collect();
        let info = cmd::lookup(name).unwrap_or_else(|| panic!("{name} missing"));
        let ours: Vec<&str> = info.args.iter().map(|a| a.name).collect();
        assert_eq!(ours, names, "{name}: argument names");
        checked += 1;
    };
    for (k, doc) in &docs {
        let name = text(k);
        check(&name, doc);
        if let Value::Map(fields) = doc {
            if let Some((_, Value::Map(subs))) = fields.iter().find(|(k, _)| text(k) == "subcommands") {
                for (sk, sdoc) in subs {
                    check(&text(sk), sdoc);
                }
            }
        }
    }
    assert!(checked > 20, "checked {checked} commands");
}

#[test]
fn exclusions_are_written_and_lookups_work() {
    for name in [
        "select",
        "monitor",
        "sync",
        "psync",
        "subscribe",
        "multi",
        "exec",
        "watch",
        "quit",
        "reset",
        "hello",
        "auth",
        "client|reply",
    ] {
        let info = cmd::lookup(name).unwrap_or_else(|| panic!("{name} missing"));
        assert!(info.excluded.is_some_and(|why| !why.is_empty()), "{name} should be excluded with a reason");
    }
    for name in ["get", "set", "blpop", "xread", "client|list", "config|get"] {
        assert_eq!(cmd::lookup(name).unwrap().excluded, None, "{name}");
    }
    let blpop = cmd::lookup("BLPOP").unwrap();
    assert!(blpop.is_blocking() && blpop.is_write());
    assert!(cmd::lookup("get").unwrap().is_readonly());
    assert_eq!(cmd::lookup("Config Get").unwrap().name, "config|get");
    assert_eq!(cmd::lookup("CONFIG|get").unwrap().container, Some("config"));
    assert!(cmd::lookup("nosuchcommand").is_none());
    assert!(cmd::lookup(&"x".repeat(100)).is_none());
    let xadd = cmd::lookup("xadd").unwrap();
    assert_eq!((xadd.first_key, xadd.last_key, xadd.key_step), (1, 1, 1));
    assert!(xadd.since.starts_with("5."));
    assert!(!xadd.servers.is_empty());
    let trim = xadd.args.iter().find(|a| a.name == "trim").unwrap();
    assert!(trim.optional && trim.kind == cmd::ArgKind::Block && trim.args.len() >= 3);
    assert_eq!(cmd::info_for(&cmd::xinfo_stream("s").full().into()).unwrap().name, "xinfo|stream");
    assert_eq!(cmd::info_for(&cmd::get("k")).unwrap().name, "get");
    assert!(cmd::info_for(&redwire::Cmd::new("NOPE")).is_none());
    let names: Vec<_> = cmd::COMMANDS.iter().map(|c| c.name).collect();
    assert!(names.windows(2).all(|w| w[0] < w[1]), "COMMANDS must stay sorted for lookup");
}
