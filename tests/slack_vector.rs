//! Slack request verification against the worked example in Slack's "Verifying requests from
//! Slack" documentation (signing secret, timestamp, slash-command body and the signature Slack
//! computed), not against a signature made by this crate's own signer.

use chrono::{DateTime, TimeZone, Utc};
use offhours::chat::{
    delivery_key, slack_signature, verify, ChatRequest, ChatSecrets, Incoming, Platform,
};

const SIGNING_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
const TIMESTAMP: &str = "1531420618";
const BODY: &str = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
const SIGNATURE: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

/// One minute after Slack sent the example: well inside the five-minute window.
fn now() -> DateTime<Utc> {
    Utc.timestamp_opt(1_531_420_618 + 60, 0).unwrap()
}

fn secrets() -> ChatSecrets {
    ChatSecrets {
        slack_signing_secret: Some(SIGNING_SECRET.into()),
        jandi_token: None,
        command: "/offhours".into(),
        access: Default::default(),
    }
}

fn request(timestamp: &str, body: &str, signature: &str) -> ChatRequest {
    ChatRequest {
        headers: vec![
            (
                "Content-Type".into(),
                "application/x-www-form-urlencoded".into(),
            ),
            ("X-Slack-Request-Timestamp".into(), timestamp.into()),
            ("X-Slack-Signature".into(), signature.into()),
        ],
        body: body.into(),
    }
}

/// `s` with the byte at `i` replaced by another byte of the same class (ASCII stays ASCII,
/// a hex digit stays a hex digit), so only the content changes, never the format.
fn with_byte_changed(s: &str, i: usize) -> String {
    let mut bytes = s.as_bytes().to_vec();
    let b = bytes[i];
    bytes[i] = match b {
        b'0'..=b'8' | b'a'..=b'e' => b + 1,
        b'9' => b'0',
        b'f' => b'a',
        _ => b ^ 0x01,
    };
    assert_ne!(bytes[i], b);
    String::from_utf8(bytes).expect("still ASCII")
}

#[test]
fn slacks_documented_example_is_accepted() {
    let incoming = verify(&request(TIMESTAMP, BODY, SIGNATURE), now(), &secrets())
        .expect("Slack's own example verifies");
    assert_eq!(
        incoming,
        Incoming {
            platform: Platform::Slack,
            text: String::new(),
            user: "roadrunner".into(),
            user_id: "U2CERLKJA".into(),
            ssl_check: false,
            response_url: Some(
                "https://hooks.slack.com/commands/T1DC2JH3J/397700885554/96rGlfmibIGlgcZRskXaIFfN"
                    .into()
            ),
            delivery: Some(delivery_key(&[
                "slack",
                "398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
            ])),
        }
    );

    // Header names are case-insensitive (Slack's docs use both spellings).
    let mut lower = request(TIMESTAMP, BODY, SIGNATURE);
    for (name, _) in &mut lower.headers {
        *name = name.to_ascii_lowercase();
    }
    assert!(verify(&lower, now(), &secrets()).is_ok());

    // And this crate's signer produces the same signature for the same inputs.
    assert_eq!(slack_signature(SIGNING_SECRET, TIMESTAMP, BODY), SIGNATURE);
}

#[test]
fn any_one_changed_byte_of_the_example_is_rejected() {
    // Every byte of the body.
    for i in 0..BODY.len() {
        let body = with_byte_changed(BODY, i);
        let result = verify(&request(TIMESTAMP, &body, SIGNATURE), now(), &secrets());
        assert!(
            result.is_err(),
            "body byte {i} changed ({body:?}) was accepted: {result:?}"
        );
    }
    // Every hex digit of the signature (the `v0=` prefix is checked separately below).
    for i in "v0=".len()..SIGNATURE.len() {
        let signature = with_byte_changed(SIGNATURE, i);
        let result = verify(&request(TIMESTAMP, BODY, &signature), now(), &secrets());
        assert!(
            result.is_err(),
            "signature byte {i} changed ({signature}) was accepted: {result:?}"
        );
    }
    // Another version prefix, and a timestamp one second off (still inside the window, so
    // only the signature can refuse it).
    let v1 = SIGNATURE.replacen("v0=", "v1=", 1);
    assert!(verify(&request(TIMESTAMP, BODY, &v1), now(), &secrets()).is_err());
    assert!(verify(&request("1531420619", BODY, SIGNATURE), now(), &secrets()).is_err());
    // Another signing secret.
    let other = ChatSecrets {
        slack_signing_secret: Some(with_byte_changed(SIGNING_SECRET, 0)),
        ..secrets()
    };
    assert!(verify(&request(TIMESTAMP, BODY, SIGNATURE), now(), &other).is_err());
}

#[test]
fn the_example_is_refused_once_it_is_more_than_five_minutes_old() {
    let sent = Utc.timestamp_opt(1_531_420_618, 0).unwrap();
    let just_inside = sent + chrono::TimeDelta::seconds(300);
    let too_late = sent + chrono::TimeDelta::seconds(301);
    let req = request(TIMESTAMP, BODY, SIGNATURE);
    assert!(verify(&req, just_inside, &secrets()).is_ok());
    assert!(verify(&req, too_late, &secrets()).is_err());
}
