//! The handshake: which commands set a connection up (HELLO, AUTH, CLIENT SETNAME, CLIENT TRACKING,
//! SELECT) and what each reply means (go on, fall back to RESP2, or fail saying which step and why).
//!
//! Builds commands and judges replies; it never decides when they are sent (that is the connection's FIFO).

use crate::config::{Config, Protocol, Tracking};
use crate::resp::Value;
use crate::Cmd;

/// One handshake command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// `HELLO 3 [AUTH user password] [SETNAME name]`.
    Hello,
    /// `AUTH [user] password` (RESP2).
    Auth,
    /// `CLIENT SETNAME name` (RESP2).
    SetName,
    /// `CLIENT TRACKING ON [REDIRECT id] [PREFIX p ...] [BCAST] [OPTIN] [OPTOUT] [NOLOOP]`.
    Tracking,
    /// `SELECT db`.
    Select,
}

/// What a handshake reply means.
#[derive(Debug)]
pub(crate) enum Verdict {
    /// The step succeeded; `Some` when it switched the protocol.
    Ok(Option<Protocol>),
    /// `HELLO` is unknown to this server (or it does not speak RESP3): redo the handshake in RESP2.
    FallBack,
    /// The step failed: the connection cannot be used. `step` names the command that failed.
    Failed { step: &'static str, message: String },
}

/// The handshake commands for `config`, speaking `protocol`.
pub(crate) fn steps(config: &Config, protocol: Protocol) -> Vec<(Step, Cmd)> {
    let mut steps = Vec::with_capacity(3);
    match protocol {
        Protocol::Resp3 => {
            let mut hello = Cmd::new("HELLO").arg("3");
            if let Some((user, password)) = credentials(config) {
                hello.add_arg("AUTH").add_arg(user.unwrap_or("default")).add_arg(password);
            }
            if let Some(name) = &config.client_name {
                hello.add_arg("SETNAME").add_arg(name);
            }
            steps.push((Step::Hello, hello));
        }
        Protocol::Resp2 => {
            if let Some((user, password)) = credentials(config) {
                let mut auth = Cmd::new("AUTH");
                if let Some(user) = user {
                    auth.add_arg(user);
                }
                steps.push((Step::Auth, auth.arg(password)));
            }
            if let Some(name) = &config.client_name {
                steps.push((Step::SetName, Cmd::new("CLIENT").arg("SETNAME").arg(name)));
            }
        }
    }
    if let Some(tracking) = &config.tracking {
        steps.push((Step::Tracking, tracking_command(tracking)));
    }
    if config.db != 0 {
        steps.push((Step::Select, Cmd::new("SELECT").arg(config.db)));
    }
    steps
}

fn tracking_command(t: &Tracking) -> Cmd {
    let mut cmd = Cmd::new("CLIENT").arg("TRACKING").arg("ON");
    if let Some(id) = t.redirect {
        cmd.add_arg("REDIRECT").add_arg(id);
    }
    for prefix in &t.prefixes {
        cmd.add_arg("PREFIX").add_arg(prefix);
    }
    for (on, word) in [(t.bcast, "BCAST"), (t.optin, "OPTIN"), (t.optout, "OPTOUT"), (t.noloop, "NOLOOP")] {
        if on {
            cmd.add_arg(word);
        }
    }
    cmd
}

/// Why `config` cannot be set up over `protocol` at all, before anything is sent: the step that cannot
/// work and what to do instead.
pub(crate) fn refusal(config: &Config, protocol: Protocol) -> Option<(&'static str, String)> {
    let tracking = config.tracking.as_ref()?;
    (protocol == Protocol::Resp2 && tracking.redirect.is_none()).then(|| {
        (
            "CLIENT TRACKING",
            "over RESP2 the server can only send invalidations to another connection: name one subscribed \
             to __redis__:invalidate with Tracking::redirect(client_id), or use RESP3 (protocol=3) to \
             receive them as pushes on each connection"
                .to_string(),
        )
    })
}

/// The user (if any) and password to authenticate with: none without either; an empty password for a user
/// given alone (an ACL user with `nopass` accepts it, any other refuses it with a clear error, rather
/// than the connection silently running as `default`).
fn credentials(config: &Config) -> Option<(Option<&str>, &str)> {
    match (config.username.as_deref(), config.password.as_deref()) {
        (None, None) => None,
        (user, password) => Some((user, password.unwrap_or(""))),
    }
}

/// Judges the reply to `step`.
pub(crate) fn judge(step: Step, config: &Config, reply: &Value) -> Verdict {
    let Value::Error(text) = reply else {
        return Verdict::Ok((step == Step::Hello).then_some(Protocol::Resp3));
    };
    let text = String::from_utf8_lossy(text).into_owned();
    let code = text.split(' ').next().unwrap_or("");
    if step == Step::Hello && (code == "NOPROTO" || text.to_ascii_lowercase().contains("unknown command")) {
        return Verdict::FallBack;
    }
    let (step_name, why) = match (step, code) {
        (Step::Hello | Step::Auth, "WRONGPASS") => {
            ("AUTH", "wrong user name or password, or the user is disabled".to_string())
        }
        (_, "NOAUTH") if config.password.is_none() => {
            ("AUTH", "the server requires a password and none is configured".to_string())
        }
        (_, "NOAUTH") => ("AUTH", "the server still requires authentication".to_string()),
        (Step::Select, _) if text.contains("out of range") => {
            ("SELECT", format!("database {} does not exist on this server", config.db))
        }
        (Step::Hello, _) => ("HELLO", "the server refused HELLO".to_string()),
        (Step::Auth, _) => ("AUTH", "authentication failed".to_string()),
        (Step::SetName, _) => ("CLIENT SETNAME", "the server refused the client name".to_string()),
        (Step::Tracking, _) => {
            ("CLIENT TRACKING", "the server refused client-side caching with these options".to_string())
        }
        (Step::Select, _) => ("SELECT", format!("could not select database {}", config.db)),
    };
    Verdict::Failed { step: step_name, message: format!("{why} ({text})") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn names(steps: &[(Step, Cmd)]) -> Vec<String> {
        steps.iter().map(|(_, c)| format!("{c:?}")).collect()
    }

    #[test]
    fn resp3_puts_auth_and_setname_inside_hello() {
        let config = Config::default().with_credentials("u", "p").with_client_name("n").with_db(3);
        assert_eq!(
            names(&steps(&config, Protocol::Resp3)),
            [r#"["HELLO", "3", "AUTH", "u", "p", "SETNAME", "n"]"#, r#"["SELECT", "3"]"#]
        );
        let config = Config::default().with_password("p");
        assert_eq!(names(&steps(&config, Protocol::Resp3)), [r#"["HELLO", "3", "AUTH", "default", "p"]"#]);
        assert_eq!(names(&steps(&Config::default(), Protocol::Resp3)), [r#"["HELLO", "3"]"#]);
        let user_only = Config::from_url("redis://robot@h").unwrap();
        assert_eq!(names(&steps(&user_only, Protocol::Resp3)), [r#"["HELLO", "3", "AUTH", "robot", ""]"#]);
        assert_eq!(names(&steps(&user_only, Protocol::Resp2)), [r#"["AUTH", "robot", ""]"#]);
    }

    #[test]
    fn resp2_uses_separate_commands_and_may_need_none() {
        let config = Config::default().with_credentials("u", "p").with_client_name("n").with_db(3);
        assert_eq!(
            names(&steps(&config, Protocol::Resp2)),
            [r#"["AUTH", "u", "p"]"#, r#"["CLIENT", "SETNAME", "n"]"#, r#"["SELECT", "3"]"#]
        );
        assert_eq!(
            names(&steps(&Config::default().with_password("p"), Protocol::Resp2)),
            [r#"["AUTH", "p"]"#]
        );
        assert!(steps(&Config::default(), Protocol::Resp2).is_empty());
    }

    #[test]
    fn tracking_is_a_step_of_its_own_in_both_protocols() {
        let t = Tracking::new().bcast().prefix("a:").prefix("b:").noloop();
        let config = Config::default().with_tracking(t).with_db(1);
        assert_eq!(
            names(&steps(&config, Protocol::Resp3)),
            [
                r#"["HELLO", "3"]"#,
                r#"["CLIENT", "TRACKING", "ON", "PREFIX", "a:", "PREFIX", "b:", "BCAST", "NOLOOP"]"#,
                r#"["SELECT", "1"]"#
            ]
        );
        assert!(refusal(&config, Protocol::Resp3).is_none());
        let (step, why) = refusal(&config, Protocol::Resp2).expect("RESP2 without REDIRECT cannot work");
        assert_eq!(step, "CLIENT TRACKING");
        assert!(why.contains("Tracking::redirect") && why.contains("protocol=3"), "{why}");
        let redirected = Config::default().with_tracking(Tracking::new().redirect(42).optin());
        assert!(refusal(&redirected, Protocol::Resp2).is_none());
        assert_eq!(
            names(&steps(&redirected, Protocol::Resp2)),
            [r#"["CLIENT", "TRACKING", "ON", "REDIRECT", "42", "OPTIN"]"#]
        );
        assert!(refusal(&Config::default(), Protocol::Resp2).is_none());
        let (step, msg) = failure(Step::Tracking, &config, "ERR Prefixes are only allowed in BCAST mode");
        assert_eq!(step, "CLIENT TRACKING");
        assert!(msg.contains("Prefixes"), "{msg}");
    }

    fn error(text: &'static str) -> Value {
        Value::Error(Bytes::from_static(text.as_bytes()))
    }

    fn failure(step: Step, config: &Config, text: &'static str) -> (&'static str, String) {
        match judge(step, config, &error(text)) {
            Verdict::Failed { step, message } => (step, message),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn verdicts() {
        let c = Config::default();
        assert!(matches!(judge(Step::Hello, &c, &Value::Map(vec![])), Verdict::Ok(Some(Protocol::Resp3))));
        assert!(matches!(judge(Step::Select, &c, &Value::SimpleString("OK".into())), Verdict::Ok(None)));
        assert!(matches!(
            judge(Step::Hello, &c, &error("NOPROTO unsupported protocol version")),
            Verdict::FallBack
        ));
        assert!(matches!(
            judge(Step::Hello, &c, &error("ERR unknown command 'HELLO', with args beginning with: ")),
            Verdict::FallBack
        ));
        let (step, msg) =
            failure(Step::Hello, &c, "NOAUTH HELLO must be called with the client already authenticated");
        assert_eq!(step, "AUTH");
        assert!(msg.contains("none is configured") && msg.contains("NOAUTH HELLO"), "{msg}");
        let (step, msg) =
            failure(Step::Auth, &c.clone().with_password("x"), "WRONGPASS invalid username-password pair");
        assert_eq!(step, "AUTH");
        assert!(msg.starts_with("wrong user name or password"), "{msg}");
        let (step, msg) = failure(Step::Select, &c.clone().with_db(99), "ERR DB index is out of range");
        assert_eq!(step, "SELECT");
        assert!(msg.contains("database 99 does not exist"), "{msg}");
        let (step, _) = failure(Step::SetName, &c, "ERR Client names cannot contain spaces");
        assert_eq!(step, "CLIENT SETNAME");
    }
}
