//! The HTTP request a chat command arrives in and the response that answers it.

use serde_json::Value;

/// An HTTP request as received: header names in any case, the raw body.
#[derive(Debug, Clone, Default)]
pub struct ChatRequest {
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl ChatRequest {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The HTTP answer to a chat request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatResponse {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

impl ChatResponse {
    pub(super) fn json(body: Value) -> Self {
        Self {
            status: 200,
            content_type: "application/json",
            body: body.to_string(),
        }
    }

    pub(super) fn plain(status: u16, body: &str) -> Self {
        Self {
            status,
            content_type: "text/plain; charset=utf-8",
            body: body.to_string(),
        }
    }

    /// 401: the request was not verified; nothing was changed.
    pub fn unauthorized() -> Self {
        Self::plain(401, "unauthorized\n")
    }
}
