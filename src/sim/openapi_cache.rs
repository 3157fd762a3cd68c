//! OpenAPI documents are generated once per set of served types and kept until a CRD changes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;

use super::cluster::VirtualCluster;
use super::openapi;
use super::resource::ResourceType;

/// The documents of one set of types.
#[derive(Default)]
pub struct OpenApiCache {
    /// Identity of the types the documents were made from.
    types: Option<Arc<Vec<ResourceType>>>,
    index: Option<Bytes>,
    documents: HashMap<String, Option<Bytes>>,
    v2: Option<Option<Bytes>>,
}

fn with_cache<T>(
    cluster: &VirtualCluster,
    f: impl FnOnce(&mut OpenApiCache, &Arc<Vec<ResourceType>>) -> T,
) -> T {
    let types = cluster.types();
    let mut cache = cluster.openapi.lock().unwrap_or_else(|e| e.into_inner());
    if !cache.types.as_ref().is_some_and(|t| Arc::ptr_eq(t, &types)) {
        *cache = OpenApiCache {
            types: Some(types.clone()),
            ..Default::default()
        };
    }
    f(&mut cache, &types)
}

/// `/openapi/v3`.
pub fn index(cluster: &VirtualCluster) -> Bytes {
    with_cache(cluster, |c, types| {
        c.index
            .get_or_insert_with(|| {
                Bytes::from(serde_json::to_vec(&openapi::v3_index(types)).unwrap_or_default())
            })
            .clone()
    })
}

/// `/openapi/v3/<path>` (the `?hash=` query is ignored: the current document is served).
pub fn document(cluster: &VirtualCluster, path: &str) -> Option<Bytes> {
    with_cache(cluster, |c, types| {
        c.documents
            .entry(path.to_string())
            .or_insert_with(|| {
                openapi::v3_document(types, path)
                    .map(|d| Bytes::from(serde_json::to_vec(&d).unwrap_or_default()))
            })
            .clone()
    })
}

/// `/openapi/v2`.
pub fn v2(cluster: &VirtualCluster) -> Option<Bytes> {
    with_cache(cluster, |c, types| {
        c.v2.get_or_insert_with(|| {
            openapi::v2_document(types)
                .map(|d| Bytes::from(serde_json::to_vec(&d).unwrap_or_default()))
        })
        .clone()
    })
}

pub type Shared = Mutex<OpenApiCache>;
