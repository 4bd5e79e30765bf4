//! The chat-command endpoint over HTTP: a small hyper server for `offhours serve`, and the Lambda Function URL adapter.

use std::convert::Infallible;
use std::sync::Arc;

use aws_lambda_events::event::lambda_function_urls::{
    LambdaFunctionUrlRequest, LambdaFunctionUrlResponse,
};
use base64::Engine;
use bytes::Bytes;
use chrono::Utc;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::chat::{handle_in_time, ChatRequest, ChatResponse, ChatSecrets, FollowUp, Handled};
use crate::error::{Error, Result};
use crate::ports::{CommandStore, Dedup, Settings};

/// Chat requests are small; anything larger is refused unread.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// What the endpoint needs besides the request: storage, settings and secrets.
pub struct Endpoint<S> {
    pub store: S,
    pub settings: Settings,
    pub secrets: ChatSecrets,
}

/// Answers for requests that never reach the handler.
fn refuse(status: u16, text: &str) -> ChatResponse {
    ChatResponse {
        status,
        content_type: "text/plain; charset=utf-8",
        body: format!("{text}\n"),
    }
}

/// Checks method and path: the endpoint takes `POST /` only.
pub fn route(method: &str, path: &str) -> Option<ChatResponse> {
    if path != "/" && !path.is_empty() {
        return Some(refuse(404, "not found"));
    }
    if !method.eq_ignore_ascii_case("POST") {
        return Some(refuse(405, "method not allowed: POST / only"));
    }
    None
}

fn to_hyper(r: ChatResponse) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(r.body)));
    *response.status_mut() =
        StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(v) = hyper::header::HeaderValue::from_str(r.content_type) {
        response
            .headers_mut()
            .insert(hyper::header::CONTENT_TYPE, v);
    }
    response
}

async fn respond<S>(
    request: Request<Incoming>,
    endpoint: Arc<Endpoint<S>>,
    follow: Arc<FollowUp>,
) -> ChatResponse
where
    S: CommandStore + Dedup + Send + Sync + 'static,
{
    if let Some(refused) = route(request.method().as_str(), request.uri().path()) {
        return refused;
    }
    if request.method() != Method::POST {
        return refuse(405, "method not allowed");
    }
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect();
    let body = match Limited::new(request.into_body(), MAX_BODY_BYTES)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return refuse(413, "request body too large or unreadable"),
    };
    let Ok(body) = String::from_utf8(body.to_vec()) else {
        return refuse(400, "request body is not UTF-8");
    };
    let chat = ChatRequest { headers, body };
    // The command runs on its own task: a slow one is answered "working on it…" through
    // `answer` while the task goes on and posts the reply to Slack's response_url.
    let (answer, answered) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let e = &*endpoint;
        let handled = handle_in_time(
            &chat,
            Utc::now(),
            &e.store,
            &e.settings,
            &e.secrets,
            Some(&*follow),
        )
        .await;
        match handled {
            Handled::Now(response) => {
                let _ = answer.send(response);
            }
            Handled::Later { ack, rest } => {
                let _ = answer.send(ack);
                rest.await;
            }
        }
    });
    answered
        .await
        .unwrap_or_else(|_| refuse(500, "the command ended without an answer"))
}

/// Serves chat commands on `listener` until the task is dropped. Each connection is
/// handled on its own task; one bad connection never stops the server.
pub async fn serve<S>(listener: TcpListener, endpoint: Arc<Endpoint<S>>) -> Result<()>
where
    S: CommandStore + Dedup + Send + Sync + 'static,
{
    let follow = Arc::new(FollowUp::slack()?);
    let addr = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_else(|_| "?".into());
    tracing::info!(%addr, "serving chat commands on POST /");
    loop {
        let (stream, _) = listener.accept().await.map_err(|source| Error::Serve {
            addr: addr.clone(),
            source,
        })?;
        let (endpoint, follow) = (endpoint.clone(), follow.clone());
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let (endpoint, follow) = (endpoint.clone(), follow.clone());
                async move { Ok::<_, Infallible>(to_hyper(respond(request, endpoint, follow).await)) }
            });
            if let Err(e) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(error = %e, "chat connection ended with an error");
            }
        });
    }
}

/// Binds `addr` and serves until interrupted.
pub async fn serve_addr<S>(addr: &str, endpoint: Endpoint<S>) -> Result<()>
where
    S: CommandStore + Dedup + Send + Sync + 'static,
{
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Serve {
            addr: addr.to_string(),
            source,
        })?;
    serve(listener, Arc::new(endpoint)).await
}

/// Converts a Lambda Function URL event into a chat request (or the refusal to send).
pub fn from_function_url(
    event: &LambdaFunctionUrlRequest,
) -> std::result::Result<ChatRequest, ChatResponse> {
    let method = event
        .request_context
        .http
        .method
        .as_deref()
        .unwrap_or("POST");
    let path = event
        .raw_path
        .as_deref()
        .or(event.request_context.http.path.as_deref())
        .unwrap_or("/");
    if let Some(refused) = route(method, path) {
        return Err(refused);
    }
    let headers = event
        .headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect();
    let raw = event.body.as_deref().unwrap_or_default();
    // The same limit as `offhours serve`, on the decoded body; a base64 body longer than
    // the encoding of MAX_BODY_BYTES is refused before decoding.
    let too_large = || refuse(413, "request body too large");
    let body = if event.is_base64_encoded {
        if raw.len() > MAX_BODY_BYTES.div_ceil(3) * 4 {
            return Err(too_large());
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(raw.as_bytes())
            .map_err(|_| refuse(400, "request body is not valid base64"))?;
        String::from_utf8(bytes).map_err(|_| refuse(400, "request body is not UTF-8"))?
    } else {
        raw.to_string()
    };
    if body.len() > MAX_BODY_BYTES {
        return Err(too_large());
    }
    Ok(ChatRequest { headers, body })
}

/// Converts a chat response into a Lambda Function URL response.
pub fn to_function_url(r: ChatResponse) -> LambdaFunctionUrlResponse {
    let mut response = LambdaFunctionUrlResponse::default();
    response.status_code = i64::from(r.status);
    if let Ok(v) = reqwest::header::HeaderValue::from_str(r.content_type) {
        response.headers.insert(reqwest::header::CONTENT_TYPE, v);
    }
    response.body = Some(r.body);
    response
}

/// The whole Function URL path: event in, response out. The Lambda dispatch calls this.
///
/// The Function URL is buffered: Lambda sends the response only when the invocation
/// returns, and freezes the function right after, so nothing can run once the answer is
/// out. A Slack command still running after `follow.budget` therefore finishes here and
/// posts its reply to `response_url` *before* the invocation returns the "working on it…"
/// answer. Slack drops an answer that comes after its 3 seconds (the user may see
/// `operation_timeout`), but the reply itself arrives through `response_url`.
pub async fn handle_function_url<S: CommandStore + Dedup + Sync>(
    event: &LambdaFunctionUrlRequest,
    store: &S,
    settings: &Settings,
    secrets: &ChatSecrets,
    follow: &FollowUp,
) -> LambdaFunctionUrlResponse {
    let response = match from_function_url(event) {
        Ok(request) => {
            handle_in_time(&request, Utc::now(), store, settings, secrets, Some(follow))
                .await
                .finish()
                .await
        }
        Err(refused) => refused,
    };
    to_function_url(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_post_to_the_root_reaches_the_handler() {
        assert_eq!(route("POST", "/"), None);
        assert_eq!(route("post", ""), None);
        assert_eq!(route("GET", "/").map(|r| r.status), Some(405));
        assert_eq!(route("POST", "/admin").map(|r| r.status), Some(404));
    }

    #[test]
    fn function_url_events_are_decoded_from_base64() {
        let mut event = LambdaFunctionUrlRequest::default();
        event.request_context.http.method = Some("POST".into());
        event.raw_path = Some("/".into());
        event.is_base64_encoded = true;
        event.body = Some(base64::engine::general_purpose::STANDARD.encode("text=help"));
        event.headers.insert(
            "x-slack-signature",
            reqwest::header::HeaderValue::from_static("v0=00"),
        );
        let request = from_function_url(&event).expect("accepted");
        assert_eq!(request.body, "text=help");
        assert_eq!(request.header("X-Slack-Signature"), Some("v0=00"));

        event.request_context.http.method = Some("GET".into());
        assert_eq!(from_function_url(&event).err().map(|r| r.status), Some(405));
    }

    #[test]
    fn function_url_bodies_over_64_kib_are_refused_with_413() {
        // GIVEN bodies around the limit, plain and base64-encoded
        let status = |len: usize, base64: bool| {
            let mut event = LambdaFunctionUrlRequest::default();
            event.request_context.http.method = Some("POST".into());
            event.raw_path = Some("/".into());
            let body = "a".repeat(len);
            event.is_base64_encoded = base64;
            event.body = Some(if base64 {
                base64::engine::general_purpose::STANDARD.encode(body)
            } else {
                body
            });
            // WHEN the event is converted, THEN only bodies up to the limit reach the handler
            from_function_url(&event).err().map(|r| r.status)
        };
        for base64 in [false, true] {
            assert_eq!(status(MAX_BODY_BYTES, base64), None, "base64: {base64}");
            assert_eq!(
                status(MAX_BODY_BYTES + 1, base64),
                Some(413),
                "base64: {base64}"
            );
            assert_eq!(status(100 * 1024, base64), Some(413), "base64: {base64}");
        }
    }
}
