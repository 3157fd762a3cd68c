//! The order of a sync, without I/O: Namespaces and CustomResourceDefinitions first (they are
//! what other objects need), then sync waves (`flotilla.dev/sync-wave`, or Argo CD's
//! `argocd.argoproj.io/sync-wave`; default 0, may be negative), and within a wave Argo CD's
//! kind order (kubectl's install order), then name. Prunes run in the waves of the live objects,
//! in reverse wave order, before the applies of the wave they land in; `PruneLast` after all.
//! Also the sync options: the Application's and each resource's own.

use serde_json::Value;

/// The wave annotations, Flotilla's first.
pub const WAVE_ANNOTATIONS: [&str; 2] = ["flotilla.dev/sync-wave", "argocd.argoproj.io/sync-wave"];
/// Per-resource sync options (`Prune=false,…`), Flotilla's first.
pub const OPTIONS_ANNOTATIONS: [&str; 2] = [
    "flotilla.dev/sync-options",
    "argocd.argoproj.io/sync-options",
];

/// kubectl's install order, as Argo CD uses it (`gitops-engine/pkg/sync/sync_tasks.go`).
const KIND_ORDER: [&str; 36] = [
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
    "MutatingWebhookConfiguration",
];

fn annotation<'a>(obj: &'a Value, keys: &[&str]) -> Option<&'a str> {
    keys.iter()
        .find_map(|k| obj["metadata"]["annotations"][*k].as_str())
}

/// The object's sync wave (an unparsable value counts as 0, as Argo CD does).
pub fn wave(obj: &Value) -> i64 {
    annotation(obj, &WAVE_ANNOTATIONS)
        .and_then(|w| w.trim().parse().ok())
        .unwrap_or(0)
}

fn kind_rank(kind: &str) -> usize {
    KIND_ORDER
        .iter()
        .position(|k| *k == kind)
        .unwrap_or(KIND_ORDER.len())
}

/// Whether the kind must exist before anything else is applied.
pub fn is_foundation(obj: &Value) -> bool {
    let kind = obj["kind"].as_str().unwrap_or_default();
    kind == "Namespace"
        || (kind == "CustomResourceDefinition"
            && obj["apiVersion"]
                .as_str()
                .is_some_and(|v| v.starts_with("apiextensions.k8s.io/")))
}

/// One step of a sync: a wave, the live objects it prunes (run first) and the objects it
/// applies, as indexes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub wave: i64,
    /// Namespaces and CRDs: a step of their own, ready before anything that may need them is
    /// applied (applies within a step run in parallel).
    pub foundation: bool,
    /// Desired objects to apply, in apply order.
    pub items: Vec<usize>,
    /// Orphans (live objects no longer desired) to prune, in delete order.
    pub prunes: Vec<usize>,
}

/// The steps of a sync, in gitops-engine's order (`sync_context.go` `getSyncTasks`,
/// `runTasks`):
/// - applies by wave; Namespaces and CRDs in a step of their own first;
/// - a prune runs in the wave of the live object, the prune waves mirrored (the highest prune
///   wave is pruned in the lowest), so deletions go in reverse wave order, each interleaved
///   with the applies of the wave it lands in; within a step, prunes run before applies,
///   in reverse kind order (Deployments before the ConfigMaps they use, Namespaces last);
/// - `PruneLast` (`prune_last`: the Application's option; or the orphan's own annotation)
///   moves a prune to an implicit wave after every other.
pub fn steps(objects: &[Value], orphans: &[&Value], prune_last_all: bool) -> Vec<Step> {
    let mut out = apply_steps(objects);
    if orphans.is_empty() {
        return out;
    }
    let waves: Vec<i64> = orphans.iter().map(|o| wave(o)).collect();
    let mut unique = waves.clone();
    unique.sort_unstable();
    unique.dedup();
    let mirrored = |w: i64| {
        let i = unique.binary_search(&w).unwrap_or_default();
        unique[unique.len() - 1 - i]
    };
    let last = objects
        .iter()
        .map(wave)
        .chain(waves.iter().copied())
        .max()
        .unwrap_or(0)
        .max(0)
        + 1;
    let mut keyed: Vec<(i64, std::cmp::Reverse<usize>, &str, usize)> = orphans
        .iter()
        .enumerate()
        .map(|(i, o)| {
            let w = if prune_last_all || prune_last(o) {
                last
            } else {
                mirrored(waves[i])
            };
            (
                w,
                std::cmp::Reverse(kind_rank(o["kind"].as_str().unwrap_or_default())),
                o["metadata"]["name"].as_str().unwrap_or_default(),
                i,
            )
        })
        .collect();
    keyed.sort();
    for (w, _, _, i) in keyed {
        match out.iter_mut().find(|s| s.wave == w) {
            Some(s) => s.prunes.push(i),
            None => out.push(Step {
                wave: w,
                foundation: false,
                items: Vec::new(),
                prunes: vec![i],
            }),
        }
    }
    out.sort_by_key(|s| (s.wave, !s.foundation));
    out
}

/// The apply steps of `objects`: foundations in a step of their own first, then by wave.
fn apply_steps(objects: &[Value]) -> Vec<Step> {
    let min_wave = objects.iter().map(wave).min().unwrap_or(0);
    let mut keyed: Vec<(i64, bool, usize, String, usize)> = objects
        .iter()
        .enumerate()
        .map(|(i, o)| {
            let foundation = is_foundation(o);
            let w = if foundation {
                min_wave.min(wave(o))
            } else {
                wave(o)
            };
            (
                w,
                !foundation,
                kind_rank(o["kind"].as_str().unwrap_or_default()),
                o["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                i,
            )
        })
        .collect();
    keyed.sort();
    let mut out: Vec<Step> = Vec::new();
    for (w, later, _, _, i) in keyed {
        match out.last_mut() {
            Some(s) if s.wave == w && s.foundation != later => s.items.push(i),
            _ => out.push(Step {
                wave: w,
                foundation: !later,
                items: vec![i],
                prunes: Vec::new(),
            }),
        }
    }
    out
}

/// Whether a comma-separated options list holds `name=value` (case-insensitive, spaces ignored).
pub fn has_option<'a>(options: impl IntoIterator<Item = &'a str>, name: &str, value: &str) -> bool {
    options.into_iter().flat_map(|o| o.split(',')).any(|o| {
        let (k, v) = o.split_once('=').unwrap_or((o, ""));
        k.trim().eq_ignore_ascii_case(name) && v.trim().eq_ignore_ascii_case(value)
    })
}

/// The resource's own sync options annotation.
pub fn resource_options(obj: &Value) -> Vec<&str> {
    annotation(obj, &OPTIONS_ANNOTATIONS).into_iter().collect()
}

/// The Application's sync options that change how a sync runs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncOptions {
    /// `CreateNamespace=true`.
    pub create_namespace: bool,
    /// `PruneLast=true`: every prune in an implicit wave after the last.
    pub prune_last: bool,
    /// `ServerSideApply=true` with `Force=true`, or `ForceConflicts=true`: take fields other
    /// managers own.
    pub force_conflicts: bool,
    /// `ApplyOutOfSyncOnly=true`.
    pub apply_out_of_sync_only: bool,
    /// `PrunePropagationPolicy=foreground|background|orphan` (default foreground).
    pub prune_propagation: String,
    /// `RespectIgnoreDifferences=true`: a sync keeps the live values of the ignored fields.
    pub respect_ignore_differences: bool,
}

impl SyncOptions {
    pub fn parse(options: &[String]) -> SyncOptions {
        let opts = || options.iter().map(String::as_str);
        let propagation = opts()
            .flat_map(|o| o.split(','))
            .filter_map(|o| o.split_once('='))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("PrunePropagationPolicy"))
            .map(|(_, v)| v.trim().to_ascii_lowercase())
            .filter(|v| ["foreground", "background", "orphan"].contains(&v.as_str()))
            .unwrap_or_else(|| "foreground".into());
        SyncOptions {
            create_namespace: has_option(opts(), "CreateNamespace", "true"),
            prune_last: has_option(opts(), "PruneLast", "true"),
            force_conflicts: has_option(opts(), "ForceConflicts", "true")
                || (has_option(opts(), "ServerSideApply", "true")
                    && has_option(opts(), "Force", "true")),
            apply_out_of_sync_only: has_option(opts(), "ApplyOutOfSyncOnly", "true"),
            respect_ignore_differences: has_option(opts(), "RespectIgnoreDifferences", "true"),
            prune_propagation: propagation,
        }
    }
}

/// Whether a live object may be pruned (`Prune=false` on it forbids it).
pub fn may_prune(obj: &Value) -> bool {
    !has_option(resource_options(obj), "Prune", "false")
}

/// Whether the resource asks to be pruned last (`PruneLast=true` on it).
pub fn prune_last(obj: &Value) -> bool {
    has_option(resource_options(obj), "PruneLast", "true")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(kind: &str, name: &str, wave: Option<&str>) -> Value {
        let api = match kind {
            "Deployment" => "apps/v1",
            "CustomResourceDefinition" => "apiextensions.k8s.io/v1",
            "Widget" => "example.com/v1",
            _ => "v1",
        };
        let mut o = json!({"apiVersion": api, "kind": kind, "metadata": {"name": name}});
        if let Some(w) = wave {
            o["metadata"]["annotations"] = json!({"argocd.argoproj.io/sync-wave": w});
        }
        o
    }

    #[test]
    fn foundations_then_waves_then_kinds() {
        let objects = vec![
            obj("Deployment", "web", None),
            obj("Widget", "w", Some("-1")),
            obj("ConfigMap", "cfg", None),
            obj("Namespace", "shop", Some("5")),
            obj("CustomResourceDefinition", "widgets.example.com", None),
            obj("Service", "web", Some("1")),
            obj("ConfigMap", "a-cfg", Some("oops")),
        ];
        let steps = steps(&objects, &[], false);
        let names: Vec<(i64, Vec<&str>)> = steps
            .iter()
            .map(|s| {
                (
                    s.wave,
                    s.items
                        .iter()
                        .map(|i| objects[*i]["metadata"]["name"].as_str().unwrap())
                        .collect(),
                )
            })
            .collect();
        assert_eq!(
            names,
            [
                (-1, vec!["shop", "widgets.example.com"]),
                (-1, vec!["w"]),
                (0, vec!["a-cfg", "cfg", "web"]),
                (1, vec!["web"])
            ]
        );
        assert!(steps.iter().all(|s| s.prunes.is_empty()));
    }

    /// (wave, prunes, applies) of each step, by name.
    fn plan(
        objects: &[Value],
        orphans: &[Value],
        last: bool,
    ) -> Vec<(i64, Vec<String>, Vec<String>)> {
        let name = |o: &Value| o["metadata"]["name"].as_str().unwrap().to_string();
        steps(objects, &orphans.iter().collect::<Vec<_>>(), last)
            .into_iter()
            .map(|s| {
                (
                    s.wave,
                    s.prunes.iter().map(|i| name(&orphans[*i])).collect(),
                    s.items.iter().map(|i| name(&objects[*i])).collect(),
                )
            })
            .collect()
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn prunes_mirror_their_waves_and_run_before_the_applies_of_a_wave() {
        let objects = vec![
            obj("ConfigMap", "keep", None),
            obj("ConfigMap", "new-1", Some("1")),
            obj("ConfigMap", "new-3", Some("3")),
        ];
        let orphans = vec![
            obj("ConfigMap", "old-1", Some("1")),
            obj("Deployment", "old-3", Some("3")),
            obj("ConfigMap", "old-3b", Some("3")),
        ];
        // Prune waves {1, 3} mirror: what was created last (wave 3) goes first (in wave 1).
        assert_eq!(
            plan(&objects, &orphans, false),
            [
                (0, vec![], strings(&["keep"])),
                (1, strings(&["old-3", "old-3b"]), strings(&["new-1"])),
                (3, strings(&["old-1"]), strings(&["new-3"])),
            ]
        );
        // A prune wave without applies is a step of its own.
        let only = vec![obj("ConfigMap", "gone", Some("7"))];
        assert_eq!(
            plan(&objects, &only, false),
            [
                (0, vec![], strings(&["keep"])),
                (1, vec![], strings(&["new-1"])),
                (3, vec![], strings(&["new-3"])),
                (7, strings(&["gone"]), vec![]),
            ]
        );
    }

    #[test]
    fn prune_last_goes_after_every_wave() {
        let objects = vec![
            obj("ConfigMap", "new-1", Some("1")),
            obj("ConfigMap", "new-3", Some("3")),
        ];
        let mut last = obj("ConfigMap", "old-3", Some("3"));
        last["metadata"]["annotations"]["argocd.argoproj.io/sync-options"] =
            json!("PruneLast=true");
        let orphans = vec![obj("ConfigMap", "old-1", Some("1")), last];
        // Per resource: old-3 leaves the mirror (old-1 lands in wave 3), and goes last.
        assert_eq!(
            plan(&objects, &orphans, false),
            [
                (1, vec![], strings(&["new-1"])),
                (3, strings(&["old-1"]), strings(&["new-3"])),
                (4, strings(&["old-3"]), vec![]),
            ]
        );
        // The Application's option: every prune after the last wave (never below wave 1).
        assert_eq!(
            plan(&objects, &orphans, true)[2],
            (4, strings(&["old-1", "old-3"]), vec![])
        );
        let negative = vec![obj("ConfigMap", "a", Some("-5"))];
        assert_eq!(
            plan(&negative, &[obj("ConfigMap", "b", Some("-3"))], true),
            [(-5, vec![], strings(&["a"])), (1, strings(&["b"]), vec![])]
        );
    }

    #[test]
    fn options() {
        let o = SyncOptions::parse(&[
            "CreateNamespace=true".into(),
            "PruneLast=true, PrunePropagationPolicy=Background".into(),
        ]);
        assert!(o.create_namespace && o.prune_last && !o.force_conflicts);
        assert_eq!(o.prune_propagation, "background");
        assert!(SyncOptions::parse(&["ServerSideApply=true,Force=true".into()]).force_conflicts);
        assert_eq!(SyncOptions::parse(&[]).prune_propagation, "foreground");
        let keep = json!({"metadata": {"annotations": {"argocd.argoproj.io/sync-options": "Prune=false"}}});
        assert!(!may_prune(&keep));
        assert!(may_prune(&json!({"metadata": {}})));
        assert!(prune_last(
            &json!({"metadata": {"annotations": {"flotilla.dev/sync-options": "PruneLast=true"}}})
        ));
    }
}
