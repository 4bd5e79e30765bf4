//! Who may run which command: queries for every verified caller, changes for `CHAT_WRITERS` (when set), changes to every schedule at once (`*`) for `CHAT_ADMINS`.

use super::{Command, Reply};

/// The allow-lists, by the identity each platform verifies: Slack user ids (`U024BE7LH`),
/// JANDI member emails. Compared without regard to ASCII case.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChatAccess {
    /// Env `CHAT_WRITERS`: who may change things. `None` (unset or empty): every verified
    /// caller, as before the list existed.
    pub writers: Option<Vec<String>>,
    /// Env `CHAT_ADMINS`: who may also change every schedule at once (`*`); admins may
    /// write too. Empty (unset): nobody may use `*` from chat.
    pub admins: Vec<String>,
}

/// What a caller may do, in increasing order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Permission {
    /// help, status, info, exception list.
    Read,
    /// exception set/del, extend, skip, start, stop of one schedule.
    Write,
    /// Changes that touch every schedule (`*`).
    Admin,
}

impl Permission {
    /// The permission as a refusal names it, with the setting that grants it.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Read => "read permission",
            Self::Write => "write permission (`CHAT_WRITERS`)",
            Self::Admin => "admin permission (`CHAT_ADMINS`) to change every schedule (`*`)",
        }
    }
}

impl ChatAccess {
    /// The highest permission of the caller whose verified identity is `user_id`.
    pub fn granted(&self, user_id: &str) -> Permission {
        let listed = |list: &[String]| {
            !user_id.is_empty() && list.iter().any(|u| u.eq_ignore_ascii_case(user_id))
        };
        if listed(&self.admins) {
            Permission::Admin
        } else if self.writers.as_deref().is_none_or(listed) {
            Permission::Write
        } else {
            Permission::Read
        }
    }
}

/// The permission a command needs, as far as its text tells. `exception del` of a `*`
/// exception needs `Admin` too; that is checked once the item is read.
pub fn required(command: &Command) -> Permission {
    match command {
        Command::ExceptionSet { schedule, .. } if schedule == "*" => Permission::Admin,
        c if c.changes() => Permission::Write,
        _ => Permission::Read,
    }
}

/// The answer to a caller who lacks `needed`: names the permission, changes nothing.
pub fn refusal(needed: Permission) -> Reply {
    Reply::error(format!("not allowed: this needs the {}", needed.describe()))
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::chat::fixtures::*;
    use crate::chat::{handle, parse, ChatRequest, ChatSecrets};
    use crate::ports::MemoryStore;

    fn access(writers: Option<&[&str]>, admins: &[&str]) -> ChatSecrets {
        let list = |s: &[&str]| s.iter().map(|u| u.to_string()).collect::<Vec<_>>();
        ChatSecrets {
            access: ChatAccess {
                writers: writers.map(list),
                admins: list(admins),
            },
            ..secrets()
        }
    }

    /// The reply text to `request`, and whether the store changed.
    async fn answer(
        store: &MemoryStore,
        request: ChatRequest,
        secrets: &ChatSecrets,
    ) -> (String, bool) {
        let now = at("2026-11-23T12:50:00Z");
        let before = store.snapshot().expect("snapshot");
        let r = handle(&request, now, store, &settings(), secrets).await;
        let v: Value = serde_json::from_str(&r.body).expect("json");
        let text = v["text"]
            .as_str()
            .or(v["body"].as_str())
            .unwrap_or("")
            .to_string();
        (text, store.snapshot().expect("snapshot") != before)
    }

    fn slack(text: &str) -> ChatRequest {
        slack_request(text, at("2026-11-23T12:50:00Z"), SECRET)
    }

    #[tokio::test]
    async fn callers_not_in_chat_writers_may_read_but_not_change() {
        // GIVEN CHAT_WRITERS lists someone else (and Mina's *name*, which is no identity)
        let secrets = access(Some(&["U0OTHER", "mina"]), &[]);
        let store = store();
        // WHEN Mina (U0MINA) asks, THEN queries answer
        for query in ["help", "status dev", "info dev", "exception list dev"] {
            let (text, changed) = answer(&store, slack(query), &secrets).await;
            assert!(!text.contains("not allowed") && !changed, "{query}: {text}");
        }
        // AND every change is refused, naming the permission, with nothing written
        for change in [
            "stop dev",
            "start dev",
            "extend dev +1h",
            "skip dev",
            "exception set dev 2026-11-26 stop 23:00",
            "exception del old",
        ] {
            let (text, changed) = answer(&store, slack(change), &secrets).await;
            assert_eq!(
                text, "*not allowed: this needs the write permission (`CHAT_WRITERS`)*",
                "{change}"
            );
            assert!(!changed, "{change} changed the store");
        }
    }

    #[tokio::test]
    async fn writers_change_one_schedule_and_only_admins_touch_every_schedule() {
        let store = store();
        // GIVEN Mina is a writer, not an admin
        let writer = access(Some(&["u0mina"]), &["U0BOSS"]);
        let (text, changed) = answer(&store, slack("stop dev"), &writer).await;
        assert!(changed && text.contains("ForceStop set"), "{text}");
        // WHEN she sets or deletes an exception for `*`, THEN it is refused
        for star in [
            "exception set * 2026-12-24 start None",
            "exception del xmas",
        ] {
            let (text, changed) = answer(&store, slack(star), &writer).await;
            assert!(
                text.contains("not allowed") && text.contains("CHAT_ADMINS"),
                "{star}: {text}"
            );
            assert!(!changed, "{star} changed the store");
        }
        // AND with CHAT_WRITERS unset everyone verified writes, but `*` still needs an admin
        let open = access(None, &[]);
        let (text, changed) = answer(&store, slack("exception del old"), &open).await;
        assert!(changed && text.contains("deleted"), "{text}");
        let (text, changed) = answer(
            &store,
            slack("exception set * 2026-12-24 start None"),
            &open,
        )
        .await;
        assert!(text.contains("CHAT_ADMINS") && !changed, "{text}");
        // AND an admin may
        let admin = access(Some(&["U0OTHER"]), &["U0MINA"]);
        for star in [
            "exception set * 2026-12-24 start None",
            "exception del xmas",
        ] {
            let (text, changed) = answer(&store, slack(star), &admin).await;
            assert!(changed && !text.contains("not allowed"), "{star}: {text}");
        }
    }

    #[tokio::test]
    async fn jandi_callers_are_known_by_their_member_email() {
        let store = store();
        let by_email = access(Some(&["MINA@example.com"]), &[]);
        let (text, changed) = answer(
            &store,
            jandi_request("/offhours stop dev", TOKEN),
            &by_email,
        )
        .await;
        assert!(changed, "{text}");
        let by_name = access(Some(&["Mina"]), &[]);
        let (text, changed) = answer(
            &store,
            jandi_request("/offhours start dev", TOKEN),
            &by_name,
        )
        .await;
        assert!(!changed && text.contains("CHAT_WRITERS"), "{text}");
    }

    #[tokio::test]
    async fn every_accepted_change_leaves_an_audit_line_without_secrets() {
        let logs = Logs::capture();
        let store = store();
        let secrets = access(Some(&["U0MINA"]), &[]);
        answer(&store, slack("extend dev 23:00"), &secrets).await;
        answer(&store, slack("status dev"), &secrets).await;
        let log = logs.text();
        let audit: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("offhours::audit"))
            .collect();
        assert_eq!(audit.len(), 1, "{log}");
        for needle in [
            "user=mina",
            "user_id=U0MINA",
            "command=extend dev 23:00",
            "ok=true",
            "result=dev: stop on 2026-11-23",
        ] {
            assert!(
                audit[0].contains(needle),
                "{needle} missing from {}",
                audit[0]
            );
        }
        assert!(!log.contains(SECRET) && !log.contains(TOKEN), "{log}");
    }

    #[test]
    fn permissions_table() {
        let list = |s: &[&str]| s.iter().map(|u| u.to_string()).collect::<Vec<_>>();
        let open = ChatAccess::default();
        let listed = ChatAccess {
            writers: Some(list(&["U0WRITER", "mina@example.com"])),
            admins: list(&["U0ADMIN"]),
        };
        let cases = [
            (&open, "U0ANYONE", Permission::Write),
            (&open, "", Permission::Write),
            (&listed, "U0WRITER", Permission::Write),
            (&listed, "Mina@Example.com", Permission::Write),
            (&listed, "U0ADMIN", Permission::Admin),
            (&listed, "U0OTHER", Permission::Read),
            (&listed, "", Permission::Read),
        ];
        for (access, user, expected) in cases {
            assert_eq!(access.granted(user), expected, "{user:?}");
        }
        let needs = |text: &str| required(&parse(text, "/offhours").expect("parses"));
        assert_eq!(needs("status dev"), Permission::Read);
        assert_eq!(needs("exception list dev"), Permission::Read);
        assert_eq!(needs("stop dev"), Permission::Write);
        assert_eq!(needs("exception del abc"), Permission::Write);
        assert_eq!(
            needs("exception set dev 2026-12-24 start None"),
            Permission::Write
        );
        assert_eq!(
            needs("exception set * 2026-12-24 start None"),
            Permission::Admin
        );
    }
}
