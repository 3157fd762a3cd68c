//! The drift list, display normalisation and the unified diff text.

use serde_json::json;

use super::*;

#[test]
fn drift_is_sorted_deduped_and_capped() {
    let mut desired = desired_deployment();
    for i in 0..80 {
        desired["metadata"]["labels"][format!("l{i:02}")] = json!("x");
    }
    desired["spec"]["minReadySeconds"] = json!(3);
    let c = compare(&desired, Some(&live_deployment()), &opts());
    assert!(!c.in_sync);
    assert_eq!(c.drift.len(), MAX_DRIFT_PATHS);
    assert_eq!(c.drift[0], "/metadata/labels/l00");
    let mut sorted = c.drift.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, c.drift);
}

#[test]
fn normalized_for_display_strips_server_fields() {
    let mut live = live_deployment();
    live["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] =
        json!("{}");
    let shown = normalized_for_display(&live);
    let meta = shown["metadata"].as_object().unwrap();
    for key in [
        "managedFields",
        "resourceVersion",
        "uid",
        "generation",
        "creationTimestamp",
    ] {
        assert!(!meta.contains_key(key), "{key}");
    }
    assert!(shown.get("status").is_none());
    assert_eq!(
        shown["metadata"]["annotations"],
        json!({"argocd.argoproj.io/tracking-id": "demo:apps/Deployment:default/web",
            "deployment.kubernetes.io/revision": "3"})
    );
    assert_eq!(shown["spec"]["revisionHistoryLimit"], json!(10));
}

#[test]
fn normalized_for_display_masks_secrets() {
    let s = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
        "data": {"a": "eA=="}, "stringData": {"b": "y"}});
    let shown = normalized_for_display(&s);
    assert_eq!(shown["data"]["a"], json!("++++++++"));
    assert_eq!(shown["stringData"]["b"], json!("++++++++"));
}

#[test]
fn unified_diff_of_a_changed_image() {
    let mut live = live_deployment();
    container(&mut live)["image"] = json!("nginx:1.24");
    let text = unified_diff(
        "apps/Deployment/default/web",
        Some(&live),
        &desired_deployment(),
    );
    let expected = "\
--- live/apps/Deployment/default/web
+++ desired/apps/Deployment/default/web
@@ -23,7 +23,7 @@
           value: '1'
         - name: B
           value: '2'
-        image: nginx:1.24
+        image: nginx:1.25
         name: web
         ports:
         - containerPort: 80
";
    assert_eq!(text, expected);
}

#[test]
fn unified_diff_of_owned_fields_only() {
    // desired without anything: live shows only what flotilla owns, not defaults or others'
    let text = unified_diff("x", Some(&live_deployment()), &json!({}));
    assert!(
        text.contains("-    argocd.argoproj.io/tracking-id: "),
        "{text}"
    );
    assert!(
        !text.contains("deployment.kubernetes.io/revision"),
        "{text}"
    );
    assert!(!text.contains("imagePullPolicy"), "{text}");
    assert!(!text.contains("revisionHistoryLimit"), "{text}");
}

#[test]
fn unified_diff_in_sync_is_empty() {
    // defaults, status and notation (250m / 0.25) do not show
    let text = unified_diff("x", Some(&live_deployment()), &desired_deployment());
    assert_eq!(text, "");
}

#[test]
fn unified_diff_shows_owned_fields_git_dropped() {
    let mut desired = desired_deployment();
    container(&mut desired)["env"] = json!([{"name": "A", "value": "1"}]);
    let text = unified_diff("d", Some(&live_deployment()), &desired);
    assert!(
        text.contains("-        - name: B\n-          value: '2'\n"),
        "{text}"
    );
    let count = |sign: &str, header: &str| {
        text.lines()
            .filter(|l| l.starts_with(sign) && !l.starts_with(header))
            .count()
    };
    assert_eq!(count("-", "---"), 2, "{text}");
    assert_eq!(count("+", "+++"), 0, "{text}");
}

#[test]
fn unified_diff_of_a_new_object() {
    let desired = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "default"}, "data": {"k": "v"}});
    assert_eq!(
        unified_diff("v1/ConfigMap/default/c", None, &desired),
        "\
--- live/v1/ConfigMap/default/c
+++ desired/v1/ConfigMap/default/c
@@ -0,0 +1,7 @@
+apiVersion: v1
+data:
+  k: v
+kind: ConfigMap
+metadata:
+  name: c
+  namespace: default
"
    );
}

#[test]
fn unified_diff_masks_secret_values() {
    let desired = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"},
        "stringData": {"password": "new", "user": "admin"}});
    let live = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"},
        "data": {"password": "b2xk", "user": "YWRtaW4="}});
    let text = unified_diff("v1/Secret/db", Some(&live), &desired);
    assert!(!text.contains("b2xk") && !text.contains("bmV3"), "{text}");
    assert!(
        text.contains("-  password: ++++++++\n+  password: +++++++++\n"),
        "{text}"
    );
    assert!(text.contains("   user: ++++++++\n"), "{text}");
}
