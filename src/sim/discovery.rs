//! Discovery documents as kube-apiserver v1.33 serves them: `/version`, `/api`, `/apis`,
//! `/apis/<group>`, the per-version resource lists, and the aggregated
//! (`apidiscovery.k8s.io`) documents that client-go asks for first.
//!
//! Built-in resources are listed the way the generic API installer lists them (paths sorted,
//! subresources after their parent, `group`/`version` only on subresources served from another
//! group); custom resources the way apiextensions-apiserver's discovery controller does.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine;
use ring::digest;
use serde_json::{Value, json};

use super::resource::ResourceType;

mod accept;
mod entries;

pub use accept::accepts_aggregated;
pub(crate) use accept::parse_accept;
use entries::{aggregated_resources, legacy_resource, legacy_subresource, subresources};

/// `apiVersion` of the aggregated discovery document clients prefer.
pub const AGGREGATED_V2: &str = "apidiscovery.k8s.io/v2";
/// The beta aggregated discovery version, still served by v1.33.
pub const AGGREGATED_V2BETA1: &str = "apidiscovery.k8s.io/v2beta1";
/// Content type of an aggregated v2 answer (client-go checks it).
pub const AGGREGATED_V2_CONTENT_TYPE: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";
/// Content type of an aggregated v2beta1 answer.
pub const AGGREGATED_V2BETA1_CONTENT_TYPE: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList";
/// Content type of every other discovery answer.
pub const JSON_CONTENT_TYPE: &str = "application/json";

/// Group priority of CRD groups (the aggregator registers their APIServices with 1000/100).
const CRD_GROUP_PRIORITY: i32 = 1000;

/// The kube-aggregator's `GroupPriorityMinimum` of the built-in groups, which orders `/apis`.
fn group_priority(group: &str) -> i32 {
    match group {
        "" => 18000,
        "apiregistration.k8s.io" => 18000,
        "apps" => 17800,
        "events.k8s.io" => 17750,
        "authentication.k8s.io" => 17700,
        "authorization.k8s.io" => 17600,
        "autoscaling" => 17500,
        "batch" => 17400,
        "certificates.k8s.io" => 17300,
        "networking.k8s.io" => 17200,
        "policy" => 17100,
        "rbac.authorization.k8s.io" => 17000,
        "storage.k8s.io" => 16800,
        "apiextensions.k8s.io" | "admissionregistration.k8s.io" => 16700,
        "scheduling.k8s.io" => 16600,
        "coordination.k8s.io" => 16500,
        "node.k8s.io" => 16300,
        "discovery.k8s.io" => 16200,
        "flowcontrol.apiserver.k8s.io" => 16100,
        _ => CRD_GROUP_PRIORITY,
    }
}

/// `/version`.
pub fn version() -> Value {
    json!({
        "major": "1",
        "minor": "33",
        "emulationMajor": "1",
        "emulationMinor": "33",
        "minCompatibilityMajor": "1",
        "minCompatibilityMinor": "32",
        "gitVersion": "v1.33.0",
        "gitCommit": "60a317eadfcb839692a68eab88b2096f4d708f4f",
        "gitTreeState": "clean",
        "buildDate": "2025-04-23T13:00:14Z",
        "goVersion": "go1.24.2",
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}

/// `/api` (`APIVersions`; the real answer has no `apiVersion`).
pub fn core_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{ "clientCIDR": "0.0.0.0/0", "serverAddress": server_address }],
    })
}

/// `/apis` (`APIGroupList`, without the core group).
pub fn group_list(types: &[ResourceType]) -> Value {
    let groups: Vec<Value> = ordered_groups(types, false)
        .iter()
        .map(|g| api_group(types, g))
        .collect();
    json!({ "kind": "APIGroupList", "apiVersion": "v1", "groups": groups })
}

/// `/apis/<group>` (`APIGroup`), `None` if the group is not served.
pub fn group(types: &[ResourceType], group: &str) -> Option<Value> {
    if group.is_empty() || !types.iter().any(|t| t.group == group) {
        return None;
    }
    let mut g = api_group(types, group);
    let obj = g.as_object_mut()?;
    obj.insert("kind".into(), json!("APIGroup"));
    obj.insert("apiVersion".into(), json!("v1"));
    Some(g)
}

/// `/api/v1` or `/apis/<group>/<version>` (`APIResourceList`), `None` if not served.
pub fn resource_list(types: &[ResourceType], group: &str, version: &str) -> Option<Value> {
    let served: Vec<&ResourceType> = types
        .iter()
        .filter(|t| t.group == group && t.version == version)
        .collect();
    if served.is_empty() {
        return None;
    }
    let mut resources = Vec::new();
    let (builtin, custom): (Vec<&ResourceType>, Vec<&ResourceType>) =
        served.into_iter().partition(|t| !t.is_custom());
    // The installer registers built-in paths in sorted order.
    let mut entries: Vec<(String, Value)> = Vec::new();
    for rt in builtin {
        entries.push((rt.plural.clone(), legacy_resource(types, rt)));
        for sub in subresources(rt) {
            entries.push((
                format!("{}/{}", rt.plural, sub.name),
                legacy_subresource(rt, &sub),
            ));
        }
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    resources.extend(entries.into_iter().map(|(_, v)| v));
    // The CRD discovery controller lists each CRD with its status, then scale.
    let mut custom = custom;
    custom.sort_by(|a, b| a.plural.cmp(&b.plural));
    for rt in custom {
        resources.push(legacy_resource(types, rt));
        for sub in subresources(rt) {
            resources.push(legacy_subresource(rt, &sub));
        }
    }
    let mut list = json!({ "kind": "APIResourceList", "groupVersion": api_version(group, version), "resources": resources });
    // The legacy `/api/v1` list is written without `apiVersion`.
    if !group.is_empty() {
        list["apiVersion"] = json!("v1");
    }
    Some(list)
}

/// The aggregated `APIGroupDiscoveryList`: the core group for `/api` (`legacy_core`), every other
/// group for `/apis`. `api_version` is [`AGGREGATED_V2`] or [`AGGREGATED_V2BETA1`].
pub fn aggregated(types: &[ResourceType], legacy_core: bool, api_version: &str) -> Value {
    let items: Vec<Value> = ordered_groups(types, legacy_core)
        .iter()
        .map(|group| {
            let mut metadata = json!({ "creationTimestamp": null });
            if !group.is_empty() {
                metadata["name"] = json!(group);
            }
            let versions: Vec<Value> = group_versions(types, group)
                .iter()
                .map(|version| {
                    json!({
                        "version": version,
                        "resources": aggregated_resources(types, group, version),
                        "freshness": "Current",
                    })
                })
                .collect();
            json!({ "metadata": metadata, "versions": versions })
        })
        .collect();
    json!({ "kind": "APIGroupDiscoveryList", "apiVersion": api_version, "metadata": {}, "items": items })
}

/// The content type to answer an aggregated request with.
pub fn aggregated_content_type(api_version: &str) -> &'static str {
    if api_version == AGGREGATED_V2BETA1 {
        AGGREGATED_V2BETA1_CONTENT_TYPE
    } else {
        AGGREGATED_V2_CONTENT_TYPE
    }
}

/// `storageVersionHash`: base64 of the first 8 bytes of SHA-256 over `group/version/kind` of
/// the storage version.
pub fn storage_version_hash(group: &str, version: &str, kind: &str) -> String {
    let sum = digest::digest(
        &digest::SHA256,
        format!("{group}/{version}/{kind}").as_bytes(),
    );
    base64::engine::general_purpose::STANDARD.encode(&sum.as_ref()[..8])
}

/// Orders two versions as `CompareKubeAwareVersionStrings`: GA > beta > alpha, then by major
/// and minor number; other strings after kube-like ones, alphabetically.
pub fn compare_kube_versions(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    fn parse(v: &str) -> Option<(u8, u64, u64)> {
        let rest = v.strip_prefix('v')?;
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let major: u64 = rest[..digits].parse().ok()?;
        let tail = &rest[digits..];
        if tail.is_empty() {
            return Some((2, major, 0));
        }
        let (kind, minor) = if let Some(m) = tail.strip_prefix("alpha") {
            (0, m)
        } else if let Some(m) = tail.strip_prefix("beta") {
            (1, m)
        } else {
            return None;
        };
        if minor.is_empty() || !minor.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        Some((kind, major, minor.parse().ok()?))
    }
    if a == b {
        return Ordering::Equal;
    }
    match (parse(a), parse(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => Ordering::Greater,
        (None, Some(_)) => Ordering::Less,
        (None, None) => b.cmp(a),
    }
}

fn api_version(group: &str, version: &str) -> String {
    if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    }
}

/// The served versions of a group, preferred first.
fn group_versions(types: &[ResourceType], group: &str) -> Vec<String> {
    let set: BTreeSet<&str> = types
        .iter()
        .filter(|t| t.group == group)
        .map(|t| t.version.as_str())
        .collect();
    let mut versions: Vec<String> = set.into_iter().map(str::to_string).collect();
    versions.sort_by(|a, b| compare_kube_versions(b, a));
    versions
}

/// The groups in the order `/apis` lists them: by priority, then (as the aggregator sorts its
/// APIServices, named `<version>.<group>`) by the first APIService name.
fn ordered_groups(types: &[ResourceType], legacy_core: bool) -> Vec<String> {
    let mut keys: BTreeMap<&str, String> = BTreeMap::new();
    for t in types.iter().filter(|t| t.group.is_empty() == legacy_core) {
        let name = format!("{}.{}", t.version, t.group);
        let entry = keys.entry(t.group.as_str()).or_insert_with(|| name.clone());
        if name < *entry {
            *entry = name;
        }
    }
    let mut groups: Vec<(&str, String)> = keys.into_iter().collect();
    groups.sort_by(|a, b| {
        group_priority(b.0)
            .cmp(&group_priority(a.0))
            .then_with(|| a.1.cmp(&b.1))
    });
    groups.into_iter().map(|(g, _)| g.to_string()).collect()
}

fn api_group(types: &[ResourceType], group: &str) -> Value {
    let versions: Vec<Value> = group_versions(types, group)
        .iter()
        .map(|v| json!({ "groupVersion": api_version(group, v), "version": v }))
        .collect();
    let preferred = versions.first().cloned().unwrap_or(Value::Null);
    json!({ "name": group, "versions": versions, "preferredVersion": preferred })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::resource::{builtins, from_crd};

    fn with_widgets() -> Vec<ResourceType> {
        let mut types = builtins();
        types.extend(from_crd(&json!({
            "metadata": {"name": "widgets.example.com"},
            "spec": {
                "group": "example.com", "scope": "Namespaced",
                "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wd"]},
                "versions": [
                    {"name": "v1alpha1", "served": true, "storage": false},
                    {"name": "v1", "served": true, "storage": true,
                     "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas"}}}
                ]
            }
        })));
        types
    }

    #[test]
    fn storage_version_hashes_match_kube_apiserver() {
        // Values from a real cluster's /api/v1 and /apis/apps/v1.
        assert_eq!(storage_version_hash("", "v1", "ConfigMap"), "qFsyl6wFWjQ=");
        assert_eq!(storage_version_hash("", "v1", "Namespace"), "Q3oi5N2YM8M=");
        assert_eq!(storage_version_hash("", "v1", "Pod"), "xPOwRZ+Yhw8=");
        assert_eq!(
            storage_version_hash("apps", "v1", "Deployment"),
            "8aSe+NMegvE="
        );
        // From kubernetes' api/discovery/api__v1.json fixture.
        assert_eq!(storage_version_hash("", "v1", "Event"), "r2yiGXH7wu8=");
        assert_eq!(
            storage_version_hash("", "v1", "PersistentVolumeClaim"),
            "QWTyNDq0dC4="
        );
        assert_eq!(storage_version_hash("", "v1", "Secret"), "S6u1pOWzb84=");
        assert_eq!(
            storage_version_hash("", "v1", "ServiceAccount"),
            "pbx9ZvyFpBE="
        );
        assert_eq!(storage_version_hash("", "v1", "Service"), "0/CO1lhkEBI=");
    }

    #[test]
    fn core_resource_list_is_sorted_with_subresources() {
        let list = resource_list(&builtins(), "", "v1").unwrap();
        assert_eq!(list["kind"], "APIResourceList");
        assert!(list.get("apiVersion").is_none());
        let names: Vec<&str> = list["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        let find = |n: &str| {
            list["resources"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["name"] == n)
                .unwrap()
                .clone()
        };
        assert_eq!(
            find("namespaces"),
            json!({"name":"namespaces","singularName":"namespace","namespaced":false,"kind":"Namespace",
                   "verbs":["create","delete","get","list","patch","update","watch"],"shortNames":["ns"],
                   "storageVersionHash":"Q3oi5N2YM8M="})
        );
        assert_eq!(
            find("namespaces/finalize"),
            json!({"name":"namespaces/finalize","singularName":"","namespaced":false,"kind":"Namespace","verbs":["update"]})
        );
        assert_eq!(
            find("serviceaccounts/token"),
            json!({"name":"serviceaccounts/token","singularName":"","namespaced":true,"group":"authentication.k8s.io",
                   "version":"v1","kind":"TokenRequest","verbs":["create"]})
        );
        assert_eq!(
            find("pods/status")["verbs"],
            json!(["get", "patch", "update"])
        );
    }

    #[test]
    fn apps_list_has_scale_from_autoscaling() {
        let list = resource_list(&builtins(), "apps", "v1").unwrap();
        assert_eq!(list["apiVersion"], "v1");
        assert_eq!(list["groupVersion"], "apps/v1");
        let res = list["resources"].as_array().unwrap();
        let i = res.iter().position(|r| r["name"] == "deployments").unwrap();
        assert_eq!(res[i]["categories"], json!(["all"]));
        assert_eq!(
            res[i + 1],
            json!({"name":"deployments/scale","singularName":"","namespaced":true,"group":"autoscaling","version":"v1",
                   "kind":"Scale","verbs":["get","patch","update"]})
        );
        assert_eq!(res[i + 2]["name"], "deployments/status");
        assert!(resource_list(&builtins(), "apps", "v1beta1").is_none());
    }

    #[test]
    fn crd_versions_sort_kube_aware() {
        let types = with_widgets();
        let g = group(&types, "example.com").unwrap();
        assert_eq!(g["kind"], "APIGroup");
        assert_eq!(
            g["preferredVersion"],
            json!({"groupVersion": "example.com/v1", "version": "v1"})
        );
        assert_eq!(g["versions"][1]["version"], "v1alpha1");
        let list = resource_list(&types, "example.com", "v1alpha1").unwrap();
        assert_eq!(list["resources"][0]["verbs"][5], "create");
        // Hash of the storage version, whichever version is asked for.
        assert_eq!(
            list["resources"][0]["storageVersionHash"],
            storage_version_hash("example.com", "v1", "Widget")
        );
        let v1 = resource_list(&types, "example.com", "v1").unwrap();
        let names: Vec<&str> = v1["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["widgets", "widgets/status", "widgets/scale"]);
        assert!(group(&types, "nope.io").is_none());
    }

    #[test]
    fn group_list_orders_by_aggregator_priority() {
        let list = group_list(&with_widgets());
        let names: Vec<&str> = list["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "apps",
                "authentication.k8s.io",
                "authorization.k8s.io",
                "autoscaling",
                "batch",
                "networking.k8s.io",
                "policy",
                "rbac.authorization.k8s.io",
                "apiextensions.k8s.io",
                "coordination.k8s.io",
                "example.com"
            ]
        );
        assert_eq!(
            list["groups"][3]["preferredVersion"]["groupVersion"],
            "autoscaling/v2"
        );
    }

    #[test]
    fn aggregated_shapes_match_client_go() {
        let types = with_widgets();
        let core = aggregated(&types, true, AGGREGATED_V2);
        assert_eq!(core["kind"], "APIGroupDiscoveryList");
        assert_eq!(core["items"].as_array().unwrap().len(), 1);
        assert_eq!(
            core["items"][0]["metadata"],
            json!({"creationTimestamp": null})
        );
        let apis = aggregated(&types, false, AGGREGATED_V2BETA1);
        assert_eq!(apis["apiVersion"], "apidiscovery.k8s.io/v2beta1");
        let apps = &apis["items"][0];
        assert_eq!(apps["metadata"]["name"], "apps");
        assert_eq!(apps["versions"][0]["freshness"], "Current");
        let deploy = apps["versions"][0]["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["resource"] == "deployments")
            .unwrap();
        assert_eq!(
            deploy["responseKind"],
            json!({"group": "", "version": "", "kind": "Deployment"})
        );
        assert_eq!(deploy["scope"], "Namespaced");
        assert_eq!(deploy["subresources"][0]["subresource"], "scale");
        assert_eq!(
            deploy["subresources"][0]["responseKind"]["group"],
            "autoscaling"
        );
        let widgets = apis["items"].as_array().unwrap().last().unwrap();
        assert_eq!(widgets["versions"][0]["version"], "v1");
        let w = &widgets["versions"][0]["resources"][0];
        assert_eq!(
            w["responseKind"],
            json!({"group": "example.com", "version": "v1", "kind": "Widget"})
        );
        assert_eq!(w["subresources"][0]["subresource"], "status");
        assert_eq!(w["subresources"][1]["subresource"], "scale");
    }

    #[test]
    fn kube_aware_version_order() {
        let mut v = vec![
            "v1alpha1", "v2", "foo", "v1", "v1beta2", "v1beta1", "bar", "v10",
        ];
        v.sort_by(|a, b| compare_kube_versions(b, a));
        assert_eq!(
            v,
            [
                "v10", "v2", "v1", "v1beta2", "v1beta1", "v1alpha1", "bar", "foo"
            ]
        );
    }

    #[test]
    fn version_and_core_versions() {
        assert_eq!(version()["gitVersion"], "v1.33.0");
        assert_eq!(version()["platform"], "linux/amd64");
        let api = core_versions("10.0.0.1:6443");
        assert_eq!(
            api["serverAddressByClientCIDRs"][0]["serverAddress"],
            "10.0.0.1:6443"
        );
    }
}
