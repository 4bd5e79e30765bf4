//! Reading typed fields out of one DynamoDB-shaped item, collecting every problem with the item's name and field.

use std::fmt;

use chrono::NaiveTime;
use serde_json::Value;

use chrono_tz::Tz;

use super::{parse_time, Days, DigestAt, Item};
use crate::error::Error;

pub(super) const SCHEDULE_FIELDS: &[&str] = &[
    "ScheduleName",
    "TagValue",
    "DaysActive",
    "Enabled",
    "StartTime",
    "StopTime",
    "ForceStart",
    "ForceStop",
    "Timezone",
    "Enforced",
    "WarnMinutes",
    "WebhookUrl",
    "Digest",
];
pub(super) const GROUP_FIELDS: &[&str] = &[
    "ScheduleName",
    "GroupName",
    "InstanceType",
    "Dependency",
    "Hibernate",
];
pub(super) const EXCEPTION_FIELDS: &[&str] = &[
    "ExceptionUuid",
    "ScheduleName",
    "ExceptionDate",
    "ExceptionType",
    "ExceptionValue",
];

/// Reads typed fields out of one item, collecting every problem with the item's name.
pub(super) struct Fields<'a> {
    pub(super) item: &'a Item,
    pub(super) label: String,
    pub(super) errors: Vec<String>,
}

impl<'a> Fields<'a> {
    pub(super) fn new(item: &'a Item, label: String) -> Self {
        Self {
            item,
            label,
            errors: Vec::new(),
        }
    }

    pub(super) fn fail(&mut self, field: &str, message: impl fmt::Display) {
        self.errors
            .push(Error::invalid(&self.label, field, message.to_string()).to_string());
    }

    pub(super) fn get(&self, field: &str) -> Option<&'a Value> {
        self.item.get(field).filter(|v| !v.is_null())
    }

    pub(super) fn string(&mut self, field: &str) -> Option<String> {
        match self.get(field)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            other => {
                self.fail(field, format!("expected a string, got {}", kind_of(other)));
                None
            }
        }
    }

    /// A non-empty string (or a number), trimmed.
    pub(super) fn required(&mut self, field: &str) -> Option<String> {
        match self.get(field) {
            None => {
                self.fail(field, "is required");
                None
            }
            Some(Value::String(s)) if s.trim().is_empty() => {
                self.fail(field, "is empty");
                None
            }
            Some(Value::String(s)) => Some(s.trim().to_string()),
            Some(Value::Number(n)) => Some(n.to_string()),
            Some(other) => {
                self.fail(field, format!("expected a string, got {}", kind_of(other)));
                None
            }
        }
    }

    pub(super) fn boolean(&mut self, field: &str, default: bool) -> bool {
        match self.get(field) {
            None => default,
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "yes" | "1" => true,
                "false" | "no" | "0" | "" => false,
                _ => {
                    self.fail(field, format!("'{s}' is not true or false"));
                    default
                }
            },
            Some(Value::Number(n)) => n.as_f64().is_some_and(|v| v != 0.0),
            Some(other) => {
                self.fail(
                    field,
                    format!("expected true or false, got {}", kind_of(other)),
                );
                default
            }
        }
    }

    pub(super) fn minutes(&mut self, field: &str, default: u32) -> u32 {
        let parsed = match self.get(field) {
            None => return default,
            Some(Value::Number(n)) => n.as_u64(),
            Some(Value::String(s)) if s.trim().is_empty() => return default,
            Some(Value::String(s)) => s.trim().parse::<u64>().ok(),
            Some(_) => None,
        };
        match parsed
            .and_then(|v| u32::try_from(v).ok())
            .filter(|v| *v <= 7 * 24 * 60)
        {
            Some(v) => v,
            None => {
                let shown = self.get(field).map(Value::to_string).unwrap_or_default();
                self.fail(
                    field,
                    format!("{shown} is not a whole number of minutes from 0 to 10080"),
                );
                default
            }
        }
    }

    /// A DaysActive value; all days when absent (and after an error).
    pub(super) fn days(&mut self, field: &str) -> Days {
        let Some(text) = self.string(field) else {
            return Days::ALL;
        };
        Days::parse(&text).unwrap_or_else(|e| {
            self.fail(field, e);
            Days::ALL
        })
    }

    /// An IANA timezone name; `default` when absent or blank (and after an error).
    pub(super) fn timezone(&mut self, field: &str, default: Tz) -> Tz {
        let Some(text) = self.string(field).filter(|s| !s.trim().is_empty()) else {
            return default;
        };
        text.trim().parse::<Tz>().unwrap_or_else(|_| {
            self.fail(
                field,
                format!("'{text}' is not an IANA timezone name (e.g. Asia/Seoul)"),
            );
            default
        })
    }

    pub(super) fn time(&mut self, field: &str) -> Option<NaiveTime> {
        let text = self.string(field)?;
        match parse_time(&text) {
            Ok(t) => t,
            Err(e) => {
                self.fail(field, e);
                None
            }
        }
    }

    /// A `Digest` value (a string, or a console BOOL); `Err` names what is wrong with it.
    pub(super) fn digest(&self, field: &str) -> Result<Option<DigestAt>, String> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::Bool(true)) => Ok(Some(DigestAt::default_at())),
            Some(Value::Bool(false)) => Ok(None),
            Some(Value::String(s)) => DigestAt::parse(s),
            Some(other) => Err(format!(
                "expected on, off or a weekday and a time (e.g. Mon 09:00), got {}",
                kind_of(other)
            )),
        }
    }

    pub(super) fn string_list(&mut self, field: &str) -> Vec<String> {
        match self.get(field) {
            None => Vec::new(),
            Some(Value::String(s)) => s
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect(),
            Some(Value::Array(items)) => {
                let mut out = Vec::new();
                for v in items {
                    match v {
                        Value::String(s) if !s.trim().is_empty() => out.push(s.trim().to_string()),
                        other => self.fail(
                            field,
                            format!("list entries must be group names, got {other}"),
                        ),
                    }
                }
                out
            }
            Some(other) => {
                self.fail(
                    field,
                    format!("expected a list of group names, got {}", kind_of(other)),
                );
                Vec::new()
            }
        }
    }

    pub(super) fn unknown_fields(&self, known: &[&str]) -> Vec<String> {
        self.item
            .keys()
            .filter(|k| !known.contains(&k.as_str()))
            .map(|k| format!("{}: unknown field {k} is ignored", self.label))
            .collect()
    }
}

pub(super) fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

pub(super) fn item_name(item: &Item, field: &str) -> String {
    match item.get(field) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => "?".to_string(),
        Some(other) => other.to_string(),
    }
}
