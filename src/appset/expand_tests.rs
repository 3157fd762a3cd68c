//! End-to-end expansion cases: matrix and merge from Argo CD's Generators-Matrix.md and
//! Generators-Merge.md, the post-generation selector, metadata rules, and Git memoisation.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;
use crate::api::{ClusterSecret, secrets_from_yaml};
use crate::git::{GitError, GitSource, MemorySource, Tree};

const REPO: &str = "https://git.example.com/gitops.git";

fn clusters() -> Vec<ClusterSecret> {
    let yaml = ["dev", "staging", "prod"]
        .iter()
        .map(|env| {
            format!(
                "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {env}\n  namespace: flotilla\n  labels: {{argocd.argoproj.io/secret-type: cluster, env: {env}}}\nstringData: {{name: {env}, server: 'https://{env}.example.com'}}\n---\n"
            )
        })
        .collect::<String>();
    secrets_from_yaml(&yaml, "test")
        .unwrap()
        .iter()
        .map(|s| ClusterSecret::from_secret(s).unwrap())
        .collect()
}

fn git() -> MemorySource {
    MemorySource::new().with_files(
        REPO,
        "HEAD",
        [
            ("addons/argo-workflows/k.yaml", "a: b"),
            ("addons/prometheus/k.yaml", "a: b"),
            (
                "config/dev/config.json",
                r#"{"env": "dev", "replicas": "1"}"#,
            ),
            (
                "config/prod/config.json",
                r#"{"env": "prod", "replicas": "3"}"#,
            ),
        ],
    )
}

fn appset(yaml: &str) -> ApplicationSet {
    let mut doc: serde_yaml::Value = serde_yaml::from_str(yaml).unwrap();
    doc["apiVersion"] = "flotilla.dev/v1alpha1".into();
    doc["kind"] = "ApplicationSet".into();
    if doc.get("metadata").is_none() {
        doc["metadata"] = serde_yaml::from_str("{name: test, namespace: flotilla}").unwrap();
    }
    serde_yaml::from_value(doc).unwrap()
}

fn run_with(yaml: &str, git: &dyn GitSource) -> Result<Expansion, AppSetError> {
    let clusters = clusters();
    expand(
        &appset(yaml),
        &Inputs {
            clusters: &clusters,
            invalid_clusters: &[],
            in_cluster: true,
            git,
        },
    )
}

fn run(yaml: &str) -> Result<Expansion, AppSetError> {
    run_with(yaml, &git())
}

fn names(e: &Expansion) -> Vec<&str> {
    e.applications
        .iter()
        .map(|a| a.metadata.name.as_deref().unwrap())
        .collect()
}

const TEMPLATE: &str = "
  template:
    metadata: {name: '{{name}}'}
    spec:
      project: default
      source: {repoURL: https://git.example.com/gitops.git, path: 'apps/{{name}}'}
      destination: {server: https://kubernetes.default.svc, namespace: '{{name}}'}";

#[test]
fn matrix_of_git_directories_and_clusters() {
    let e = run("
spec:
  generators:
  - matrix:
      generators:
      - git: {repoURL: https://git.example.com/gitops.git, revision: HEAD, directories: [{path: 'addons/*'}]}
      - clusters: {selector: {matchLabels: {argocd.argoproj.io/secret-type: cluster}}}
  template:
    metadata: {name: '{{path.basename}}-{{name}}'}
    spec:
      project: default
      source: {repoURL: https://git.example.com/gitops.git, path: '{{path}}'}
      destination: {server: '{{server}}', namespace: '{{path.basename}}'}")
    .unwrap();
    assert_eq!(e.applications.len(), 6);
    assert_eq!(names(&e)[0], "argo-workflows-dev");
    let app = &e.applications[0];
    assert_eq!(
        app.spec.source.as_ref().unwrap().path.as_deref(),
        Some("addons/argo-workflows")
    );
    assert_eq!(
        app.spec.destination.server.as_deref(),
        Some("https://dev.example.com")
    );
    assert_eq!(e.requeue_after, Some(std::time::Duration::from_secs(180)));
    assert!(e.uses_clusters);
}

#[test]
fn matrix_interpolates_the_first_childs_params_into_the_second() {
    let e = run("
spec:
  generators:
  - matrix:
      generators:
      - git: {repoURL: https://git.example.com/gitops.git, files: [{path: 'config/*/config.json'}]}
      - clusters: {selector: {matchLabels: {env: '{{path.basename}}'}}}
  template:
    metadata: {name: 'guestbook-{{name}}'}
    spec:
      project: default
      source: {repoURL: https://git.example.com/gitops.git, path: guestbook, targetRevision: 'r{{replicas}}'}
      destination: {server: '{{server}}'}")
    .unwrap();
    assert_eq!(names(&e), ["guestbook-dev", "guestbook-prod"]);
    assert_eq!(
        e.applications[1]
            .spec
            .source
            .as_ref()
            .unwrap()
            .target_revision
            .as_deref(),
        Some("r3")
    );
}

#[test]
fn matrix_conflicting_keys_and_child_count_are_errors() {
    let e = run(&format!(
        "
spec:
  generators:
  - matrix:
      generators:
      - list: {{elements: [{{name: a}}]}}
      - list: {{elements: [{{name: b}}]}}
{TEMPLATE}"
    ))
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "ApplicationSet flotilla/test: generators[0]: matrix: parameter \"name\" has different values in the two child generators (\"a\" and \"b\")"
    );
    let same = run(&format!(
        "
spec:
  generators:
  - matrix:
      generators:
      - list: {{elements: [{{name: a, x: '1'}}]}}
      - list: {{elements: [{{name: a, y: '2'}}]}}
{TEMPLATE}"
    ))
    .unwrap();
    assert_eq!(
        names(&same),
        ["a"],
        "equal values in both children are fine"
    );
    for children in [
        "[{list: {elements: [{name: a}]}}]",
        "[{list: {}}, {list: {}}, {list: {}}]",
    ] {
        let e = run(&format!(
            "spec:\n  generators:\n  - matrix: {{generators: {children}}}\n{TEMPLATE}"
        ))
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("matrix: needs exactly two child generators"),
            "{e}"
        );
    }
}

#[test]
fn matrix_with_an_empty_child_yields_nothing() {
    // Argo CD: an empty child makes an empty product (not an error).
    let e = run(&format!(
        "spec:\n  generators:\n  - matrix: {{generators: [{{list: {{elements: []}}}}, {{clusters: {{}}}}]}}\n{TEMPLATE}"
    ))
    .unwrap();
    assert!(e.applications.is_empty());
}

#[test]
fn nested_matrix_and_merge_children() {
    let e = run("
spec:
  generators:
  - matrix:
      generators:
      - list: {elements: [{app: web}]}
      - merge:
          mergeKeys: [name]
          generators:
          - clusters: {selector: {matchLabels: {argocd.argoproj.io/secret-type: cluster}}, values: {size: small}}
          - list: {elements: [{name: prod, values.size: large}]}
  template:
    metadata: {name: '{{app}}-{{name}}-{{values.size}}'}
    spec: {project: default, destination: {server: '{{server}}'}}")
    .unwrap();
    assert_eq!(
        names(&e),
        ["web-dev-small", "web-prod-large", "web-staging-small"]
    );
}

#[test]
fn merge_overrides_base_entries_and_drops_unmatched() {
    // Generators-Merge.md: base from clusters, overrides by server.
    let e = run("
spec:
  generators:
  - merge:
      mergeKeys: [server]
      generators:
      - clusters: {selector: {matchLabels: {argocd.argoproj.io/secret-type: cluster}}, values: {kafka: 'true', redis: 'false'}}
      - clusters: {selector: {matchLabels: {env: staging}}, values: {kafka: 'false'}}
      - list: {elements: [{server: 'https://prod.example.com', values.redis: 'true'}, {server: 'https://nowhere', values.redis: 'x'}]}
  template:
    metadata: {name: '{{name}}-k{{values.kafka}}-r{{values.redis}}'}
    spec: {project: default, destination: {server: '{{server}}'}}")
    .unwrap();
    assert_eq!(
        names(&e),
        [
            "dev-ktrue-rfalse",
            "prod-ktrue-rtrue",
            "staging-kfalse-rfalse"
        ]
    );
}

#[test]
fn merge_errors() {
    let dup = run(&format!(
        "spec:\n  generators:\n  - merge: {{mergeKeys: [name], generators: [{{list: {{elements: [{{name: a}}, {{name: a}}]}}}}, {{list: {{elements: []}}}}]}}\n{TEMPLATE}"
    ))
    .unwrap_err();
    assert!(
        dup.to_string().contains(
            "child generator 0 yields more than one parameter set for merge key {\"name\":\"a\"}"
        ),
        "{dup}"
    );
    let dup1 = run(&format!(
        "spec:\n  generators:\n  - merge: {{mergeKeys: [name], generators: [{{list: {{elements: [{{name: a}}]}}}}, {{list: {{elements: [{{name: b}}, {{name: b}}]}}}}]}}\n{TEMPLATE}"
    ))
    .unwrap_err();
    assert!(dup1.to_string().contains("child generator 1"), "{dup1}");
    let nokeys = run(&format!(
        "spec:\n  generators:\n  - merge: {{generators: [{{list: {{elements: []}}}}, {{list: {{elements: []}}}}]}}\n{TEMPLATE}"
    ))
    .unwrap_err();
    assert!(nokeys.to_string().contains("mergeKeys"), "{nokeys}");
    let one = run(&format!("spec:\n  generators:\n  - merge: {{mergeKeys: [a], generators: [{{list: {{}}}}]}}\n{TEMPLATE}")).unwrap_err();
    assert!(
        one.to_string().contains("merge: needs at least two"),
        "{one}"
    );
}

#[test]
fn post_generation_selector_filters_param_sets() {
    let e = run(&format!(
        "
spec:
  generators:
  - list:
      elements: [{{name: a, env: staging}}, {{name: b, env: prod}}, {{name: c}}]
    selector: {{matchLabels: {{env: staging}}}}
  - list:
      elements: [{{name: d, env: staging}}, {{name: e, env: prod}}]
    selector: {{matchExpressions: [{{key: env, operator: NotIn, values: [staging]}}]}}
{TEMPLATE}"
    ))
    .unwrap();
    assert_eq!(names(&e), ["a", "e"]);
}

#[test]
fn generated_metadata_rules() {
    let e = run("
metadata: {name: guestbook, namespace: teams, uid: 1234-5678}
spec:
  generators:
  - list: {elements: [{name: b}, {name: a}]}
  template:
    metadata:
      name: '{{name}}'
      namespace: elsewhere
      labels: {'app-{{name}}': '{{name}}'}
      annotations: {note: '{{ missing }}'}
    spec: {project: default, destination: {server: https://kubernetes.default.svc}}")
    .unwrap();
    assert_eq!(names(&e), ["a", "b"], "sorted by name");
    let a = &e.applications[0].metadata;
    assert_eq!(
        a.namespace.as_deref(),
        Some("teams"),
        "namespace forced to the ApplicationSet's"
    );
    let labels = a.labels.as_ref().unwrap();
    assert_eq!(labels["flotilla.dev/application-set"], "guestbook");
    assert_eq!(labels["app-a"], "a", "map keys are templated");
    assert_eq!(
        a.annotations.as_ref().unwrap()["note"],
        "{{ missing }}",
        "unknown params untouched"
    );
    assert_eq!(
        a.finalizers.as_deref(),
        Some(&["flotilla.dev/resources-finalizer".to_string()][..])
    );
    let owner = &a.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str(), owner.uid.as_str()),
        ("ApplicationSet", "guestbook", "1234-5678")
    );
    assert_eq!(owner.controller, Some(true));
}

#[test]
fn preserve_resources_on_deletion_drops_the_finalizer() {
    let e = run(&format!(
        "spec:\n  syncPolicy: {{preserveResourcesOnDeletion: true}}\n  generators:\n  - list: {{elements: [{{name: a}}]}}\n{TEMPLATE}"
    ))
    .unwrap();
    assert_eq!(e.applications[0].metadata.finalizers, None);
}

#[test]
fn generator_template_is_merged_into_spec_template() {
    let e = run(&format!(
        "
spec:
  generators:
  - list:
      elements: [{{name: a}}]
      template:
        metadata: {{}}
        spec: {{project: special, destination: {{}}, source: {{repoURL: '', path: 'override/{{{{name}}}}'}}}}
  - list: {{elements: [{{name: b}}]}}
{TEMPLATE}"
    ))
    .unwrap();
    let (a, b) = (&e.applications[0].spec, &e.applications[1].spec);
    assert_eq!(a.project, "special");
    assert_eq!(
        a.source.as_ref().unwrap().path.as_deref(),
        Some("override/a")
    );
    assert_eq!(a.source.as_ref().unwrap().repo_url, REPO);
    assert_eq!(a.destination.namespace.as_deref(), Some("a"));
    assert_eq!(b.project, "default");
    assert_eq!(b.source.as_ref().unwrap().path.as_deref(), Some("apps/b"));
}

#[test]
fn duplicates_are_reported_and_first_kept() {
    let e = run(&format!(
        "spec:\n  generators:\n  - list: {{elements: [{{name: a}}, {{name: b}}]}}\n  - list: {{elements: [{{name: a}}]}}\n{TEMPLATE}"
    ))
    .unwrap();
    assert_eq!(names(&e), ["a", "b"]);
    assert_eq!(e.duplicates, ["a"]);
}

#[test]
fn spec_level_errors_name_the_appset_and_place() {
    let cases = [
        ("  goTemplate: true\n", "goTemplate: true is not supported"),
        ("  templatePatch: 'spec: {}'\n", "templatePatch"),
    ];
    for (extra, expected) in cases {
        let e = run(&format!(
            "spec:\n{extra}  generators: [{{list: {{elements: [{{name: a}}]}}}}]\n{TEMPLATE}"
        ))
        .unwrap_err();
        assert!(
            e.to_string().starts_with("ApplicationSet flotilla/test: "),
            "{e}"
        );
        assert!(e.to_string().contains(expected), "{e}");
    }
    let gens = [
        (
            "[{scmProvider: {github: {organization: x}}}]",
            "generators[0]: the scmProvider generator is not supported",
        ),
        (
            "[{list: {elements: []}}, {bogus: {}}]",
            "generators[1]: unknown generator \"bogus\"",
        ),
        (
            "[{list: {elements: []}, clusters: {}}]",
            "several generators (list, clusters)",
        ),
        (
            "[{}]",
            "generators[0]: the generator entry names no generator",
        ),
        (
            "[{matrix: {generators: [{list: {elements: [{a: b}]}}, {matrix: 'x'}]}}]",
            "invalid nested matrix generator",
        ),
        (
            "[{list: {elements: [{name: 'UPPER'}]}}]",
            "generated Application #0: metadata.name \"UPPER\" is not a valid Kubernetes name",
        ),
        (
            "[{list: {elements: [{nope: x}]}}]",
            "metadata.name \"{{name}}\" is not a valid",
        ),
        ("[{list: {elements: [{name: a, n: x}]}}]", "template"),
    ];
    for (g, expected) in gens {
        let template = if expected == "template" {
            "  template: {metadata: {name: '{{trunc n name}}'}, spec: {project: p}}"
        } else {
            TEMPLATE
        };
        let e = run(&format!("spec:\n  generators: {g}\n{template}")).unwrap_err();
        assert!(e.to_string().contains(expected), "{g}: {e}");
    }
}

#[test]
fn deep_nesting_is_bounded() {
    let mut g = "{list: {elements: [{a: b}]}}".to_string();
    for _ in 0..6 {
        g = format!("{{matrix: {{generators: [{g}, {{list: {{elements: [{{c: d}}]}}}}]}}}}");
    }
    let e = run(&format!("spec:\n  generators: [{g}]\n{TEMPLATE}")).unwrap_err();
    assert!(e.to_string().contains("nest at most"), "{e}");
}

/// Regression (fuzzing): 1.2 kB of nested matrices of 12-element lists asked for 12^7 (36
/// million) combinations and ran out of memory. Products are now checked against
/// `MAX_PARAMETER_SETS` before they are built.
#[test]
fn combinatorial_explosion_is_an_error_not_an_out_of_memory() {
    use super::super::generator::MAX_PARAMETER_SETS;
    let list = |key: &str, n: usize| {
        let elements: Vec<String> = (0..n).map(|i| format!("{{{key}: '{i}'}}")).collect();
        format!("{{list: {{elements: [{}]}}}}", elements.join(", "))
    };
    let matrix = |a: &str, b: &str| format!("{{matrix: {{generators: [{a}, {b}]}}}}");
    let n = 12;
    let bomb = matrix(
        &matrix(
            &matrix(&list("a", n), &list("b", n)),
            &matrix(&list("c", n), &list("d", n)),
        ),
        &matrix(&matrix(&list("e", n), &list("f", n)), &list("g", n)),
    );
    let yaml = format!(
        "spec:\n  generators: [{bomb}]\n  template: {{metadata: {{name: 'x-{{{{a}}}}-{{{{g}}}}'}}, spec: {{project: default}}}}"
    );
    let start = std::time::Instant::now();
    let e = run(&yaml).unwrap_err();
    assert!(
        e.to_string().ends_with(&format!(
            "yields more than {MAX_PARAMETER_SETS} parameter sets"
        )),
        "{e}"
    );
    assert!(start.elapsed() < std::time::Duration::from_secs(10));
    // The same with the second child interpolated (evaluated once per left parameter set).
    let interpolated = matrix(
        &list("a", 400),
        &format!(
            "{{list: {{elements: [{}]}}}}",
            (0..300)
                .map(|i| format!("{{b: '{{{{a}}}}-{i}'}}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    );
    let yaml = format!("spec:\n  generators: [{interpolated}]\n{TEMPLATE}");
    let e = run(&yaml).unwrap_err();
    assert!(e.to_string().contains("parameter sets"), "{e}");
    // Several entries: the total number of Applications is bounded too.
    let entry = matrix(&list("a", 250), &list("b", 240));
    let yaml = format!(
        "spec:\n  generators: [{entry}, {entry}]\n  template: {{metadata: {{name: 'x-{{{{a}}}}-{{{{b}}}}'}}, spec: {{project: default}}}}"
    );
    let e = run(&yaml).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("ApplicationSet flotilla/test: generators[1]: yields more than"),
        "{e}"
    );
}

struct Counting {
    inner: MemorySource,
    calls: AtomicUsize,
}

impl GitSource for Counting {
    fn snapshot(&self, url: &str, rev: &str) -> Result<Arc<dyn Tree>, GitError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.snapshot(url, rev)
    }
}

#[test]
fn each_repository_revision_is_resolved_once_per_evaluation() {
    let counting = Counting {
        inner: git(),
        calls: AtomicUsize::new(0),
    };
    let e = run_with(
        "
spec:
  generators:
  - git: {repoURL: https://git.example.com/gitops.git, directories: [{path: 'addons/*'}]}
  - git: {repoURL: https://git.example.com/gitops.git, files: [{path: 'config/*/config.json'}], requeueAfterSeconds: 30}
  - matrix:
      generators:
      - clusters: {}
      - git: {repoURL: https://git.example.com/gitops.git, directories: [{path: 'addons/{{name}}'}]}
  template:
    metadata: {name: x}
    spec: {project: default}",
        &counting,
    )
    .unwrap();
    assert_eq!(counting.calls.load(Ordering::SeqCst), 1);
    assert_eq!(e.requeue_after, Some(std::time::Duration::from_secs(30)));
}

#[test]
fn an_unreachable_repository_fails_the_whole_evaluation() {
    let e = run(&format!(
        "spec:\n  generators:\n  - list: {{elements: [{{name: a}}]}}\n  - git: {{repoURL: https://down.example.com/x.git, directories: [{{path: '*'}}]}}\n{TEMPLATE}"
    ))
    .unwrap_err();
    assert!(e.is_transient());
    assert!(
        e.to_string().contains(
            "generators[1]: git: repository https://down.example.com/x.git is unreachable"
        ),
        "{e}"
    );
}
