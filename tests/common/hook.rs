//! A webhook receiver on 127.0.0.1 that records every request (and can fail or hang);
//! its answer can be switched at runtime with [`Hook::set_mode`].

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;

/// How the fake webhook answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// 200
    Ok,
    /// 202, as Microsoft Teams answers.
    Accepted,
    /// 500
    ServerError,
    /// 503
    Unavailable,
    /// Accepts the request and never answers.
    Hang,
}

impl Mode {
    /// The status answered (`Hang` never answers).
    fn status(self) -> Option<u16> {
        match self {
            Mode::Ok => Some(200),
            Mode::Accepted => Some(202),
            Mode::ServerError => Some(500),
            Mode::Unavailable => Some(503),
            Mode::Hang => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Recorded {
    pub headers: HashMap<String, String>,
    pub body: Value,
}

pub struct Hook {
    pub url: String,
    pub requests: Arc<Mutex<Vec<Recorded>>>,
    mode: Arc<Mutex<Mode>>,
}

impl Hook {
    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().expect("lock").clone()
    }

    /// Changes how the following requests are answered (a request already hanging
    /// keeps hanging).
    pub fn set_mode(&self, mode: Mode) {
        *self.mode.lock().expect("lock") = mode;
    }

    pub fn mode(&self) -> Mode {
        *self.mode.lock().expect("lock")
    }
}

/// Starts a webhook receiver on 127.0.0.1 that records every request and answers as
/// `mode` (until [`Hook::set_mode`]).
pub async fn hook(mode: Mode) -> Hook {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let requests: Arc<Mutex<Vec<Recorded>>> = Arc::default();
    let log = requests.clone();
    let mode = Arc::new(Mutex::new(mode));
    let current = mode.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let log = log.clone();
            let current = current.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                    let log = log.clone();
                    let current = current.clone();
                    async move {
                        let headers = request
                            .headers()
                            .iter()
                            .map(|(k, v)| {
                                (k.to_string(), v.to_str().unwrap_or_default().to_string())
                            })
                            .collect();
                        let body = request
                            .into_body()
                            .collect()
                            .await
                            .map(|b| b.to_bytes())
                            .unwrap_or_default();
                        let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
                        log.lock().expect("lock").push(Recorded { headers, body });
                        let mode = *current.lock().expect("lock");
                        let Some(status) = mode.status() else {
                            tokio::time::sleep(Duration::from_secs(3600)).await;
                            return Ok(Response::new(Full::new(Bytes::from_static(b"late"))));
                        };
                        let mut r = Response::new(Full::new(Bytes::from_static(b"ok")));
                        *r.status_mut() = hyper::StatusCode::from_u16(status).expect("status");
                        Ok::<_, Infallible>(r)
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Hook {
        url: format!("http://{addr}/hook/SECRET-PATH"),
        requests,
        mode,
    }
}
