//! OpenAPI documents as kube-apiserver v1.33 publishes them: the `/openapi/v3` index, one
//! OpenAPI 3.0 document per group version, and the Swagger 2.0 document of `/openapi/v2`
//! (which kubectl reads only as protobuf, see [`v2_protobuf`]).
//!
//! kubectl reads from these: the `PATCH` operation of a kind (matched by
//! `x-kubernetes-group-version-kind`) for the `fieldValidation` parameter and for
//! `application/strategic-merge-patch+json` in its request body, and the kind's schema in
//! `components.schemas` (matched by the same extension) for `x-kubernetes-patch-strategy` /
//! `x-kubernetes-patch-merge-key` when it computes a client-side apply patch; `kubectl explain`
//! walks the same schemas. Built-in schemas come from k8s-openapi, custom ones from the CRD.

mod annotate;
pub(crate) mod builtin;
mod crd;
mod params;
mod paths;
mod proto;
mod v2;

use std::collections::BTreeSet;

use ring::digest;
use serde_json::{Map, Value, json};

use super::resource::ResourceType;

pub use proto::encode_document as v2_protobuf;

/// What client-go's `Accept` asks `/openapi/v2` for (it decodes nothing but this protobuf).
pub const V2_PROTOBUF_ACCEPT: &str = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf";
/// The `Content-Type` to answer it with: kube-openapi replies with the `.v1.0` spelling, since
/// `@` does not parse as a media type (client-go rejects the reply otherwise).
pub const V2_PROTOBUF_CONTENT_TYPE: &str =
    "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";
/// Content type of the v3 documents and the JSON v2 document.
pub const JSON_CONTENT_TYPE: &str = "application/json";

/// `components.schemas` reference prefix.
pub(crate) const REF_PREFIX: &str = "#/components/schemas/";

/// `api/v1` or `apis/<group>/<version>`.
fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// The served group versions, in path order.
fn group_versions(types: &[ResourceType]) -> BTreeSet<(String, String)> {
    types
        .iter()
        .map(|t| (t.group.clone(), t.version.clone()))
        .collect()
}

/// `/openapi/v3`: every group version's document, addressed by its hash.
pub fn v3_index(types: &[ResourceType]) -> Value {
    let mut paths = Map::new();
    for (group, version) in group_versions(types) {
        let path = gv_path(&group, &version);
        if let Some(doc) = v3_document(types, &path) {
            let url = format!("/openapi/v3/{path}?hash={}", hash(&doc));
            paths.insert(path, json!({ "serverRelativeURL": url }));
        }
    }
    json!({ "paths": paths })
}

/// Uppercase hex SHA-512 of the serialized document, as the apiserver's ETag and `?hash=`.
pub fn hash(doc: &Value) -> String {
    let bytes = serde_json::to_vec(doc).unwrap_or_default();
    digest::digest(&digest::SHA512, &bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

/// Splits `api/v1` / `apis/apps/v1` into group and version.
fn parse_gv_path(gv_path: &str) -> Option<(String, String)> {
    let parts: Vec<&str> = gv_path.trim_matches('/').split('/').collect();
    match parts.as_slice() {
        ["api", version] => Some((String::new(), version.to_string())),
        ["apis", group, version] => Some((group.to_string(), version.to_string())),
        _ => None,
    }
}

/// The OpenAPI 3.0 document of one group version (`api/v1`, `apis/apps/v1`), `None` if the
/// group version is not served.
pub fn v3_document(types: &[ResourceType], gv_path: &str) -> Option<Value> {
    let (group, version) = parse_gv_path(gv_path)?;
    let served: Vec<&ResourceType> = types
        .iter()
        .filter(|t| t.group == group && t.version == version)
        .collect();
    if served.is_empty() {
        return None;
    }
    let all_gvs: Vec<(String, String)> = group_versions(types).into_iter().collect();
    let mut schemas = builtin::meta_schemas(&all_gvs);
    let mut paths = Map::new();
    let builtins: Vec<&ResourceType> = served.iter().copied().filter(|t| !t.is_custom()).collect();
    let builtin_refs = builtin::add_kinds(&builtins, &mut schemas);
    for (rt, kind_ref) in builtins.iter().zip(&builtin_refs) {
        paths::add_resource(rt, kind_ref, &mut paths);
    }
    for rt in served.iter().filter(|t| t.is_custom()) {
        let kind_ref = crd::add_schemas(rt, &mut schemas, false);
        paths::add_resource(rt, &kind_ref, &mut paths);
    }
    paths::add_api_resources(&group, &version, &mut paths);
    let custom_only = served.iter().all(|t| t.is_custom());
    let title = if custom_only {
        "Kubernetes CRD Swagger"
    } else {
        "Kubernetes"
    };
    let info_version = if custom_only { "v0.1.0" } else { "v1.33.0" };
    Some(json!({
        "openapi": "3.0.0",
        "info": { "title": title, "version": info_version },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "BearerToken": { "type": "apiKey", "description": "Bearer Token authentication", "name": "authorization", "in": "header" }
            }
        }
    }))
}

/// The Swagger 2.0 document of `/openapi/v2`: every served group version in one document.
/// kubectl fetches it only as protobuf ([`v2_protobuf`]) when it validates a `kind: List` on the
/// client, or when the v3 documents fail.
pub fn v2_document(types: &[ResourceType]) -> Option<Value> {
    let mut paths = Map::new();
    let mut definitions = Map::new();
    for (group, version) in group_versions(types) {
        let Some(doc) = v3_document(types, &gv_path(&group, &version)) else {
            continue;
        };
        for (path, item) in doc["paths"].as_object().into_iter().flatten() {
            paths.insert(path.clone(), v2::path_item(item));
        }
        for (name, schema) in doc["components"]["schemas"]
            .as_object()
            .into_iter()
            .flatten()
        {
            definitions
                .entry(name.clone())
                .or_insert_with(|| v2::schema(schema));
        }
    }
    for rt in types.iter().filter(|t| t.is_custom()) {
        crd::v2_override(rt, &mut definitions);
    }
    Some(json!({
        "swagger": "2.0",
        "info": { "title": "Kubernetes", "version": "v1.33.0" },
        "paths": paths,
        "definitions": definitions,
        "securityDefinitions": {
            "BearerToken": { "description": "Bearer Token authentication", "type": "apiKey", "name": "authorization", "in": "header" }
        },
        "security": [{ "BearerToken": [] }]
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::resource::{builtins, from_crd};
    use std::time::Instant;

    fn with_widgets() -> Vec<ResourceType> {
        let mut types = builtins();
        types.extend(from_crd(&json!({
            "metadata": {"name": "widgets.example.com"},
            "spec": {"group": "example.com", "scope": "Namespaced", "names": {"plural": "widgets", "kind": "Widget"},
                "versions": [{"name": "v1", "served": true, "storage": true, "subresources": {"status": {}},
                    "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                        "spec": {"type": "object", "properties": {"size": {"type": "integer"}}}}}}}]}
        })));
        types
    }

    /// The PATCH operation whose `x-kubernetes-group-version-kind` is the kind, as
    /// cli-runtime's `supportsQueryParamV3` and kubectl's `gvkSupportsPatchOpenAPIV3` find it.
    fn patch_op<'a>(doc: &'a Value, group: &str, kind: &str) -> &'a Value {
        doc["paths"]
            .as_object()
            .unwrap()
            .values()
            .filter_map(|p| p.get("patch"))
            .find(|op| {
                op["x-kubernetes-group-version-kind"]["kind"] == kind
                    && op["x-kubernetes-group-version-kind"]["group"] == group
            })
            .unwrap()
    }

    #[test]
    fn index_lists_every_group_version_with_its_hash() {
        let types = with_widgets();
        let index = v3_index(&types);
        let paths = index["paths"].as_object().unwrap();
        assert!(paths.contains_key("api/v1"));
        assert!(paths.contains_key("apis/apps/v1"));
        assert!(paths.contains_key("apis/example.com/v1"));
        let doc = v3_document(&types, "apis/apps/v1").unwrap();
        assert_eq!(
            paths["apis/apps/v1"]["serverRelativeURL"],
            format!("/openapi/v3/apis/apps/v1?hash={}", hash(&doc))
        );
        assert_eq!(hash(&doc).len(), 128);
        assert!(
            hash(&doc)
                .chars()
                .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
        );
        assert!(v3_document(&types, "apis/apps/v2").is_none());
        assert!(v3_document(&types, "nonsense").is_none());
    }

    #[test]
    fn apps_document_serves_kubectl() {
        let types = builtins();
        let start = Instant::now();
        let doc = v3_document(&types, "apis/apps/v1").unwrap();
        println!(
            "v3_document(apis/apps/v1): {:?}, {} bytes",
            start.elapsed(),
            serde_json::to_vec(&doc).unwrap().len()
        );
        assert_eq!(doc["openapi"], "3.0.0");
        let patch = patch_op(&doc, "apps", "Deployment");
        assert!(
            patch["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["name"] == "fieldValidation")
        );
        assert!(
            patch["requestBody"]["content"]
                .get("application/strategic-merge-patch+json")
                .is_some()
        );
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        let deploy = &schemas["io.k8s.api.apps.v1.Deployment"];
        assert_eq!(
            deploy["x-kubernetes-group-version-kind"],
            json!([{"group": "apps", "kind": "Deployment", "version": "v1"}])
        );
        assert!(deploy.get("required").is_none());
        assert_eq!(
            deploy["properties"]["spec"]["allOf"][0]["$ref"],
            "#/components/schemas/io.k8s.api.apps.v1.DeploymentSpec"
        );
        assert_eq!(
            schemas["io.k8s.api.apps.v1.DeploymentList"]["x-kubernetes-group-version-kind"][0]["kind"],
            "DeploymentList"
        );
        assert_eq!(
            schemas["io.k8s.api.autoscaling.v1.Scale"]["x-kubernetes-group-version-kind"][0]["kind"],
            "Scale"
        );
        assert_eq!(
            schemas["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]["format"],
            "int-or-string"
        );
    }

    #[test]
    fn every_reference_resolves_inside_its_document() {
        let types = with_widgets();
        for (group, version) in group_versions(&types) {
            let doc = v3_document(&types, &gv_path(&group, &version)).unwrap();
            let schemas = doc["components"]["schemas"].as_object().unwrap();
            let text = serde_json::to_string(&doc).unwrap();
            for piece in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
                let name = &piece[..piece.find('"').unwrap()];
                assert!(
                    schemas.contains_key(name),
                    "dangling {name} in {group}/{version}"
                );
            }
            // Every kind a path names has a schema carrying its GVK (what explain looks up).
            for item in doc["paths"].as_object().unwrap().values() {
                for op in item
                    .as_object()
                    .unwrap()
                    .values()
                    .filter(|o| o.get("x-kubernetes-group-version-kind").is_some())
                {
                    let gvk = &op["x-kubernetes-group-version-kind"];
                    assert!(
                        schemas
                            .values()
                            .any(|s| s["x-kubernetes-group-version-kind"]
                                .as_array()
                                .is_some_and(|l| l.contains(gvk))),
                        "no schema for {gvk}"
                    );
                }
            }
        }
    }

    #[test]
    fn custom_resources_publish_their_schema_without_strategic_merge() {
        let types = with_widgets();
        let doc = v3_document(&types, "apis/example.com/v1").unwrap();
        assert_eq!(doc["info"]["title"], "Kubernetes CRD Swagger");
        let patch = patch_op(&doc, "example.com", "Widget");
        assert!(
            patch["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["name"] == "fieldValidation")
        );
        assert!(
            patch["requestBody"]["content"]
                .get("application/strategic-merge-patch+json")
                .is_none()
        );
        let widget = &doc["components"]["schemas"]["com.example.v1.Widget"];
        assert_eq!(
            widget["properties"]["spec"]["properties"]["size"]["type"],
            "integer"
        );
        assert!(
            doc["components"]["schemas"]
                .get("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")
                .is_some()
        );
        assert!(
            doc["paths"]
                .get("/apis/example.com/v1/namespaces/{namespace}/widgets/{name}/status")
                .is_some()
        );
    }

    #[test]
    fn v2_document_resolves_every_reference() {
        let types = with_widgets();
        let start = Instant::now();
        let doc = v2_document(&types).unwrap();
        let bytes = v2_protobuf(&doc);
        println!(
            "v2_document + protobuf: {:?}, {} bytes",
            start.elapsed(),
            bytes.len()
        );
        assert_eq!(doc["swagger"], "2.0");
        let defs = doc["definitions"].as_object().unwrap();
        let text = serde_json::to_string(&doc).unwrap();
        assert!(!text.contains("#/components/schemas/"));
        for piece in text.split("\"$ref\":\"#/definitions/").skip(1) {
            let name = &piece[..piece.find('"').unwrap()];
            assert!(defs.contains_key(name), "dangling {name}");
        }
        let op = &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
        assert!(
            op["consumes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c == "application/strategic-merge-patch+json")
        );
        assert_eq!(
            defs["com.example.v1.Widget"]["properties"]["metadata"]["$ref"],
            "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
        );
    }
}
