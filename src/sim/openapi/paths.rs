//! The `paths` of a group version document: every route the installer registers for a
//! resource (collection, item, subresources, deprecated watch routes), each operation with its
//! `operationId`, tag, parameters, request body, responses, `x-kubernetes-action` and
//! `x-kubernetes-group-version-kind`. Parameters every operation of a path shares sit on the
//! path, the rest on the operation, all sorted by name, as kube-openapi lays them out.

use serde_json::{Map, Value, json};

use super::REF_PREFIX;
use super::params::{delete_params, list_params, patch_params, path_param, pretty, write_params};
use crate::sim::resource::ResourceType;

const STATUS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Status";
const DELETE_OPTIONS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions";
const PATCH: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch";
const WATCH_EVENT: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent";
const SCALE: &str = "io.k8s.api.autoscaling.v1.Scale";
const TOKEN_REQUEST: &str = "io.k8s.api.authentication.v1.TokenRequest";

/// `ToValidOperationID`: letters, `_` and non-leading digits kept, the rest start a capital.
fn valid_id(s: &str, capitalize_first: bool) -> String {
    let mut out = String::new();
    let mut capitalize = capitalize_first;
    for (i, c) in s.chars().enumerate() {
        if c.is_alphabetic() || c == '_' || (i != 0 && c.is_ascii_digit()) {
            if capitalize {
                out.extend(c.to_uppercase());
                capitalize = false;
            } else {
                out.push(c);
            }
        } else {
            capitalize = true;
        }
    }
    out
}

fn group_name(group: &str) -> &str {
    if group.is_empty() {
        "core"
    } else {
        group.strip_suffix(".k8s.io").unwrap_or(group)
    }
}

/// `AppsV1`, `CoreV1`, `RbacAuthorizationV1`.
fn gv_id(group: &str, version: &str) -> String {
    format!(
        "{}{}",
        valid_id(group_name(group), true),
        valid_id(version, true)
    )
}

/// `apps_v1`, `core_v1`.
fn tag(group: &str, version: &str) -> String {
    format!(
        "{}_{}",
        valid_id(group_name(group), false),
        valid_id(version, false)
    )
}

fn prefix(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("/api/{version}")
    } else {
        format!("/apis/{group}/{version}")
    }
}

/// What a route's operations need to know about the resource.
struct Ctx<'a> {
    rt: &'a ResourceType,
    gv: String,
    tag: String,
    builtin: bool,
}

impl Ctx<'_> {
    fn gvk(&self) -> Value {
        json!({ "group": self.rt.group, "kind": self.rt.kind, "version": self.rt.version })
    }

    fn media(&self, stream: bool) -> Vec<&'static str> {
        let mut m = vec!["application/json"];
        if stream {
            m.push("application/json;stream=watch");
        }
        if self.builtin {
            m.push("application/vnd.kubernetes.protobuf");
            if stream {
                m.push("application/vnd.kubernetes.protobuf;stream=watch");
            }
        }
        m.push("application/yaml");
        m
    }

    fn responses(&self, codes: &[(&str, &str)], schema: &str, stream: bool) -> Value {
        let content: Map<String, Value> = self
            .media(stream)
            .into_iter()
            .map(|m| {
                (
                    m.to_string(),
                    json!({ "schema": { "$ref": format!("{REF_PREFIX}{schema}") } }),
                )
            })
            .collect();
        let mut out = Map::new();
        for (code, description) in codes {
            out.insert(
                code.to_string(),
                json!({ "description": description, "content": content }),
            );
        }
        out.insert("401".into(), json!({ "description": "Unauthorized" }));
        Value::Object(out)
    }

    fn body(&self, schema: &str, required: bool) -> Value {
        let mut b = json!({ "content": { "*/*": { "schema": { "$ref": format!("{REF_PREFIX}{schema}") } } } });
        if required {
            b["required"] = json!(true);
        }
        b
    }

    fn patch_body(&self) -> Value {
        let mut types = vec![
            "application/apply-patch+yaml",
            "application/json-patch+json",
            "application/merge-patch+json",
        ];
        if self.builtin {
            types.push("application/strategic-merge-patch+json");
        }
        let content: Map<String, Value> = types
            .into_iter()
            .map(|t| {
                (
                    t.to_string(),
                    json!({ "schema": { "$ref": format!("{REF_PREFIX}{PATCH}") } }),
                )
            })
            .collect();
        json!({ "content": content, "required": true })
    }

    fn op(
        &self,
        verb: &str,
        name: &str,
        description: &str,
        action: &str,
        params: Vec<Value>,
        gvk: Value,
    ) -> Value {
        json!({
            "tags": [self.tag],
            "description": description,
            "operationId": format!("{verb}{}{name}", self.gv),
            "parameters": params,
            "x-kubernetes-action": action,
            "x-kubernetes-group-version-kind": gvk,
        })
    }
}

/// get, put and patch of one object (or of its subresource): `id` names the operations
/// (`read<id>`...), `what` is described (`read <what>`...), `schema` is read and written.
fn read_replace_patch(
    cx: &Ctx<'_>,
    id: &str,
    what: &str,
    schema: &str,
    gvk: &Value,
) -> Vec<(&'static str, Value)> {
    let mut get = cx.op(
        "read",
        id,
        &format!("read {what}"),
        "get",
        vec![],
        gvk.clone(),
    );
    get["responses"] = cx.responses(&[("200", "OK")], schema, false);
    let mut put = cx.op(
        "replace",
        id,
        &format!("replace {what}"),
        "put",
        write_params(),
        gvk.clone(),
    );
    put["requestBody"] = cx.body(schema, true);
    put["responses"] = cx.responses(&[("200", "OK"), ("201", "Created")], schema, false);
    let mut patch = cx.op(
        "patch",
        id,
        &format!("partially update {what}"),
        "patch",
        patch_params(),
        gvk.clone(),
    );
    patch["requestBody"] = cx.patch_body();
    patch["responses"] = cx.responses(&[("200", "OK"), ("201", "Created")], schema, false);
    vec![("get", get), ("put", put), ("patch", patch)]
}

/// Moves the parameters all operations share to the path, sorts every list by name.
fn path_item(path_params: Vec<Value>, ops: Vec<(&str, Value)>) -> Value {
    let names = |op: &Value| -> Vec<String> {
        op["parameters"]
            .as_array()
            .map(|p| {
                p.iter()
                    .filter_map(|x| x["name"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let shared: Vec<String> = match ops.first() {
        Some((_, first)) => names(first)
            .into_iter()
            .filter(|n| ops.iter().all(|(_, o)| names(o).contains(n)))
            .collect(),
        None => Vec::new(),
    };
    let by_name = |a: &Value, b: &Value| a["name"].as_str().cmp(&b["name"].as_str());
    let mut common = path_params;
    let mut item = Map::new();
    for (method, mut op) in ops {
        let params = op["parameters"].as_array().cloned().unwrap_or_default();
        let (moved, mut kept): (Vec<Value>, Vec<Value>) = params.into_iter().partition(|p| {
            p["name"]
                .as_str()
                .is_some_and(|n| shared.iter().any(|s| s == n))
        });
        for m in moved {
            if !common.iter().any(|c| c["name"] == m["name"]) {
                common.push(m);
            }
        }
        kept.sort_by(by_name);
        if let Some(obj) = op.as_object_mut() {
            if kept.is_empty() {
                obj.remove("parameters");
            } else {
                obj.insert("parameters".into(), Value::Array(kept));
            }
        }
        item.insert(method.to_string(), op);
    }
    common.sort_by(by_name);
    item.insert("parameters".into(), Value::Array(common));
    Value::Object(item)
}

/// Adds every route of a resource to `paths`.
pub fn add_resource(rt: &ResourceType, kind_ref: &str, paths: &mut Map<String, Value>) {
    let cx = Ctx {
        rt,
        gv: gv_id(&rt.group, &rt.version),
        tag: tag(&rt.group, &rt.version),
        builtin: !rt.is_custom(),
    };
    let kind = rt.kind.as_str();
    let base = prefix(&rt.group, &rt.version);
    let ns = if rt.namespaced { "Namespaced" } else { "" };
    let (coll, watch_prefix) = if rt.namespaced {
        (
            format!("{base}/namespaces/{{namespace}}/{}", rt.plural),
            format!("{base}/watch/namespaces/{{namespace}}/{}", rt.plural),
        )
    } else {
        (
            format!("{base}/{}", rt.plural),
            format!("{base}/watch/{}", rt.plural),
        )
    };
    let mut scope_params = vec![pretty()];
    if rt.namespaced {
        scope_params.push(path_param(
            "namespace",
            "object name and auth scope, such as for teams and projects",
        ));
    }
    let name_param = path_param("name", &format!("name of the {kind}"));
    let list_ref = format!("{kind_ref}List");
    let gvk = cx.gvk();

    if rt.create_only {
        // A review: POST on the collection, nothing else.
        let mut o = cx.op(
            "create",
            &format!("{ns}{kind}"),
            &format!("create a {kind}"),
            "post",
            write_params(),
            gvk,
        );
        o["requestBody"] = cx.body(kind_ref, true);
        o["responses"] = cx.responses(
            &[("200", "OK"), ("201", "Created"), ("202", "Accepted")],
            kind_ref,
            false,
        );
        let mut params = scope_params;
        params.retain(|p| p["name"] != "pretty");
        paths.insert(coll, path_item(params, with_pretty(vec![("post", o)])));
        return;
    }

    // The collection.
    let mut ops = vec![
        ("get", {
            let mut o = cx.op(
                "list",
                &format!("{ns}{kind}"),
                &format!("list or watch objects of kind {kind}"),
                "list",
                list_params(),
                gvk.clone(),
            );
            o["responses"] = cx.responses(&[("200", "OK")], &list_ref, true);
            o
        }),
        ("post", {
            let mut o = cx.op(
                "create",
                &format!("{ns}{kind}"),
                &format!("create a {kind}"),
                "post",
                write_params(),
                gvk.clone(),
            );
            o["requestBody"] = cx.body(kind_ref, true);
            o["responses"] = cx.responses(
                &[("200", "OK"), ("201", "Created"), ("202", "Accepted")],
                kind_ref,
                false,
            );
            o
        }),
    ];
    if rt.verbs().contains(&"deletecollection")
        && !(rt.group.is_empty() && rt.plural == "namespaces")
    {
        let mut params = delete_params();
        params.extend(
            list_params()
                .into_iter()
                .filter(|p| p["name"] != "allowWatchBookmarks" && p["name"] != "watch"),
        );
        let mut o = cx.op(
            "delete",
            &format!("Collection{ns}{kind}"),
            &format!("delete collection of {kind}"),
            "deletecollection",
            params,
            gvk.clone(),
        );
        o["requestBody"] = cx.body(DELETE_OPTIONS, false);
        o["responses"] = cx.responses(&[("200", "OK")], STATUS, false);
        ops.push(("delete", o));
    }
    let mut coll_params = scope_params.clone();
    coll_params.retain(|p| p["name"] != "pretty");
    paths.insert(
        coll.clone(),
        path_item(coll_params.clone(), with_pretty(ops)),
    );

    // One object.
    let deleted = if cx.builtin && rt.group.is_empty() && matches!(kind, "Pod" | "Service") {
        kind_ref
    } else {
        STATUS
    };
    let mut item_ops = read_replace_patch(
        &cx,
        &format!("{ns}{kind}"),
        &format!("the specified {kind}"),
        kind_ref,
        &gvk,
    );
    item_ops.insert(
        2,
        ("delete", {
            let mut o = cx.op(
                "delete",
                &format!("{ns}{kind}"),
                &format!("delete a {kind}"),
                "delete",
                delete_params(),
                gvk.clone(),
            );
            o["requestBody"] = cx.body(DELETE_OPTIONS, false);
            o["responses"] = cx.responses(&[("200", "OK"), ("202", "Accepted")], deleted, false);
            o
        }),
    );
    let mut item_params = coll_params.clone();
    item_params.push(name_param.clone());
    paths.insert(
        format!("{coll}/{{name}}"),
        path_item(item_params.clone(), with_pretty(item_ops)),
    );

    // Subresources.
    let mut subs: Vec<(&str, &str, Value)> = Vec::new();
    if rt.status_subresource {
        subs.push(("status", kind_ref, gvk.clone()));
    }
    if rt.scale_subresource {
        subs.push((
            "scale",
            SCALE,
            json!({ "group": "autoscaling", "kind": "Scale", "version": "v1" }),
        ));
    }
    for (sub, schema, sub_gvk) in subs {
        let title = capitalize(sub);
        let ops = read_replace_patch(
            &cx,
            &format!("{ns}{kind}{title}"),
            &format!("{sub} of the specified {kind}"),
            schema,
            &sub_gvk,
        );
        paths.insert(
            format!("{coll}/{{name}}/{sub}"),
            path_item(item_params.clone(), with_pretty(ops)),
        );
    }
    if cx.builtin && rt.group.is_empty() && rt.plural == "serviceaccounts" {
        let token_gvk =
            json!({ "group": "authentication.k8s.io", "kind": "TokenRequest", "version": "v1" });
        let mut o = cx.op(
            "create",
            "NamespacedServiceAccountToken",
            "create token of a ServiceAccount",
            "post",
            write_params(),
            token_gvk,
        );
        o["requestBody"] = cx.body(TOKEN_REQUEST, true);
        o["responses"] = cx.responses(
            &[("200", "OK"), ("201", "Created"), ("202", "Accepted")],
            TOKEN_REQUEST,
            false,
        );
        let mut params = item_params.clone();
        params.retain(|p| p["name"] != "name");
        params.push(path_param("name", "name of the TokenRequest"));
        paths.insert(
            format!("{coll}/{{name}}/token"),
            path_item(params, with_pretty(vec![("post", o)])),
        );
    }
    if cx.builtin && rt.group.is_empty() && rt.plural == "namespaces" {
        let mut o = cx.op(
            "replace",
            "NamespaceFinalize",
            "replace finalize of the specified Namespace",
            "put",
            write_params(),
            gvk.clone(),
        );
        o["requestBody"] = cx.body(kind_ref, true);
        o["responses"] = cx.responses(&[("200", "OK"), ("201", "Created")], kind_ref, false);
        paths.insert(
            format!("{coll}/{{name}}/finalize"),
            path_item(item_params.clone(), with_pretty(vec![("put", o)])),
        );
    }

    // Listing across namespaces.
    if rt.namespaced {
        let mut o = cx.op(
            "list",
            &format!("{kind}ForAllNamespaces"),
            &format!("list or watch objects of kind {kind}"),
            "list",
            list_params(),
            gvk.clone(),
        );
        o["responses"] = cx.responses(&[("200", "OK")], &list_ref, true);
        paths.insert(
            format!("{base}/{}", rt.plural),
            path_item(vec![], with_pretty(vec![("get", o)])),
        );
    }

    // Deprecated watch routes.
    let watch_list = |name: String| {
        let mut o = cx.op("watch", &name, &format!("watch individual changes to a list of {kind}. deprecated: use the 'watch' parameter with a list operation instead."), "watchlist", list_params(), gvk.clone());
        o["responses"] = cx.responses(&[("200", "OK")], WATCH_EVENT, true);
        o
    };
    paths.insert(
        watch_prefix.clone(),
        path_item(
            coll_params.clone(),
            with_pretty(vec![("get", watch_list(format!("{ns}{kind}List")))]),
        ),
    );
    let mut o = cx.op("watch", &format!("{ns}{kind}"), &format!("watch changes to an object of kind {kind}. deprecated: use the 'watch' parameter with a list operation instead, filtered to a single item with the 'fieldSelector' parameter."), "watch", list_params(), gvk.clone());
    o["responses"] = cx.responses(&[("200", "OK")], WATCH_EVENT, true);
    paths.insert(
        format!("{watch_prefix}/{{name}}"),
        path_item(item_params, with_pretty(vec![("get", o)])),
    );
    if rt.namespaced {
        paths.insert(
            format!("{base}/watch/{}", rt.plural),
            path_item(
                vec![],
                with_pretty(vec![(
                    "get",
                    watch_list(format!("{kind}ListForAllNamespaces")),
                )]),
            ),
        );
    }
}

/// Every operation takes `pretty` (it ends up on the path).
fn with_pretty(mut ops: Vec<(&str, Value)>) -> Vec<(&str, Value)> {
    for (_, op) in ops.iter_mut() {
        if let Some(params) = op["parameters"].as_array_mut() {
            params.push(pretty());
        }
    }
    ops
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// `GET /api/v1/` / `GET /apis/<group>/<version>/`: the resource list.
pub fn add_api_resources(group: &str, version: &str, paths: &mut Map<String, Value>) {
    let content: Map<String, Value> = ["application/json", "application/yaml", "application/vnd.kubernetes.protobuf"]
        .into_iter()
        .map(|m| (m.to_string(), json!({ "schema": { "$ref": format!("{REF_PREFIX}io.k8s.apimachinery.pkg.apis.meta.v1.APIResourceList") } })))
        .collect();
    paths.insert(
        format!("{}/", prefix(group, version)),
        json!({ "get": {
            "tags": [tag(group, version)],
            "description": "get available resources",
            "operationId": format!("get{}APIResources", gv_id(group, version)),
            "responses": { "200": { "description": "OK", "content": content }, "401": { "description": "Unauthorized" } }
        }}),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::resource::builtins;

    #[test]
    fn operation_ids_and_tags_follow_the_apiserver() {
        assert_eq!(
            gv_id("rbac.authorization.k8s.io", "v1"),
            "RbacAuthorizationV1"
        );
        assert_eq!(gv_id("", "v1"), "CoreV1");
        assert_eq!(
            gv_id("stable.example.com", "v1beta1"),
            "StableExampleComV1beta1"
        );
        assert_eq!(
            tag("rbac.authorization.k8s.io", "v1"),
            "rbacAuthorization_v1"
        );
        assert_eq!(tag("", "v1"), "core_v1");
    }

    #[test]
    fn deployment_routes() {
        let rt = builtins()
            .into_iter()
            .find(|r| r.plural == "deployments")
            .unwrap();
        let mut paths = Map::new();
        add_resource(&rt, "io.k8s.api.apps.v1.Deployment", &mut paths);
        let item = &paths["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"];
        let shared: Vec<&str> = item["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(shared, ["name", "namespace", "pretty"]);
        let patch = &item["patch"];
        assert_eq!(patch["operationId"], "patchAppsV1NamespacedDeployment");
        assert_eq!(patch["x-kubernetes-action"], "patch");
        assert_eq!(
            patch["x-kubernetes-group-version-kind"],
            json!({"group": "apps", "kind": "Deployment", "version": "v1"})
        );
        let names: Vec<&str> = patch["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            ["dryRun", "fieldManager", "fieldValidation", "force"]
        );
        assert!(
            patch["requestBody"]["content"]
                .get("application/strategic-merge-patch+json")
                .is_some()
        );
        let scale =
            &paths["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"]["patch"];
        assert_eq!(scale["x-kubernetes-group-version-kind"]["kind"], "Scale");
        assert_eq!(scale["operationId"], "patchAppsV1NamespacedDeploymentScale");
        let all = &paths["/apis/apps/v1/deployments"];
        assert_eq!(
            all["get"]["operationId"],
            "listAppsV1DeploymentForAllNamespaces"
        );
        assert!(all["get"].get("parameters").is_none());
        assert_eq!(all["parameters"].as_array().unwrap().len(), 11);
        let coll = &paths["/apis/apps/v1/namespaces/{namespace}/deployments"];
        assert_eq!(
            coll["delete"]["operationId"],
            "deleteAppsV1CollectionNamespacedDeployment"
        );
        assert!(
            paths.contains_key("/apis/apps/v1/watch/namespaces/{namespace}/deployments/{name}")
        );
    }

    #[test]
    fn core_special_routes() {
        let types = builtins();
        let mut paths = Map::new();
        for plural in ["namespaces", "serviceaccounts"] {
            let rt = types.iter().find(|r| r.plural == plural).unwrap();
            add_resource(rt, &format!("io.k8s.api.core.v1.{}", rt.kind), &mut paths);
        }
        let finalize = &paths["/api/v1/namespaces/{name}/finalize"]["put"];
        assert_eq!(finalize["operationId"], "replaceCoreV1NamespaceFinalize");
        assert!(paths["/api/v1/namespaces"].get("delete").is_none());
        let token = &paths["/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token"]["post"];
        assert_eq!(
            token["operationId"],
            "createCoreV1NamespacedServiceAccountToken"
        );
        assert_eq!(
            token["x-kubernetes-group-version-kind"]["kind"],
            "TokenRequest"
        );
    }
}
