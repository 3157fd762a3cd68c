//! End-to-end cases of server-side apply and managedFields tracking, taken from how
//! kube-apiserver behaves with `kubectl apply --server-side`, `kubectl create`/`edit` and
//! controllers writing status.

use serde_json::{Value, json};

use super::typed::tests::TestSchema;
use super::*;

const T1: &str = "2026-11-23T10:00:00Z";
const T2: &str = "2026-11-23T10:05:00Z";
const T3: &str = "2026-11-23T10:10:00Z";

fn by<'a>(name: &'a str, api_version: &'a str, time: &'a str) -> Manager<'a> {
    Manager {
        name,
        api_version,
        subresource: None,
        time,
    }
}

fn cm(data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm", "namespace": "default"}, "data": data})
}

fn managed_fields(obj: &Value) -> Value {
    obj.pointer("/metadata/managedFields")
        .cloned()
        .unwrap_or(Value::Null)
}

fn entry(manager: &str, op: &str, time: Option<&str>, fields: Value) -> Value {
    let mut e = json!({"manager": manager, "operation": op, "apiVersion": "v1", "fieldsType": "FieldsV1", "fieldsV1": fields});
    if let Some(t) = time {
        e["time"] = json!(t);
    }
    e
}

fn ok(r: Result<Value, ApplyError>) -> Value {
    match r {
        Ok(v) => v,
        Err(e) => panic!("apply failed: {e}"),
    }
}

fn create(obj: &Value, manager: &Manager) -> Value {
    let mut obj = obj.clone();
    record_update(None, &mut obj, manager, &TestSchema);
    obj
}

#[test]
fn apply_creates_and_a_repeat_is_a_no_op() {
    let mut config = cm(json!({"key": "v"}));
    config["metadata"]["labels"] = json!({"app": "x"});
    let created = ok(apply(
        None,
        &config,
        &by("kubectl", "v1", T1),
        false,
        &TestSchema,
    ));
    assert_eq!(
        managed_fields(&created),
        json!([entry(
            "kubectl",
            "Apply",
            Some(T1),
            json!({"f:data": {"f:key": {}}, "f:metadata": {"f:labels": {"f:app": {}}}})
        )])
    );
    assert_eq!(created["data"], json!({"key": "v"}));
    let again = ok(apply(
        Some(&created),
        &config,
        &by("kubectl", "v1", T2),
        false,
        &TestSchema,
    ));
    assert_eq!(again, created);
}

#[test]
fn conflict_with_a_client_side_create_and_force() {
    let live = create(
        &cm(json!({"key": "v"})),
        &by("kubectl-client-side-apply", "v1", T1),
    );
    assert_eq!(
        managed_fields(&live),
        json!([entry(
            "kubectl-client-side-apply",
            "Update",
            Some(T1),
            json!({"f:data": {".": {}, "f:key": {}}})
        )])
    );
    let config = cm(json!({"key": "other"}));
    let err = apply(
        Some(&live),
        &config,
        &by("kubectl", "v1", T2),
        false,
        &TestSchema,
    );
    let expected = Conflict {
        manager: "kubectl-client-side-apply".into(),
        field: ".data.key".into(),
        api_version: Some("v1".into()),
        subresource: None,
    };
    assert_eq!(err, Err(ApplyError::Conflicts(vec![expected])));
    let Err(e) = err else { return };
    assert_eq!(
        e.message(),
        "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using v1: .data.key"
    );
    let status = e.to_api_error().to_status();
    assert_eq!(status["code"], 409);
    assert_eq!(status["reason"], "Conflict");
    assert_eq!(
        status["details"]["causes"],
        json!([{"reason": "FieldManagerConflict", "message": "conflict with \"kubectl-client-side-apply\" using v1", "field": ".data.key"}])
    );

    let forced = ok(apply(
        Some(&live),
        &config,
        &by("kubectl", "v1", T2),
        true,
        &TestSchema,
    ));
    assert_eq!(forced["data"], json!({"key": "other"}));
    assert_eq!(
        managed_fields(&forced),
        json!([
            entry(
                "kubectl",
                "Apply",
                Some(T2),
                json!({"f:data": {"f:key": {}}})
            ),
            entry(
                "kubectl-client-side-apply",
                "Update",
                Some(T1),
                json!({"f:data": {}})
            ),
        ])
    );
}

#[test]
fn equal_values_are_shared_without_conflict() {
    let live = create(&cm(json!({"key": "v"})), &by("kubectl-create", "v1", T1));
    let shared = ok(apply(
        Some(&live),
        &cm(json!({"key": "v"})),
        &by("kubectl", "v1", T2),
        false,
        &TestSchema,
    ));
    assert_eq!(shared["data"], live["data"]);
    // The object did not change, so the new applier's entry carries no time.
    assert_eq!(
        managed_fields(&shared),
        json!([
            entry("kubectl", "Apply", None, json!({"f:data": {"f:key": {}}})),
            entry(
                "kubectl-create",
                "Update",
                Some(T1),
                json!({"f:data": {".": {}, "f:key": {}}})
            ),
        ])
    );
}

#[test]
fn fields_no_longer_applied_are_removed_unless_someone_else_owns_them() {
    let v1 = ok(apply(
        None,
        &cm(json!({"a": "1", "b": "2", "c": "3"})),
        &by("kubectl", "v1", T1),
        false,
        &TestSchema,
    ));
    // Another applier shares c.
    let v2 = ok(apply(
        Some(&v1),
        &cm(json!({"c": "3"})),
        &by("helm", "v1", T2),
        false,
        &TestSchema,
    ));
    // Someone adds a label with a plain update.
    let mut v3 = v2.clone();
    v3["metadata"]["labels"] = json!({"team": "x"});
    record_update(
        Some(&v2),
        &mut v3,
        &by("kubectl-label", "v1", T2),
        &TestSchema,
    );
    let v4 = ok(apply(
        Some(&v3),
        &cm(json!({"a": "1"})),
        &by("kubectl", "v1", T3),
        false,
        &TestSchema,
    ));
    assert_eq!(v4["data"], json!({"a": "1", "c": "3"}));
    assert_eq!(v4["metadata"]["labels"], json!({"team": "x"}));
    assert_eq!(
        managed_fields(&v4),
        json!([
            entry("helm", "Apply", None, json!({"f:data": {"f:c": {}}})),
            entry("kubectl", "Apply", Some(T3), json!({"f:data": {"f:a": {}}})),
            entry(
                "kubectl-label",
                "Update",
                Some(T2),
                json!({"f:metadata": {"f:labels": {".": {}, "f:team": {}}}})
            ),
        ])
    );
}

fn deployment(containers: Value) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
        "spec": {"replicas": 2, "template": {"spec": {"containers": containers}}}})
}

#[test]
fn list_map_items_merge_prune_and_conflict_by_key() {
    let apps = |name, time| by(name, "apps/v1", time);
    let config = deployment(json!([{"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"}]));
    let v1 = ok(apply(
        None,
        &config,
        &apps("kubectl", T1),
        false,
        &TestSchema,
    ));
    let fields = managed_fields(&v1);
    assert_eq!(
        fields[0]["fieldsV1"],
        json!({"f:spec": {"f:replicas": {}, "f:template": {"f:spec": {"f:containers": {
            "k:{\"name\":\"a\"}": {".": {}, "f:image": {}, "f:name": {}},
            "k:{\"name\":\"b\"}": {".": {}, "f:image": {}, "f:name": {}}
        }}}}})
    );
    assert_eq!(fields[0]["apiVersion"], "apps/v1");
    // kubectl edit changes a's image.
    let mut v2 = v1.clone();
    v2["spec"]["template"]["spec"]["containers"][0]["image"] = json!("a:2");
    record_update(Some(&v1), &mut v2, &apps("kubectl-edit", T2), &TestSchema);
    let err = apply(Some(&v2), &config, &apps("kubectl", T3), false, &TestSchema);
    let Err(e) = err else {
        panic!("expected a conflict")
    };
    assert_eq!(
        e.message(),
        "Apply failed with 1 conflict: conflict with \"kubectl-edit\" using apps/v1: .spec.template.spec.containers[name=\"a\"].image"
    );
    // Dropping container b from the configuration removes it; a keeps the edited image.
    let smaller = deployment(json!([{"name": "a"}]));
    let v3 = ok(apply(
        Some(&v2),
        &smaller,
        &apps("kubectl", T3),
        false,
        &TestSchema,
    ));
    assert_eq!(
        v3["spec"]["template"]["spec"]["containers"],
        json!([{"name": "a", "image": "a:2"}])
    );
}

#[test]
fn updates_own_what_they_change_and_keep_their_time_when_idle() {
    let v1 = create(&cm(json!({"a": "1", "b": "2"})), &by("creator", "v1", T1));
    let mut v2 = cm(json!({"a": "9", "c": "3"}));
    v2["metadata"]["managedFields"] = managed_fields(&v1);
    record_update(Some(&v1), &mut v2, &by("editor", "v1", T2), &TestSchema);
    let expected = json!([
        entry("creator", "Update", Some(T1), json!({"f:data": {}})),
        entry(
            "editor",
            "Update",
            Some(T2),
            json!({"f:data": {"f:a": {}, "f:c": {}}})
        ),
    ]);
    assert_eq!(managed_fields(&v2), expected);
    for name in ["editor", "creator"] {
        let mut same = v2.clone();
        record_update(Some(&v2), &mut same, &by(name, "v1", T3), &TestSchema);
        assert_eq!(managed_fields(&same), expected);
    }
}

#[test]
fn client_sent_managed_fields_are_honoured_or_reset() {
    let mut v1 = create(&cm(json!({"a": "1"})), &by("creator", "v1", T1));
    v1["metadata"]["uid"] = json!("u1");
    // Clients that drop managedFields keep the live ones.
    let mut kept = cm(json!({"a": "1"}));
    kept["metadata"]["uid"] = json!("u1");
    record_update(Some(&v1), &mut kept, &by("other", "v1", T2), &TestSchema);
    assert_eq!(managed_fields(&kept), managed_fields(&v1));
    // `[{}]` clears them, and an existing object is then not tracked until it is applied to.
    let mut cleared = kept.clone();
    cleared["metadata"]["managedFields"] = json!([{}]);
    record_update(
        Some(&kept),
        &mut cleared,
        &by("other", "v1", T2),
        &TestSchema,
    );
    assert_eq!(cleared.pointer("/metadata/managedFields"), None);
    let mut untracked = cleared.clone();
    untracked["data"]["a"] = json!("2");
    record_update(
        Some(&cleared),
        &mut untracked,
        &by("other", "v1", T2),
        &TestSchema,
    );
    assert_eq!(untracked.pointer("/metadata/managedFields"), None);
}

#[test]
fn first_apply_to_an_untracked_object_creates_before_first_apply() {
    let mut live = cm(json!({"a": "1", "b": "2"}));
    live["metadata"]["uid"] = json!("u1");
    let err = apply(
        Some(&live),
        &cm(json!({"a": "9"})),
        &by("kubectl", "v1", T2),
        false,
        &TestSchema,
    );
    let Err(e) = err else {
        panic!("expected a conflict")
    };
    assert_eq!(
        e.message(),
        "Apply failed with 1 conflict: conflict with \"before-first-apply\" using v1: .data.a"
    );
    let applied = ok(apply(
        Some(&live),
        &cm(json!({"a": "1"})),
        &by("kubectl", "v1", T2),
        false,
        &TestSchema,
    ));
    assert_eq!(
        managed_fields(&applied),
        json!([
            entry("kubectl", "Apply", None, json!({"f:data": {"f:a": {}}})),
            entry(
                "before-first-apply",
                "Update",
                Some(T2),
                json!({"f:data": {".": {}, "f:a": {}, "f:b": {}}})
            ),
        ])
    );
}

#[test]
fn status_writes_carry_the_subresource_and_reset_fields_are_not_owned() {
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "uid": "u"},
        "spec": {"containers": [{"name": "c", "image": "i"}]}, "status": {"phase": "Pending"}});
    let mut created = pod.clone();
    record_update(
        None,
        &mut created,
        &by("kubectl-run", "v1", T1),
        &TestSchema,
    );
    let fields = managed_fields(&created);
    assert_eq!(
        fields[0]["fieldsV1"],
        json!({"f:spec": {"f:containers": {"k:{\"name\":\"c\"}": {".": {}, "f:image": {}, "f:name": {}}}}})
    );
    let mut running = created.clone();
    running["status"]["phase"] = json!("Running");
    running["spec"]["containers"][0]["image"] = json!("sneaky");
    running["metadata"]["managedFields"] = json!([]);
    let kubelet = Manager {
        name: "kubelet",
        api_version: "v1",
        subresource: Some("status"),
        time: T2,
    };
    record_update(Some(&created), &mut running, &kubelet, &TestSchema);
    let fields = managed_fields(&running);
    assert_eq!(fields.as_array().map(Vec::len), Some(2));
    assert_eq!(
        fields[1],
        json!({"manager": "kubelet", "operation": "Update", "apiVersion": "v1", "time": T2, "fieldsType": "FieldsV1",
            "fieldsV1": {"f:status": {"f:phase": {}}}, "subresource": "status"})
    );
    // Applying status through /status is its own entry.
    let config = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "status": {"phase": "Running", "podIP": "10.0.0.1"}});
    let kubelet_apply = Manager {
        time: T3,
        ..kubelet
    };
    let applied = ok(apply(
        Some(&running),
        &config,
        &kubelet_apply,
        false,
        &TestSchema,
    ));
    assert_eq!(
        applied["status"],
        json!({"phase": "Running", "podIP": "10.0.0.1"})
    );
    assert_eq!(
        managed_fields(&applied)[0],
        json!({"manager": "kubelet", "operation": "Apply", "apiVersion": "v1", "time": T3, "fieldsType": "FieldsV1",
            "fieldsV1": {"f:status": {"f:phase": {}, "f:podIP": {}}}, "subresource": "status"})
    );
}

#[test]
fn invalid_bodies_read_like_kube_apiserver() {
    let bad = deployment(json!([{"image": "nginx"}]));
    let err = apply(
        None,
        &bad,
        &by("kubectl", "apps/v1", T1),
        false,
        &TestSchema,
    );
    let message = "failed to create typed patch object (default/web; apps/v1, Kind=Deployment): .spec.template.spec.containers: element 0: associative list with keys has an element that omits key field \"name\" (and doesn't have default value)";
    assert_eq!(err, Err(ApplyError::Invalid(message.to_string())));
    let api = ApplyError::Invalid(message.to_string()).to_api_error();
    assert_eq!(api.code, 500);
    let mut with_fields = cm(json!({}));
    with_fields["metadata"]["managedFields"] = json!([]);
    let err = apply(
        None,
        &with_fields,
        &by("kubectl", "v1", T1),
        false,
        &TestSchema,
    );
    assert_eq!(
        err,
        Err(ApplyError::Invalid(MANAGED_FIELDS_MUST_BE_NIL.to_string()))
    );
    assert_eq!(
        ApplyError::Invalid(MANAGED_FIELDS_MUST_BE_NIL.to_string())
            .to_api_error()
            .code,
        400
    );
}

#[test]
fn many_conflicts_are_grouped_by_manager() {
    let v1 = create(&cm(json!({"x": "1"})), &by("a", "v1", T1));
    let v2 = ok(apply(
        Some(&v1),
        &cm(json!({"y": "1", "z": "1"})),
        &by("b", "v1", T2),
        false,
        &TestSchema,
    ));
    let err = apply(
        Some(&v2),
        &cm(json!({"x": "2", "y": "2", "z": "2"})),
        &by("c", "v1", T3),
        false,
        &TestSchema,
    );
    let Err(e) = err else {
        panic!("expected conflicts")
    };
    assert_eq!(
        e.message(),
        "Apply failed with 3 conflicts: conflicts with \"a\" using v1:\n- .data.x\nconflicts with \"b\":\n- .data.y\n- .data.z"
    );
}

#[test]
fn null_in_the_configuration_clears_the_field() {
    let v1 = ok(apply(
        None,
        &cm(json!({"a": "1", "b": "2"})),
        &by("kubectl", "v1", T1),
        false,
        &TestSchema,
    ));
    let v2 = ok(apply(
        Some(&v1),
        &cm(json!({"a": "1", "b": null})),
        &by("kubectl", "v1", T2),
        false,
        &TestSchema,
    ));
    assert_eq!(v2["data"], json!({"a": "1"}));
}
