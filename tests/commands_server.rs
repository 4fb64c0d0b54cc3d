//! Server, configuration, connection-introspection, scripting and function commands through the typed
//! constructors, under RESP2 and RESP3; and `Script`'s EVALSHA → NOSCRIPT → EVAL fallback against a real
//! script cache (which also checks redwire's SHA1 against the server's).

mod commands_common;
mod support;

use commands_common::{each_protocol, Client};
use redwire::cmd::{self, ClientType, Commands, Script};
use redwire::resp::Value;
use redwire::FromValue;
use std::collections::HashMap;

#[test]
fn server_and_config() {
    each_protocol(|c| {
        let one: HashMap<String, String> = c.config_get("maxmemory-policy").unwrap();
        assert_eq!(one["maxmemory-policy"], "noeviction");
        let _: () = c.config_set([("hz", "15"), ("maxmemory-samples", "7")]).unwrap();
        let two: HashMap<String, u64> = c.config_get(["hz", "maxmemory-samples"]).unwrap();
        assert_eq!((two["hz"], two["maxmemory-samples"]), (15, 7));
        let err = c.config_set::<()>([("no-such-option", "1")]).unwrap_err();
        assert_eq!(err.server_code(), Some("ERR"), "{err}");
        let _: () = c.config_resetstat().unwrap();
        // INFO and CLIENT LIST are verbatim strings in RESP3, bulk strings in RESP2.
        let info: String = c.ok(cmd::info().section("server"));
        assert!(info.contains("redis_version:"), "{info}");
        assert!(!info.contains("used_memory:"));
        let clients: String = c.client_list().unwrap();
        let id: i64 = c.client_id().unwrap();
        assert!(clients.contains(&format!("id={id} ")), "{clients}");
        let mine: String = c.ok(cmd::client_list().id(id));
        assert_eq!(mine.lines().count(), 1);
        let normal: String = c.ok(cmd::client_list().type_(ClientType::Normal));
        assert!(normal.contains(&format!("id={id} ")));
        let pubsub: String = c.ok(cmd::client_list().type_(ClientType::Pubsub));
        assert_eq!(pubsub.trim(), "");
        assert!(c.client_info::<String>().unwrap().contains(&format!("resp={}", c.protocol)));
        assert_eq!(c.client_getname::<Option<String>>().unwrap(), None);
        assert_eq!(c.ping::<String>().unwrap(), "PONG");
        assert_eq!(c.ok::<String>(cmd::ping().message("hi")), "hi");
        assert_eq!(c.echo::<Vec<u8>>(&b"\x00\xff"[..]).unwrap(), b"\x00\xff");
        let (secs, micros): (u64, u32) = c.time().unwrap();
        assert!(secs > 1_600_000_000 && micros < 1_000_000);
        assert!(c.lastsave::<u64>().unwrap() <= secs);
        assert!(c.command_count::<u64>().unwrap() > 200);
        let keys: Vec<String> = c.ok(cmd::command_getkeys("MSET").arg(["a", "1", "b", "2"]));
        assert_eq!(keys, ["a", "b"]);
        let docs: HashMap<String, HashMap<String, Value>> = c.ok(cmd::command_docs().command_name("get"));
        assert_eq!(String::from_value(docs["get"]["group"].clone()).unwrap(), "string");
        let infos: Vec<(String, i64)> = c
            .ok::<Vec<Vec<Value>>>(cmd::command_info().command_name(["get", "set"]))
            .into_iter()
            .map(|e| (String::from_value(e[0].clone()).unwrap(), i64::from_value(e[1].clone()).unwrap()))
            .collect();
        assert_eq!(infos, [("get".to_string(), 2), ("set".to_string(), -3)]);
        assert_eq!(c.acl_whoami::<String>().unwrap(), "default");
        assert!(c.acl_cat::<Vec<String>>().unwrap().contains(&"string".to_string()));
        let _: () = c.set("k", "v").unwrap();
        assert!(c.memory_usage::<Option<u64>>("k").unwrap().is_some_and(|n| n > 0));
        assert_eq!(c.memory_usage::<Option<u64>>("nope").unwrap(), None);
        let _: () = c.slowlog_reset().unwrap();
        assert!(c.slowlog_len::<u64>().unwrap() <= 1);
        assert!(c.ok::<Vec<Value>>(cmd::slowlog_get().count(5)).len() <= 1);
        // Redis here loads no modules; some Valkey builds load several: each is a name/ver map.
        let modules: Vec<HashMap<String, Value>> = c.module_list().unwrap();
        assert!(modules.iter().all(|m| m.contains_key("name") && m.contains_key("ver")), "{modules:?}");
        assert!(c.latency_latest::<Vec<Value>>().unwrap().is_empty());
        assert_eq!(c.wait::<u64>(0, 0).unwrap(), 0);
        assert_eq!(c.dbsize::<u64>().unwrap(), 1);
        let _: () = c.ok(cmd::flushdb().async_());
        assert_eq!(c.dbsize::<u64>().unwrap(), 0);
        let _: () = c.debug(("SLEEP", 0)).unwrap();
    });
}

/// A NOSCRIPT, then the fallback EVAL, then a cached EVALSHA: the loop every runtime's `invoke` runs.
fn invoke<T: FromValue>(c: &Client, call: &redwire::cmd::ScriptCall<'_>) -> redwire::Result<T> {
    let reply = c.value(call.evalsha());
    match call.fallback(&reply) {
        Some(eval) => T::from_value(c.value(eval)),
        None => T::from_value(reply),
    }
}

#[test]
fn scripts() {
    each_protocol(|c| {
        let _: () = c.ok(cmd::script_flush());
        let script = Script::new("return {KEYS[1], ARGV[1], redis.call('INCRBY', KEYS[1], ARGV[1])}");
        // The server names the script by the same SHA1 redwire computed.
        assert_eq!(c.script_load::<String>(script.source()).unwrap(), script.sha1());
        let _: () = c.ok(cmd::script_flush());
        assert_eq!(c.script_exists::<Vec<bool>>(script.sha1()).unwrap(), [false]);
        let call = script.call().key("counter").arg(5);
        assert!(Script::is_noscript(&c.value(call.evalsha())));
        let first: (String, String, i64) = invoke(c, &call).unwrap();
        assert_eq!(first, ("counter".to_string(), "5".to_string(), 5));
        assert_eq!(c.script_exists::<Vec<bool>>([script.sha1(), "0000"]).unwrap(), [true, false]);
        // Cached now: EVALSHA answers directly.
        let reply = c.value(call.evalsha());
        assert!(call.fallback(&reply).is_none());
        assert_eq!(<(String, String, i64)>::from_value(reply).unwrap().2, 10);
        // Read-only variants refuse writes.
        let ro = Script::new("return redis.call('GET', KEYS[1])");
        let got: i64 = invoke(c, &ro.call().key("counter").read_only()).unwrap();
        assert_eq!(got, 10);
        let writer = script.call().key("counter").arg(1).read_only();
        let err = invoke::<i64>(c, &writer).unwrap_err();
        assert!(err.to_string().contains("Write commands are not allowed"), "{err}");
        // EVAL through the generated constructor, errors from Lua, per-element errors in a table.
        assert_eq!(c.ok::<String>(cmd::eval("return ARGV[1]", 0).arg("x")), "x");
        assert_eq!(c.ok::<i64>(cmd::eval("return redis.call('GET', KEYS[1])", 1).key("counter")), 10);
        assert_eq!(c.ok::<String>(cmd::eval_ro("return KEYS[1]", 1).key("k")), "k");
        let err = c.eval::<Value>("return redis.error_reply('MYERR boom')", 0).unwrap_err();
        assert_eq!(err.server_code(), Some("MYERR"));
        let mixed: Vec<redwire::Result<String>> =
            c.eval("return {'a', redis.error_reply('ERR inner'), 'b'}", 0).unwrap();
        assert_eq!(mixed[0].as_deref().unwrap(), "a");
        assert_eq!(mixed[1].as_ref().unwrap_err().server_code(), Some("ERR"));
        assert_eq!(mixed[2].as_deref().unwrap(), "b");
        let _: () = c.ok(cmd::evalsha(script.sha1(), 1).key("counter").arg(0));
    });
}

#[test]
fn functions() {
    each_protocol(|c| {
        let _: () = c.ok(cmd::function_flush());
        let code = "#!lua name=mylib\n\
            redis.register_function('echo1', function(keys, args) return args[1] end)\n\
            redis.register_function{function_name='peek', callback=function(keys) return redis.call('GET', keys[1]) end, flags={'no-writes'}}";
        assert_eq!(c.function_load::<String>(code).unwrap(), "mylib");
        let err = c.function_load::<String>(code).unwrap_err();
        assert!(err.to_string().contains("already exists"), "{err}");
        assert_eq!(c.ok::<String>(cmd::function_load(code).replace()), "mylib");
        assert_eq!(c.ok::<String>(cmd::fcall("echo1", 0).arg("hi")), "hi");
        let _: () = c.set("k", "v").unwrap();
        assert_eq!(c.ok::<String>(cmd::fcall_ro("peek", 1).key("k")), "v");
        let libs: Vec<HashMap<String, Value>> = c.ok(cmd::function_list().libraryname("my*"));
        assert_eq!(String::from_value(libs[0]["library_name"].clone()).unwrap(), "mylib");
        let funcs: Vec<HashMap<String, Value>> = FromValue::from_value(libs[0]["functions"].clone()).unwrap();
        assert_eq!(funcs.len(), 2);
        let dump: Vec<u8> = c.function_dump().unwrap();
        let _: () = c.function_delete("mylib").unwrap();
        let err = c.run::<Value>(cmd::fcall("echo1", 0)).unwrap_err();
        assert!(err.to_string().contains("Function not found"), "{err}");
        assert!(c.value(cmd::fcall("echo1", 0)).as_error().is_some());
        let _: () = c.function_restore(&dump).unwrap();
        assert_eq!(c.ok::<String>(cmd::fcall("echo1", 0).arg("back")), "back");
        let stats: HashMap<String, Value> = c.function_stats().unwrap();
        assert!(stats.contains_key("engines"));
    });
}
