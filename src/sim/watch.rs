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
use super::store::{Event, EventType, Record};
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
        self.namespace
            .as_deref()
            .is_none_or(|ns| super::object::namespace(obj) == ns)
    }

    fn encode(&self, kind: &str, obj: &Value) -> Bytes {
        let body = match self.table {
            Some(include) if kind != "BOOKMARK" && kind != "ERROR" => {
                let mut t = table::to_table(&self.rt, &[obj], include, super::object::now_unix());
                t["metadata"]["resourceVersion"] = obj
                    .pointer("/metadata/resourceVersion")
                    .cloned()
                    .unwrap_or(json!(""));
                serde_json::to_vec(&t).unwrap_or_default()
            }
            _ if kind == "ERROR" || kind == "BOOKMARK" => {
                serde_json::to_vec(obj).unwrap_or_default()
            }
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
        self.encode(
            "BOOKMARK",
            &json!({ "kind": self.rt.kind, "apiVersion": self.rt.api_version(), "metadata": meta }),
        )
    }

    /// The event a watcher sees for a change, if any: a change that makes an object match
    /// is ADDED, one that makes it stop matching is DELETED.
    fn translate(&self, record: &Record) -> Option<(&'static str, Arc<Value>)> {
        if record.key != self.rt.storage_key() {
            return None;
        }
        self.translate_event(&record.decode())
    }

    fn translate_event(&self, e: &Event) -> Option<(&'static str, Arc<Value>)> {
        let now = self.in_scope(&e.object) && self.filter.matches(&e.object);
        let before = e
            .prev
            .as_ref()
            .is_some_and(|p| self.in_scope(p) && self.filter.matches(p));
        match e.kind {
            EventType::Added if now => Some(("ADDED", e.object.clone())),
            EventType::Modified if now && before => Some(("MODIFIED", e.object.clone())),
            EventType::Modified if now => Some(("ADDED", e.object.clone())),
            EventType::Modified if before => Some(("DELETED", last_state(e))),
            EventType::Deleted if before || (e.prev.is_none() && now) => {
                Some(("DELETED", last_state(e)))
            }
            _ => None,
        }
    }
}

/// What a DELETED event carries: the object as it was before the change (as it last matched),
/// at the change's resourceVersion, like the watch cache's `convertToWatchEvent`.
fn last_state(e: &Event) -> Arc<Value> {
    let Some(prev) = &e.prev else {
        return e.object.clone();
    };
    let mut obj = (**prev).clone();
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert("resourceVersion".into(), Value::String(e.rv.to_string()));
    }
    Arc::new(obj)
}

/// Runs one watch, writing frames to `tx` until the timeout, the client leaving, or the feed
/// falling behind (the client then resumes from its last resourceVersion).
pub async fn run(cluster: Arc<VirtualCluster>, req: WatchRequest, tx: FrameSender) {
    // sendInitialEvents with a resourceVersion starts from the current state, which is at least
    // as new as it (resourceVersionMatch=NotOlderThan).
    let from_now = match req.resource_version {
        None | Some(0) => true,
        Some(rv) => req.send_initial_events && rv <= cluster.store.rv(),
    };
    let (initial, sub) = match req.resource_version.filter(|_| !from_now) {
        None => {
            let (objects, sub) = cluster
                .store
                .subscribe_now(&req.rt.storage_key(), req.namespace.as_deref());
            (Some(objects), sub)
        }
        Some(rv) => match cluster.store.subscribe_from(&req.rt.storage_key(), rv) {
            Ok(sub) => (None, sub),
            Err(too_old) => {
                let status = ApiError::gone(format!(
                    "too old resource version: {} ({})",
                    too_old.requested, too_old.oldest
                ))
                .to_status();
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
        if let Some((kind, obj)) = req.translate(e)
            && !send(req.encode(kind, &obj)).await
        {
            return;
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
                    if let Some((kind, obj)) = req.translate(&e)
                        && !send(req.encode(kind, &obj)).await {
                            return;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::resource::{StorageKey, builtins};
    use crate::sim::selector::parse_labels;

    fn watching(labels: &str) -> WatchRequest {
        WatchRequest {
            rt: builtins()
                .into_iter()
                .find(|t| t.plural == "configmaps")
                .unwrap(),
            namespace: None,
            filter: Filter {
                labels: Some(parse_labels(labels).unwrap()),
                fields: None,
            },
            resource_version: None,
            bookmarks: false,
            send_initial_events: false,
            timeout: Duration::from_secs(1),
            table: None,
        }
    }

    fn cm(app: &str, rv: u64) -> Arc<Value> {
        Arc::new(
            json!({"metadata": {"name": "c", "namespace": "d", "labels": {"app": app}, "resourceVersion": rv.to_string()}}),
        )
    }

    fn event(kind: EventType, prev: Option<Arc<Value>>, object: Arc<Value>, rv: u64) -> Event {
        Event {
            kind,
            key: StorageKey {
                group: String::new(),
                plural: "configmaps".into(),
            },
            object,
            prev,
            rv,
        }
    }

    #[test]
    fn objects_entering_and_leaving_a_selector() {
        let w = watching("app=a");
        let (kind, obj) = w
            .translate_event(&event(EventType::Modified, Some(cm("b", 5)), cm("a", 6), 6))
            .unwrap();
        assert_eq!(
            (kind, obj["metadata"]["labels"]["app"].as_str()),
            ("ADDED", Some("a"))
        );
        // Leaving: DELETED with the last matching state, at the change's resourceVersion.
        let (kind, obj) = w
            .translate_event(&event(EventType::Modified, Some(cm("a", 6)), cm("b", 7), 7))
            .unwrap();
        assert_eq!(
            (kind, obj["metadata"]["labels"]["app"].as_str()),
            ("DELETED", Some("a"))
        );
        assert_eq!(obj["metadata"]["resourceVersion"], "7");
        assert!(
            w.translate_event(&event(EventType::Modified, Some(cm("b", 7)), cm("c", 8), 8))
                .is_none()
        );
        assert!(
            w.translate_event(&event(EventType::Deleted, Some(cm("b", 8)), cm("b", 9), 9))
                .is_none()
        );
    }

    #[test]
    fn deleted_events_carry_the_stored_state() {
        let w = watching("app=a");
        // An update that removed the last finalizer deletes; watchers see the stored object.
        let stored = Arc::new(
            json!({"metadata": {"name": "c", "labels": {"app": "a"}, "finalizers": ["f"], "resourceVersion": "3"}}),
        );
        let last = Arc::new(
            json!({"metadata": {"name": "c", "labels": {"app": "a"}, "resourceVersion": "4"}}),
        );
        let (kind, obj) = w
            .translate_event(&event(EventType::Deleted, Some(stored), last, 4))
            .unwrap();
        assert_eq!(kind, "DELETED");
        assert_eq!(obj["metadata"]["finalizers"], json!(["f"]));
        assert_eq!(obj["metadata"]["resourceVersion"], "4");
    }
}
