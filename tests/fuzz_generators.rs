//! Property tests (fuzzing in CI) of the generator inputs: random trees of list, clusters, git,
//! matrix and merge generators (random elements, selectors with valid and invalid operators,
//! mergeKeys, pathParamPrefix, globs, values, templates with random tags), random in-memory
//! repositories (valid and invalid YAML/JSON, lists, scalars, deep nesting, non-UTF-8) and random
//! cluster Secrets. `expand` and the Secret parsers return Ok or Err, never panic and never hang;
//! `expand` is deterministic and its output names are sorted and unique.
//!
//! Sizes are bounded so that one case stays fast, and every expansion runs under a deadline. The
//! cargo-fuzz targets in `fuzz/` run the same code paths from raw bytes, unbounded.

use std::collections::BTreeMap;
use std::sync::{Arc, mpsc};
use std::time::Duration;

use flotilla::api::{
    ApplicationSet, ClusterConfig, ClusterSecret, RepositorySecret, SecretData, secrets_from_yaml,
};
use flotilla::appset::{AppSetError, Expansion, Inputs, expand};
use flotilla::git::tree::MemoryTree;
use flotilla::git::{GitError, GitSource, Tree};
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Map, Value, json};

const REPO: &str = "https://git.example.com/gitops.git";

/// One expansion (two, for determinism) must finish well within this.
const DEADLINE: Duration = Duration::from_secs(20);

/// 256 cases per property (CI); `PROPTEST_CASES=100000` for a longer local run.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(cases),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Strategies: strings and JSON

/// Template strings: known parameters (of every generator), helpers, plain text.
const TAGS: &[&str] = &[
    "{{name}}",
    "{{server}}",
    "{{nameNormalized}}",
    "{{metadata.labels.env}}",
    "{{path}}",
    "{{path.basename}}",
    "{{path.basenameNormalized}}",
    "{{path[0]}}",
    "{{path[1]}}",
    "{{path.filename}}",
    "{{p.path}}",
    "{{values.v}}",
    "{{a}}",
    "{{b}}",
    "{{env}}",
    "{{cluster.name}}",
    "{{ a }}",
    "{{lower name}}",
    "{{upper a}}",
    "{{normalize path}}",
    "{{trunc -3 name}}",
    "{{default \"d\" a}}",
    "{{replace \".\" \"-\" path}}",
    "{{lower (trim (normalize a))}}",
    "{{unknown}}",
    "{{trunc",
    "{{",
    "}}",
    "{{}}",
];

/// Tags that fail to compile or render whatever the parameters.
const BAD_TAGS: &[&str] = &[
    "{{lower (bogus a)}}",
    "{{lower (a}}",
    "{{trunc 99999999999999999999 a}}",
    "{{trunc \"x\" name}}",
    "{{replace a b}}",
];

const WORDS: &[&str] = &[
    "", "app", "-", ".", "dev", "prod", "x", "A", "ü", " ", "/", "*", "[", "\\", "\"", "'",
];

/// A template string; one in about thirty is broken.
fn tmpl() -> impl Strategy<Value = String> {
    prop_oneof![
        40 => select(TAGS).prop_map(String::from),
        30 => prop::collection::vec(
            prop_oneof![select(TAGS), select(WORDS)],
            1..4
        )
        .prop_map(|parts| parts.concat()),
        20 => select(WORDS).prop_map(String::from),
        5 => "\\PC{0,6}",
        1 => select(BAD_TAGS).prop_map(String::from),
    ]
}

/// Object keys: parameter-like names, templated keys, oddities.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        20 => select(&["a", "b", "env", "name", "server", "path", "cluster", "url", "v"][..])
            .prop_map(String::from),
        1 => select(&["values", "{{a}}", "k-{{name}}", "", "a.b", "path[0]", "ü"][..])
            .prop_map(String::from),
        1 => "[a-z.{}]{0,5}",
    ]
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        6 => tmpl().prop_map(Value::String),
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::Bool),
        1 => any::<i64>().prop_map(Value::from),
        1 => any::<u64>().prop_map(Value::from),
        1 => any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
    ]
}

fn object_of(
    values: impl Strategy<Value = Value>,
    size: std::ops::Range<usize>,
) -> impl Strategy<Value = Value> {
    prop::collection::btree_map(key(), values, size)
        .prop_map(|m| Value::Object(m.into_iter().collect()))
}

fn json_value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            object_of(inner, 0..4),
        ]
    })
}

/// Plain values that make valid names: most parameter values are like these.
fn word() -> impl Strategy<Value = String> {
    select(&["dev", "prod", "a", "b", "x1", "eu-west", "v.2"][..]).prop_map(String::from)
}

/// A parameter value: mostly a plain word, sometimes any template string.
fn value_str() -> impl Strategy<Value = String> {
    prop_oneof![10 => word(), 1 => tmpl()]
}

/// `metadata.name` templates: mostly ones that render valid names from plain values.
fn name_tmpl() -> impl Strategy<Value = String> {
    prop_oneof![
        30 => select(&[
            "{{normalize (default \"n\" name)}}-{{normalize (default \"a\" a)}}",
            "x-{{normalize (default \"p\" path)}}-{{normalize (default \"v\" values.v)}}",
            "{{default \"s\" nameNormalized}}.{{default \"b\" path.basenameNormalized}}",
            "{{normalize (default \"e\" env)}}.{{normalize (default \"f\" path.filename)}}",
            "p-{{normalize (default \"b\" b)}}-{{normalize (default \"p\" p.path)}}",
        ][..])
            .prop_map(String::from),
        4 => select(&[
            "{{name}}", "app-{{a}}", "{{path.basenameNormalized}}", "{{nameNormalized}}-{{a}}",
            "{{normalize a}}-{{normalize b}}", "{{a}}{{b}}", "x-{{values.v}}", "static",
            "{{path[0]}}-{{normalize path.basename}}", "{{normalize path.filename}}",
            "{{a}}-{{nameNormalized}}", "{{env}}-{{path.basenameNormalized}}",
            "{{p.path.basenameNormalized}}", "{{default \"d\" a}}-{{trunc 3 b}}",
            "{{lower name}}-{{cluster.name}}",
        ][..])
            .prop_map(String::from),
        1 => tmpl(),
    ]
}

/// A list element: mostly an object of plain strings (with a `values` map), sometimes anything.
fn element() -> impl Strategy<Value = Value> {
    prop_oneof![
        20 => (
            object_of(value_str().prop_map(Value::String), 0..4),
            prop::option::weighted(0.3, object_of(
                prop_oneof![20 => value_str().prop_map(Value::String), 1 => scalar()],
                0..3
            )),
        )
            .prop_map(|(mut obj, values)| {
                if let Some(values) = values {
                    obj["values"] = values;
                }
                obj
            }),
        1 => object_of(scalar(), 0..4),
        1 => json_value(),
    ]
}

/// A git file that the generator accepts: an object or a list of objects of plain values.
fn git_file() -> impl Strategy<Value = String> {
    let object = || object_of(value_str().prop_map(Value::String), 0..4);
    prop_oneof![
        2 => object().prop_map(|o| serde_yaml::to_string(&o).unwrap()),
        2 => object().prop_map(|o| o.to_string()),
        1 => prop::collection::vec(object(), 0..3)
            .prop_map(|items| serde_yaml::to_string(&items).unwrap()),
    ]
}

/// YAML text: serialized structures, and fragments that are broken, deep, aliased or odd.
fn yaml_text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::collection::vec(element(), 0..4)
            .prop_map(|items| serde_yaml::to_string(&items).unwrap()),
        2 => object_of(json_value(), 0..4).prop_map(|o| serde_yaml::to_string(&o).unwrap()),
        1 => object_of(json_value(), 0..4).prop_map(|o| o.to_string()),
        3 => select(&[
            "", "~", "null", "3", "true", "a", "[]", "{}", "{", "- a: [", "a: b\n c: d",
            "- 1\n- 2", "- {a: 1}\n- 2", "---\na: 1\n---\nb: 2\n", ".inf", "-.inf", ".nan",
            "1e999", "0x1F", "!!binary aGVsbG8=", "a: !!str 3", "&a [*a]", "a: &x 1\nb: *x",
            "<<: {a: 1}", "? [a, b]\n: c", "{[1]: 2}", "- ! a", "a: *nope", "\t- a", "\u{feff}a: 1",
            "- name: x\n  values: {v: 1}", "- name: y\n  values: [1]", "- a: {{a}}",
        ][..])
            .prop_map(String::from),
        1 => (1usize..200).prop_map(|d| format!("{}{}", "[".repeat(d), "]".repeat(d))),
        1 => (1usize..200).prop_map(|d| format!("{}1{}", "{a: ".repeat(d), "}".repeat(d))),
        1 => (1usize..200).prop_map(|d| {
            (0..d).map(|i| format!("{}- a:\n", "  ".repeat(i))).collect()
        }),
        1 => (1usize..12).prop_map(billion_laughs),
    ]
}

/// Exponentially expanding aliases: `depth` levels of ten-fold repetition.
fn billion_laughs(depth: usize) -> String {
    let mut text = "a0: &a0 [x]\n".to_string();
    for i in 1..depth {
        let refs = vec![format!("*a{}", i - 1); 10].join(", ");
        text.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
    }
    text.push_str(&format!("- [*a{}]\n", depth - 1));
    text
}

// ---------------------------------------------------------------------------------------------
// Strategies: generators
//
// Mostly well-formed (so that many cases expand into Applications), with a small share of
// invalid operators, missing keys, broken globs and so on.

fn label_key() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => select(&["env", "a", "name", "server", "metadata.labels.env", "values.v", "path.basename"][..]),
        1 => select(&["nope", "", "Weird Key!"][..]),
    ]
    .prop_map(String::from)
}

fn label_value() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => select(&["dev", "prod", "a", "b", "", "https://dev.example.com", "apps", "apps/a"][..])
            .prop_map(String::from),
        1 => tmpl(),
    ]
}

/// A label selector: operators mostly valid, values mostly as the operator wants them.
fn selector() -> impl Strategy<Value = Value> {
    let requirement = (
        label_key(),
        prop_oneof![
            30 => select(&["In", "NotIn", "Exists", "DoesNotExist"][..]),
            1 => select(&["Equals", "", "in", "exists"][..]),
        ],
        prop::collection::vec(label_value(), 1..3),
        prop::bool::weighted(0.03),
    )
        .prop_map(|(key, operator, values, odd)| {
            let mut r = json!({"key": key, "operator": operator});
            let wants_values = matches!(operator, "In" | "NotIn");
            match (wants_values != odd, odd) {
                (true, _) => r["values"] = json!(values),
                (false, true) => r["values"] = json!([]),
                (false, false) => {}
            }
            r
        });
    (
        prop::option::of(prop::collection::btree_map(
            label_key(),
            label_value(),
            0..2,
        )),
        prop::option::of(prop::collection::vec(requirement, 0..3)),
    )
        .prop_map(|(labels, exprs)| {
            let mut s = json!({});
            if let Some(l) = labels {
                s["matchLabels"] = json!(l);
            }
            if let Some(e) = exprs {
                s["matchExpressions"] = json!(e);
            }
            s
        })
}

/// Glob patterns: path segments, wildcards, classes (valid and broken), escapes, `**`.
fn glob() -> impl Strategy<Value = String> {
    let segment = prop_oneof![
        40 => select(&[
            "*", "*", "**", "apps", "config", "a", "b", "dev", "?", "*.json", "*.yaml", "[a-c]*",
            "[^a]*", "\\*", "*a*a*a*b", "x*y?z", "[\\]]", "ü*", "*[xy]*", "c.yaml",
        ][..])
            .prop_map(String::from),
        1 => select(&["[]", "[", "]", "\\", "[z-a]", "[a-]", ".", "./", "..", ""][..])
            .prop_map(String::from),
        1 => "[a-c*?\\[\\]\\\\^!./-]{0,6}",
    ];
    prop_oneof![
        6 => select(&[
            "apps/*", "apps/*/config.json", "**/*.json", "config/*/c.yaml", "*/*", "**",
            "apps/**", "*", "apps/[ab]", "**/c.yaml",
        ][..])
            .prop_map(String::from),
        2 => prop::collection::vec(segment, 1..5).prop_map(|s| s.join("/")),
    ]
}

fn path_items() -> impl Strategy<Value = Value> {
    prop::collection::vec((glob(), prop::bool::weighted(0.2)), 1..4).prop_map(|items| {
        Value::Array(
            items
                .into_iter()
                .map(|(path, exclude)| {
                    if exclude {
                        json!({"path": path, "exclude": true})
                    } else {
                        json!({"path": path})
                    }
                })
                .collect(),
        )
    })
}

fn values_map() -> impl Strategy<Value = Value> {
    prop::collection::btree_map(
        select(&["v", "w", "ns", ""][..]).prop_map(String::from),
        prop_oneof![2 => tmpl(), 1 => word()],
        0..3,
    )
    .prop_map(|m| json!(m))
}

/// An Application template: names that mostly render valid, other fields from random tags, a
/// templated Helm block at times (templated keys included).
fn template() -> impl Strategy<Value = Value> {
    (
        name_tmpl(),
        prop::option::of(prop::collection::btree_map(key(), tmpl(), 0..3)),
        prop::option::of(prop::collection::vec(
            select(
                &[
                    "resources-finalizer.argocd.argoproj.io",
                    "resources-finalizer.argocd.argoproj.io/background",
                    "x/{{name}}",
                    "",
                ][..],
            ),
            0..3,
        )),
        (tmpl(), tmpl(), tmpl()),
        prop::option::weighted(0.3, json_value()),
    )
        .prop_map(|(name, labels, finalizers, (project, path, ns), helm)| {
            let mut meta = json!({"name": name});
            if let Some(l) = labels {
                meta["labels"] = json!(l);
            }
            if let Some(f) = finalizers {
                meta["finalizers"] = json!(f);
            }
            let mut source = json!({"repoURL": REPO, "path": path});
            if let Some(h) = helm {
                source["helm"] = h;
            }
            json!({"metadata": meta, "spec": {
                "project": project,
                "source": source,
                "destination": {"server": "{{server}}", "namespace": ns},
            }})
        })
}

fn list_generator() -> impl Strategy<Value = Value> {
    (
        prop_oneof![
            1 => Just(Vec::new()),
            8 => prop::collection::vec(element(), 1..4),
        ],
        prop::option::weighted(0.1, prop_oneof![4 => git_file(), 1 => yaml_text()]),
    )
        .prop_map(|(elements, yaml)| {
            let mut g = json!({"elements": elements});
            if let Some(y) = yaml {
                g["elementsYaml"] = json!(y);
            }
            g
        })
}

fn clusters_generator() -> impl Strategy<Value = Value> {
    (
        prop::option::weighted(0.4, selector()),
        prop::option::of(values_map()),
        prop::bool::weighted(0.01),
    )
        .prop_map(|(sel, values, flat)| {
            let mut g = json!({});
            if let Some(s) = sel {
                g["selector"] = s;
            }
            if let Some(v) = values {
                g["values"] = v;
            }
            if flat {
                g["flatList"] = json!(true);
            }
            g
        })
}

fn git_generator() -> impl Strategy<Value = Value> {
    (
        prop_oneof![
            40 => Just(REPO),
            1 => select(&["https://nope.example.com/x.git", ""][..]),
        ],
        prop_oneof![40 => select(&["", "HEAD"][..]), 1 => Just("main")],
        (0u8..40, path_items(), path_items()),
        prop::option::weighted(0.3, select(&["", "p", "a.b", "{{x}}"][..])),
        prop::option::weighted(0.3, values_map()),
        prop::option::weighted(0.2, any::<i64>()),
    )
        .prop_map(
            |(repo, revision, (which, dirs, files), prefix, values, requeue)| {
                let mut g = json!({"repoURL": repo, "revision": revision});
                match which {
                    0..=18 => g["directories"] = dirs,
                    19..=37 => g["files"] = files,
                    38 => {
                        g["directories"] = dirs;
                        g["files"] = files;
                    }
                    _ => {}
                }
                if let Some(p) = prefix {
                    g["pathParamPrefix"] = json!(p);
                }
                if let Some(v) = values {
                    g["values"] = v;
                }
                if let Some(r) = requeue {
                    g["requeueAfterSeconds"] = json!(r);
                }
                g
            },
        )
}

/// A generator entry: `{<kind>: {...}}` plus, sometimes, a post-selector, a template, or an
/// unknown or unsupported key.
fn entry(kind: impl Strategy<Value = (String, Value)>) -> impl Strategy<Value = Value> {
    (
        kind,
        prop::option::weighted(0.1, selector()),
        prop::option::weighted(0.15, template()),
        prop::option::weighted(
            0.01,
            select(&["plugin", "bogus", "template", "values", "list"][..]),
        ),
    )
        .prop_map(|((name, mut body), sel, tpl, extra)| {
            if let Some(t) = tpl {
                body["template"] = t;
            }
            let mut e = Map::new();
            e.insert(name, body);
            if let Some(s) = sel {
                e.insert("selector".into(), s);
            }
            if let Some(x) = extra {
                e.entry(x).or_insert(json!({}));
            }
            Value::Object(e)
        })
}

/// A generator tree: leaves are list/clusters/git, inner nodes matrix/merge (children counts
/// valid and not, nesting beyond the limit at times).
fn generator() -> impl Strategy<Value = (String, Value)> {
    let leaf = prop_oneof![
        3 => list_generator().prop_map(|g| ("list".to_string(), g)),
        2 => clusters_generator().prop_map(|g| ("clusters".to_string(), g)),
        3 => git_generator().prop_map(|g| ("git".to_string(), g)),
    ];
    let tree = leaf.clone().prop_recursive(5, 10, 2, |inner| {
        let children = move || {
            prop_oneof![
                40 => prop::collection::vec(entry(inner.clone()), 2..=2),
                1 => prop::collection::vec(entry(inner.clone()), 0..4),
            ]
        };
        let merge_keys = prop_oneof![
            40 => prop::collection::vec(
                select(&["a", "name", "path", "values.v", "server", "nope"][..]),
                1..3
            ),
            1 => Just(Vec::new()),
        ];
        prop_oneof![
            3 => children().prop_map(|c| ("matrix".to_string(), json!({"generators": c}))),
            2 => (children(), merge_keys).prop_map(|(c, keys)| (
                "merge".to_string(),
                json!({"generators": c, "mergeKeys": keys})
            )),
        ]
    });
    prop_oneof![1 => leaf, 2 => tree]
}

fn appset() -> impl Strategy<Value = Value> {
    (
        prop_oneof![
            1 => Just(Vec::new()),
            20 => prop::collection::vec(entry(generator()), 1..3),
        ],
        template(),
        prop::bool::weighted(0.02),
        prop::bool::weighted(0.2),
        prop::option::of(select(
            &[
                "fuzz",
                "a-very-long-name-of-an-application-set-that-exceeds-the-sixty-three-characters",
                "UPPER",
            ][..],
        )),
    )
        .prop_map(|(generators, template, go_template, preserve, name)| {
            let mut spec = json!({"generators": generators, "template": template});
            if go_template {
                spec["goTemplate"] = json!(true);
            }
            if preserve {
                spec["syncPolicy"] = json!({"preserveResourcesOnDeletion": true});
            }
            let mut meta = json!({"namespace": "flotilla", "uid": "1234"});
            if let Some(n) = name {
                meta["name"] = json!(n);
            }
            json!({"apiVersion": "flotilla.dev/v1alpha1", "kind": "ApplicationSet",
                   "metadata": meta, "spec": spec})
        })
}

// ---------------------------------------------------------------------------------------------
// Strategies: repositories and clusters

/// File contents: JSON, YAML, lists, scalars, broken, deep, aliased, not UTF-8.
fn content() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        40 => git_file().prop_map(String::into_bytes),
        2 => yaml_text().prop_map(String::into_bytes),
        1 => prop::collection::vec(any::<u8>(), 0..16),
    ]
}

fn repo_path() -> impl Strategy<Value = String> {
    let segment = select(
        &[
            "apps",
            "config",
            "a",
            "b",
            "dev",
            "prod",
            ".hidden",
            "x y",
            "ü",
            "[a]",
            "*",
            "config.json",
            "c.yaml",
            "k.yaml",
        ][..],
    );
    prop::collection::vec(segment, 1..5).prop_map(|s| s.join("/"))
}

/// A few files that common globs match, some of them always there, and random others.
fn repo() -> impl Strategy<Value = BTreeMap<String, Vec<u8>>> {
    let base = [
        ("apps/a/config.json", r#"{"a": "dev", "name": "a"}"#),
        (
            "apps/b/config.json",
            r#"{"a": "prod", "name": "b", "values": {"v": "x1"}}"#,
        ),
        (
            "config/dev/c.yaml",
            "- {env: dev, a: eu-west}\n- {env: prod}\n",
        ),
    ];
    (
        prop::collection::vec(any::<bool>(), base.len()),
        prop::collection::btree_map(repo_path(), content(), 0..6),
    )
        .prop_map(move |(keep, mut files)| {
            for ((path, text), keep) in base.iter().zip(keep) {
                if keep {
                    files.insert(path.to_string(), text.as_bytes().to_vec());
                }
            }
            files
        })
}

/// A cluster Secret manifest (mostly valid), as a JSON value.
fn cluster_secret() -> impl Strategy<Value = Value> {
    (
        select(&["dev", "prod", "staging", "in-cluster", ""][..]),
        prop_oneof![
            8 => select(&[
                "https://dev.example.com",
                "https://prod.example.com/",
                "https://kubernetes.default.svc",
                "http://10.0.0.1:6443",
                "https://[::1]:6443",
                "HTTPS://UPPER.example.com",
            ][..]),
            1 => select(&["ftp://x", "https://", "https://a b", ""][..]),
        ],
        prop::collection::btree_map(label_key(), label_value(), 0..3),
        prop_oneof![
            8 => Just("cluster"),
            1 => select(&["repository", "", "none"][..]),
        ],
        prop::collection::btree_map(
            select(
                &[
                    "namespaces",
                    "clusterResources",
                    "shard",
                    "project",
                    "config",
                    "name",
                ][..],
            ),
            select(
                &[
                    "",
                    "a, b,,c",
                    "true",
                    "false",
                    "yes",
                    "3",
                    "-1",
                    "99999999999",
                    "{}",
                    "null",
                    "{\"bearerToken\": \"t\", \"tlsClientConfig\": {\"insecure\": true}}",
                    "{\"tlsClientConfig\": {\"caData\": \"bm90IHBlbQ==\"}}",
                    "{\"awsAuthConfig\": {}, \"execProviderConfig\": {}}",
                    "{\"username\": 3}",
                    "[",
                    "\"x\"",
                ][..],
            ),
            0..3,
        ),
        prop::option::of(prop::collection::btree_map(key(), tmpl(), 0..2)),
        prop::bool::weighted(0.1),
    )
        .prop_map(
            |(name, server, mut labels, kind, extra, annotations, as_data)| {
                if kind != "none" {
                    labels.insert("argocd.argoproj.io/secret-type".into(), kind.into());
                }
                let mut data: BTreeMap<&str, String> =
                    extra.into_iter().map(|(k, v)| (k, v.to_string())).collect();
                data.insert("server", server.into());
                data.entry("name").or_insert_with(|| name.to_string());
                let mut meta = json!({"name": format!("c-{name}"), "namespace": "flotilla",
                                  "labels": labels});
                if let Some(a) = annotations {
                    meta["annotations"] = json!(a);
                }
                let mut secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": meta});
                if as_data {
                    use base64::Engine as _;
                    let encoded: BTreeMap<&str, String> = data
                        .iter()
                        .map(|(k, v)| (*k, base64::engine::general_purpose::STANDARD.encode(v)))
                        .collect();
                    secret["data"] = json!(encoded);
                } else {
                    secret["stringData"] = json!(data);
                }
                secret
            },
        )
}

/// A YAML stream of cluster Secrets, with an occasional broken or foreign document.
fn cluster_docs() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(
        prop_oneof![
            8 => cluster_secret().prop_map(|s| serde_yaml::to_string(&s).unwrap()),
            1 => yaml_text(),
        ],
        0..5,
    )
}

// ---------------------------------------------------------------------------------------------
// Running

/// A repository holding arbitrary bytes at `REPO`, revision `HEAD` (or empty).
struct Repo(Arc<MemoryTree>);

impl GitSource for Repo {
    fn snapshot(&self, repo_url: &str, revision: &str) -> Result<Arc<dyn Tree>, GitError> {
        if repo_url != REPO {
            return Err(GitError::Unreachable {
                url: repo_url.into(),
                cause: "no such repository".into(),
            });
        }
        if !matches!(revision, "" | "HEAD") {
            return Err(GitError::UnknownRevision {
                url: repo_url.into(),
                revision: revision.into(),
            });
        }
        Ok(self.0.clone())
    }
}

/// Runs `f` on its own thread and fails the test if it panics or takes longer than `limit`
/// (a hang cannot be interrupted, but it is reported instead of blocking CI forever).
fn with_deadline<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    let handle = std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(limit) {
        Ok(v) => {
            handle.join().unwrap();
            v
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => match handle.join() {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(()) => unreachable!("the thread sent nothing without panicking"),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("did not finish within {limit:?}"),
    }
}

/// Parses the cluster Secrets as one stream (as the CLI reads a file), then one by one; returns
/// the clusters that parse.
fn parse_clusters(docs: &[String]) -> Vec<ClusterSecret> {
    let _ = secrets_from_yaml(&docs.join("\n---\n"), "fuzz");
    docs.iter()
        .filter_map(|doc| secrets_from_yaml(doc, "fuzz").ok())
        .flatten()
        .filter_map(|s| {
            let _ = RepositorySecret::from_secret(&s);
            ClusterSecret::from_secret(&s).ok()
        })
        .collect()
}

type Outcome = Result<Expansion, AppSetError>;

fn run_expand(
    appset: ApplicationSet,
    files: BTreeMap<String, Vec<u8>>,
    clusters: Vec<ClusterSecret>,
    in_cluster: bool,
) -> (Outcome, Outcome) {
    with_deadline(DEADLINE, move || {
        let repo = Repo(Arc::new(MemoryTree::new("0".repeat(40), files)));
        let inputs = Inputs {
            clusters: &clusters,
            invalid_clusters: &[],
            in_cluster,
            git: &repo,
        };
        (expand(&appset, &inputs), expand(&appset, &inputs))
    })
}

/// Determinism and the output invariants.
fn check_outcomes(first: &Outcome, second: &Outcome) -> Result<(), TestCaseError> {
    match (first, second) {
        (Ok(a), Ok(b)) => {
            prop_assert_eq!(
                serde_json::to_value(&a.applications).unwrap(),
                serde_json::to_value(&b.applications).unwrap()
            );
            prop_assert_eq!(&a.duplicates, &b.duplicates);
            prop_assert_eq!(a.requeue_after, b.requeue_after);
            prop_assert_eq!(a.uses_clusters, b.uses_clusters);
            let names: Vec<&str> = a
                .applications
                .iter()
                .map(|app| app.metadata.name.as_deref().unwrap_or_default())
                .collect();
            prop_assert!(
                names.windows(2).all(|w| w[0] < w[1]),
                "names not sorted and unique: {:?}",
                names
            );
            prop_assert!(a.duplicates.windows(2).all(|w| w[0] < w[1]));
            for d in &a.duplicates {
                prop_assert!(names.contains(&d.as_str()), "duplicate {} was not kept", d);
            }
        }
        (Err(a), Err(b)) => {
            prop_assert_eq!(a, b);
            // Errors render (Display) without panicking.
            let _ = a.to_string();
        }
        _ => prop_assert!(
            false,
            "one run failed, the other not: {first:?} / {second:?}"
        ),
    }
    Ok(())
}

/// Runs a property on a thread with a large stack: generating values from these deeply nested
/// strategies recurses deeply itself (debug builds use large frames), which a test thread's
/// default 2 MiB does not hold. The code under test still runs on ordinary threads
/// ([`with_deadline`]).
fn check<S: Strategy>(
    strategy: impl FnOnce() -> S + Send + 'static,
    test: impl Fn(S::Value) -> Result<(), TestCaseError> + Send + 'static,
) where
    S::Value: std::fmt::Debug,
{
    let outcome = std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(move || {
            proptest::test_runner::TestRunner::new(config(256))
                .run(&strategy(), test)
                .map_err(|e| e.to_string())
        })
        .unwrap()
        .join()
        .unwrap();
    if let Err(e) = outcome {
        panic!("{e}");
    }
}

/// Structured random ApplicationSets over random repositories and clusters: `expand` returns
/// (never panics, never hangs), is deterministic, and its names are sorted and unique.
#[test]
fn expand_never_panics_and_is_deterministic() {
    let inputs = || {
        (
            appset(),
            any::<bool>(),
            repo(),
            cluster_docs(),
            any::<bool>(),
        )
    };
    check(inputs, |(appset, via_yaml, files, docs, in_cluster)| {
        let parsed: Result<ApplicationSet, String> = if via_yaml {
            let text = serde_yaml::to_string(&appset).unwrap();
            serde_yaml::from_str(&text).map_err(|e| e.to_string())
        } else {
            serde_json::from_value(appset).map_err(|e| e.to_string())
        };
        // The strategies build well-typed documents (templates only within strings).
        let appset = parsed.map_err(TestCaseError::fail)?;
        let clusters = parse_clusters(&docs);
        let (first, second) = run_expand(appset, files, clusters, in_cluster);
        check_outcomes(&first, &second)
    });
}

/// Mutated ApplicationSet YAML (bytes cut, inserted, duplicated): parsing and, when it still
/// parses, expanding never panic.
#[test]
fn mutated_appset_yaml_never_panics() {
    let edit = || {
        (
            any::<prop::sample::Index>(),
            0usize..8,
            select(
                &[
                    "",
                    "{{",
                    "}}",
                    "[",
                    "]",
                    "{",
                    "}",
                    ":",
                    "- ",
                    "\n",
                    "  ",
                    "*",
                    "&a ",
                    "*a",
                    "!!",
                    "'",
                    "\"",
                    "matrix: ",
                    "merge: ",
                    "generators: [",
                    "list: {elements: [{a: b}]}",
                    "\u{0}",
                ][..],
            ),
        )
    };
    let inputs = move || (appset(), prop::collection::vec(edit(), 0..4), repo());
    check(inputs, |(appset, edits, files)| {
        let mut text = serde_yaml::to_string(&appset).unwrap();
        for (at, cut, insert) in edits {
            let mut i = at.index(text.len() + 1);
            while !text.is_char_boundary(i) {
                i -= 1;
            }
            let mut end = (i + cut).min(text.len());
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.replace_range(i..end, insert);
        }
        if let Ok(appset) = serde_yaml::from_str::<ApplicationSet>(&text) {
            let (first, second) = run_expand(appset, files, Vec::new(), true);
            check_outcomes(&first, &second)?;
        }
        Ok(())
    });
}

proptest! {
    #![proptest_config(config(256))]

    /// Secret streams from random YAML: the loader and the cluster/repository parsers return Ok
    /// or Err, and the parsed data can be shown (Debug) without panicking.
    #[test]
    fn secret_parsers_never_panic(
        docs in prop_oneof![cluster_docs().prop_map(|d| d.join("\n---\n")), yaml_text()],
    ) {
        let result = with_deadline(DEADLINE, move || {
            secrets_from_yaml(&docs, "fuzz").map(|secrets| {
                for s in &secrets {
                    let _ = format!("{s:?} {}", s.qualified_name());
                    if let Ok(c) = ClusterSecret::from_secret(s) {
                        let _ = format!("{c:?}");
                    }
                    if let Ok(r) = RepositorySecret::from_secret(s) {
                        let _ = format!("{r:?}");
                    }
                }
                secrets.len()
            })
        });
        if let Err(e) = result {
            let _ = e.to_string();
        }
    }

    /// Secret manifests as arbitrary JSON values (not only YAML text).
    #[test]
    fn secret_from_value_never_panics(
        value in prop_oneof![cluster_secret(), json_value(), object_of(json_value(), 0..6)],
    ) {
        if let Ok(s) = SecretData::from_value(&value) {
            let _ = ClusterSecret::from_secret(&s);
            let _ = RepositorySecret::from_secret(&s);
        }
    }

    /// The `config` key of a cluster Secret: any bytes, any JSON.
    #[test]
    fn cluster_config_never_panics(
        bytes in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..64),
            json_value().prop_map(|v| v.to_string().into_bytes()),
            yaml_text().prop_map(String::into_bytes),
            (json_value(), json_value(), json_value()).prop_map(|(a, b, c)| json!({
                "username": a, "password": b, "BEARERTOKEN": c, "proxyUrl": "http://u:p@x",
                "tlsClientConfig": {"caData": "LS0tLS1CRUdJTiA=", "keyData": a, "Insecure": b},
                "execProviderConfig": c,
            }).to_string().into_bytes()),
        ],
    ) {
        if let Ok(c) = ClusterConfig::from_json(&bytes, "fuzz/secret") {
            let _ = format!("{c:?}");
        }
    }
}
