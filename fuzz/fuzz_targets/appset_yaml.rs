//! ApplicationSets from arbitrary YAML, expanded against a small fixed repository and three
//! clusters. Parsing and expansion never panic (nor hang or exhaust memory: libFuzzer reports
//! slow and big inputs), the expansion is deterministic, and its names are sorted and unique.
//!
//! A document without `apiVersion`/`kind`/`metadata` gets them, so the fuzzer can concentrate on
//! `spec`.

#![no_main]

use std::sync::LazyLock;

use flotilla::api::{ApplicationSet, ClusterSecret, secrets_from_yaml};
use flotilla::appset::{Inputs, expand};
use flotilla::git::MemorySource;
use libfuzzer_sys::fuzz_target;

const REPO: &str = "https://git.example.com/gitops.git";

static GIT: LazyLock<MemorySource> = LazyLock::new(|| {
    MemorySource::new().with_files(
        REPO,
        "HEAD",
        [
            ("apps/guestbook/kustomization.yaml", "resources: []"),
            ("apps/Guest_Book/deploy.yaml", "kind: Deployment"),
            ("apps/.hidden/x.yaml", "a: b"),
            (
                "config/dev/config.json",
                r#"{"env": "dev", "cluster": {"name": "dev", "replicas": 3}}"#,
            ),
            (
                "config/prod/config.json",
                r#"{"env": "prod", "tags": ["a", "b"]}"#,
            ),
            (
                "config/list.yaml",
                "- {name: a}\n- {name: b, values: {x: 1}}\n",
            ),
            ("config/empty.yaml", ""),
            ("broken/config.yaml", "a: [unclosed\n"),
            ("scalar/config.yaml", "just a string"),
        ],
    )
});

static CLUSTERS: LazyLock<Vec<ClusterSecret>> = LazyLock::new(|| {
    let yaml: String = ["dev", "staging", "prod"]
        .iter()
        .map(|env| {
            format!(
                "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {env}\n  namespace: flotilla\n  labels: {{argocd.argoproj.io/secret-type: cluster, env: {env}}}\n  annotations: {{note: '{env} cluster'}}\nstringData: {{name: {env}, server: 'https://{env}.example.com', project: default}}\n---\n"
            )
        })
        .collect();
    secrets_from_yaml(&yaml, "clusters.yaml")
        .unwrap()
        .iter()
        .map(|s| ClusterSecret::from_secret(s).unwrap())
        .collect()
});

fn appset(text: &str) -> Option<ApplicationSet> {
    let mut doc: serde_yaml::Value = serde_yaml::from_str(text).ok()?;
    if let serde_yaml::Value::Mapping(map) = &mut doc {
        for (k, v) in [
            ("apiVersion", "flotilla.dev/v1alpha1"),
            ("kind", "ApplicationSet"),
        ] {
            map.entry(k.into()).or_insert_with(|| v.into());
        }
        map.entry("metadata".into())
            .or_insert_with(|| serde_yaml::from_str("{name: fuzz, namespace: flotilla}").unwrap());
    }
    serde_yaml::from_value(doc).ok()
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The typed parse of the raw text as well (what `kubectl apply`-style readers do).
    let _ = serde_yaml::from_str::<ApplicationSet>(text);
    let Some(appset) = appset(text) else {
        return;
    };
    let inputs = Inputs {
        clusters: &CLUSTERS,
        invalid_clusters: &[],
        in_cluster: data.len().is_multiple_of(2),
        git: &*GIT,
    };
    let first = expand(&appset, &inputs);
    match &first {
        Ok(e) => {
            let names: Vec<&str> = e
                .applications
                .iter()
                .map(|app| app.metadata.name.as_deref().unwrap_or_default())
                .collect();
            assert!(
                names.windows(2).all(|w| w[0] < w[1]),
                "names not sorted and unique: {names:?}"
            );
            assert!(e.duplicates.windows(2).all(|w| w[0] < w[1]));
            // Determinism is checked on all but the big expansions (up to
            // `MAX_PARAMETER_SETS` Applications), which would only slow the fuzzer down.
            if e.applications.len() > 1_000 {
                return;
            }
        }
        Err(e) => drop(e.to_string()),
    }
    let second = expand(&appset, &inputs);
    match (&first, &second) {
        (Ok(a), Ok(b)) => {
            assert_eq!(
                serde_json::to_value(&a.applications).unwrap(),
                serde_json::to_value(&b.applications).unwrap(),
                "not deterministic"
            );
            assert_eq!(a.duplicates, b.duplicates, "not deterministic");
            assert_eq!(a.requeue_after, b.requeue_after, "not deterministic");
        }
        (Err(a), Err(b)) => assert_eq!(a, b, "not deterministic"),
        _ => panic!("one run failed, the other not: {first:?} / {second:?}"),
    }
});
