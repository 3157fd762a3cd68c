//! Cases from Argo CD's Generators-Git.md and `generators/git_test.go`.

use super::*;
use crate::api::application_set::GitGenerator;
use crate::git::{GitError, MemorySource};

const REPO: &str = "https://git.example.com/gitops.git";

fn source() -> MemorySource {
    MemorySource::new().with_files(
        REPO,
        "HEAD",
        [
            ("cluster-addons/argo-workflows/kustomization.yaml", "resources: []"),
            ("cluster-addons/prometheus-operator/Chart.yaml", "name: p"),
            ("cluster-addons/exclude-this-one/x.yaml", "a: b"),
            ("cluster-addons/argo-workflows/deep/x.yaml", "a: b"),
            (".github/workflows/ci.yaml", "on: push"),
            ("apps/Guest_Book/deploy.yaml", "kind: Deployment"),
            (
                "cluster-config/engineering/dev/config.json",
                r#"{"aws_account": "123456", "asset_id": "11223344",
                    "cluster": {"owner": "cluster-admin@company.com", "name": "engineering-dev", "address": "https://1.2.3.4"}}"#,
            ),
            (
                "cluster-config/engineering/prod/config.json",
                r#"{"cluster": {"name": "engineering-prod", "address": "https://2.4.6.8", "replicas": 3}}"#,
            ),
            ("cluster-config/list.yaml", "- {name: a}\n- {name: b}\n"),
            ("cluster-config/empty.yaml", ""),
            ("broken/config.yaml", "a: [unclosed\n"),
            ("scalar/config.yaml", "just a string"),
        ],
    )
}

fn run(spec: &str) -> Result<Vec<Params>, GenerateError> {
    let g: GitGenerator = serde_yaml::from_str(&format!("repoURL: {REPO}\n{spec}")).unwrap();
    let git = source();
    GitParams(&g).params(&GenContext {
        clusters: &[],
        invalid_clusters: &[],
        in_cluster: false,
        git: &git,
    })
}

fn paths(p: &[Params], key: &str) -> Vec<String> {
    p.iter().map(|p| p[key].clone()).collect()
}

#[test]
fn directories_match_one_level_and_exclude_wins() {
    let p = run("directories: [{path: 'cluster-addons/*'}, {path: cluster-addons/exclude-this-one, exclude: true}]").unwrap();
    assert_eq!(
        paths(&p, "path"),
        [
            "cluster-addons/argo-workflows",
            "cluster-addons/prometheus-operator"
        ]
    );
    assert_eq!(p[0]["path.basename"], "argo-workflows");
    assert_eq!(p[0]["path[0]"], "cluster-addons");
    assert_eq!(p[0]["path[1]"], "argo-workflows");
    // The exclude entry may come first: exclusion wins regardless of order.
    let p2 = run("directories: [{path: cluster-addons/exclude-this-one, exclude: true}, {path: 'cluster-addons/*'}]").unwrap();
    assert_eq!(paths(&p2, "path"), paths(&p, "path"));
}

#[test]
fn hidden_directories_are_never_listed() {
    let p = run("directories: [{path: '*'}, {path: '*/*'}]").unwrap();
    let all = paths(&p, "path");
    assert!(all.iter().all(|p| !p.starts_with(".github")), "{all:?}");
    assert!(all.contains(&"apps".to_string()));
    assert!(!all.contains(&".".to_string()), "the root is not listed");
}

#[test]
fn basename_normalized_and_path_param_prefix() {
    let p = run("directories: [{path: 'apps/*'}]\npathParamPrefix: app").unwrap();
    assert_eq!(p[0]["app.path"], "apps/Guest_Book");
    assert_eq!(p[0]["app.path.basename"], "Guest_Book");
    assert_eq!(p[0]["app.path.basenameNormalized"], "guest-book");
    assert_eq!(p[0]["app.path[1]"], "Guest_Book");
    assert!(!p[0].contains_key("path"));
}

#[test]
fn values_see_the_path_params() {
    let p = run("directories: [{path: 'apps/*'}]\nvalues: {ns: '{{path.basenameNormalized}}-ns'}")
        .unwrap();
    assert_eq!(p[0]["values.ns"], "guest-book-ns");
}

#[test]
fn files_flatten_objects_and_add_path_params() {
    let p = run("files: [{path: 'cluster-config/**/config.json'}]").unwrap();
    assert_eq!(p.len(), 2);
    let dev = &p[0];
    assert_eq!(dev["aws_account"], "123456");
    assert_eq!(dev["cluster.name"], "engineering-dev");
    assert_eq!(dev["cluster.address"], "https://1.2.3.4");
    assert_eq!(dev["path"], "cluster-config/engineering/dev");
    assert_eq!(dev["path.basename"], "dev");
    assert_eq!(dev["path.filename"], "config.json");
    assert_eq!(dev["path.filenameNormalized"], "config.json");
    assert_eq!(dev["path[0]"], "cluster-config");
    assert_eq!(dev["path[2]"], "dev");
    assert_eq!(p[1]["cluster.replicas"], "3");
}

#[test]
fn a_file_with_a_list_gives_one_set_per_item_and_an_empty_file_one_set() {
    let p = run("files: [{path: 'cluster-config/list.yaml'}]").unwrap();
    assert_eq!(paths(&p, "name"), ["a", "b"]);
    assert_eq!(p[0]["path"], "cluster-config");
    let p = run("files: [{path: 'cluster-config/empty.yaml'}]").unwrap();
    assert_eq!(p.len(), 1);
    assert_eq!(p[0]["path.filename"], "empty.yaml");
}

#[test]
fn file_globs_single_star_stays_in_one_directory() {
    let p = run("files: [{path: 'cluster-config/*.yaml'}]").unwrap();
    assert_eq!(
        p.len(),
        3,
        "list.yaml (2 items) + empty.yaml; nothing deeper"
    );
    let p = run("files: [{path: 'cluster-config/**/*.json'}, {path: 'cluster-config/engineering/prod/*', exclude: true}]").unwrap();
    assert_eq!(paths(&p, "cluster.name"), ["engineering-dev"]);
}

#[test]
fn bad_files_are_errors_naming_the_file() {
    let e = run("files: [{path: 'broken/config.yaml'}]").unwrap_err();
    assert!(
        e.to_string()
            .starts_with("git file broken/config.yaml: is not valid YAML or JSON"),
        "{e}"
    );
    assert!(e.to_string().contains("line"), "{e}");
    let e = run("files: [{path: 'scalar/config.yaml'}]").unwrap_err();
    assert!(e.to_string().contains("must hold an object"), "{e}");
}

#[test]
fn spec_errors() {
    assert_eq!(run("directories: []").unwrap_err(), GenerateError::GitPaths);
    assert_eq!(
        run("directories: [{path: a}]\nfiles: [{path: b}]").unwrap_err(),
        GenerateError::GitPaths
    );
    assert!(run("directories: [{path: 'apps/[a-'}]").is_err());
    let e = run("revision: nope\ndirectories: [{path: '*'}]").unwrap_err();
    assert!(
        matches!(e, GenerateError::Git(GitError::UnknownRevision { .. })),
        "{e}"
    );
    let g: GitGenerator =
        serde_yaml::from_str("repoURL: https://elsewhere/x.git\ndirectories: [{path: '*'}]")
            .unwrap();
    let git = source();
    let e = GitParams(&g)
        .params(&GenContext {
            clusters: &[],
            invalid_clusters: &[],
            in_cluster: false,
            git: &git,
        })
        .unwrap_err();
    assert!(
        e.is_transient(),
        "an unreachable repository is transient: {e}"
    );
}
