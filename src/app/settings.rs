//! Settings from the environment, shared by the Lambda and the CLI (tables, tag keys, defaults).

use chrono_tz::Tz;
use tracing_subscriber::filter::Targets;

use crate::chat::{ChatAccess, ChatSecrets};
use crate::core::config::Defaults;
use crate::core::planner::TagKeys;
use crate::error::{Error, Result};
use crate::notify::{DeliveryPolicy, NotifySettings, WebhookFormat};
use crate::ports::{Account, Settings};

/// A whole number from env `name`, or `default` when unset.
fn number<T: std::str::FromStr>(text: &str, name: &str, unit: &str) -> Result<T> {
    text.parse().map_err(|_| {
        Error::invalid(
            "environment",
            name,
            format!("'{text}' is not a whole number of {unit}"),
        )
    })
}

impl Settings {
    /// Reads the settings through `get` (the process environment in production).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let var = |name: &str, default: &str| {
            get(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| default.to_string())
        };
        let tz_name = var("TIMEZONE", "Asia/Seoul");
        let timezone: Tz = tz_name.parse().map_err(|_| {
            Error::invalid(
                "environment",
                "TIMEZONE",
                format!("'{tz_name}' is not an IANA timezone name"),
            )
        })?;
        let warn_minutes: u32 = number(&var("WARN_MINUTES", "10"), "WARN_MINUTES", "minutes")?;
        let max_wait_seconds: u64 = number(
            &var("MAX_WAIT_SECONDS", "120"),
            "MAX_WAIT_SECONDS",
            "seconds",
        )?;
        let max_attempts: u32 = number(&var("MAX_ATTEMPTS", "3"), "MAX_ATTEMPTS", "attempts")?;
        let call: u64 = number(
            &var("AWS_CALL_TIMEOUT_SECONDS", "20"),
            "AWS_CALL_TIMEOUT_SECONDS",
            "seconds",
        )?;
        let connect: u64 = number(
            &var("AWS_CONNECT_TIMEOUT_SECONDS", "3"),
            "AWS_CONNECT_TIMEOUT_SECONDS",
            "seconds",
        )?;
        let tick = var("TICK_MINUTES", "");
        let tick_minutes: Option<u32> = if tick.is_empty() {
            None
        } else {
            Some(number(&tick, "TICK_MINUTES", "minutes")?)
        };
        let regions = var("REGIONS", "")
            .split(',')
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(String::from)
            .collect();
        let role_name = var("SPOKE_ROLE_NAME", "offhours-spoke");
        let accounts = accounts(&var("ACCOUNTS", ""), &role_name)?;
        Ok(Self {
            defaults: Defaults {
                timezone,
                warn_minutes,
                tick_minutes,
                max_attempts: max_attempts.max(1),
            },
            tags: TagKeys {
                schedule: var("SCHEDULE_TAG_KEY", "ScheduleName"),
                group: var("GROUP_TAG_KEY", "ScheduleGroupName"),
                skip_until: var("SKIP_UNTIL_TAG_KEY", "offhours:skip-until"),
            },
            schedule_table: var("SCHEDULE_TABLE", "Schedule"),
            group_table: var("GROUP_TABLE", "ScheduleServerGroup"),
            exception_table: var("EXCEPTION_TABLE", "ScheduleException"),
            state_table: var("STATE_TABLE", "SchedulerState"),
            max_wait_seconds,
            regions,
            accounts,
            spoke_external_id: get("SPOKE_EXTERNAL_ID")
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty()),
            aws_call_timeout_seconds: call.max(1),
            aws_connect_timeout_seconds: connect.max(1),
        })
    }

    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }
}

/// Env `ACCOUNTS`: a comma list of `self`, 12-digit account ids (the role `role_name`
/// in that account is assumed) and full role ARNs; empty means `self` only. A repeated
/// account is an error: its resources would be seen twice.
fn accounts(text: &str, role_name: &str) -> Result<Vec<Account>> {
    let mut out: Vec<Account> = Vec::new();
    let bad = |entry: &str, why: &str| {
        Error::invalid("environment", "ACCOUNTS", format!("'{entry}' is not {why}"))
    };
    for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let account = if entry == "self" {
            Account::Own
        } else if is_account_id(entry) {
            Account::Role {
                account: entry.to_string(),
                role: format!("arn:aws:iam::{entry}:role/{role_name}"),
            }
        } else {
            // arn:<partition>:iam::<account>:role/<path/name>
            let parts: Vec<&str> = entry.splitn(6, ':').collect();
            match parts.as_slice() {
                ["arn", _, "iam", "", id, rest]
                    if is_account_id(id) && rest.starts_with("role/") && rest.len() > 5 =>
                {
                    Account::Role {
                        account: (*id).to_string(),
                        role: entry.to_string(),
                    }
                }
                _ => {
                    return Err(bad(
                        entry,
                        "`self`, a 12-digit account id or an IAM role ARN",
                    ))
                }
            }
        };
        let twice = out.iter().any(|a| match (a, &account) {
            (Account::Own, Account::Own) => true,
            (Account::Role { account: x, .. }, Account::Role { account: y, .. }) => x == y,
            _ => false,
        });
        if twice {
            return Err(bad(entry, "listed once (its account appears twice)"));
        }
        out.push(account);
    }
    Ok(out)
}

fn is_account_id(text: &str) -> bool {
    text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit())
}

/// The AWS SDK settings every client is built from: the standard environment (region,
/// credentials, `AWS_ENDPOINT_URL`), plus offhours' limits: connect and per-call timeouts
/// (a call that hangs ends, and becomes a gap or a failed action) and adaptive retries
/// with backoff (throttling slows the calls down instead of multiplying them).
pub fn aws_sdk_loader(settings: &Settings) -> aws_config::ConfigLoader {
    let call = std::time::Duration::from_secs(settings.aws_call_timeout_seconds);
    let attempt = call / 3;
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(std::time::Duration::from_secs(
            settings.aws_connect_timeout_seconds,
        ))
        .operation_attempt_timeout(attempt.max(std::time::Duration::from_secs(1)))
        .operation_timeout(call)
        .build();
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .timeout_config(timeouts)
        .retry_config(aws_config::retry::RetryConfig::adaptive().with_max_attempts(3))
}

/// A non-empty, trimmed value of env `name`.
fn value(get: &impl Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    get(name)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// Env `EVENT_BUS`: the EventBridge bus (a name or an ARN) that action events are
/// published to; unset or empty: no events.
pub fn event_bus(get: impl Fn(&str) -> Option<String>) -> Option<String> {
    value(&get, "EVENT_BUS")
}

/// Env `CHAT_COMMAND` (default `/offhours`): the command prefix shown in chat, read once
/// here for both the notifier and the command endpoint.
fn chat_command(get: &impl Fn(&str) -> Option<String>) -> String {
    value(get, "CHAT_COMMAND").unwrap_or_else(|| "/offhours".into())
}

/// A comma list (`U024BE7LH, mina@example.com`): trimmed, empty items dropped.
fn list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(String::from)
        .collect()
}

/// The log filter: `RUST_LOG` in the `target=level,level` form (a bare level is the
/// default for every target), or `default` when unset. A value that does not parse is
/// returned as the error's text, so the caller can log it once logging is up.
pub fn log_filter(default: &str) -> (Targets, Option<String>) {
    log_filter_from(std::env::var("RUST_LOG").ok(), default)
}

fn log_filter_from(value: Option<String>, default: &str) -> (Targets, Option<String>) {
    let fallback = || default.parse().unwrap_or_else(|_| Targets::new());
    // `Targets` reads an empty item (`info,`) as the level ERROR and keeps the spaces of
    // `info, offhours=debug` in the target: both are dropped first, as EnvFilter did.
    let directives = value
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .collect::<Vec<_>>()
        .join(",");
    match Some(directives.as_str()).filter(|d| !d.is_empty()) {
        None => (fallback(), None),
        Some(text) => match text.parse::<Targets>() {
            Ok(targets) => (targets, None),
            Err(e) => (
                fallback(),
                Some(format!(
                    "RUST_LOG={text:?} is not understood ({e}); logging at {default}"
                )),
            ),
        },
    }
}

impl ChatSecrets {
    /// Reads `SLACK_SIGNING_SECRET`, `JANDI_TOKEN`, `CHAT_COMMAND`, `CHAT_WRITERS` and
    /// `CHAT_ADMINS` through `get`. An empty `CHAT_WRITERS` is the same as unset (everyone
    /// verified may write), which keeps an empty template parameter harmless.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Self {
        let var = |name: &str| value(&get, name);
        Self {
            slack_signing_secret: var("SLACK_SIGNING_SECRET"),
            jandi_token: var("JANDI_TOKEN"),
            command: chat_command(&get),
            access: ChatAccess {
                writers: var("CHAT_WRITERS")
                    .map(|w| list(&w))
                    .filter(|w| !w.is_empty()),
                admins: var("CHAT_ADMINS").map(|a| list(&a)).unwrap_or_default(),
            },
        }
    }

    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }
}

/// Settings that are secrets. Each may be given as a plain value (env `NAME`, for local
/// runs) or as the name of an SSM SecureString parameter (env `NAME_PARAM`, which wins),
/// read once at cold start and kept for the life of the process.
pub const SECRET_SETTINGS: [&str; 3] = ["WEBHOOK_URL", "SLACK_SIGNING_SECRET", "JANDI_TOKEN"];

/// A lookup of environment variables by name.
type Lookup = Box<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// The environment with its secrets resolved: what the settings are read through.
pub struct Environment {
    get: Lookup,
    /// Secrets read from SSM; `None` where the parameter could not be read.
    from_ssm: std::collections::HashMap<&'static str, Option<String>>,
}

impl Environment {
    /// The process environment, secrets named by `NAME_PARAM` read from SSM with `sdk`.
    pub async fn load(sdk: &aws_config::SdkConfig) -> Self {
        Self::resolve(|name| std::env::var(name).ok(), sdk).await
    }

    /// Resolves the secrets of the environment `get`. A parameter that cannot be read is
    /// logged (its name and the error code, never a value) and counts as unset: a chat
    /// platform without its secret refuses every request (401), and
    /// [`Environment::check_webhook`] turns a missing webhook URL into an error.
    pub async fn resolve(
        get: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
        sdk: &aws_config::SdkConfig,
    ) -> Self {
        let mut from_ssm = std::collections::HashMap::new();
        let mut ssm = None;
        for name in SECRET_SETTINGS {
            let Some(parameter) = value(&get, &format!("{name}_PARAM")) else {
                continue;
            };
            let client = ssm.get_or_insert_with(|| crate::aws::secrets::SsmSecrets::new(sdk));
            let read = match client.get(&parameter).await {
                Ok(secret) => Some(secret.trim().to_string()).filter(|s| !s.is_empty()),
                Err(e) => {
                    tracing::error!(setting = name, %parameter, error = %e, "cannot read the secret's SSM parameter; the setting counts as unset");
                    None
                }
            };
            from_ssm.insert(name, read);
        }
        Self {
            get: Box::new(get),
            from_ssm,
        }
    }

    /// The value of `name`: from SSM when `NAME_PARAM` is set, else from the environment.
    pub fn get(&self, name: &str) -> Option<String> {
        match self.from_ssm.get(name) {
            Some(resolved) => resolved.clone(),
            None => (self.get)(name),
        }
    }

    /// An error when `WEBHOOK_URL_PARAM` is set but could not be read: the scheduler must
    /// not run silently without its warnings (the failed cold start raises the alarm).
    pub fn check_webhook(&self) -> Result<()> {
        match self.from_ssm.get("WEBHOOK_URL") {
            Some(None) => Err(Error::invalid(
                "environment",
                "WEBHOOK_URL_PARAM",
                "the SSM parameter could not be read (see the log)",
            )),
            _ => Ok(()),
        }
    }
}

impl NotifySettings {
    /// Reads `WEBHOOK_URL`, `WEBHOOK_FORMAT` and `CHAT_COMMAND` through `get`.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let var = |name: &str| value(&get, name);
        let format = match var("WEBHOOK_FORMAT") {
            None => None,
            Some(f) if f.eq_ignore_ascii_case("auto") => None,
            Some(f) => Some(WebhookFormat::parse(&f).ok_or_else(|| {
                Error::invalid(
                    "environment",
                    "WEBHOOK_FORMAT",
                    format!(
                        "'{f}' is not one of jandi, slack, teams, discord, google_chat, generic"
                    ),
                )
            })?),
        };
        let command = chat_command(&get);
        Ok(Self {
            webhook_url: var("WEBHOOK_URL"),
            format,
            command,
            policy: DeliveryPolicy::default(),
            ..NotifySettings::default()
        })
    }

    pub fn from_env() -> Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_filter_reads_levels_and_targets_and_falls_back_on_nonsense() {
        use tracing::Level;
        let enabled = |t: &Targets, target: &str, level: Level| t.would_enable(target, &level);

        let (unset, note) = log_filter_from(None, "warn");
        assert!(note.is_none());
        assert!(enabled(&unset, "offhours::app", Level::WARN));
        assert!(!enabled(&unset, "offhours::app", Level::INFO));

        let (mixed, note) = log_filter_from(Some("info,offhours=trace".into()), "warn");
        assert!(note.is_none());
        assert!(enabled(&mixed, "offhours::planner", Level::TRACE));
        assert!(enabled(&mixed, "aws_smithy_runtime", Level::INFO));
        assert!(!enabled(&mixed, "aws_smithy_runtime", Level::DEBUG));

        // A trailing comma or a space after one changes nothing (`Targets` alone would read
        // the empty item as ERROR, and the space as part of the target).
        let (spaced, note) = log_filter_from(Some(" info, offhours=debug,".into()), "warn");
        assert!(note.is_none());
        assert!(enabled(&spaced, "aws_config", Level::INFO));
        assert!(enabled(&spaced, "offhours::planner", Level::DEBUG));
        assert!(!enabled(&spaced, "aws_config", Level::DEBUG));
        let (blank, note) = log_filter_from(Some(" , ".into()), "warn");
        assert!(note.is_none());
        assert!(enabled(&blank, "offhours", Level::WARN));
        assert!(!enabled(&blank, "offhours", Level::INFO));

        let (bad, note) = log_filter_from(Some("offhours=loud".into()), "info");
        assert!(note.is_some_and(|n| n.contains("offhours=loud") && n.contains("info")));
        assert!(enabled(&bad, "offhours", Level::INFO));
        assert!(!enabled(&bad, "offhours", Level::DEBUG));
    }

    #[test]
    fn accounts_are_self_ids_and_role_arns() {
        let with = |accounts: &str, role: Option<&str>| {
            let (accounts, role) = (accounts.to_string(), role.map(String::from));
            Settings::from_lookup(move |k| match k {
                "ACCOUNTS" => Some(accounts.clone()),
                "SPOKE_ROLE_NAME" => role.clone(),
                "SPOKE_EXTERNAL_ID" => Some(" ext-1 ".into()),
                _ => None,
            })
        };
        let role = |account: &str, arn: &str| Account::Role {
            account: account.into(),
            role: arn.into(),
        };
        let s = with("", None).expect("unset");
        assert!(s.accounts.is_empty());
        assert_eq!(s.spoke_external_id.as_deref(), Some("ext-1"));
        let s = with(
            " self, 111111111111 ,arn:aws-cn:iam::222222222222:role/team/scheduler",
            None,
        )
        .expect("three");
        assert_eq!(
            s.accounts,
            [
                Account::Own,
                role(
                    "111111111111",
                    "arn:aws:iam::111111111111:role/offhours-spoke"
                ),
                role(
                    "222222222222",
                    "arn:aws-cn:iam::222222222222:role/team/scheduler"
                ),
            ]
        );
        let s = with("111111111111", Some("night-shift")).expect("named role");
        assert_eq!(
            s.accounts,
            [role(
                "111111111111",
                "arn:aws:iam::111111111111:role/night-shift"
            )]
        );
        for (bad, why) in [
            (
                "11111111111",
                "'11111111111' is not `self`, a 12-digit account id or an IAM role ARN",
            ),
            (
                "arn:aws:iam::111111111111:user/bob",
                "is not `self`, a 12-digit",
            ),
            (
                "arn:aws:iam::111111111111:role/",
                "is not `self`, a 12-digit",
            ),
            ("self,self", "'self' is not listed once"),
            (
                "111111111111,arn:aws:iam::111111111111:role/x",
                "'arn:aws:iam::111111111111:role/x' is not listed once",
            ),
        ] {
            let e = with(bad, None).expect_err(bad).to_string();
            assert!(e.contains("ACCOUNTS") && e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn defaults_and_overrides() {
        let s = Settings::from_lookup(|_| None).expect("defaults are valid");
        assert_eq!(s.defaults.timezone, chrono_tz::Asia::Seoul);
        assert_eq!(s.defaults.warn_minutes, 10);
        assert_eq!(s.schedule_table, "Schedule");
        assert_eq!(s.state_table, "SchedulerState");
        assert_eq!(s.max_wait_seconds, 120);
        assert!(s.regions.is_empty());
        assert_eq!(s.defaults.max_attempts, 3);
        assert_eq!(s.defaults.tick_minutes, None);
        assert_eq!(s.tags.skip_until, "offhours:skip-until");

        let s = Settings::from_lookup(|k| match k {
            "TIMEZONE" => Some("Europe/Berlin".into()),
            "REGIONS" => Some("eu-west-1, us-east-1".into()),
            "SCHEDULE_TAG_KEY" => Some("Sched".into()),
            "SKIP_UNTIL_TAG_KEY" => Some("KeepUntil".into()),
            _ => None,
        })
        .expect("valid");
        assert_eq!(s.defaults.timezone, chrono_tz::Europe::Berlin);
        assert_eq!(s.regions, ["eu-west-1", "us-east-1"]);
        assert_eq!(s.tags.schedule, "Sched");
        assert_eq!(s.tags.skip_until, "KeepUntil");

        let e = Settings::from_lookup(|k| (k == "WARN_MINUTES").then(|| "ten".to_string()));
        assert!(e.is_err_and(|e| e.to_string().contains("WARN_MINUTES")));
        let e = Settings::from_lookup(|k| (k == "TICK_MINUTES").then(|| "5m".to_string()));
        assert!(e.is_err_and(|e| e.to_string().contains("TICK_MINUTES")));
        let s = Settings::from_lookup(|k| match k {
            "TICK_MINUTES" => Some("15".into()),
            "MAX_ATTEMPTS" => Some("5".into()),
            _ => None,
        })
        .expect("valid");
        assert_eq!(
            (s.defaults.tick_minutes, s.defaults.max_attempts),
            (Some(15), 5)
        );
    }

    #[test]
    fn event_bus_is_off_when_unset_or_blank() {
        let bus = |v: Option<&str>| {
            event_bus(|k| (k == "EVENT_BUS").then(|| v.map(String::from)).flatten())
        };
        assert_eq!(bus(None), None);
        assert_eq!(bus(Some("  ")), None);
        assert_eq!(bus(Some(" offhours ")).as_deref(), Some("offhours"));
        let arn = "arn:aws:events:us-east-1:123456789012:event-bus/ops";
        assert_eq!(bus(Some(arn)).as_deref(), Some(arn));
    }

    #[test]
    fn chat_allow_lists_are_comma_lists_and_empty_means_unset() {
        let read = |writers: &str, admins: &str| {
            ChatSecrets::from_lookup(|k| match k {
                "CHAT_WRITERS" => Some(writers.to_string()),
                "CHAT_ADMINS" => Some(admins.to_string()),
                _ => None,
            })
            .access
        };
        let a = read(" U0A, mina@example.com ,, ", "U0ADMIN");
        assert_eq!(
            a.writers,
            Some(vec!["U0A".to_string(), "mina@example.com".to_string()])
        );
        assert_eq!(a.admins, ["U0ADMIN"]);
        let unset = read("", " , ");
        assert_eq!((unset.writers, unset.admins.len()), (None, 0));
        assert_eq!(
            ChatSecrets::from_lookup(|_| None).access,
            ChatAccess::default()
        );
    }
}
