//! The committed `crds/*.yaml` are exactly what the Rust types generate.

use flotilla::api::crds;

#[test]
fn committed_crds_match_the_types() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("crds");
    for (file, crd) in crds::all() {
        let committed = std::fs::read_to_string(dir.join(file)).unwrap_or_default();
        let generated = crds::to_yaml(&crd).unwrap();
        assert!(
            committed == generated,
            "crds/{file} differs from the Rust types: run `cargo run -- crds --output-dir crds` and commit"
        );
    }
}

#[test]
fn crds_have_status_printer_columns_and_short_names() {
    for (file, crd) in crds::all() {
        let version = &crd.spec.versions[0];
        assert_eq!(crd.spec.group, "flotilla.dev", "{file}");
        assert_eq!(version.name, "v1alpha1", "{file}");
        assert_eq!(crd.spec.scope, "Namespaced", "{file}");
        assert!(
            version
                .subresources
                .as_ref()
                .and_then(|s| s.status.as_ref())
                .is_some(),
            "{file}: status subresource"
        );
        assert!(
            !crd.spec
                .names
                .short_names
                .clone()
                .unwrap_or_default()
                .is_empty(),
            "{file}: short names"
        );
    }
    let columns = |kind: &str| -> Vec<String> {
        let (_, crd) = crds::all()
            .into_iter()
            .find(|(_, c)| c.spec.names.kind == kind)
            .unwrap();
        crd.spec.versions[0]
            .additional_printer_columns
            .clone()
            .unwrap()
            .into_iter()
            .map(|c| c.name)
            .collect()
    };
    assert_eq!(
        columns("Application"),
        ["Sync", "Health", "Revision", "Cluster", "Age"]
    );
    assert_eq!(columns("ApplicationSet"), ["Applications", "Status", "Age"]);
}

#[test]
fn crd_schemas_are_structural() {
    // Kubernetes rejects non-structural schemas: no $ref / anyOf / oneOf / allOf at any level,
    // and every object either types its properties or preserves unknown fields.
    for (file, crd) in crds::all() {
        let json = serde_json::to_value(&crd.spec.versions[0].schema).unwrap();
        check(&json, file, "");
    }
    fn check(v: &serde_json::Value, file: &str, at: &str) {
        if let Some(map) = v.as_object() {
            for forbidden in ["$ref", "anyOf", "oneOf", "allOf"] {
                assert!(!map.contains_key(forbidden), "{file}{at}: {forbidden}");
            }
            if map.get("type").and_then(|t| t.as_str()) == Some("object") {
                let ok = map.contains_key("properties")
                    || map.contains_key("additionalProperties")
                    || map.get("x-kubernetes-preserve-unknown-fields")
                        == Some(&serde_json::Value::Bool(true));
                assert!(ok, "{file}{at}: untyped object");
            }
            for (k, child) in map {
                check(child, file, &format!("{at}.{k}"));
            }
        } else if let Some(items) = v.as_array() {
            for child in items {
                check(child, file, at);
            }
        }
    }
}
