//! The static kustomization check, kustomize options and their edit of the kustomization.

use serde_json::json;

use super::directory_tests::tree;
use super::kustomization_check::check_kustomizations;
use super::kustomization_edit::edit_kustomization;
use super::kustomize_options::{ImageOverride, KustomizeOptions};
use super::*;

const CM: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n";

/// The check's verdict on `apps/web/kustomization.yaml` with `body`, in a repository that also
/// has a base, a components dir and some files.
fn check(body: &str) -> Result<(), String> {
    let t = tree(&[
        ("apps/web/kustomization.yaml", body),
        ("apps/web/cm.yaml", CM),
        ("apps/web/patch.yaml", "kind: ConfigMap\n"),
        ("apps/web/app.env", "A=1\n"),
        ("apps/web/conf/app.conf", "x\n"),
        ("base/kustomization.yaml", "resources: [cm.yaml]\n"),
        ("base/cm.yaml", CM),
        ("shared/file.txt", "x"),
    ]);
    check_kustomizations(&t, "apps/web")
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[test]
fn references_inside_the_repository_pass() {
    let ok = r#"
resources: [cm.yaml, ../../base, ./cm.yaml]
components: []
patches:
  - path: patch.yaml
  - patch: |-
      - op: replace
        path: /x
        value: https://example.com/elsewhere
patchesStrategicMerge:
  - |-
    apiVersion: v1
    kind: ConfigMap
    metadata: {name: c, annotations: {u: "https://example.com"}}
configMapGenerator:
  - name: c
    files: [conf/app.conf, renamed=conf/app.conf]
    envs: [app.env]
    literals: ["URL=https://example.com"]
secretGenerator:
  - name: s
    env: app.env
openapi: {version: v1.32}
"#;
    check(ok).unwrap();
}

#[test]
fn each_dangerous_reference_is_refused_naming_field_and_entry() {
    let cases = [
        (
            "resources: [../../../../etc]",
            "resources: \"../../../../etc\" leaves the repository",
        ),
        (
            "resources: [/etc/passwd]",
            "resources: \"/etc/passwd\" is an absolute path",
        ),
        (
            "resources: [\"https://github.com/org/repo//base?ref=v1\"]",
            "is a remote reference",
        ),
        (
            "resources: [github.com/org/repo//base]",
            "resources: \"github.com/org/repo//base\" is a remote reference",
        ),
        (
            "resources: [\"git@github.com:org/repo.git\"]",
            "is a remote reference",
        ),
        (
            "resources: [\"repo//base?ref=main\"]",
            "is a remote reference",
        ),
        (
            "resources: [missing-dir]",
            "resources: \"missing-dir\" does not exist in the repository",
        ),
        (
            "bases: [../../../x]",
            "bases: \"../../../x\" leaves the repository",
        ),
        (
            "components: [\"https://example.com/c\"]",
            "components: \"https://example.com/c\" is a remote reference",
        ),
        (
            "patches: [{path: /etc/shadow}]",
            "patches[0].path: \"/etc/shadow\" is an absolute path",
        ),
        (
            "patchesStrategicMerge: [../../../p.yaml]",
            "patchesStrategicMerge: \"../../../p.yaml\" leaves",
        ),
        (
            "patchesJson6902: [{target: {kind: X}, path: \"http://x/p\"}]",
            "patchesJson6902[0].path: \"http://x/p\" is a remote",
        ),
        (
            "configMapGenerator: [{name: c, files: [k=/etc/hosts]}]",
            "configMapGenerator[0].files: \"/etc/hosts\" is an absolute path",
        ),
        (
            "configMapGenerator: [{name: c, envs: [../../../.env]}]",
            "configMapGenerator[0].envs: \"../../../.env\" leaves",
        ),
        (
            "configMapGenerator: [{name: c, env: /proc/self/environ}]",
            "configMapGenerator[0].env: \"/proc/self/environ\" is an absolute",
        ),
        (
            "secretGenerator: [{name: s, files: [/root/.ssh/id_rsa]}]",
            "secretGenerator[0].files: \"/root/.ssh/id_rsa\" is an absolute",
        ),
        (
            "secretGenerator: [{name: s, envs: [\"file:///etc/x\"]}]",
            "secretGenerator[0].envs: \"file:///etc/x\" is a remote",
        ),
        (
            "crds: [/crd.yaml]",
            "crds: \"/crd.yaml\" is an absolute path",
        ),
        (
            "openapi: {path: ../../../schema.json}",
            "openapi.path: \"../../../schema.json\" leaves",
        ),
        (
            "replacements: [{path: /r.yaml}]",
            "replacements[0].path: \"/r.yaml\" is an absolute path",
        ),
        (
            "generators: [\"https://x/g.yaml\"]",
            "generators: \"https://x/g.yaml\" is a remote",
        ),
        (
            "transformers: [../../../t.yaml]",
            "transformers: \"../../../t.yaml\" leaves",
        ),
        (
            "validators: [/v.yaml]",
            "validators: \"/v.yaml\" is an absolute path",
        ),
        (
            "configurations: [/c.yaml]",
            "configurations: \"/c.yaml\" is an absolute path",
        ),
        (
            "helmCharts: [{name: x, repo: \"https://charts\"}]",
            "helmCharts: is not supported: kustomize would run helm",
        ),
        (
            "helmGlobals: {chartHome: x}",
            "helmGlobals: is not supported",
        ),
        ("resources: cm.yaml", "resources: must be a list"),
        (
            "resources: [{path: x}]",
            "resources: entries must be strings",
        ),
    ];
    for (body, expected) in cases {
        let e = check(body).expect_err(body);
        assert!(
            e.starts_with("apps/web: kustomization.yaml: ") && e.contains(expected),
            "{body}\n  gave {e}\n  want …{expected}…"
        );
    }
}

#[test]
fn referenced_kustomizations_are_checked_transitively() {
    let t = tree(&[
        (
            "apps/web/overlays/prod/kustomization.yaml",
            "resources: [../../base]\n",
        ),
        (
            "apps/web/base/kustomization.yml",
            "resources: [cm.yaml, ../../../shared]\n",
        ),
        ("apps/web/base/cm.yaml", CM),
        (
            "shared/Kustomization",
            "resources: [\"https://evil.example/x.yaml\"]\n",
        ),
        ("unrelated/big.yaml", CM),
    ]);
    let e = check_kustomizations(&t, "apps/web/overlays/prod").unwrap_err();
    assert_eq!(
        e.to_string(),
        "shared: Kustomization: resources: \"https://evil.example/x.yaml\" is a remote reference; only paths inside the repository are allowed"
    );
    let t = tree(&[
        (
            "apps/web/overlays/prod/kustomization.yaml",
            "resources: [../../base]\n",
        ),
        ("apps/web/overlays/prod/notes/n.txt", "n"),
        ("apps/web/base/kustomization.yaml", "resources: [cm.yaml]\n"),
        ("apps/web/base/cm.yaml", CM),
        (
            "apps/web/overlays/dev/kustomization.yaml",
            "resources: [../../base]\n",
        ),
        ("unrelated/big.yaml", CM),
    ]);
    let checked = check_kustomizations(&t, "apps/web/overlays/prod").unwrap();
    let copied: Vec<&str> = checked.files_to_copy(&t).into_iter().collect();
    assert_eq!(
        copied,
        [
            "apps/web/base/cm.yaml",
            "apps/web/base/kustomization.yaml",
            "apps/web/overlays/prod/kustomization.yaml",
            "apps/web/overlays/prod/notes/n.txt",
        ]
    );
    // A cycle terminates (kustomize reports it).
    let t = tree(&[
        ("a/kustomization.yaml", "resources: [../b]\n"),
        ("b/kustomization.yaml", "resources: [../a]\n"),
    ]);
    assert_eq!(check_kustomizations(&t, "a").unwrap().documents.len(), 2);
}

#[test]
fn kustomization_syntax_errors_name_the_file_and_line() {
    let e = check("resources:\n  - a.yaml\n bad: [\n").unwrap_err();
    assert!(e.starts_with("apps/web/kustomization.yaml: line "), "{e}");
}

#[test]
fn options_are_validated() {
    let parse = |v: serde_json::Value| KustomizeOptions::parse(Some(&v));
    assert!(parse(json!({})).unwrap().is_empty());
    assert!(
        parse(json!({"namePrefix": "", "images": [], "commonLabels": {}}))
            .unwrap()
            .is_empty()
    );
    let unknown = parse(json!({"namePrefx": "x"})).unwrap_err();
    assert!(
        unknown.starts_with("unknown option \"namePrefx\" (supported: namePrefix"),
        "{unknown}"
    );
    assert!(
        parse(json!({"patches": [{"path": "x"}]}))
            .unwrap_err()
            .starts_with("patches is not supported")
    );
    assert!(
        parse(json!({"version": "v5"}))
            .unwrap_err()
            .contains("version is not supported")
    );
    assert_eq!(
        parse(json!({"namePrefix": 3})).unwrap_err(),
        "namePrefix must be a string"
    );
    assert_eq!(
        parse(json!({"commonLabels": {"a": 1}})).unwrap_err(),
        "commonLabels.a must be a string"
    );
    assert_eq!(
        parse(json!({"images": "nginx"})).unwrap_err(),
        "images must be a list of strings"
    );
    assert!(parse(json!({"images": ["=x"]})).is_err());
    assert!(KustomizeOptions::parse(Some(&json!("x"))).is_err());
}

#[test]
fn image_overrides_parse_like_kustomize_edit_set_image() {
    let p = |s| ImageOverride::parse(s).unwrap();
    let img = |name: &str, new_name: Option<&str>, tag: Option<&str>, digest: Option<&str>| {
        ImageOverride {
            name: name.into(),
            new_name: new_name.map(Into::into),
            new_tag: tag.map(Into::into),
            digest: digest.map(Into::into),
        }
    };
    assert_eq!(p("nginx:1.25"), img("nginx", None, Some("1.25"), None));
    assert_eq!(
        p("nginx=registry.local:5000/nginx:1.25"),
        img(
            "nginx",
            Some("registry.local:5000/nginx"),
            Some("1.25"),
            None
        )
    );
    assert_eq!(
        p("registry.local:5000/nginx"),
        img("registry.local:5000/nginx", None, None, None)
    );
    assert_eq!(
        p("nginx=ghcr.io/x/nginx"),
        img("nginx", Some("ghcr.io/x/nginx"), None, None)
    );
    assert_eq!(
        p("nginx@sha256:abc"),
        img("nginx", None, None, Some("sha256:abc"))
    );
    assert_eq!(p("nginx=nginx:1.2"), img("nginx", None, Some("1.2"), None));
}

fn options(v: serde_json::Value) -> KustomizeOptions {
    KustomizeOptions::parse(Some(&v)).unwrap()
}

fn parsed(text: &str) -> serde_json::Value {
    documents::parse_yaml_document("k", text).unwrap()
}

fn edit(text: &str, v: serde_json::Value) -> Result<String, String> {
    let doc = parsed(text);
    let keys: Vec<&str> = doc
        .as_object()
        .map(|m| m.keys().map(String::as_str).collect())
        .unwrap_or_default();
    edit_kustomization(text, &keys, &options(v))
}

#[test]
fn options_edit_the_kustomization_like_kustomize_edit() {
    let original = "\
# the web app
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namePrefix: base-
resources:
  - deploy.yaml   # keep me
images:
  - name: nginx
    newName: registry.local/nginx
    newTag: 1.20
  - name: redis
    newTag: 7.0
commonLabels:
  team: web
";
    let out = edit(
        original,
        json!({
            "namePrefix": "prod-",
            "namespace": "web-prod",
            "images": ["nginx:1.25", "busybox=mirror/busybox:1.36"],
            "commonLabels": {"env": "prod"},
            "commonAnnotations": {"owner": "ops"},
        }),
    )
    .unwrap();
    assert!(out.contains("  - deploy.yaml   # keep me\n"), "{out}");
    assert!(out.starts_with("# the web app\napiVersion:"), "{out}");
    let doc = parsed(&out);
    assert_eq!(doc["namePrefix"], "prod-", "replaced, not composed");
    assert_eq!(doc["namespace"], "web-prod");
    assert_eq!(doc["resources"], json!(["deploy.yaml"]));
    assert_eq!(
        doc["images"],
        json!([
            {"name": "nginx", "newName": "registry.local/nginx", "newTag": "1.25"},
            {"name": "redis", "newTag": "7.0"},
            {"name": "busybox", "newName": "mirror/busybox", "newTag": "1.36"},
        ]),
        "merged by name; the untouched tag keeps its text 7.0"
    );
    assert_eq!(doc["commonLabels"], json!({"team": "web", "env": "prod"}));
    assert_eq!(doc["commonAnnotations"], json!({"owner": "ops"}));
    assert_eq!(out.matches("namePrefix").count(), 1);

    let conflict = edit(original, json!({"commonLabels": {"team": "ops"}})).unwrap_err();
    assert!(
        conflict.contains("already sets the label \"team\" (set forceCommonLabels"),
        "{conflict}"
    );
    let forced = edit(
        original,
        json!({"commonLabels": {"team": "ops"}, "forceCommonLabels": true}),
    )
    .unwrap();
    assert_eq!(parsed(&forced)["commonLabels"]["team"], "ops");

    let flow = edit("{resources: [a.yaml]}\n", json!({"namePrefix": "x-"})).unwrap_err();
    assert!(flow.contains("layout"), "{flow}");
    let empty = edit("", json!({"nameSuffix": "-x"})).unwrap();
    assert_eq!(parsed(&empty), json!({"nameSuffix": "-x"}));
}
