//! Rule 1: fields desired has must be in live; defaults, status and notation are no drift.

use serde_json::{Value, json};

use super::*;

#[test]
fn server_defaults_and_server_fields_are_not_drift() {
    let c = compare(&desired_deployment(), Some(&live_deployment()), &opts());
    assert_eq!(
        c,
        Comparison {
            in_sync: true,
            missing: false,
            drift: vec![]
        }
    );
}

#[test]
fn status_is_never_drift() {
    let mut live = live_deployment();
    live["status"] = json!({"replicas": 0, "conditions": []});
    let mut desired = desired_deployment();
    desired["status"] = json!({"replicas": 5});
    assert!(drift(&desired, &live).is_empty());
}

#[test]
fn a_changed_image_is_drift() {
    let mut live = live_deployment();
    container(&mut live)["image"] = json!("nginx:1.24");
    assert_eq!(
        drift(&desired_deployment(), &live),
        ["/spec/template/spec/containers/0/image"]
    );
}

#[test]
fn missing_live_is_missing() {
    let c = compare(&desired_deployment(), None, &opts());
    assert_eq!(
        c,
        Comparison {
            in_sync: false,
            missing: true,
            drift: vec![]
        }
    );
}

#[test]
fn a_field_desired_has_and_live_lacks_is_drift() {
    let mut desired = desired_deployment();
    desired["spec"]["minReadySeconds"] = json!(5);
    desired["metadata"]["annotations"]["new"] = json!("x");
    assert_eq!(
        drift(&desired, &live_deployment()),
        ["/metadata/annotations/new", "/spec/minReadySeconds"]
    );
}

#[test]
fn others_annotations_and_labels_are_not_drift() {
    let mut live = live_deployment();
    live["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"] = json!("now");
    live["metadata"]["labels"]["team"] = json!("a");
    assert!(drift(&desired_deployment(), &live).is_empty());
}

#[test]
fn list_items_merge_by_name_in_any_order() {
    let mut desired = desired_deployment();
    let mut live = live_deployment();
    let sidecar = json!({"name": "sidecar", "image": "envoy:1"});
    desired["spec"]["template"]["spec"]["containers"]
        .as_array_mut()
        .unwrap()
        .insert(0, sidecar.clone());
    let mut live_sidecar = sidecar.clone();
    live_sidecar["imagePullPolicy"] = json!("IfNotPresent");
    live["spec"]["template"]["spec"]["containers"]
        .as_array_mut()
        .unwrap()
        .push(live_sidecar);
    assert!(drift(&desired, &live).is_empty());
    // env in another order too
    container(&mut live)["env"] = json!([{"name": "B", "value": "2"}, {"name": "A", "value": "1"}]);
    assert!(drift(&desired, &live).is_empty());
    // an item desired has and live lacks is drift at its desired index
    desired["spec"]["template"]["spec"]["containers"][1]["env"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "C", "value": "3"}));
    assert_eq!(
        drift(&desired, &live),
        ["/spec/template/spec/containers/1/env/2"]
    );
}

#[test]
fn an_injected_container_is_not_drift() {
    let mut live = live_deployment();
    live["spec"]["template"]["spec"]["containers"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "istio-proxy", "image": "istio/proxyv2"}));
    live["spec"]["template"]["spec"]["initContainers"] =
        json!([{"name": "istio-init", "image": "istio/proxyv2"}]);
    assert!(drift(&desired_deployment(), &live).is_empty());
}

#[test]
fn atomic_lists_compare_as_wholes() {
    let mut desired = desired_deployment();
    container(&mut desired)["args"] = json!(["--port", "80"]);
    desired["spec"]["template"]["spec"]["tolerations"] =
        json!([{"key": "dedicated", "operator": "Equal", "value": "web"}]);
    let mut live = live_deployment();
    container(&mut live)["args"] = json!(["--port", "80"]);
    // a defaulted field inside an atomic item is no drift
    live["spec"]["template"]["spec"]["tolerations"] =
        json!([{"key": "dedicated", "operator": "Equal", "value": "web", "effect": ""}]);
    assert!(drift(&desired, &live).is_empty());
    container(&mut live)["args"] = json!(["--port", "81"]);
    assert_eq!(
        drift(&desired, &live),
        ["/spec/template/spec/containers/0/args/1"]
    );
    container(&mut live)["args"] = json!(["--port", "80", "-v"]);
    assert_eq!(
        drift(&desired, &live),
        ["/spec/template/spec/containers/0/args"]
    );
    live["spec"]["template"]["spec"]["tolerations"] = json!([
        {"key": "dedicated", "operator": "Equal", "value": "web"},
        {"key": "other", "operator": "Exists"}]);
    container(&mut live)["args"] = json!(["--port", "80"]);
    assert_eq!(drift(&desired, &live), ["/spec/template/spec/tolerations"]);
}

#[test]
fn empty_null_and_zero_values_equal_absent() {
    let mut desired = desired_deployment();
    desired["spec"]["paused"] = json!(false);
    desired["spec"]["template"]["spec"]["volumes"] = json!([]);
    desired["spec"]["template"]["spec"]["nodeSelector"] = json!(null);
    desired["spec"]["template"]["spec"]["hostNetwork"] = json!(false);
    desired["metadata"]["creationTimestamp"] = json!(null);
    container(&mut desired)["resources"]["claims"] = json!([]);
    container(&mut desired)["securityContext"] = json!({});
    container(&mut desired)["env"][0]["valueFrom"] = json!(null);
    container(&mut desired)["env"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "EMPTY", "value": ""}));
    let mut live = live_deployment();
    container(&mut live)["env"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "EMPTY"}));
    assert!(drift(&desired, &live).is_empty());
}

#[test]
fn an_empty_label_is_a_value() {
    let mut desired = desired_deployment();
    desired["metadata"]["labels"]["flag"] = json!("");
    assert_eq!(
        drift(&desired, &live_deployment()),
        ["/metadata/labels/flag"]
    );
}

#[test]
fn numbers_compare_by_value() {
    let mut desired = desired_deployment();
    desired["spec"]["replicas"] = json!(2.0);
    assert!(drift(&desired, &live_deployment()).is_empty());
    desired["spec"]["replicas"] = json!("2");
    assert_eq!(drift(&desired, &live_deployment()), ["/spec/replicas"]);
}

#[test]
fn quantities_compare_by_value() {
    let mut desired = desired_deployment();
    container(&mut desired)["resources"] =
        json!({"limits": {"cpu": 0.5, "memory": "1024Mi"}, "requests": {"cpu": "250m"}});
    assert!(drift(&desired, &live_deployment()).is_empty());
    container(&mut desired)["resources"]["limits"]["cpu"] = json!("2");
    let mut live = live_deployment();
    container(&mut live)["resources"]["limits"]["cpu"] = json!("2000m");
    assert!(drift(&desired, &live).is_empty());
    container(&mut desired)["resources"]["limits"]["memory"] = json!("1G");
    assert_eq!(
        drift(&desired, &live),
        ["/spec/template/spec/containers/0/resources/limits/memory"]
    );
}

#[test]
fn pvc_storage_is_a_quantity() {
    let desired = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data", "namespace": "default"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1000M"}}}});
    let live = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data", "namespace": "default", "uid": "u"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1G"}},
            "storageClassName": "standard", "volumeMode": "Filesystem", "volumeName": "pvc-1"},
        "status": {"phase": "Bound", "capacity": {"storage": "1Gi"}}});
    assert!(drift(&desired, &live).is_empty());
}

fn desired_service() -> Value {
    json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"selector": {"app": "web"},
            "ports": [{"name": "http", "port": 80, "targetPort": "8080"}, {"name": "dns", "port": 53, "protocol": "UDP"}]}})
}

fn live_service() -> Value {
    json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "web", "namespace": "default", "uid": "u"},
        "spec": {"clusterIP": "10.96.0.12", "clusterIPs": ["10.96.0.12"], "type": "ClusterIP",
            "sessionAffinity": "None", "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
            "internalTrafficPolicy": "Cluster", "selector": {"app": "web"},
            "ports": [{"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                {"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}]},
        "status": {"loadBalancer": {}}})
}

#[test]
fn int_or_string_and_service_ports() {
    assert!(drift(&desired_service(), &live_service()).is_empty());
    let mut live = live_service();
    live["spec"]["ports"][1]["targetPort"] = json!(9090);
    assert_eq!(
        drift(&desired_service(), &live),
        ["/spec/ports/0/targetPort"]
    );
    // a port number is not IntOrString
    let mut desired = desired_service();
    desired["spec"]["ports"][0]["port"] = json!("80");
    assert_eq!(drift(&desired, &live_service()), ["/spec/ports/0"]);
}

#[test]
fn atomic_maps_see_extra_keys() {
    let mut live = live_service();
    live["spec"]["selector"]["tier"] = json!("front");
    assert_eq!(drift(&desired_service(), &live), ["/spec/selector/tier"]);
    let mut desired = desired_deployment();
    desired["spec"]["template"]["spec"]["nodeSelector"] = json!({"disk": "ssd"});
    let mut live = live_deployment();
    live["spec"]["template"]["spec"]["nodeSelector"] = json!({"disk": "ssd", "zone": "a"});
    assert_eq!(
        drift(&desired, &live),
        ["/spec/template/spec/nodeSelector/zone"]
    );
}

#[test]
fn secret_string_data_is_compared_with_data() {
    let desired = json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "db", "namespace": "default"}, "type": "Opaque",
        "stringData": {"password": "s3cret"}, "data": {"user": "YWRtaW4="}});
    let live = json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "db", "namespace": "default", "uid": "u"}, "type": "Opaque",
        "data": {"password": "czNjcmV0", "user": "YWRtaW4="}});
    assert!(drift(&desired, &live).is_empty());
    let mut changed = live.clone();
    changed["data"]["password"] = json!("b3RoZXI=");
    assert_eq!(drift(&desired, &changed), ["/data/password"]);
}

#[test]
fn a_secret_key_dropped_from_string_data_is_drift() {
    let desired = json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "db"}, "stringData": {"password": "s3cret"}});
    let live = json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "db", "managedFields": [managed("flotilla", "Apply", json!({
            "f:stringData": {".": {}, "f:password": {}, "f:old": {}}}))]},
        "data": {"password": "czNjcmV0", "old": "eA=="}});
    assert_eq!(drift(&desired, &live), ["/data/old"]);
}

#[test]
fn finalizers_are_a_set() {
    let mut desired = desired_deployment();
    desired["metadata"]["finalizers"] = json!(["example.com/a"]);
    let mut live = live_deployment();
    live["metadata"]["finalizers"] = json!(["foregroundDeletion", "example.com/a"]);
    assert!(drift(&desired, &live).is_empty());
    desired["metadata"]["finalizers"] = json!(["example.com/b"]);
    assert_eq!(drift(&desired, &live), ["/metadata/finalizers/0"]);
}

#[test]
fn custom_resource_lists_keyed_through_managed_fields() {
    let desired = json!({"apiVersion": "example.com/v1", "kind": "Widget",
        "metadata": {"name": "w"}, "spec": {"parts": [{"id": "a", "size": 1}]}});
    let live = json!({"apiVersion": "example.com/v1", "kind": "Widget",
        "metadata": {"name": "w", "managedFields": [
            managed("flotilla", "Apply", json!({"f:spec": {"f:parts": {"k:{\"id\":\"a\"}": {".": {}, "f:id": {}, "f:size": {}}}}})),
            managed("widget-controller", "Update", json!({"f:spec": {"f:parts": {"k:{\"id\":\"b\"}": {".": {}, "f:id": {}}}}}))]},
        "spec": {"parts": [{"id": "b"}, {"id": "a", "size": 1}]}});
    assert!(drift(&desired, &live).is_empty());
    // without the hints, the list would be atomic
    let mut bare = live.clone();
    bare["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("managedFields");
    assert_eq!(drift(&desired, &bare), ["/spec/parts"]);
}
