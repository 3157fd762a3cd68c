//! Cases from Argo CD's Generators-Cluster.md and `generators/cluster_test.go`.

use super::*;
use crate::api::application_set::ClusterGenerator;
use crate::api::{ClusterSecret, InvalidClusterSecret, secrets_from_yaml};
use crate::git::MemorySource;

const SECRETS: &str = r#"
apiVersion: v1
kind: Secret
metadata:
  name: staging-cluster
  namespace: flotilla
  labels: {argocd.argoproj.io/secret-type: cluster, environment: staging, staging: "true"}
  annotations: {owner: team-a}
stringData: {name: staging, server: "https://staging.example.com/", project: platform}
---
apiVersion: v1
kind: Secret
metadata:
  name: production-cluster
  namespace: flotilla
  labels: {flotilla.dev/secret-type: cluster, environment: production}
stringData: {name: Production_EU, server: https://prod.example.com}
---
apiVersion: v1
kind: Secret
metadata:
  name: production-duplicate
  namespace: flotilla
  labels: {flotilla.dev/secret-type: cluster, environment: production}
stringData: {name: Production_EU, server: https://prod2.example.com}
"#;

fn clusters() -> Vec<ClusterSecret> {
    secrets_from_yaml(SECRETS, "test")
        .unwrap()
        .iter()
        .map(|s| ClusterSecret::from_secret(s).unwrap())
        .collect()
}

fn run(
    spec: &str,
    clusters: &[ClusterSecret],
    in_cluster: bool,
) -> Result<Vec<Params>, GenerateError> {
    run_with_invalid(spec, clusters, &[], in_cluster)
}

fn run_with_invalid(
    spec: &str,
    clusters: &[ClusterSecret],
    invalid_clusters: &[InvalidClusterSecret],
    in_cluster: bool,
) -> Result<Vec<Params>, GenerateError> {
    let g: ClusterGenerator = serde_yaml::from_str(spec).unwrap();
    let git = MemorySource::new();
    ClusterParams(&g).params(&GenContext {
        clusters,
        invalid_clusters,
        in_cluster,
        git: &git,
    })
}

#[test]
fn a_selected_invalid_secret_fails_the_generator_an_unselected_one_does_not() {
    let broken = InvalidClusterSecret {
        secret_name: "flotilla/qa-cluster".into(),
        labels: [("environment".to_string(), "qa".to_string())].into(),
        error: "Secret flotilla/qa-cluster: config is not valid JSON (syntax error at line 1, column 2)".into(),
    };
    let invalid = [broken];
    for selecting in [
        "{}",
        "selector: {matchLabels: {environment: qa}}",
        "selector: {matchExpressions: [{key: environment, operator: NotIn, values: [production]}]}",
    ] {
        let e = run_with_invalid(selecting, &clusters(), &invalid, true).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the selector matches cluster Secret flotilla/qa-cluster, which is invalid (Secret flotilla/qa-cluster: config is not valid JSON (syntax error at line 1, column 2)); nothing is generated until it is fixed or no longer selected",
            "{selecting}"
        );
    }
    let p = run_with_invalid(
        "selector: {matchLabels: {environment: staging}}",
        &clusters(),
        &invalid,
        true,
    )
    .unwrap();
    assert_eq!(names(&p), ["staging"]);
}

fn names(p: &[Params]) -> Vec<&str> {
    p.iter().map(|p| p["name"].as_str()).collect()
}

#[test]
fn params_of_a_cluster_secret() {
    let p = run(
        "selector: {matchLabels: {staging: 'true'}}",
        &clusters(),
        true,
    )
    .unwrap();
    assert_eq!(p.len(), 1);
    let p = &p[0];
    assert_eq!(p["name"], "staging");
    assert_eq!(p["nameNormalized"], "staging");
    assert_eq!(
        p["server"], "https://staging.example.com",
        "trailing / trimmed"
    );
    assert_eq!(p["project"], "platform");
    assert_eq!(p["metadata.labels.environment"], "staging");
    assert_eq!(
        p["metadata.labels.argocd.argoproj.io/secret-type"],
        "cluster"
    );
    assert_eq!(p["metadata.annotations.owner"], "team-a");
}

#[test]
fn empty_selector_adds_in_cluster_when_enabled() {
    let p = run("{}", &clusters(), true).unwrap();
    assert_eq!(
        names(&p),
        ["staging", "Production_EU", "in-cluster"],
        "duplicate names collapse to the first"
    );
    let local = &p[2];
    assert_eq!(local["server"], "https://kubernetes.default.svc");
    assert_eq!(local["project"], "");
    assert!(!local.keys().any(|k| k.starts_with("metadata.")));
    assert_eq!(
        names(&run("{}", &clusters(), false).unwrap()),
        ["staging", "Production_EU"]
    );
    assert_eq!(p[1]["nameNormalized"], "production-eu");
}

#[test]
fn any_selector_excludes_in_cluster() {
    let spec = "selector: {matchExpressions: [{key: environment, operator: In, values: [staging, production]}]}";
    assert_eq!(
        names(&run(spec, &clusters(), true).unwrap()),
        ["staging", "Production_EU"]
    );
}

#[test]
fn a_secret_for_the_local_server_replaces_the_implicit_entry() {
    let mut cs = clusters();
    cs[0].server = "https://kubernetes.default.svc".into();
    cs[0].name = "local".into();
    let p = run("{}", &cs, true).unwrap();
    assert_eq!(names(&p), ["local", "Production_EU"]);
}

#[test]
fn values_are_templated_with_the_cluster_params() {
    let spec = "selector: {matchLabels: {environment: production}}\nvalues: {revision: HEAD, ns: '{{nameNormalized}}-apps', env: '{{metadata.labels.environment}}', other: '{{values.revision}}'}";
    let p = run(spec, &clusters(), true).unwrap();
    assert_eq!(p[0]["values.revision"], "HEAD");
    assert_eq!(p[0]["values.ns"], "production-eu-apps");
    assert_eq!(p[0]["values.env"], "production");
    assert_eq!(
        p[0]["values.other"], "{{values.revision}}",
        "values do not see other values"
    );
    let local = run("values: {ns: '{{name}}'}", &clusters(), true).unwrap();
    assert_eq!(local[2]["values.ns"], "in-cluster");
}

#[test]
fn invalid_selector_and_flat_list_are_errors() {
    let bad = "selector: {matchExpressions: [{key: env, operator: Equals, values: [x]}]}";
    assert!(run(bad, &clusters(), true).is_err());
    assert!(
        run(bad, &[], true).is_err(),
        "invalid even with no cluster to match"
    );
    assert_eq!(
        run("flatList: true", &clusters(), true).unwrap_err(),
        GenerateError::ClusterFlatList
    );
}

#[test]
fn no_clusters_and_a_selector_yield_nothing() {
    assert!(
        run(
            "selector: {matchLabels: {environment: dev}}",
            &clusters(),
            true
        )
        .unwrap()
        .is_empty()
    );
}
