//! A webhook receiver on 127.0.0.1 that records every request (and can fail or hang).

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
#[derive(Clone, Copy)]
pub enum Mode {
    Ok,
    ServerError,
    /// Accepts the request and never answers.
    Hang,
}

#[derive(Debug, Clone)]
pub struct Recorded {
    pub headers: HashMap<String, String>,
    pub body: Value,
}

pub struct Hook {
    pub url: String,
    pub requests: Arc<Mutex<Vec<Recorded>>>,
}

impl Hook {
    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().expect("lock").clone()
    }
}

/// Starts a webhook receiver on 127.0.0.1 that records every request.
pub async fn hook(mode: Mode) -> Hook {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let requests: Arc<Mutex<Vec<Recorded>>> = Arc::default();
    let log = requests.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let log = log.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                    let log = log.clone();
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
                        let status = match mode {
                            Mode::Ok => 200,
                            Mode::ServerError => 500,
                            Mode::Hang => {
                                tokio::time::sleep(Duration::from_secs(3600)).await;
                                200
                            }
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
    }
}
