//! The hub's HTTP endpoint (plain HTTP, behind the cluster's network policy or a Service):
//! `GET /metrics`, `GET /healthz` (the process runs), `GET /readyz` (the cluster registry is
//! synced), and the routes other modules add (the Git webhook).

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use super::Metrics;
use crate::cluster::Registry;

/// A request body, read whole (bounded).
pub struct RouteRequest {
    pub headers: hyper::HeaderMap,
    pub body: Bytes,
}

/// The answer of a route: status and a text body.
pub type Answer = (StatusCode, String);
type RouteFuture = Pin<Box<dyn Future<Output = Answer> + Send>>;
/// A POST route.
pub type Route = Arc<dyn Fn(RouteRequest) -> RouteFuture + Send + Sync>;

/// Largest request body accepted (GitHub caps webhook payloads at 25 MB).
const MAX_BODY: usize = 32 << 20;

/// Runs at scrape time: updates registered metrics, and may append whole families as text.
pub type Collector = Arc<dyn Fn(&Metrics, &mut String) + Send + Sync>;

/// What the endpoint serves.
#[derive(Clone)]
pub struct Endpoint {
    pub metrics: Arc<Metrics>,
    pub registry: Arc<Registry>,
    /// `POST` routes by path.
    pub routes: Vec<(&'static str, Route)>,
    pub collectors: Vec<Collector>,
}

/// Binds `addr` and serves until the task is dropped. Returns the bound address.
pub async fn serve(
    addr: SocketAddr,
    endpoint: Endpoint,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let endpoint = Arc::new(endpoint);
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let endpoint = endpoint.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req| {
                    let endpoint = endpoint.clone();
                    async move { Ok::<_, Infallible>(handle(&endpoint, req).await) }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    Ok((bound, task))
}

async fn handle(endpoint: &Endpoint, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_string();
    let (status, body) = match (req.method().clone(), path.as_str()) {
        (Method::GET, "/metrics") => {
            endpoint.metrics.observe_clusters(&endpoint.registry);
            let mut families = String::new();
            for c in &endpoint.collectors {
                c(&endpoint.metrics, &mut families);
            }
            let mut body = endpoint.metrics.render();
            body.push_str(&families);
            (StatusCode::OK, body)
        }
        (Method::GET, "/healthz") => (StatusCode::OK, "ok\n".into()),
        (Method::GET, "/readyz") if endpoint.registry.is_synced() => {
            (StatusCode::OK, "ok\n".into())
        }
        (Method::GET, "/readyz") => (
            StatusCode::SERVICE_UNAVAILABLE,
            "cluster registry not synced\n".into(),
        ),
        (Method::POST, p) => match endpoint.routes.iter().find(|(r, _)| *r == p) {
            Some((_, route)) => {
                let headers = req.headers().clone();
                match Limited::new(req.into_body(), MAX_BODY).collect().await {
                    Ok(b) => {
                        route(RouteRequest {
                            headers,
                            body: b.to_bytes(),
                        })
                        .await
                    }
                    Err(_) => (
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "request body too large or unreadable\n".into(),
                    ),
                }
            }
            None => (StatusCode::NOT_FOUND, "not found\n".into()),
        },
        _ => (StatusCode::NOT_FOUND, "not found\n".into()),
    };
    let content_type = if path == "/metrics" {
        "text/plain; version=0.0.4"
    } else {
        "text/plain; charset=utf-8"
    };
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(body)))
        .unwrap_or_default()
}
