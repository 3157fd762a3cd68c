//! `flotilla appset generate` as a user runs it: outputs, and one-line errors that name the
//! ApplicationSet and the cause, with a non-zero exit, for every kind of bad input.

mod support;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use support::git;

fn flotilla(args: &[&str], stdin: Option<&str>, cache: &Path) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_flotilla"))
        .args(args)
        .env("FLOTILLA_GIT_CACHE", cache)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.unwrap_or("").as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn appset(body: &str) -> String {
    format!(
        "apiVersion: flotilla.dev/v1alpha1\nkind: ApplicationSet\nmetadata: {{name: demo, namespace: flotilla}}\nspec:\n{body}"
    )
}

const TEMPLATE: &str = "  template:\n    metadata: {name: '{{name}}'}\n    spec: {project: default, destination: {server: https://kubernetes.default.svc}}\n";

/// Runs with the ApplicationSet on stdin; returns (exit ok, stdout, stderr).
fn generate(doc: &str, extra: &[&str]) -> (bool, String, String) {
    let cache = tempfile::tempdir().unwrap();
    let mut args = vec!["appset", "generate", "-"];
    args.extend_from_slice(extra);
    let out = flotilla(&args, Some(doc), cache.path());
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn assert_one_line_error(doc: &str, extra: &[&str], expected: &[&str]) {
    let (ok, stdout, stderr) = generate(doc, extra);
    assert!(!ok, "should fail: {doc}");
    assert!(
        stdout.is_empty(),
        "nothing on stdout when failing: {stdout}"
    );
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    for e in expected {
        assert!(stderr.contains(e), "expected {e:?} in {stderr}");
    }
}

#[test]
fn yaml_and_json_outputs() {
    let doc = appset(&format!(
        "  generators:\n  - list: {{elements: [{{name: b}}, {{name: a}}]}}\n{TEMPLATE}"
    ));
    let (ok, yaml, _) = generate(&doc, &[]);
    assert!(ok);
    assert!(
        yaml.starts_with("---\napiVersion: flotilla.dev/v1alpha1\nkind: Application\n"),
        "{yaml}"
    );
    assert!(
        yaml.find("name: a").unwrap() < yaml.find("name: b").unwrap(),
        "sorted by name"
    );
    let (ok, json, _) = generate(&doc, &["-o", "json"]);
    assert!(ok);
    let apps: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(apps[0]["metadata"]["name"], "a");
    assert_eq!(apps[1]["kind"], "Application");
}

#[test]
fn argo_cd_manifests_are_converted() {
    let doc = appset(&format!(
        "  generators:\n  - list: {{elements: [{{name: a}}]}}\n{TEMPLATE}"
    ))
    .replace("flotilla.dev/v1alpha1", "argoproj.io/v1alpha1");
    let (ok, yaml, err) = generate(&doc, &[]);
    assert!(ok, "{err}");
    assert!(yaml.contains("apiVersion: flotilla.dev/v1alpha1"));
}

#[test]
fn every_kind_of_bad_input_is_a_one_line_error() {
    assert_one_line_error(
        "spec: [\n  generators:",
        &[],
        &["-: invalid YAML", "line", "column"],
    );
    assert_one_line_error(
        &appset(&format!("  generators:\n  - bogus: {{}}\n{TEMPLATE}")),
        &[],
        &[
            "ApplicationSet flotilla/demo",
            "unknown generator \"bogus\"",
        ],
    );
    assert_one_line_error(
        &appset(
            "  generators:\n  - list: {elements: [{name: a}]}\n  template: {metadata: {name: '{{trunc \"x\" name}}'}, spec: {project: p}}\n",
        ),
        &[],
        &["ApplicationSet flotilla/demo", "template", "integer"],
    );
    assert_one_line_error(
        &appset(&format!(
            "  generators:\n  - list: {{elements: [{{name: a}}, {{name: a}}]}}\n{TEMPLATE}"
        )),
        &[],
        &["ApplicationSet flotilla/demo", "Applications named \"a\""],
    );
    assert_one_line_error(
        &appset(&format!(
            "  generators:\n  - matrix: {{generators: [{{list: {{elements: []}}}}]}}\n{TEMPLATE}"
        )),
        &[],
        &[
            "ApplicationSet flotilla/demo",
            "matrix: needs exactly two child generators, got 1",
        ],
    );
    assert_one_line_error(
        &appset(&format!(
            "  goTemplate: true\n  generators:\n  - list: {{elements: [{{name: a}}]}}\n{TEMPLATE}"
        )),
        &[],
        &[
            "ApplicationSet flotilla/demo",
            "goTemplate: true is not supported",
        ],
    );
    assert_one_line_error(
        &appset("  generators: {}\n  template: {}\n"),
        &[],
        &[
            "ApplicationSet demo is invalid",
            "spec.generators",
            "line 5",
        ],
    );
    assert_one_line_error(
        "apiVersion: v1\nkind: ConfigMap\n",
        &[],
        &["document 1 is v1 ConfigMap"],
    );
}

#[test]
fn an_unreachable_repository_is_a_one_line_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let doc = appset(&format!(
        "  generators:\n  - git: {{repoURL: 'git://127.0.0.1:{port}/nothing.git', directories: [{{path: '*'}}]}}\n{TEMPLATE}"
    ));
    assert_one_line_error(
        &doc,
        &[],
        &[
            "ApplicationSet flotilla/demo",
            "generators[0]: git:",
            "unreachable",
        ],
    );
}

#[test]
fn bad_cluster_secrets_are_reported_without_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let secrets = dir.path().join("clusters.yaml");
    std::fs::write(
        &secrets,
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: dev\n  namespace: flotilla\n  labels: {argocd.argoproj.io/secret-type: cluster}\nstringData:\n  server: https://dev.example.com\n  config: '{\"bearerToken\": \"s3cr3t-t0ken\", \"tlsClientConfig\": {\"caData\": \"not base64!\"}}'\n",
    )
    .unwrap();
    let doc = appset(&format!("  generators:\n  - clusters: {{}}\n{TEMPLATE}"));
    let path = secrets.to_str().unwrap();
    assert_one_line_error(
        &doc,
        &["--clusters", path],
        &["flotilla/dev", "config.tlsClientConfig.caData"],
    );
    let (_, _, stderr) = generate(&doc, &["--clusters", path]);
    assert!(!stderr.contains("s3cr3t"), "{stderr}");
}

#[test]
fn git_generators_read_a_real_repository() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/gitops-repo");
    std::fs::create_dir_all(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    let copy = Command::new("cp")
        .arg("-r")
        .arg(examples.join("."))
        .arg(&repo)
        .status()
        .unwrap();
    assert!(copy.success());
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "examples"]);
    let url = format!("file://{}", repo.display());
    let doc = appset(&format!(
        "  generators:\n  - git: {{repoURL: '{url}', revision: main, directories: [{{path: 'apps/podinfo/overlays/*'}}]}}\n  template:\n    metadata: {{name: 'podinfo-{{{{path.basename}}}}'}}\n    spec: {{project: default, source: {{repoURL: '{url}', path: '{{{{path}}}}'}}}}\n"
    ));
    let (ok, yaml, err) = generate(&doc, &[]);
    assert!(ok, "{err}");
    let names: Vec<&str> = yaml.lines().filter(|l| l.starts_with("  name: ")).collect();
    assert_eq!(
        names,
        [
            "  name: podinfo-dev",
            "  name: podinfo-prod",
            "  name: podinfo-staging"
        ]
    );
}

#[test]
fn every_command_has_help() {
    let cache = tempfile::tempdir().unwrap();
    for args in [
        &["--help"][..],
        &["appset", "--help"],
        &["appset", "generate", "--help"],
        &["crds", "--help"],
    ] {
        let out = flotilla(args, None, cache.path());
        assert!(out.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Usage:"),
            "{args:?}"
        );
    }
}
