//! A fault-injecting HTTP proxy on 127.0.0.1 in front of moto.
//!
//! Every request is forwarded to moto unchanged (method, path and query, headers but
//! `Host`/`Content-Length`/hop-by-hop ones, body) and moto's answer is returned, unless a
//! [`Rule`] matches: then the proxy answers with the rule's [`Fault`] instead and moto never
//! sees the request (or, for [`Fault::Hold`], sees it when the test lets it go). When moto
//! cannot be reached (killed), the proxy closes the connection without an answer. Each
//! [`Call`] records what DynamoDB reads returned (items, bytes), for measuring reads. A request is identified by
//! - service and region: the SigV4 credential scope of its `Authorization` header
//!   (`Credential=AKID/20261129/us-east-1/ec2/aws4_request`);
//! - action: the `Action=` of its form body (EC2, RDS, STS: the query protocols) or the
//!   operation of its `X-Amz-Target` header (`DynamoDB_20120810.PutItem` -> `PutItem`).
//!
//! AWS errors are rendered in the service's own wire format (EC2 `<Response><Errors>`,
//! awsQuery `<ErrorResponse>` for RDS/STS, awsJson1_0 `__type` for DynamoDB, awsJson1_1 for EventBridge), so the Rust SDK
//! parses them into the real error code (`ProvideErrorMetadata::code()`).
//!
//! SDK retries (standard mode, 3 attempts in all, exponential backoff with jitter from ~1 s):
//! the SDK retries a response whose HTTP status is 500, 502, 503 or 504, or whose code is a
//! throttling one (`Throttling`, `ThrottlingException`, `RequestLimitExceeded`,
//! `ProvisionedThroughputExceededException`, `TooManyRequestsException`,
//! `LimitExceededException`, ...; see `aws_runtime::retries::classifiers::THROTTLING_ERRORS`)
//! or `RequestTimeout(Exception)`, and a dropped connection. Such a rule answers 3 times per
//! SDK call (and the test waits for the backoff, a few seconds): give it `.times(1)` to see one
//! failure and a successful retry, or count 3 hits per call. A 4xx with any other code (e.g.
//! `InvalidDBInstanceState`, `UnauthorizedOperation`) is answered once per call.

use std::fmt;
use std::sync::{Arc, Mutex};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{HeaderMap, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

/// Makes an error message, afresh for every answer.
pub type MessageFn = Arc<dyn Fn() -> String + Send + Sync>;

/// What the proxy does instead of forwarding a matched request.
#[derive(Clone)]
pub enum Fault {
    /// An AWS error in the request's service's own format.
    Aws {
        status: u16,
        code: String,
        message: MessageFn,
    },
    /// Reads the request and never answers (the connection stays open).
    Hang,
    /// Reads the request and closes the connection without an answer.
    Drop,
    /// Holds the request until the [`Gate`] opens, then forwards it to moto (whatever moto
    /// is by then: killed, restarted). The test does something while a chosen call is in
    /// flight, e.g. kills moto.
    Hold(Arc<Gate>),
}

/// Where [`Fault::Hold`] keeps requests: the test waits for one to arrive, then opens it.
#[derive(Debug, Default)]
pub struct Gate {
    /// (requests held so far, open)
    state: Mutex<(usize, bool)>,
}

impl Gate {
    pub fn new() -> Arc<Gate> {
        Arc::default()
    }

    /// Waits until a request is held (polls every 10 ms).
    pub async fn arrived(&self) {
        while self.state.lock().expect("lock").0 == 0 {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    /// Lets held requests (and every later one) through.
    pub fn open(&self) {
        self.state.lock().expect("lock").1 = true;
    }

    async fn pass(&self) {
        self.state.lock().expect("lock").0 += 1;
        while !self.state.lock().expect("lock").1 {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
}

impl Fault {
    /// An AWS error with the status AWS uses for `code` (see [`status_for`]).
    pub fn aws(code: &str, message: &str) -> Fault {
        Fault::aws_status(status_for(code), code, message)
    }

    /// An AWS error with an explicit HTTP status.
    pub fn aws_status(status: u16, code: &str, message: &str) -> Fault {
        let message = message.to_string();
        Fault::Aws {
            status,
            code: code.into(),
            message: Arc::new(move || message.clone()),
        }
    }

    /// An AWS error whose message `message` makes afresh for every answer.
    pub fn aws_with(
        status: u16,
        code: &str,
        message: impl Fn() -> String + Send + Sync + 'static,
    ) -> Fault {
        Fault::Aws {
            status,
            code: code.into(),
            message: Arc::new(message),
        }
    }

    /// EC2's `UnauthorizedOperation` (403): a different encoded failure message every time.
    pub fn unauthorized_operation() -> Fault {
        Fault::aws_with(403, "UnauthorizedOperation", || {
            format!(
                "You are not authorized to perform this operation. \
                 Encoded authorization failure message: {}",
                uuid::Uuid::new_v4().simple()
            )
        })
    }
}

impl fmt::Debug for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Aws { status, code, .. } => write!(f, "Aws({status} {code})"),
            Fault::Hang => f.write_str("Hang"),
            Fault::Drop => f.write_str("Drop"),
            Fault::Hold(_) => f.write_str("Hold"),
        }
    }
}

/// The HTTP status AWS sends with `code`: 503 for EC2's `RequestLimitExceeded`/`Unavailable`
/// and `ServiceUnavailable`, 500 for `InternalError`/`InternalFailure` and EC2's
/// `InsufficientInstanceCapacity` (as observed from AWS: the SDK retries it), 403 for
/// `UnauthorizedOperation`/`AccessDenied(Exception)`, 400 otherwise (including DynamoDB's
/// `ProvisionedThroughputExceededException`/`ThrottlingException` and RDS's `Throttling`).
pub fn status_for(code: &str) -> u16 {
    match code {
        "RequestLimitExceeded" | "Unavailable" | "ServiceUnavailable" => 503,
        "InternalError" | "InternalFailure" | "InternalServerError" => 500,
        "InsufficientInstanceCapacity" => 500,
        "UnauthorizedOperation" | "AccessDenied" | "AccessDeniedException" => 403,
        _ => 400,
    }
}

/// When the proxy answers with a fault: every `Some` condition must hold. The first rule
/// that matches (and has answers left) answers.
#[derive(Clone, Debug)]
pub struct Rule {
    /// SigV4 service name: `ec2`, `rds`, `dynamodb`, `sts`.
    pub service: Option<String>,
    pub region: Option<String>,
    /// `StartInstances`, `StartDBInstance`, `PutItem`, ...
    pub action: Option<String>,
    /// A substring of the (form or JSON) request body, e.g. an instance id.
    pub body_contains: Option<String>,
    /// Answers left; `None`: always. A rule with `Some(0)` lets requests through.
    pub times: Option<usize>,
    pub fault: Fault,
}

impl Rule {
    /// Every request.
    pub fn any(fault: Fault) -> Rule {
        Rule {
            service: None,
            region: None,
            action: None,
            body_contains: None,
            times: None,
            fault,
        }
    }

    /// Requests of `service`'s `action`, e.g. `Rule::on("ec2", "StartInstances", fault)`.
    pub fn on(service: &str, action: &str, fault: Fault) -> Rule {
        Rule::any(fault).service(service).action(action)
    }

    pub fn service(mut self, service: &str) -> Rule {
        self.service = Some(service.into());
        self
    }

    pub fn region(mut self, region: &str) -> Rule {
        self.region = Some(region.into());
        self
    }

    pub fn action(mut self, action: &str) -> Rule {
        self.action = Some(action.into());
        self
    }

    pub fn body_contains(mut self, needle: &str) -> Rule {
        self.body_contains = Some(needle.into());
        self
    }

    /// Answers only `n` requests, then lets them through. Mind the SDK's retries: a
    /// retried error takes one answer per attempt.
    pub fn times(mut self, n: usize) -> Rule {
        self.times = Some(n);
        self
    }

    fn matches(&self, call: &Call, body: &str) -> bool {
        fn eq(want: &Option<String>, have: &str) -> bool {
            want.as_deref().is_none_or(|w| w == have)
        }
        self.times != Some(0)
            && eq(&self.service, &call.service)
            && eq(&self.region, &call.region)
            && eq(&self.action, &call.action)
            && self
                .body_contains
                .as_deref()
                .is_none_or(|needle| body.contains(needle))
    }
}

/// One request the proxy saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    pub service: String,
    pub region: String,
    pub action: String,
    /// `Some(i)`: rule `i` answered; `None`: forwarded to moto.
    pub rule: Option<usize>,
    /// For a DynamoDB read moto answered: the items it read (`GetItem` 0 or 1, `Scan` and
    /// `Query` their `ScannedCount`, i.e. before any filter, as DynamoDB charges them;
    /// `BatchGetItem` every table's responses).
    pub items: Option<usize>,
    /// Bytes of moto's answer (0 when a rule answered or nothing came back).
    pub bytes: usize,
}

impl Call {
    /// `service:Action`, like `Moto::recorded_operations`.
    pub fn operation(&self) -> String {
        format!("{}:{}", self.service, self.action)
    }
}

#[derive(Default)]
struct State {
    rules: Vec<Rule>,
    hits: Vec<usize>,
    calls: Vec<Call>,
}

/// The proxy; its task (and every connection it holds, hanging ones included) ends when it
/// is dropped, or with the test's runtime.
pub struct FaultProxy {
    /// `http://127.0.0.1:PORT`
    pub url: String,
    state: Arc<Mutex<State>>,
    task: JoinHandle<()>,
}

impl FaultProxy {
    /// Starts a proxy on a free local port forwarding to `upstream` (moto's URL), no rules.
    pub async fn start(upstream: &str) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let state: Arc<Mutex<State>> = Arc::default();
        // No pooled connections to moto: a moto killed and restarted on the same port is
        // reached afresh, never through a connection of the dead process.
        let client = reqwest::Client::builder()
            .no_proxy()
            .pool_max_idle_per_host(0)
            .build()
            .expect("reqwest client");
        let upstream = upstream.trim_end_matches('/').to_string();
        let shared = state.clone();
        let task = tokio::spawn(async move {
            // Connections live in the set: aborting this task drops (aborts) them all.
            let mut connections = JoinSet::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                while connections.try_join_next().is_some() {}
                let state = shared.clone();
                let client = client.clone();
                let upstream = upstream.clone();
                connections.spawn(async move {
                    let service = service_fn(move |request| {
                        answer(request, state.clone(), client.clone(), upstream.clone())
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        FaultProxy {
            url: format!("http://{addr}"),
            state,
            task,
        }
    }

    /// Replaces the rules (and resets their hit counts).
    pub fn set_rules(&self, rules: Vec<Rule>) {
        let mut s = self.state.lock().expect("lock");
        s.hits = vec![0; rules.len()];
        s.rules = rules;
    }

    /// Adds a rule after the others; returns its index for [`FaultProxy::hits`].
    pub fn push_rule(&self, rule: Rule) -> usize {
        let mut s = self.state.lock().expect("lock");
        s.rules.push(rule);
        s.hits.push(0);
        s.rules.len() - 1
    }

    /// No rules: everything goes through.
    pub fn clear(&self) {
        self.set_rules(Vec::new());
    }

    /// How many requests rule `i` answered (each SDK retry attempt counts).
    pub fn hits(&self, i: usize) -> usize {
        self.state.lock().expect("lock").hits[i]
    }

    /// Every request seen, in order, forwarded or answered by a rule.
    pub fn calls(&self) -> Vec<Call> {
        self.state.lock().expect("lock").calls.clone()
    }

    /// The operations forwarded to moto, e.g. `ec2:StartInstances`, `dynamodb:Scan`.
    pub fn forwarded(&self) -> Vec<String> {
        self.calls()
            .iter()
            .filter(|c| c.rule.is_none())
            .map(Call::operation)
            .collect()
    }

    /// Forgets the recorded calls (rules and hit counts stay).
    pub fn reset_calls(&self) {
        self.state.lock().expect("lock").calls.clear();
    }

    /// SDK config through the proxy: us-east-1 and the credentials of `Moto::sdk`.
    pub async fn sdk(&self) -> SdkConfig {
        self.sdk_in("us-east-1").await
    }

    /// SDK config through the proxy for `region` (moto serves any region).
    pub async fn sdk_in(&self, region: &str) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(region.to_string()))
            .endpoint_url(&self.url)
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "testing", "testing", None, None, "moto",
            ))
            .load()
            .await
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The proxy's error: hyper closes the connection without an answer.
#[derive(Debug)]
struct Dropped;

impl fmt::Display for Dropped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connection dropped by a fault rule")
    }
}

impl std::error::Error for Dropped {}

async fn answer(
    request: Request<hyper::body::Incoming>,
    state: Arc<Mutex<State>>,
    client: reqwest::Client,
    upstream: String,
) -> Result<Response<Full<Bytes>>, Dropped> {
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&body);
    let mut call = identify(&parts.headers, &text);
    let (fault, index) = {
        let mut s = state.lock().expect("lock");
        let found = s.rules.iter().position(|r| r.matches(&call, &text));
        call.rule = found;
        s.calls.push(call.clone());
        let index = s.calls.len() - 1;
        let fault = found.map(|i| {
            s.hits[i] += 1;
            let rule = &mut s.rules[i];
            if let Some(n) = rule.times.as_mut() {
                *n -= 1;
            }
            rule.fault.clone()
        });
        (fault, index)
    };
    let forwarded = match fault {
        None => forward(&client, &upstream, parts, body).await,
        Some(Fault::Hold(gate)) => {
            gate.pass().await;
            forward(&client, &upstream, parts, body).await
        }
        Some(other) => return answer_with(&call, other).await,
    };
    let (response, body) = forwarded?;
    let mut s = state.lock().expect("lock");
    // `reset_calls` may have run meanwhile: then this call is no longer recorded.
    if let Some(c) = s.calls.get_mut(index).filter(|c| **c == call) {
        c.bytes = body.len();
        c.items = read_items(&call, &body);
    }
    Ok(response)
}

/// The items a DynamoDB read read, from its JSON answer; `None` for anything else.
fn read_items(call: &Call, body: &[u8]) -> Option<usize> {
    if call.service != "dynamodb" {
        return None;
    }
    let json: serde_json::Value = serde_json::from_slice(body).ok()?;
    match call.action.as_str() {
        "GetItem" => Some(usize::from(json.get("Item").is_some())),
        // What DynamoDB reads (and charges for), before any filter: ScannedCount.
        "Scan" | "Query" => json["ScannedCount"].as_u64().map(|n| n as usize),
        "BatchGetItem" => Some(json["Responses"].as_object().map_or(0, |tables| {
            tables
                .values()
                .map(|items| items.as_array().map_or(0, Vec::len))
                .sum()
        })),
        _ => None,
    }
}

/// The answer of a fault rule (every fault but [`Fault::Hold`], which forwards).
async fn answer_with(call: &Call, fault: Fault) -> Result<Response<Full<Bytes>>, Dropped> {
    match fault {
        Fault::Aws {
            status,
            code,
            message,
        } => Ok(render(call, status, &code, &message())),
        Fault::Hang => std::future::pending().await,
        Fault::Drop | Fault::Hold(_) => Err(Dropped),
    }
}

/// Service, region (credential scope) and action of a request.
fn identify(headers: &HeaderMap, body: &str) -> Call {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    };
    // Credential=AKID/DATE/REGION/SERVICE/aws4_request
    let scope: Vec<&str> = header("authorization")
        .split("Credential=")
        .nth(1)
        .and_then(|rest| rest.split([',', ' ']).next())
        .map(|c| c.split('/').collect())
        .unwrap_or_default();
    let part = |i: usize| scope.get(i).copied().unwrap_or("?").to_string();
    let target = header("x-amz-target");
    let action = if !target.is_empty() {
        target.rsplit('.').next().unwrap_or_default().to_string()
    } else {
        form_urlencoded::parse(body.as_bytes())
            .find(|(k, _)| k == "Action")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_else(|| "?".into())
    };
    Call {
        service: part(3),
        region: part(2),
        action,
        rule: None,
        items: None,
        bytes: 0,
    }
}

/// The error as `call.service` sends it.
fn render(call: &Call, status: u16, code: &str, message: &str) -> Response<Full<Bytes>> {
    let request_id = uuid::Uuid::new_v4().to_string();
    let (content_type, body) = match call.service.as_str() {
        "ec2" => (
            "text/xml;charset=UTF-8",
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error>\
                 <Code>{}</Code><Message>{}</Message></Error></Errors>\
                 <RequestID>{request_id}</RequestID></Response>",
                xml(code),
                xml(message)
            ),
        ),
        "events" => (
            "application/x-amz-json-1.1",
            serde_json::json!({"__type": code, "message": message}).to_string(),
        ),
        "dynamodb" => (
            "application/x-amz-json-1.0",
            serde_json::json!({
                "__type": format!("com.amazonaws.dynamodb.v20120810#{code}"),
                "message": message,
            })
            .to_string(),
        ),
        service => {
            let namespace = match service {
                "rds" => "https://rds.amazonaws.com/doc/2014-10-31/".to_string(),
                "sts" => "https://sts.amazonaws.com/doc/2011-06-15/".to_string(),
                other => format!("https://{other}.amazonaws.com/doc/"),
            };
            let kind = if status >= 500 { "Receiver" } else { "Sender" };
            (
                "text/xml",
                format!(
                    "<ErrorResponse xmlns=\"{namespace}\"><Error><Type>{kind}</Type>\
                     <Code>{}</Code><Message>{}</Message></Error>\
                     <RequestId>{request_id}</RequestId></ErrorResponse>",
                    xml(code),
                    xml(message)
                ),
            )
        }
    };
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = StatusCode::from_u16(status).expect("status");
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        HeaderName::from_static("x-amzn-requestid"),
        HeaderValue::from_str(&request_id).expect("request id"),
    );
    r
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Headers the proxy does not copy: its own connection's, and those the HTTP stack sets.
fn hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "host" | "content-length" | "connection" | "transfer-encoding" | "keep-alive" | "upgrade"
    )
}

fn copy(headers: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::new();
    for (name, value) in headers {
        if !hop(name) {
            out.append(name.clone(), value.clone());
        }
    }
    out
}

/// Forwards the request to moto and returns its answer (and the answer's body). When moto cannot be reached (killed),
/// the connection is closed without an answer, as a dead endpoint's would be.
async fn forward(
    client: &reqwest::Client,
    upstream: &str,
    parts: hyper::http::request::Parts,
    body: Bytes,
) -> Result<(Response<Full<Bytes>>, Bytes), Dropped> {
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let sent = client
        .request(parts.method, format!("{upstream}{path}"))
        .headers(copy(&parts.headers))
        .body(body)
        .send()
        .await;
    let upstream_answer = sent.map_err(|_| Dropped)?;
    let status = upstream_answer.status();
    let headers = copy(upstream_answer.headers());
    let body = upstream_answer.bytes().await.unwrap_or_default();
    let mut r = Response::new(Full::new(body.clone()));
    *r.status_mut() = status;
    *r.headers_mut() = headers;
    Ok((r, body))
}
