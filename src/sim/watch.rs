//! Watches: ADDED / MODIFIED / DELETED in resourceVersion order, BOOKMARKs, initial events,
//! timeouts, and 410 Gone (as an ERROR event) for a resourceVersion older than the history.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hyper::body::Frame;
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};

use super::cluster::VirtualCluster;
use super::error::ApiError;
use super::read::{Filter, present};
use super::resource::ResourceType;
use super::store::{Event, EventType};
use super::table::{self, IncludeObject};

/// What a watch asked for.
pub struct WatchRequest {
    pub rt: ResourceType,
    pub namespace: Option<String>,
    pub filter: Filter,
    /// None or "0": start with the current objects as ADDED events.
    pub resource_version: Option<u64>,
    pub bookmarks: bool,
    pub send_initial_events: bool,
    pub timeout: Duration,
    /// Events carry Tables (kubectl get -w).
    pub table: Option<IncludeObject>,
}

pub type FrameSender = mpsc::Sender<Result<Frame<Bytes>, Infallible>>;

impl WatchRequest {
    fn in_scope(&self, obj: &Value) -> bool {
        self.namespace.as_deref().is_none_or(|ns| super::object::namespace(obj) == ns)
    }

    fn encode(&self, kind: &str, obj: &Value) -> Bytes {
        let body = match self.table {
            Some(include) if kind != "BOOKMARK" && kind != "ERROR" => {
                let mut t = table::to_table(&self.rt, &[obj], include, super::object::now_unix());
                t["metadata"]["resourceVersion"] = obj.pointer("/metadata/resourceVersion").cloned().unwrap_or(json!(""));
                serde_json::to_vec(&t).unwrap_or_default()
            }
            _ if kind == "ERROR" || kind == "BOOKMARK" => serde_json::to_vec(obj).unwrap_or_default(),
            _ => present(&self.rt, obj),
        };
        let mut line = Vec::with_capacity(body.len() + 32);
        line.extend_from_slice(br#"{"type":""#);
        line.extend_from_slice(kind.as_bytes());
        line.extend_from_slice(br#"","object":"#);
        line.extend_from_slice(&body);
        line.extend_from_slice(b"}\n");
        Bytes::from(line)
    }

    fn bookmark(&self, rv: u64, initial_end: bool) -> Bytes {
        let mut meta = json!({ "resourceVersion": rv.to_string(), "creationTimestamp": null });
        if initial_end {
            meta["annotations"] = json!({ "k8s.io/initial-events-end": "true" });
        }
        self.encode("BOOKMARK", &json!({ "kind": self.rt.kind, "apiVersion": self.rt.api_version(), "metadata": meta }))
    }

    /// The event a watcher sees for a change, if any: a change that makes an object match
    /// is ADDED, one that makes it stop matching is DELETED.
    fn translate(&self, e: &Event) -> Option<(&'static str, Arc<Value>)> {
        if e.key != self.rt.storage_key() {
            return None;
        }
        let now = self.in_scope(&e.object) && self.filter.matches(&e.object);
        let before = e.prev.as_ref().is_some_and(|p| self.in_scope(p) && self.filter.matches(p));
        match e.kind {
            EventType::Added if now => Some(("ADDED", e.object.clone())),
            EventType::Modified if now && before => Some(("MODIFIED", e.object.clone())),
            EventType::Modified if now => Some(("ADDED", e.object.clone())),
            EventType::Modified if before => Some(("DELETED", e.object.clone())),
            EventType::Deleted if before || now => Some(("DELETED", e.object.clone())),
            _ => None,
        }
    }
}

/// Runs one watch, writing frames to `tx` until the timeout, the client leaving, or the feed
/// falling behind (the client then resumes from its last resourceVersion).
pub async fn run(cluster: Arc<VirtualCluster>, req: WatchRequest, tx: FrameSender) {
    let (initial, sub) = match req.resource_version {
        None | Some(0) => {
            let (objects, sub) = cluster.store.subscribe_now(&req.rt.storage_key(), req.namespace.as_deref());
            (Some(objects), sub)
        }
        Some(rv) => match cluster.store.subscribe_from(rv) {
            Ok(sub) => (None, sub),
            Err(too_old) => {
                let status = ApiError::gone(format!("too old resource version: {} ({})", too_old.requested, too_old.oldest)).to_status();
                let _ = tx.send(Ok(Frame::data(req.encode("ERROR", &status)))).await;
                return;
            }
        },
    };
    let mut last_rv = sub.rv;
    let send = |b: Bytes| {
        let tx = tx.clone();
        async move { tx.send(Ok(Frame::data(b))).await.is_ok() }
    };
    if let Some(objects) = initial {
        for obj in objects.iter().filter(|o| req.filter.matches(o)) {
            if !send(req.encode("ADDED", obj)).await {
                return;
            }
        }
        if req.send_initial_events && req.bookmarks && !send(req.bookmark(last_rv, true)).await {
            return;
        }
    }
    for e in &sub.replay {
        last_rv = last_rv.max(e.rv);
        if let Some((kind, obj)) = req.translate(e) {
            if !send(req.encode(kind, &obj)).await {
                return;
            }
        }
    }
    let mut feed = sub.feed;
    let deadline = tokio::time::sleep(req.timeout);
    tokio::pin!(deadline);
    let mut bookmark_tick = tokio::time::interval(cluster.settings.bookmark_interval);
    bookmark_tick.tick().await;
    loop {
        tokio::select! {
            _ = &mut deadline => break,
            _ = tx.closed() => return,
            _ = bookmark_tick.tick(), if req.bookmarks => {
                if !send(req.bookmark(last_rv, false)).await {
                    return;
                }
            }
            e = feed.recv() => match e {
                Ok(e) => {
                    if e.rv <= last_rv {
                        continue;
                    }
                    last_rv = e.rv;
                    if let Some((kind, obj)) = req.translate(&e) {
                        if !send(req.encode(kind, &obj)).await {
                            return;
                        }
                    }
                }
                // Fell behind or the cluster is gone: end the watch; the client resumes.
                Err(broadcast::error::RecvError::Lagged(_)) | Err(broadcast::error::RecvError::Closed) => return,
            },
        }
    }
    if req.bookmarks {
        let _ = send(req.bookmark(last_rv, false)).await;
    }
}
