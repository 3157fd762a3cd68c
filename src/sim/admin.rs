//! The admin API on the main port: fault injection and request counters per virtual cluster.
//!
//! - `GET /admin/clusters`: names, servers, object counts.
//! - `GET|PUT /admin/clusters/<name>/faults`: a `FaultConfig` (JSON).
//! - `GET|DELETE /admin/clusters/<name>/requests`: request counters / reset them.
//!
//! Authenticated with the simulator's admin token (bearer).

use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, header};
use serde_json::json;

use super::error::ApiError;
use super::faults::FaultConfig;
use super::response::{self, Body};
use super::server::Shared;

pub async fn handle(shared: &Shared, req: Request<Incoming>, path: String) -> Response<Body> {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if token.is_empty() || token.as_bytes() != shared.admin_token.as_bytes() {
        return response::error(&ApiError::unauthorized());
    }
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let method = req.method().clone();
    match (method, segments.as_slice()) {
        (Method::GET, ["clusters"]) => {
            let clusters = shared.clusters.read().unwrap_or_else(|e| e.into_inner());
            let list: Vec<_> = clusters
                .iter()
                .map(|(name, e)| json!({ "name": name, "server": format!("https://127.0.0.1:{}/clusters/{name}", e.port), "objects": e.cluster.store.len(), "faults": e.cluster.faults.get() }))
                .collect();
            response::json(200, &json!({ "clusters": list }))
        }
        (method, ["clusters", name, what]) => {
            let Some(entry) = shared.cluster(name) else {
                return response::error(&ApiError::not_found_named("", "clusters", name));
            };
            let c = &entry.cluster;
            match (method, *what) {
                (Method::GET, "faults") => response::json(
                    200,
                    &serde_json::to_value(c.faults.get()).unwrap_or_default(),
                ),
                (Method::PUT, "faults") => {
                    let body = match req.into_body().collect().await {
                        Ok(b) => b.to_bytes(),
                        Err(_) => {
                            return response::error(&ApiError::bad_request("unreadable body"));
                        }
                    };
                    match serde_json::from_slice::<FaultConfig>(&body) {
                        Ok(f) => match f.validate() {
                            Ok(()) => {
                                entry.set_faults(f.clone());
                                response::json(200, &serde_json::to_value(f).unwrap_or_default())
                            }
                            Err(m) => response::error(&ApiError::bad_request(m)),
                        },
                        Err(e) => response::error(&ApiError::bad_request(format!(
                            "invalid fault configuration: {e}"
                        ))),
                    }
                }
                (Method::GET, "requests") => {
                    response::json(200, &json!({ "requests": c.counters.snapshot() }))
                }
                (Method::DELETE, "requests") => {
                    c.counters.reset();
                    response::json(200, &json!({ "requests": [] }))
                }
                _ => response::error(&ApiError::path_not_found()),
            }
        }
        _ => response::error(&ApiError::path_not_found()),
    }
}
