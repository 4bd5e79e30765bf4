//! The schedule field `Digest`: off, or the weekday and local time of the schedule's weekly digest.

use std::fmt;

use chrono::{NaiveTime, Weekday};

use super::{day_from_name, parse_time};

/// When a schedule's weekly digest is due: a weekday and a local time in its timezone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DigestAt {
    pub day: Weekday,
    pub time: NaiveTime,
}

impl DigestAt {
    /// `Digest: on`: Monday 09:00.
    pub fn default_at() -> DigestAt {
        DigestAt {
            day: Weekday::Mon,
            time: NaiveTime::from_hms_opt(9, 0, 0).unwrap_or(NaiveTime::MIN),
        }
    }

    /// Parses a `Digest` value: absent, empty, `off`/`no`/`false`/`none` = no digest; `on`/
    /// `yes`/`true` = Monday 09:00; else a weekday and/or a time, `Mon 09:00`, `friday 17:30`,
    /// `fri` (09:00), `08:30` (Monday). Any case, 3-letter or full day names.
    pub fn parse(text: &str) -> Result<Option<DigestAt>, String> {
        let t = text.trim().to_ascii_lowercase();
        match t.as_str() {
            "" | "off" | "no" | "false" | "none" | "0" => return Ok(None),
            "on" | "yes" | "true" | "1" | "weekly" => return Ok(Some(Self::default_at())),
            _ => {}
        }
        let bad = || {
            format!(
                "'{}' is not on, off, or a weekday and a local time (e.g. Mon 09:00)",
                text.trim()
            )
        };
        let mut at = Self::default_at();
        let words: Vec<&str> = t.split_whitespace().collect();
        let (day, time) = match words[..] {
            [one] if one.contains(':') => (None, Some(one)),
            [one] => (Some(one), None),
            [day, time] => (Some(day), Some(time)),
            _ => return Err(bad()),
        };
        if let Some(day) = day {
            at.day = day_from_name(day.trim_end_matches(',')).ok_or_else(bad)?;
        }
        if let Some(time) = time {
            at.time = parse_time(time).ok().flatten().ok_or_else(bad)?;
        }
        Ok(Some(at))
    }
}

impl fmt::Display for DigestAt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.day, super::hm(self.time))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_values_parse_as_a_console_user_types_them() {
        let at = |day, h, m| {
            Some(DigestAt {
                day,
                time: NaiveTime::from_hms_opt(h, m, 0).expect("time"),
            })
        };
        let cases = [
            ("", None),
            ("off", None),
            ("OFF", None),
            ("false", None),
            ("None", None),
            ("on", at(Weekday::Mon, 9, 0)),
            ("True", at(Weekday::Mon, 9, 0)),
            ("Mon 09:00", at(Weekday::Mon, 9, 0)),
            ("friday 17:30", at(Weekday::Fri, 17, 30)),
            ("  Sun   8:05 ", at(Weekday::Sun, 8, 5)),
            ("tue", at(Weekday::Tue, 9, 0)),
            ("08:30", at(Weekday::Mon, 8, 30)),
        ];
        for (text, expected) in cases {
            assert_eq!(DigestAt::parse(text), Ok(expected), "{text:?}");
        }
        for bad in [
            "weekly on mondays",
            "funday 09:00",
            "mon 25:00",
            "mon 9",
            "09:00 mon",
        ] {
            let e = DigestAt::parse(bad).expect_err(bad);
            assert!(e.contains("e.g. Mon 09:00"), "{bad}: {e}");
        }
        assert_eq!(
            at(Weekday::Fri, 17, 30).expect("at").to_string(),
            "Fri 17:30"
        );
    }
}
