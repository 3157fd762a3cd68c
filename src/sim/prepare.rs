//! What kube-apiserver's per-type strategies do to an object before it is stored: server-set
//! metadata, status reset, generation, and the few type-specific rules (namespaces, secrets, CRDs).

use base64::Engine;
use serde_json::{Map, Value, json};

use super::error::ApiError;
use super::object::{self, meta_mut};
use super::resource::ResourceType;

pub const NAMESPACE_FINALIZER: &str = "kubernetes";
pub const CRD_FINALIZER: &str = "customresourcecleanup.apiextensions.k8s.io";

fn is(rt: &ResourceType, group: &str, plural: &str) -> bool {
    rt.crd.is_none() && rt.group == group && rt.plural == plural
}

/// Server-set metadata and initial status of a new object.
pub fn for_create(rt: &ResourceType, obj: &mut Value, now: &str) -> Result<(), ApiError> {
    let meta = meta_mut(obj);
    meta.insert("uid".into(), Value::String(object::new_uid()));
    meta.insert("creationTimestamp".into(), Value::String(now.to_string()));
    for f in [
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "resourceVersion",
        "selfLink",
    ] {
        meta.remove(f);
    }
    if rt.generation {
        meta.insert("generation".into(), json!(1));
    } else {
        meta.remove("generation");
    }
    if rt.status_subresource {
        if rt.crd.is_some() {
            if let Some(m) = obj.as_object_mut() {
                m.remove("status");
            }
        } else {
            obj["status"] = json!({});
        }
    }
    if is(rt, "", "namespaces") {
        obj["spec"] = json!({ "finalizers": [NAMESPACE_FINALIZER] });
        obj["status"] = json!({ "phase": "Active" });
    } else if is(rt, "", "pods") {
        obj["status"] = json!({ "phase": "Pending", "qosClass": "BestEffort" });
    } else if is(rt, "", "persistentvolumeclaims") {
        obj["status"] = json!({ "phase": "Pending" });
    } else if is(rt, "", "services") {
        obj["status"] = json!({ "loadBalancer": {} });
    } else if is(rt, "batch", "jobs") {
        job_selector(obj);
    } else if is(rt, "apiextensions.k8s.io", "customresourcedefinitions") {
        let storage: Vec<Value> = obj["spec"]["versions"]
            .as_array()
            .map(|vs| {
                vs.iter()
                    .filter(|v| v["storage"].as_bool() == Some(true))
                    .map(|v| v["name"].clone())
                    .collect()
            })
            .unwrap_or_default();
        obj["status"] = json!({ "acceptedNames": { "kind": "", "plural": "" }, "conditions": [], "storedVersions": storage });
        add_finalizer(obj, CRD_FINALIZER);
    }
    Ok(())
}

/// The Job strategy labels the pod template with the Job's uid and name and selects on them
/// (unless `spec.manualSelector`).
fn job_selector(obj: &mut Value) {
    if obj.pointer("/spec/manualSelector").and_then(Value::as_bool) == Some(true) {
        return;
    }
    let uid = object::uid(obj).to_string();
    let name = object::name(obj).to_string();
    if !obj.get("spec").is_some_and(Value::is_object) {
        return;
    }
    let labels = json!({
        "batch.kubernetes.io/controller-uid": uid,
        "batch.kubernetes.io/job-name": name,
        "controller-uid": uid,
        "job-name": name,
    });
    let template = &mut obj["spec"]["template"];
    if !template.is_object() {
        return;
    }
    if !template["metadata"].is_object() {
        template["metadata"] = json!({});
    }
    if !template["metadata"]["labels"].is_object() {
        template["metadata"]["labels"] = json!({});
    }
    if let (Some(t), Some(l)) = (
        template["metadata"]["labels"].as_object_mut(),
        labels.as_object(),
    ) {
        for (k, v) in l {
            t.insert(k.clone(), v.clone());
        }
    }
    obj["spec"]["selector"] =
        json!({ "matchLabels": { "batch.kubernetes.io/controller-uid": uid } });
}

/// Rules applied to every write of an object (create and update), after defaulting.
pub fn for_write(rt: &ResourceType, obj: &mut Value) -> Result<(), ApiError> {
    if is(rt, "", "namespaces") {
        let name = object::name(obj).to_string();
        let meta = meta_mut(obj);
        let labels = meta
            .entry("labels")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(l) = labels.as_object_mut() {
            l.insert("kubernetes.io/metadata.name".into(), Value::String(name));
        }
    } else if is(rt, "", "secrets") {
        secret_string_data(obj)?;
        if obj
            .get("type")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            obj["type"] = json!("Opaque");
        }
    } else if is(rt, "", "configmaps") {
        check_base64_map(obj, "binaryData", "ConfigMap")?;
    } else if is(rt, "apiextensions.k8s.io", "customresourcedefinitions") {
        let name = object::name(obj);
        let expected = format!(
            "{}.{}",
            obj["spec"]["names"]["plural"].as_str().unwrap_or_default(),
            obj["spec"]["group"].as_str().unwrap_or_default()
        );
        if name != expected {
            return Err(ApiError::invalid(
                rt,
                name,
                &[(
                    "metadata.name".into(),
                    format!(
                        "Invalid value: \"{name}\": must be spec.names.plural+\".\"+spec.group"
                    ),
                )],
            ));
        }
    }
    Ok(())
}

/// The API server folds `stringData` into `data` (base64) when it decodes a Secret.
fn secret_string_data(obj: &mut Value) -> Result<(), ApiError> {
    check_base64_map(obj, "data", "Secret")?;
    let Some(map) = obj.as_object_mut() else {
        return Ok(());
    };
    let Some(string_data) = map.remove("stringData") else {
        return Ok(());
    };
    let Value::Object(string_data) = string_data else {
        return Err(ApiError::bad_request(
            "Secret in version \"v1\" cannot be handled as a Secret: stringData must be a map of strings",
        ));
    };
    let data = map
        .entry("data")
        .or_insert_with(|| Value::Object(Map::new()));
    if data.is_null() {
        *data = Value::Object(Map::new());
    }
    if let Some(data) = data.as_object_mut() {
        for (k, v) in string_data {
            let Some(s) = v.as_str() else {
                return Err(ApiError::bad_request(format!(
                    "Secret in version \"v1\" cannot be handled as a Secret: json: cannot unmarshal {} into Go struct field Secret.stringData of type string",
                    json_type(&v)
                )));
            };
            data.insert(
                k,
                Value::String(base64::engine::general_purpose::STANDARD.encode(s)),
            );
        }
    }
    Ok(())
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn check_base64_map(obj: &Value, field: &str, kind: &str) -> Result<(), ApiError> {
    let Some(data) = obj.get(field) else {
        return Ok(());
    };
    let Some(data) = data.as_object() else {
        if data.is_null() {
            return Ok(());
        }
        return Err(ApiError::bad_request(format!(
            "{kind} in version \"v1\" cannot be handled as a {kind}: {field} must be a map"
        )));
    };
    for v in data.values() {
        let ok = v
            .as_str()
            .is_some_and(|s| base64::engine::general_purpose::STANDARD.decode(s).is_ok())
            || v.is_null();
        if !ok {
            return Err(ApiError::bad_request(format!(
                "{kind} in version \"v1\" cannot be handled as a {kind}: illegal base64 data at input byte 0"
            )));
        }
    }
    Ok(())
}

pub fn add_finalizer(obj: &mut Value, finalizer: &str) {
    let meta = meta_mut(obj);
    let list = meta
        .entry("finalizers")
        .or_insert_with(|| Value::Array(Vec::new()));
    if !list.is_array() {
        *list = Value::Array(Vec::new());
    }
    if let Some(a) = list.as_array_mut()
        && !a.iter().any(|f| f.as_str() == Some(finalizer))
    {
        a.push(Value::String(finalizer.to_string()));
    }
}

pub fn remove_finalizer(obj: &mut Value, finalizer: &str) {
    if let Some(a) = obj
        .pointer_mut("/metadata/finalizers")
        .and_then(Value::as_array_mut)
    {
        a.retain(|f| f.as_str() != Some(finalizer));
        if a.is_empty() {
            meta_mut(obj).remove("finalizers");
        }
    }
}

/// The part of an object whose change bumps `metadata.generation`: `spec` for built-ins (and a
/// Deployment's annotations, which are copied to its ReplicaSets), everything but metadata and
/// status for custom resources.
fn generation_part(rt: &ResourceType, obj: &Value) -> Value {
    if rt.crd.is_some() {
        let mut o = obj.clone();
        if let Some(m) = o.as_object_mut() {
            m.remove("metadata");
            m.remove("status");
            m.remove("apiVersion");
            m.remove("kind");
        }
        return o;
    }
    let mut part = json!({ "spec": obj.get("spec").cloned().unwrap_or(Value::Null) });
    if rt.group == "apps" && rt.plural == "deployments" {
        part["annotations"] = obj
            .pointer("/metadata/annotations")
            .cloned()
            .unwrap_or(Value::Null);
    }
    part
}

/// Carries the server-owned fields of `old` into an update, separates status from the main
/// resource, and bumps the generation. `status_write` is a write to `/status`.
pub fn for_update(
    rt: &ResourceType,
    old: &Value,
    new: &mut Value,
    status_write: bool,
) -> Result<(), ApiError> {
    if status_write {
        // Only status (and managedFields) come from the request.
        let status = new.get("status").cloned();
        let managed = new.pointer("/metadata/managedFields").cloned();
        let rv = new.pointer("/metadata/resourceVersion").cloned();
        *new = old.clone();
        match status {
            Some(s) => new["status"] = s,
            None => {
                if let Some(m) = new.as_object_mut() {
                    m.remove("status");
                }
            }
        }
        let meta = meta_mut(new);
        match managed {
            Some(m) => meta.insert("managedFields".into(), m),
            None => meta.remove("managedFields"),
        };
        match rv {
            Some(rv) => meta.insert("resourceVersion".into(), rv),
            None => meta.remove("resourceVersion"),
        };
        return Ok(());
    }
    if rt.status_subresource {
        match old.get("status") {
            Some(s) => new["status"] = s.clone(),
            None => {
                if let Some(m) = new.as_object_mut() {
                    m.remove("status");
                }
            }
        }
    }
    let old_meta = old.get("metadata").cloned().unwrap_or(Value::Null);
    let meta = meta_mut(new);
    for f in [
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
    ] {
        match old_meta.get(f) {
            Some(v) => meta.insert(f.into(), v.clone()),
            None => meta.remove(f),
        };
    }
    meta.remove("selfLink");
    if !meta.contains_key("managedFields")
        && let Some(m) = old_meta.get("managedFields")
    {
        meta.insert("managedFields".into(), m.clone());
    }
    keep_allocations(rt, old, new);
    if is(rt, "", "namespaces") {
        // spec.finalizers is changed only through /finalize.
        new["spec"] = old.get("spec").cloned().unwrap_or(json!({}));
    }
    if object::is_deleting(old) {
        let before = object::finalizers(old);
        let added: Vec<String> = object::finalizers(new)
            .into_iter()
            .filter(|f| !before.contains(f))
            .collect();
        if !added.is_empty() {
            let quoted: Vec<String> = added.iter().map(|f| format!("\"{f}\"")).collect();
            return Err(ApiError::invalid(
                rt,
                object::name(old),
                &[(
                    "metadata.finalizers".into(),
                    format!(
                        "Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{{{}}}",
                        quoted.join(", ")
                    ),
                )],
            ));
        }
    }
    if rt.generation && generation_part(rt, old) != generation_part(rt, new) {
        let g = old
            .pointer("/metadata/generation")
            .and_then(Value::as_i64)
            .unwrap_or(0)
            + 1;
        meta_mut(new).insert("generation".into(), json!(g));
    }
    Ok(())
}

/// An update that omits a Service's allocated cluster IPs or node ports keeps them (before
/// defaulting would allocate new ones).
pub fn keep_allocations(rt: &ResourceType, old: &Value, new: &mut Value) {
    if is(rt, "", "services") {
        keep_service_allocations(old, new);
    }
}

fn keep_service_allocations(old: &Value, new: &mut Value) {
    if !new.get("spec").is_some_and(Value::is_object) {
        return;
    }
    for f in ["clusterIP", "clusterIPs", "healthCheckNodePort"] {
        if new["spec"].get(f).is_none()
            && let Some(v) = old.pointer(&format!("/spec/{f}"))
        {
            new["spec"][f] = v.clone();
        }
    }
    let old_ports = old
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if let Some(ports) = new.pointer_mut("/spec/ports").and_then(Value::as_array_mut) {
        for p in ports {
            if p.get("nodePort").is_some() {
                continue;
            }
            let same = old_ports.iter().find(|o| {
                o.get("port") == p.get("port")
                    && o.get("protocol").or(Some(&json!("TCP")))
                        == p.get("protocol").or(Some(&json!("TCP")))
            });
            if let Some(np) = same.and_then(|o| o.get("nodePort")) {
                p["nodePort"] = np.clone();
            }
        }
    }
}

/// Whether an update changed nothing: equal but for resourceVersion and managedFields times.
pub fn is_noop(old: &Value, new: &Value) -> bool {
    fn normalized(v: &Value) -> Value {
        let mut v = v.clone();
        if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
            m.remove("resourceVersion");
            if let Some(Value::Array(entries)) = m.get_mut("managedFields") {
                for e in entries {
                    if let Some(e) = e.as_object_mut() {
                        e.remove("time");
                    }
                }
            }
        }
        v
    }
    normalized(old) == normalized(new)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rt(plural: &str) -> ResourceType {
        super::super::resource::builtins()
            .into_iter()
            .find(|t| t.plural == plural)
            .unwrap()
    }

    #[test]
    fn create_sets_server_fields() {
        let mut d = json!({"metadata": {"name": "web", "resourceVersion": "5"}, "spec": {}, "status": {"replicas": 3}});
        for_create(&rt("deployments"), &mut d, "2026-01-01T00:00:00Z").unwrap();
        assert_eq!(d["metadata"]["generation"], 1);
        assert_eq!(d["status"], json!({}));
        assert!(d["metadata"].get("resourceVersion").is_none());
        assert_eq!(d["metadata"]["uid"].as_str().unwrap().len(), 36);
    }

    #[test]
    fn generation_bumps_only_on_spec_change_and_status_is_kept() {
        let t = rt("deployments");
        let old = json!({"metadata": {"name": "web", "generation": 2, "uid": "u"}, "spec": {"replicas": 1}, "status": {"replicas": 1}});
        let mut new = json!({"metadata": {"name": "web", "labels": {"a": "b"}}, "spec": {"replicas": 1}, "status": {"replicas": 9}});
        for_update(&t, &old, &mut new, false).unwrap();
        assert_eq!(new["metadata"]["generation"], 2);
        assert_eq!(new["status"]["replicas"], 1);
        assert_eq!(new["metadata"]["uid"], "u");
        let mut new = json!({"metadata": {"name": "web"}, "spec": {"replicas": 2}});
        for_update(&t, &old, &mut new, false).unwrap();
        assert_eq!(new["metadata"]["generation"], 3);
        let mut st = json!({"metadata": {"name": "web", "labels": {"x": "y"}}, "spec": {"replicas": 7}, "status": {"replicas": 4}});
        for_update(&t, &old, &mut st, true).unwrap();
        assert_eq!(st["spec"]["replicas"], 1);
        assert_eq!(st["status"]["replicas"], 4);
        assert!(st["metadata"].get("labels").is_none());
    }

    #[test]
    fn secrets_fold_string_data() {
        let mut s =
            json!({"metadata": {"name": "s"}, "stringData": {"a": "hi"}, "data": {"b": "eA=="}});
        for_write(&rt("secrets"), &mut s).unwrap();
        assert_eq!(s["data"], json!({"a": "aGk=", "b": "eA=="}));
        assert_eq!(s["type"], "Opaque");
        assert!(s.get("stringData").is_none());
        let mut bad = json!({"metadata": {"name": "s"}, "data": {"a": "!!"}});
        assert_eq!(for_write(&rt("secrets"), &mut bad).unwrap_err().code, 400);
    }

    #[test]
    fn no_finalizers_can_be_added_while_deleting() {
        let t = rt("configmaps");
        let old = json!({"metadata": {"name": "c", "deletionTimestamp": "2026-01-01T00:00:00Z", "finalizers": ["a"]}});
        let mut new = json!({"metadata": {"name": "c", "finalizers": ["a", "b"]}});
        assert_eq!(for_update(&t, &old, &mut new, false).unwrap_err().code, 422);
    }
}
