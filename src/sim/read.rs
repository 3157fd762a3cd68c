//! get and list: selectors, pagination, and the JSON (or Table) they answer with.

use std::sync::Arc;

use base64::Engine;
use serde_json::{Value, json};

use super::cluster::VirtualCluster;
use super::error::ApiError;
use super::request::Query;
use super::resource::ResourceType;
use super::selector::{self, FieldSelector, LabelSelector};
use super::store::ObjectKey;

/// labelSelector and fieldSelector of a list or watch.
pub struct Filter {
    pub labels: Option<LabelSelector>,
    pub fields: Option<FieldSelector>,
}

impl Filter {
    pub fn from_query(rt: &ResourceType, q: &Query) -> Result<Self, ApiError> {
        let labels = match q.get("labelSelector") {
            Some(s) => {
                Some(selector::parse_labels(s).map_err(|e| ApiError::bad_request(e.to_string()))?)
            }
            None => None,
        };
        let fields = match q.get("fieldSelector") {
            Some(s) => {
                let f =
                    selector::parse_fields(s).map_err(|e| ApiError::bad_request(e.to_string()))?;
                let f = if rt.crd.is_some() {
                    f.check_supported_custom(!rt.namespaced, &[])
                        .map_err(|e| ApiError::bad_request(e.to_string()))?;
                    f
                } else {
                    f.converted(&rt.group, &rt.kind)
                        .map_err(|e| ApiError::bad_request(e.to_string()))?
                };
                Some(f)
            }
            None => None,
        };
        Ok(Self { labels, fields })
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_none() && self.fields.is_none()
    }

    pub fn matches(&self, obj: &Value) -> bool {
        if let Some(l) = &self.labels {
            let empty = serde_json::Map::new();
            let labels = obj
                .pointer("/metadata/labels")
                .and_then(Value::as_object)
                .unwrap_or(&empty);
            if !l.matches(labels) {
                return false;
            }
        }
        self.fields.as_ref().is_none_or(|f| f.matches(obj))
    }
}

/// Which state a list reads (`resourceVersion`, `resourceVersionMatch`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListRead {
    /// No resourceVersion (a consistent read) or `0` (any): the current state.
    Latest,
    /// Not older than this resourceVersion (the default match).
    NotOlderThan(u64),
    /// `resourceVersionMatch=Exact`: the state at exactly this resourceVersion.
    Exact(u64),
}

impl ListRead {
    /// From a list's query, validated as `ValidateListOptions` and the storage layer do it.
    pub fn from_query(q: &Query) -> Result<Self, ApiError> {
        let rv = q.get("resourceVersion");
        let matching = q.get("resourceVersionMatch");
        let cont = q.get("continue");
        let forbidden = |detail: &str| {
            (
                "resourceVersionMatch".to_string(),
                format!("Forbidden: {detail}"),
            )
        };
        let mut problems = Vec::new();
        if let Some(m) = matching {
            if rv.is_none() {
                problems.push(forbidden(
                    "resourceVersionMatch is forbidden unless resourceVersion is provided",
                ));
            }
            if cont.is_some() {
                problems.push(forbidden(
                    "resourceVersionMatch is forbidden when continue is provided",
                ));
            }
            if m != "Exact" && m != "NotOlderThan" {
                problems.push((
                    "resourceVersionMatch".to_string(),
                    format!(
                        "Unsupported value: \"{m}\": supported values: \"Exact\", \"NotOlderThan\", \"\""
                    ),
                ));
            }
            if m == "Exact" && rv == Some("0") {
                problems.push(forbidden(
                    "resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"",
                ));
            }
        }
        if !problems.is_empty() {
            return Err(ApiError::invalid_options("ListOptions", &problems));
        }
        let Some(rv) = rv else {
            return Ok(ListRead::Latest);
        };
        if cont.is_some() && rv != "0" {
            return Err(ApiError::bad_request(
                "specifying resource version is not allowed when using continue",
            ));
        }
        let n = rv
            .parse::<u64>()
            .map_err(|_| ApiError::bad_request(format!("invalid resource version: {rv}")))?;
        Ok(match matching {
            Some("Exact") => ListRead::Exact(n),
            _ if n == 0 => ListRead::Latest,
            _ => ListRead::NotOlderThan(n),
        })
    }
}

/// `storage.NewTooLargeResourceVersionError`: a resourceVersion the store has not reached.
fn too_large(requested: u64, current: u64) -> ApiError {
    let mut e = ApiError::new(
        504,
        "Timeout",
        format!("Timeout: Too large resource version: {requested}, current: {current}"),
    );
    e.details = Some(json!({
        "causes": [{ "reason": "ResourceVersionTooLarge", "message": "Too large resource version" }],
        "retryAfterSeconds": 1,
    }));
    e.retry_after = Some(1);
    e
}

/// One page of a list.
pub struct Page {
    pub items: Vec<Arc<Value>>,
    pub rv: u64,
    pub continue_token: Option<String>,
    pub remaining: Option<u64>,
}

fn encode_continue(rv: u64, key: &ObjectKey) -> String {
    let start = format!("{}/{}", key.0, key.1);
    let raw = json!({ "v": "meta.k8s.io/v1", "rv": rv, "start": start });
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw.to_string())
}

fn decode_continue(token: &str) -> Result<(u64, ObjectKey), ApiError> {
    let bad = || ApiError::bad_request("continue key is not valid: illegal base64 data or JSON");
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.trim_end_matches('='))
        .map_err(|_| bad())?;
    let v: Value = serde_json::from_slice(&raw).map_err(|_| bad())?;
    if v["v"] != "meta.k8s.io/v1" {
        return Err(ApiError::bad_request(
            "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)",
        ));
    }
    let rv = v["rv"].as_u64().ok_or_else(bad)?;
    let start = v["start"].as_str().ok_or_else(bad)?;
    let (ns, name) = start.split_once('/').ok_or_else(bad)?;
    Ok((rv, (ns.to_string(), name.to_string())))
}

impl VirtualCluster {
    pub fn get(&self, rt: &ResourceType, ns: &str, name: &str) -> Result<Arc<Value>, ApiError> {
        self.store
            .get(&rt.storage_key(), ns, name)
            .ok_or_else(|| ApiError::not_found(rt, name))
    }

    /// A page of objects matching `filter`, from the `continue` token on, at most `limit`.
    /// Pages are read from the current state (kube-apiserver serves them from a snapshot).
    /// An exact read of an older resourceVersion is served when the resource has not changed
    /// since; otherwise it is 410 Gone, as if etcd had compacted that revision (the store keeps
    /// no snapshots).
    pub fn list(
        &self,
        rt: &ResourceType,
        ns: Option<&str>,
        filter: &Filter,
        limit: Option<usize>,
        cont: Option<&str>,
        read: ListRead,
    ) -> Result<Page, ApiError> {
        let (list_rv, after) = match cont {
            Some(t) => {
                let (rv, key) = decode_continue(t)?;
                (Some(rv), Some(key))
            }
            None => (None, None),
        };
        let (all, rv, changed) =
            self.store
                .list_with_last_change(&rt.storage_key(), ns, after.as_ref());
        let rv = match read {
            ListRead::NotOlderThan(n) | ListRead::Exact(n) if n > rv => {
                return Err(too_large(n, rv));
            }
            ListRead::Exact(n) if n < changed => {
                return Err(ApiError::gone(
                    "The resourceVersion for the provided list is too old.",
                ));
            }
            ListRead::Exact(n) => n,
            _ => list_rv.unwrap_or(rv),
        };
        let mut items = Vec::new();
        let mut iter = all.into_iter();
        let limit = limit.filter(|l| *l > 0);
        for obj in iter.by_ref() {
            if filter.matches(&obj) {
                items.push(obj);
                if limit.is_some_and(|l| items.len() >= l) {
                    break;
                }
            }
        }
        let rest: Vec<Arc<Value>> = iter.collect();
        let more = if filter.is_empty() {
            !rest.is_empty()
        } else {
            rest.iter().any(|o| filter.matches(o))
        };
        let (continue_token, remaining) = match (more, items.last()) {
            (true, Some(last)) => {
                let key = (
                    super::object::namespace(last).to_string(),
                    super::object::name(last).to_string(),
                );
                let remaining = filter.is_empty().then_some(rest.len() as u64);
                (Some(encode_continue(rv, &key)), remaining)
            }
            _ => (None, None),
        };
        Ok(Page {
            items,
            rv,
            continue_token,
            remaining,
        })
    }
}

/// Serializes an object as served at `rt`'s version.
pub fn present(rt: &ResourceType, obj: &Value) -> Vec<u8> {
    if rt.crd.is_some()
        && obj.get("apiVersion").and_then(Value::as_str) != Some(rt.api_version().as_str())
    {
        let mut o = obj.clone();
        o["apiVersion"] = json!(rt.api_version());
        return serde_json::to_vec(&o).unwrap_or_default();
    }
    serde_json::to_vec(obj).unwrap_or_default()
}

/// Serializes a list page without copying its items. Items of built-in lists carry no
/// apiVersion/kind (typed lists omit them); custom resources' items keep theirs.
pub fn list_json(rt: &ResourceType, page: &Page) -> Vec<u8> {
    let mut meta = json!({ "resourceVersion": page.rv.to_string() });
    if let Some(c) = &page.continue_token {
        meta["continue"] = json!(c);
    }
    if let Some(r) = page.remaining {
        meta["remainingItemCount"] = json!(r);
    }
    let mut out = Vec::with_capacity(256 + page.items.len() * 512);
    out.extend_from_slice(br#"{"kind":"#);
    out.extend_from_slice(json!(rt.list_kind()).to_string().as_bytes());
    out.extend_from_slice(br#","apiVersion":"#);
    out.extend_from_slice(json!(rt.api_version()).to_string().as_bytes());
    out.extend_from_slice(br#","metadata":"#);
    out.extend_from_slice(meta.to_string().as_bytes());
    out.extend_from_slice(br#","items":["#);
    for (i, item) in page.items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        if rt.crd.is_some() {
            out.extend_from_slice(&present(rt, item));
        } else if let Some(map) = item.as_object() {
            out.push(b'{');
            let mut first = true;
            for (k, v) in map {
                if k == "apiVersion" || k == "kind" {
                    continue;
                }
                if !first {
                    out.push(b',');
                }
                first = false;
                // Writing a String key and a Value to a Vec cannot fail.
                let _ = serde_json::to_writer(&mut out, k);
                out.push(b':');
                let _ = serde_json::to_writer(&mut out, v);
            }
            out.push(b'}');
        }
    }
    out.extend_from_slice(b"]}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_tokens_round_trip() {
        let t = encode_continue(42, &("ns".into(), "a".into()));
        assert_eq!(
            decode_continue(&t).unwrap(),
            (42, ("ns".to_string(), "a".to_string()))
        );
        assert_eq!(decode_continue("!!").unwrap_err().code, 400);
    }
}
