//! Inert text: one escaping function per chat markup, so names, tags, exception text and chat arguments show as the literal text they are (no mention, no link, no formatting).
//!
//! Messages and replies are plain text with one kind of markup that offhours writes itself:
//! `code` spans in backticks (commands to copy). User-controlled text never carries a
//! backtick (see [`plain`]), so every character outside a code span is text to escape.
//! Each function takes a whole line or several (`\n` separated) and returns what to put in
//! the platform's field; other control characters become spaces, so user text cannot
//! start a line of its own. The generic JSON format takes no escaping: it is data.

/// Zero-width space: separates characters that some markups would read together (`*api*`,
/// `://`) without changing what people see. Used where a markup has no escape character.
const ZWSP: char = '\u{200B}';

/// User-controlled text made safe to place among offhours' own markup: backticks (the only
/// markup offhours writes) become `'`, so a name cannot open or close a code span.
pub fn plain(text: impl std::fmt::Display) -> String {
    text.to_string().replace('`', "'")
}

/// Slack mrkdwn, Block Kit text and the `text` fallback. `&`, `<` and `>` become entities,
/// which leaves `<!channel>`, `<@U123>` and `<https://x|label>` literal; `*`, `_` and `~`
/// (Slack has no escape character) are fenced by zero-width spaces so they cannot open or
/// close bold, italic or strike; `://` is split so no URL is auto-linked. Code spans keep
/// their backticks and get only the entities (Slack formats nothing inside them).
pub fn slack(text: &str) -> String {
    per_line(text, |line| {
        let mut out = String::new();
        for (code, piece) in spans(line) {
            let entities = html_entities(piece);
            if code {
                out.push('`');
                out.push_str(&entities);
                out.push('`');
            } else {
                out.push_str(&unlinked(&fenced(&entities, &['*', '_', '~', '`'])));
            }
        }
        out
    })
}

/// Google Chat: the `text` field (Google's `*bold*`, `<url|label>`, `<users/all>` markup)
/// and the card widgets (an HTML subset). `&`, `<` and `>` become entities, `*`, `_` and
/// `~` are fenced as for Slack, `://` is split; backticks are dropped (cards show them).
pub fn google_chat(text: &str) -> String {
    per_line(text, |line| {
        let entities = html_entities(&line.replace('`', ""));
        unlinked(&fenced(&entities, &['*', '_', '~']))
    })
}

/// Discord Markdown (messages go out with `allowed_mentions: {"parse": []}` as well, so no
/// one is pinged whatever the text). A backslash goes before `\ * _ ~ ` | > < [ ] ( ) #`
/// and before a list marker that starts a line; `@everyone` and `@here` get a zero-width
/// space after the `@`; `://` becomes `\://` so no URL is auto-linked. Code spans stay as
/// they are: Discord renders nothing inside them.
pub fn discord(text: &str) -> String {
    per_line(text, |line| {
        let mut out = String::new();
        for (i, (code, piece)) in spans(line).into_iter().enumerate() {
            if code {
                out.push('`');
                out.push_str(piece);
                out.push('`');
            } else {
                let escaped = markdown(piece, i == 0);
                out.push_str(
                    &escaped
                        .replace("@everyone", &format!("@{ZWSP}everyone"))
                        .replace("@here", &format!("@{ZWSP}here")),
                );
            }
        }
        out
    })
}

/// Microsoft Teams Adaptive Card `TextBlock`s (Markdown: bold, italic, lists, links): the
/// same backslash escapes as Discord, backticks dropped (a TextBlock has no code style).
pub fn teams(text: &str) -> String {
    per_line(text, |line| markdown(&line.replace('`', ""), true))
}

/// JANDI: its one documented markup is the link `[text](url)`, and it links bare URLs.
/// A zero-width space after every `]` keeps `](` from forming a link, `://` is split, and
/// backticks are dropped (JANDI shows them literally).
pub fn jandi(text: &str) -> String {
    per_line(text, |line| {
        let mut out = String::new();
        for c in line.chars().filter(|c| *c != '`') {
            out.push(c);
            if c == ']' {
                out.push(ZWSP);
            }
        }
        unlinked(&out)
    })
}

/// Applies `escape` to every line; control characters other than `\n` become spaces.
fn per_line(text: &str, escape: impl Fn(&str) -> String) -> String {
    text.split('\n')
        .map(|line| {
            let line: String = line
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
            escape(&line)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A line cut into `(is_code, piece)` at backticks; a backtick without a partner is text.
fn spans(line: &str) -> Vec<(bool, &str)> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(open) = rest.find('`') {
        let Some(len) = rest[open + 1..].find('`') else {
            break;
        };
        if open > 0 {
            out.push((false, &rest[..open]));
        }
        out.push((true, &rest[open + 1..open + 1 + len]));
        rest = &rest[open + 2 + len..];
    }
    if !rest.is_empty() {
        out.push((false, rest));
    }
    out
}

fn html_entities(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Every character of `marks` fenced by zero-width spaces on both sides.
fn fenced(text: &str, marks: &[char]) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if marks.contains(&c) {
            out.push(ZWSP);
            out.push(c);
            out.push(ZWSP);
        } else {
            out.push(c);
        }
    }
    out
}

/// `://` split by a zero-width space: the text still reads as a URL but is not one.
fn unlinked(text: &str) -> String {
    text.replace("://", &format!(":{ZWSP}//"))
}

/// CommonMark-style backslash escapes; `line_start`: `text` begins a line, so a list
/// marker (`- `, `+ `, `1. `) at its start is escaped too.
fn markdown(text: &str, line_start: bool) -> String {
    let mut out = String::new();
    let body = text.trim_start();
    out.push_str(&text[..text.len() - body.len()]);
    let digits = body.chars().take_while(char::is_ascii_digit).count();
    let marker = if !line_start {
        0
    } else if body.starts_with("- ") || body.starts_with("+ ") {
        1
    } else if digits > 0 && body[digits..].starts_with(". ") {
        digits + 1
    } else {
        0
    };
    for (i, c) in body.char_indices() {
        if matches!(
            c,
            '\\' | '*' | '_' | '~' | '`' | '|' | '>' | '<' | '[' | ']' | '(' | ')' | '#'
        ) || (marker > 0 && i == marker - 1)
            || (c == ':' && body[i..].starts_with("://"))
        {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every trick at once: a Slack broadcast, bold, a disguised Slack link, a Markdown
    /// link, a Discord broadcast and italics.
    const EVIL: &str =
        "<!channel> *api* <https://evil.example|click> [click](https://evil.example) @everyone _x_";

    fn visible(s: &str) -> String {
        s.replace(ZWSP, "")
    }

    #[test]
    fn each_markup_gets_its_own_escapes() {
        let z = ZWSP;
        assert_eq!(
            slack(EVIL),
            format!("&lt;!channel&gt; {z}*{z}api{z}*{z} &lt;https:{z}//evil.example|click&gt; [click](https:{z}//evil.example) @everyone {z}_{z}x{z}_{z}")
        );
        assert_eq!(
            google_chat(EVIL),
            format!("&lt;!channel&gt; {z}*{z}api{z}*{z} &lt;https:{z}//evil.example|click&gt; [click](https:{z}//evil.example) @everyone {z}_{z}x{z}_{z}")
        );
        assert_eq!(
            discord(EVIL),
            format!(
                r"\<!channel\> \*api\* \<https\://evil.example\|click\> \[click\]\(https\://evil.example\) @{z}everyone \_x\_"
            )
        );
        assert_eq!(
            teams(EVIL),
            r"\<!channel\> \*api\* \<https\://evil.example\|click\> \[click\]\(https\://evil.example\) @everyone \_x\_"
        );
        assert_eq!(
            jandi(EVIL),
            format!("<!channel> *api* <https:{z}//evil.example|click> [click]{z}(https:{z}//evil.example) @everyone _x_")
        );
        // Zero-width spaces change nothing people read.
        assert_eq!(visible(&slack("a_b *c*")), "a_b *c*");
        assert_eq!(visible(&jandi(EVIL)), EVIL);
    }

    #[test]
    fn code_spans_stay_code_and_lines_stay_lines() {
        let line = "`/offhours extend a<b +1h`: stop *later*";
        assert_eq!(
            slack(line),
            format!(
                "`/offhours extend a&lt;b +1h`: stop {z}*{z}later{z}*{z}",
                z = ZWSP
            )
        );
        assert_eq!(discord(line), r"`/offhours extend a<b +1h`: stop \*later\*");
        assert_eq!(teams(line), r"/offhours extend a\<b +1h: stop \*later\*");
        // A line break stays a line break; a carriage return or tab is a space; a list
        // marker at the start of a line is escaped.
        assert_eq!(
            discord("- one\r\n1. two\n# three\ttab"),
            "\\- one \n1\\. two\n\\# three tab"
        );
        assert_eq!(teams("x - y"), "x - y");
        // An unpaired backtick is text.
        assert_eq!(discord("a`b"), r"a\`b");
        assert_eq!(plain("a`b`c"), "a'b'c");
    }
}
