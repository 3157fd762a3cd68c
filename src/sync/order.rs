//! The order of a sync, without I/O: Namespaces and CustomResourceDefinitions first (they are
//! what other objects need), then sync waves (`flotilla.dev/sync-wave`, or Argo CD's
//! `argocd.argoproj.io/sync-wave`; default 0, may be negative), and within a wave Argo CD's
//! kind order (kubectl's install order), then name. Pruning runs in reverse wave order.
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

/// One step of a sync: a wave and the indexes of its objects, in apply order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub wave: i64,
    /// Namespaces and CRDs: a step of their own, ready before anything that may need them is
    /// applied (applies within a step run in parallel).
    pub foundation: bool,
    pub items: Vec<usize>,
}

/// The apply steps of `objects`: foundations in a step of their own first, then by wave.
pub fn steps(objects: &[Value]) -> Vec<Step> {
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
            }),
        }
    }
    out
}

/// The order objects are pruned in: highest wave first, reverse kind order within a wave.
pub fn prune_order(objects: &[Value]) -> Vec<usize> {
    let mut keyed: Vec<(i64, usize, usize)> = objects
        .iter()
        .enumerate()
        .map(|(i, o)| {
            (
                wave(o),
                kind_rank(o["kind"].as_str().unwrap_or_default()),
                i,
            )
        })
        .collect();
    keyed.sort();
    keyed.reverse();
    keyed.into_iter().map(|(_, _, i)| i).collect()
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
    /// `PruneLast=true`: prune after the last wave.
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
        let steps = steps(&objects);
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
        let prune: Vec<&str> = prune_order(&objects)
            .iter()
            .map(|i| objects[*i]["kind"].as_str().unwrap())
            .collect();
        assert_eq!(prune[0], "Namespace", "highest wave first");
        assert_eq!(*prune.last().unwrap(), "Widget");
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
