//! Plain directories, source types and errors, over in-memory trees.

use serde_json::{Value, json};

use super::*;
use crate::git::tree::MemoryTree;

pub(super) fn tree(files: &[(&str, &str)]) -> MemoryTree {
    MemoryTree::new(
        "0123456789abcdef0123456789abcdef01234567".into(),
        files
            .iter()
            .map(|(p, c)| (p.to_string(), c.as_bytes().to_vec())),
    )
}

pub(super) fn source(path: &str) -> ApplicationSource {
    ApplicationSource {
        repo_url: "https://git.example/repo.git".into(),
        path: Some(path.into()),
        ..Default::default()
    }
}

fn names(objects: &[Value]) -> Vec<String> {
    objects
        .iter()
        .map(|o| {
            format!(
                "{}/{}",
                o["kind"].as_str().unwrap(),
                o["metadata"]["name"].as_str().unwrap()
            )
        })
        .collect()
}

fn cm(name: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n")
}

fn err(files: &[(&str, &str)], source: &ApplicationSource) -> String {
    render(&tree(files), source).unwrap_err().to_string()
}

#[test]
fn multi_document_yaml_in_sorted_file_order() {
    let two = format!(
        "---\n{}---\n\n---\n# just a comment\n---\n{}",
        cm("b1"),
        cm("b2")
    );
    let t = tree(&[
        ("apps/web/b.yaml", &two),
        ("apps/web/a.yml", &cm("a")),
        ("apps/web/README.md", "# not a manifest"),
        ("apps/web/c.txt", "nope: [1"),
        ("apps/other.yaml", &cm("elsewhere")),
    ]);
    let objects = render(&t, &source("apps/web")).unwrap();
    assert_eq!(
        names(&objects),
        ["ConfigMap/a", "ConfigMap/b1", "ConfigMap/b2"]
    );
    assert_eq!(objects[0]["apiVersion"], "v1");
}

#[test]
fn lists_are_flattened() {
    let list = r#"
apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: ConfigMap
    metadata: {name: one}
  - apiVersion: v1
    kind: ConfigMapList
    items:
      - {apiVersion: v1, kind: ConfigMap, metadata: {name: two}}
"#;
    let objects = render(&tree(&[("app/list.yaml", list)]), &source("app")).unwrap();
    assert_eq!(names(&objects), ["ConfigMap/one", "ConfigMap/two"]);
    let bad = "apiVersion: v1\nkind: List\nitems:\n  - {apiVersion: v1, kind: ConfigMap}\n";
    let e = err(&[("app/list.yaml", bad)], &source("app"));
    assert_eq!(
        e,
        "app/list.yaml: document 1 (line 1): items[0]: missing metadata.name"
    );
}

#[test]
fn recurse_reads_subdirectories_but_not_hidden_ones() {
    let files = [
        ("app/top.yaml", cm("top")),
        (
            "app/sub/deeper/x.json",
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"}}).to_string(),
        ),
        ("app/.hidden/h.yaml", cm("hidden")),
        ("app/sub/.h.yaml", cm("hidden-file")),
        ("app/.top.yaml", cm("hidden-top")),
    ];
    let files: Vec<(&str, &str)> = files.iter().map(|(p, c)| (*p, c.as_str())).collect();
    let t = tree(&files);
    let flat = render(&t, &source("app")).unwrap();
    assert_eq!(names(&flat), ["ConfigMap/top"]);
    let mut s = source("app");
    s.directory = Some(Box::new(ApplicationSourceDirectory {
        recurse: true,
        ..Default::default()
    }));
    assert_eq!(
        names(&render(&t, &s).unwrap()),
        ["Secret/x", "ConfigMap/top"]
    );
}

#[test]
fn include_and_exclude_match_relative_paths_and_exclude_wins() {
    let files = [
        ("app/a.yaml", cm("a")),
        ("app/b.yml", cm("b")),
        (
            "app/config.json",
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}).to_string(),
        ),
        ("app/env-usw2/d.yaml", cm("d")),
        ("app/env-use1/e.yaml", cm("e")),
    ];
    let files: Vec<(&str, &str)> = files.iter().map(|(p, c)| (*p, c.as_str())).collect();
    let t = tree(&files);
    let with = |include: Option<&str>, exclude: Option<&str>| {
        let mut s = source("app");
        s.directory = Some(Box::new(ApplicationSourceDirectory {
            recurse: true,
            include: include.map(Into::into),
            exclude: exclude.map(Into::into),
            jsonnet: None,
        }));
        names(&render(&t, &s).unwrap())
    };
    assert_eq!(
        with(Some("*.yaml"), None),
        ["ConfigMap/a", "ConfigMap/e", "ConfigMap/d"]
    );
    assert_eq!(
        with(Some("{*.yml,config.json}"), None),
        ["ConfigMap/b", "ConfigMap/c"]
    );
    assert_eq!(
        with(None, Some("{config.json,env-usw2/*}")),
        ["ConfigMap/a", "ConfigMap/b", "ConfigMap/e"]
    );
    assert_eq!(with(Some("*.yaml"), Some("*.yaml")), Vec::<String>::new());
    let mut s = source("app");
    s.directory = Some(Box::new(ApplicationSourceDirectory {
        include: Some("{a,b".into()),
        ..Default::default()
    }));
    assert_eq!(
        render(&t, &s).unwrap_err().to_string(),
        "app: directory.include: invalid glob \"{a,b\": unterminated '{'"
    );
}

#[test]
fn json_files_hold_an_object_or_an_array() {
    let object = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "o"}});
    let array = json!([
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a1"}},
        {"apiVersion": "v1", "kind": "List", "items": [
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a2"}}
        ]}
    ]);
    let t = tree(&[
        ("app/1.json", &object.to_string()),
        ("app/2.json", &array.to_string()),
    ]);
    assert_eq!(
        names(&render(&t, &source("app")).unwrap()),
        ["ConfigMap/o", "ConfigMap/a1", "ConfigMap/a2"]
    );
    let e = err(
        &[("app/x.json", "{\n  \"kind\": \"ConfigMap\",\n  oops\n}")],
        &source("app"),
    );
    assert!(
        e.starts_with("app/x.json: line 3: key must be a string"),
        "{e}"
    );
    let e = err(&[("app/x.json", "[1]")], &source("app"));
    assert_eq!(
        e,
        "app/x.json: document 1: expected a Kubernetes object (a mapping), found a number"
    );
}

#[test]
fn invalid_yaml_names_the_file_and_the_line() {
    let yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: b\n  c: d: e\n";
    let e = render(
        &tree(&[("apps/web/deploy.yaml", yaml)]),
        &source("apps/web"),
    )
    .unwrap_err();
    assert!(
        matches!(e, RenderError::Syntax { line: Some(7), .. }),
        "{e:?}"
    );
    assert_eq!(
        e.to_string(),
        "apps/web/deploy.yaml: line 7: mapping values are not allowed in this context"
    );
    let later = format!("{}---\nkind: [\n", cm("ok"));
    let e = err(&[("app/x.yaml", &later)], &source("app"));
    assert!(e.starts_with("app/x.yaml: line 6: "), "{e}");
    let dup = "apiVersion: v1\nkind: ConfigMap\nkind: Secret\nmetadata: {name: x}\n";
    let e = err(&[("app/x.yaml", dup)], &source("app"));
    assert!(
        e.starts_with("app/x.yaml: line 3: duplicate mapping key"),
        "{e}"
    );
    let e = err(&[("app/x.yaml", "\u{0}\u{1}")], &source("app"));
    assert!(e.starts_with("app/x.yaml:"), "{e}");
}

#[test]
fn objects_need_api_version_kind_and_name() {
    let cases = [
        (
            "kind: ConfigMap\nmetadata: {name: x}\n",
            "missing apiVersion",
        ),
        ("apiVersion: v1\nmetadata: {name: x}\n", "missing kind"),
        ("apiVersion: v1\nkind: ConfigMap\n", "missing metadata.name"),
        (
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: \"\"}\n",
            "missing metadata.name",
        ),
        (
            "- a\n- b\n",
            "expected a Kubernetes object (a mapping), found a sequence",
        ),
        (
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: y}\n",
            "metadata.name must be a string, found a boolean (YAML reads unquoted y, yes, on, \
             0644… as booleans and numbers: quote it)",
        ),
    ];
    for (doc, reason) in cases {
        let text = format!("{}---\n{doc}", cm("first"));
        let e = err(&[("app/x.yaml", &text)], &source("app"));
        assert_eq!(
            e,
            format!("app/x.yaml: document 2 (line 6): {reason}"),
            "{doc}"
        );
    }
}

#[test]
fn yaml_scalars_are_read_as_kubectl_reads_them() {
    let yaml = r#"
apiVersion: v1
kind: Pod
metadata:
  name: p
  labels: {quoted: "0644", version: "1.20"}
spec:
  volumes:
    - name: v
      secret: {secretName: s, defaultMode: 0644}
  enableServiceLinks: yes
  base: &base {a: 1}
  merged:
    <<: *base
    b: 2
"#;
    let objects = render(&tree(&[("app/p.yaml", yaml)]), &source("app")).unwrap();
    let pod = &objects[0];
    assert_eq!(pod["spec"]["volumes"][0]["secret"]["defaultMode"], 420);
    assert_eq!(pod["metadata"]["labels"]["quoted"], "0644");
    assert_eq!(pod["metadata"]["labels"]["version"], "1.20");
    assert_eq!(pod["spec"]["enableServiceLinks"], true);
    assert_eq!(pod["spec"]["merged"], json!({"a": 1, "b": 2}));
}

#[test]
fn missing_or_escaping_paths_are_errors() {
    let files = [("apps/web/a.yaml", cm("a").leak() as &str)];
    assert_eq!(
        err(&files, &source("apps/api")),
        "apps/api: no such directory in the repository at commit 0123456789ab"
    );
    assert_eq!(
        err(&files, &source("apps/web/a.yaml")),
        "apps/web/a.yaml: no such directory in the repository at commit 0123456789ab"
    );
    assert!(err(&files, &source("../x")).contains("must be relative and stay inside"));
    assert!(err(&files, &source("/apps/web")).contains("must be relative"));
    // The root, however spelled.
    let root = [("a.yaml", cm("a").leak() as &str)];
    for path in [".", "", "./"] {
        assert_eq!(
            names(&render(&tree(&root), &source(path)).unwrap()),
            ["ConfigMap/a"]
        );
    }
    let mut no_path = source("");
    no_path.path = None;
    assert_eq!(render(&tree(&root), &no_path).unwrap().len(), 1);
    assert_eq!(
        render(&tree(&[("app/x.txt", "")]), &source("app")).unwrap(),
        Vec::<Value>::new()
    );
}

#[test]
fn unsupported_source_types_are_errors() {
    let files = [("apps/web/a.yaml", cm("a").leak() as &str)];
    let mut helm = source("apps/web");
    helm.helm = Some(Box::new(json!({"valueFiles": ["values.yaml"]})));
    assert_eq!(
        err(&files, &helm),
        "apps/web: helm sources are not supported"
    );
    let mut empty_helm = source("apps/web");
    empty_helm.helm = Some(Box::new(json!({})));
    assert!(render(&tree(&files), &empty_helm).is_ok());
    let mut chart = source("apps/web");
    chart.chart = Some("nginx".into());
    assert_eq!(
        err(&files, &chart),
        "apps/web: Helm repository chart sources are not supported"
    );
    let mut plugin = source("apps/web");
    plugin.plugin = Some(Box::new(json!({})));
    assert_eq!(
        err(&files, &plugin),
        "apps/web: config management plugin sources are not supported"
    );
    let mut jsonnet = source("apps/web");
    jsonnet.directory = Some(Box::new(ApplicationSourceDirectory {
        jsonnet: Some(json!({"tlas": [{"name": "a", "value": "b"}]})),
        ..Default::default()
    }));
    assert_eq!(
        err(&files, &jsonnet),
        "apps/web: jsonnet sources are not supported"
    );
    let with_jsonnet = [
        ("apps/web/a.yaml", files[0].1),
        ("apps/web/x.jsonnet", "{}"),
    ];
    assert_eq!(
        err(&with_jsonnet, &source("apps/web")),
        "apps/web/x.jsonnet: jsonnet sources are not supported"
    );
    let chart_dir = [
        ("apps/web/Chart.yaml", "name: web"),
        ("apps/web/values.yaml", "a: 1"),
    ];
    assert_eq!(
        err(&chart_dir, &source("apps/web")),
        "apps/web: helm sources are not supported"
    );
}

#[test]
fn conflicting_source_types_are_errors() {
    let kustomized = [
        ("app/kustomization.yaml", "resources: [a.yaml]\n"),
        ("app/a.yaml", cm("a").leak() as &str),
    ];
    let mut dir = source("app");
    dir.directory = Some(Box::new(ApplicationSourceDirectory {
        recurse: true,
        ..Default::default()
    }));
    assert!(err(&kustomized, &dir).contains("app/kustomization.yaml makes it a kustomization"));
    let mut both = dir.clone();
    both.kustomize = Some(Box::new(json!({"namePrefix": "x-"})));
    assert_eq!(
        err(&kustomized, &both),
        "app: both directory and kustomize options are set; use one"
    );
    let plain = [("app/a.yaml", kustomized[1].1)];
    let mut kustomize = source("app");
    kustomize.kustomize = Some(Box::new(json!({"namePrefix": "x-"})));
    assert_eq!(
        err(&plain, &kustomize),
        "app: kustomize options are set, but it has no kustomization file"
    );
    kustomize.kustomize = Some(Box::new(json!({"replicas": [{"name": "web", "count": 2}]})));
    assert!(
        err(&kustomized, &kustomize)
            .starts_with("app: kustomize options: replicas is not supported")
    );
    let two = [
        ("app/kustomization.yaml", "resources: []\n"),
        ("app/Kustomization", "resources: []\n"),
    ];
    assert!(err(&two, &source("app")).contains("several kustomization files"));
}

#[test]
fn several_sources_concatenate_and_ref_sources_render_nothing() {
    let first = tree(&[("a/x.yaml", cm("x").leak() as &str)]);
    let second = tree(&[("b/y.yaml", cm("why").leak() as &str)]);
    let mut values = source("");
    values.path = None;
    values.ref_ = Some("values".into());
    let (a, b) = (source("a"), source("b"));
    let objects = render_sources(&[(&a, &first), (&values, &second), (&b, &second)]).unwrap();
    assert_eq!(names(&objects), ["ConfigMap/x", "ConfigMap/why"]);
    let missing = source("nope");
    let e = render_sources(&[(&a, &first), (&missing, &first)]).unwrap_err();
    assert!(matches!(e, RenderError::PathNotFound { .. }));
}
