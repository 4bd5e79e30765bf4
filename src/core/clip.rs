//! Fitting text into a chat platform's size limits, saying what was left out ("…and 37 more").

/// JANDI publishes no size limits; offhours keeps a message's or reply's body line to this
/// many characters…
pub const JANDI_BODY_CHARS: usize = 1000;
/// …and each `connectInfo` description to this many (the rest counted).
pub const JANDI_DESCRIPTION_CHARS: usize = 4000;
/// Slack's limit of a message's `text` (a slash-command reply is one text).
pub const SLACK_TEXT_CHARS: usize = 40_000;

/// The line that stands for `n` lines left out.
pub fn more(n: usize) -> String {
    format!("…and {n} more")
}

/// Cuts one piece of text (a title) to at most `max` characters, ending with `…` when cut.
pub fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// `lines` joined by `sep`, as many whole lines as fit in `max` characters (`sep`
/// included), then a last line [`more`] counting the lines left out. When not even the
/// first line fits beside that count, it is cut with `…` (and is not counted as left out).
pub fn fit(lines: &[String], sep: &str, max: usize) -> String {
    let joined = lines.join(sep);
    if joined.chars().count() <= max {
        return joined;
    }
    let sep_len = sep.chars().count();
    let mut used = 0;
    let mut kept = 0;
    for (i, line) in lines.iter().enumerate() {
        let add = line.chars().count() + if i == 0 { 0 } else { sep_len };
        // What the last line would cost if this one is the last kept.
        let tail = sep_len + more(lines.len() - i - 1).chars().count();
        if used + add + tail > max {
            break;
        }
        used += add;
        kept += 1;
    }
    let mut out: Vec<String> = lines[..kept].to_vec();
    if kept == 0 && !lines.is_empty() {
        let tail = sep_len + more(lines.len() - 1).chars().count();
        out.push(clip(&lines[0], max.saturating_sub(tail)));
        kept = 1;
    }
    out.push(more(lines.len() - kept));
    out.join(sep)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_fit_with_the_exact_count_left_out() {
        let lines: Vec<String> = (1..=500).map(|i| format!("resource-{i:03}")).collect();
        for max in [40, 100, 1000, 3000, 4096] {
            let text = fit(&lines, "\n", max);
            assert!(
                text.chars().count() <= max,
                "{max}: {}",
                text.chars().count()
            );
            let shown = text.lines().filter(|l| l.starts_with("resource")).count();
            let last = text.lines().last().unwrap_or_default();
            assert_eq!(last, more(500 - shown), "{max}");
            assert!(shown > 0, "{max}");
        }
        assert_eq!(
            fit(&lines[..2], "<br>", 100),
            "resource-001<br>resource-002"
        );
        // One line too long for the budget is cut, and the rest counted.
        let long = vec!["x".repeat(50), "y".into(), "z".into()];
        assert_eq!(
            fit(&long, "\n", 20),
            format!("{}…\n…and 2 more", "x".repeat(7))
        );
        assert_eq!(clip("abcdef", 4), "abc…");
    }
}
