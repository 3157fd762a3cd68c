//! The controllers a real cluster runs, reduced to what a GitOps hub observes: garbage
//! collection by ownerReferences, namespace deletion, CRD establishment and cleanup,
//! service-account token Secrets, the per-namespace defaults, and kwok-like workload status.
//!
//! One task per virtual cluster follows the store's change feed and keeps indexes of uids and
//! owners, so no change needs a scan of the cluster.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::broadcast;

use super::cluster::VirtualCluster;
use super::delete::{DeleteOptions, FOREGROUND_FINALIZER, ORPHAN_FINALIZER, Propagation};
use super::error::ApiError;
use super::object;
use super::prepare::{self, CRD_FINALIZER, NAMESPACE_FINALIZER};
use super::resource::{ResourceType, StorageKey};
use super::store::{Change, Event, EventType};
use super::tokens;
use super::workload::{self, Outcome};
use super::write::WriteOptions;

/// An object's address.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjRef {
    pub key: StorageKey,
    pub namespace: String,
    pub name: String,
}

impl ObjRef {
    fn of(key: &StorageKey, obj: &Value) -> Self {
        Self {
            key: key.clone(),
            namespace: object::namespace(obj).to_string(),
            name: object::name(obj).to_string(),
        }
    }
}

const CONTROLLER_MANAGER: &str = "kube-controller-manager";

fn key(group: &str, plural: &str) -> StorageKey {
    StorageKey {
        group: group.into(),
        plural: plural.into(),
    }
}

#[derive(Default)]
struct State {
    uids: HashMap<String, ObjRef>,
    dependents: HashMap<String, HashSet<ObjRef>>,
    /// Workloads: (uid, generation) and when it was first seen.
    seen: HashMap<ObjRef, (String, i64, Instant)>,
    timers: BTreeMap<Instant, HashSet<ObjRef>>,
}

impl State {
    fn index(&mut self, key: &StorageKey, e: &Event) {
        let r = ObjRef::of(key, &e.object);
        if let Some(prev) = &e.prev {
            for owner in object::owner_uids(prev) {
                if let Some(set) = self.dependents.get_mut(owner) {
                    set.remove(&r);
                    if set.is_empty() {
                        self.dependents.remove(owner);
                    }
                }
            }
        }
        if e.kind == EventType::Deleted {
            self.uids.remove(object::uid(&e.object));
            self.seen.remove(&r);
            return;
        }
        self.uids
            .insert(object::uid(&e.object).to_string(), r.clone());
        for owner in object::owner_uids(&e.object) {
            self.dependents
                .entry(owner.to_string())
                .or_default()
                .insert(r.clone());
        }
    }

    fn schedule(&mut self, at: Instant, r: ObjRef) {
        self.timers.entry(at).or_default().insert(r);
    }
}

/// Starts the controllers of a cluster.
pub fn spawn(cluster: Arc<VirtualCluster>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(run(cluster))
}

async fn run(cluster: Arc<VirtualCluster>) {
    let mut feed = cluster.store.feed();
    let mut state = State::default();
    resync(&cluster, &mut state);
    loop {
        let next = state.timers.keys().next().copied();
        tokio::select! {
            e = feed.recv() => match e {
                Ok(e) => on_event(&cluster, &mut state, &e.decode()),
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    feed = cluster.store.feed();
                    resync(&cluster, &mut state);
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
            _ = sleep_until(next) => {
                let now = Instant::now();
                let due: Vec<Instant> = state.timers.range(..=now).map(|(t, _)| *t).collect();
                let mut refs = HashSet::new();
                for t in due {
                    if let Some(set) = state.timers.remove(&t) {
                        refs.extend(set);
                    }
                }
                for r in refs {
                    if let Some(obj) = cluster.store.get(&r.key, &r.namespace, &r.name) {
                        reconcile(&cluster, &mut state, &r.key, &obj);
                    }
                }
            }
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// Rebuilds the indexes and reconciles everything (at start and after falling behind).
fn resync(cluster: &VirtualCluster, state: &mut State) {
    *state = State {
        seen: std::mem::take(&mut state.seen),
        ..State::default()
    };
    let all = cluster.store.all();
    for (k, obj) in &all {
        let e = Event {
            kind: EventType::Added,
            key: k.clone(),
            object: obj.clone(),
            prev: None,
            rv: 0,
        };
        state.index(k, &e);
    }
    for (k, obj) in &all {
        reconcile(cluster, state, k, obj);
    }
}

fn on_event(cluster: &VirtualCluster, state: &mut State, e: &Event) {
    state.index(&e.key, e);
    if e.kind == EventType::Deleted {
        collect_dependents(cluster, state, object::uid(&e.object));
        // A namespace waiting for its content may now be empty.
        let ns = object::namespace(&e.object);
        if !ns.is_empty()
            && let Some(n) = cluster.store.get(&key("", "namespaces"), "", ns)
            && object::is_deleting(&n)
        {
            reconcile(cluster, state, &key("", "namespaces"), &n);
        }
        // An owner waiting in the foreground for this dependent.
        for owner in object::owner_uids(&e.object) {
            if let Some(r) = state.uids.get(owner).cloned()
                && let Some(o) = cluster.store.get(&r.key, &r.namespace, &r.name)
            {
                reconcile(cluster, state, &r.key, &o);
            }
        }
        if e.key == key("apiextensions.k8s.io", "customresourcedefinitions") {
            cluster.refresh_types();
        }
        return;
    }
    reconcile(cluster, state, &e.key, &e.object);
}

fn reconcile(cluster: &VirtualCluster, state: &mut State, k: &StorageKey, obj: &Arc<Value>) {
    let Some(rt) = cluster.type_of_key(k) else {
        return;
    };
    if object::is_deleting(obj) {
        finalize(cluster, state, &rt, obj);
        return;
    }
    // Dangling owners: a dependent whose owners are all gone is collected.
    let owners = object::owner_uids(obj);
    if !owners.is_empty() && owners.iter().all(|u| !state.uids.contains_key(*u)) {
        let _ = cluster.delete(
            &rt,
            object::namespace(obj),
            object::name(obj),
            &DeleteOptions::default(),
        );
        return;
    }
    let builtin = rt.crd.is_none();
    match (builtin, rt.group.as_str(), rt.plural.as_str()) {
        (true, "", "namespaces") => namespace_defaults(cluster, obj),
        (true, "", "secrets") => {
            if let Some(filled) = tokens::fill_secret(cluster, obj) {
                let _ = cluster.update(
                    &rt,
                    Some(object::namespace(obj)),
                    object::name(obj),
                    filled,
                    None,
                    &manager(),
                );
            }
        }
        (true, "apiextensions.k8s.io", "customresourcedefinitions") => establish(cluster, &rt, obj),
        (true, _, _) => workload_status(cluster, state, &rt, k, obj),
        _ => {}
    }
}

fn manager() -> WriteOptions {
    WriteOptions {
        manager: CONTROLLER_MANAGER.into(),
        explicit_manager: true,
        ..Default::default()
    }
}

/// Every namespace gets the `default` ServiceAccount and the `kube-root-ca.crt` ConfigMap.
fn namespace_defaults(cluster: &VirtualCluster, ns: &Value) {
    let name = object::name(ns);
    if cluster
        .store
        .get(&key("", "serviceaccounts"), name, "default")
        .is_none()
        && let Some(rt) = cluster.find_type("", "v1", "serviceaccounts")
    {
        let _ = cluster.create(
            &rt,
            Some(name),
            json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}}),
            &manager(),
        );
    }
    if cluster
        .store
        .get(&key("", "configmaps"), name, "kube-root-ca.crt")
        .is_none()
        && let Some(rt) = cluster.find_type("", "v1", "configmaps")
    {
        let cm = json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "kube-root-ca.crt", "annotations": {"kubernetes.io/description": "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters."}},
            "data": {"ca.crt": cluster.ca_pem},
        });
        let _ = cluster.create(&rt, Some(name), cm, &manager());
    }
}

/// A CRD is accepted and established at once; its types are served from its creation.
fn establish(cluster: &VirtualCluster, rt: &ResourceType, crd: &Value) {
    if crd
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|c| {
            c.iter()
                .any(|c| c["type"] == "Established" && c["status"] == "True")
        })
        && crd.pointer("/status/acceptedNames") == crd.pointer("/spec/names")
    {
        return;
    }
    let now = object::now_rfc3339();
    let mut new = crd.clone();
    let stored = crd
        .pointer("/status/storedVersions")
        .cloned()
        .unwrap_or(json!([]));
    new["status"] = json!({
        "acceptedNames": crd["spec"]["names"],
        "conditions": [
            {"type": "NamesAccepted", "status": "True", "lastTransitionTime": now, "reason": "NoConflicts", "message": "no conflicts found"},
            {"type": "Established", "status": "True", "lastTransitionTime": now, "reason": "InitialNamesAccepted", "message": "the initial names have been accepted"},
        ],
        "storedVersions": stored,
    });
    let _ = cluster.update(rt, None, object::name(crd), new, Some("status"), &manager());
    cluster.refresh_types();
}

/// Removes `finalizer` from the stored object (if still there).
fn drop_finalizer(cluster: &VirtualCluster, rt: &ResourceType, obj: &Value, finalizer: &str) {
    let mut new = obj.clone();
    prepare::remove_finalizer(&mut new, finalizer);
    let _ = cluster.update(
        rt,
        Some(object::namespace(obj)),
        object::name(obj),
        new,
        None,
        &manager(),
    );
}

/// Work for an object being deleted: the finalizers the system owns.
fn finalize(cluster: &VirtualCluster, state: &mut State, rt: &ResourceType, obj: &Arc<Value>) {
    let finalizers = object::finalizers(obj);
    let uid = object::uid(obj).to_string();
    let builtin = rt.crd.is_none();
    if builtin && rt.plural == "namespaces" {
        clean_namespace(cluster, state, obj);
        // The garbage collector's own finalizers (a namespace deleted in the foreground or with
        // orphaning) are handled below as for any object; the namespace still waits for its
        // content (its spec.finalizers) before it goes.
    }
    if builtin
        && rt.plural == "customresourcedefinitions"
        && finalizers.iter().any(|f| f == CRD_FINALIZER)
    {
        let group = obj["spec"]["group"].as_str().unwrap_or_default();
        let plural = obj["spec"]["names"]["plural"].as_str().unwrap_or_default();
        cluster.store.drop_resource(&key(group, plural));
        drop_finalizer(cluster, rt, obj, CRD_FINALIZER);
        return;
    }
    if finalizers.iter().any(|f| f == ORPHAN_FINALIZER) {
        for dep in state.dependents.get(&uid).cloned().unwrap_or_default() {
            orphan(cluster, &dep, &uid);
        }
        drop_finalizer(cluster, rt, obj, ORPHAN_FINALIZER);
        return;
    }
    if finalizers.iter().any(|f| f == FOREGROUND_FINALIZER) {
        // Every dependent is deleted (in the foreground if it has dependents of its own), but the
        // owner waits only for those whose reference has blockOwnerDeletion
        // (garbagecollector.go: attemptToDeleteItem, processDeletingDependentsItem).
        let mut blocked = false;
        for dep in state.dependents.get(&uid).cloned().unwrap_or_default() {
            let Some(d) = cluster.store.get(&dep.key, &dep.namespace, &dep.name) else {
                continue;
            };
            blocked |= blocks_owner_deletion(&d, &uid);
            if object::is_deleting(&d) {
                continue;
            }
            let propagation = if state.dependents.contains_key(object::uid(&d)) {
                Propagation::Foreground
            } else {
                Propagation::Background
            };
            if let Some(drt) = cluster.type_of_key(&dep.key) {
                let _ = cluster.delete(
                    &drt,
                    &dep.namespace,
                    &dep.name,
                    &DeleteOptions {
                        propagation,
                        ..Default::default()
                    },
                );
            }
        }
        if !blocked {
            drop_finalizer(cluster, rt, obj, FOREGROUND_FINALIZER);
        }
    }
}

/// Whether `dep`'s reference to `owner_uid` holds a foreground deletion of the owner.
fn blocks_owner_deletion(dep: &Value, owner_uid: &str) -> bool {
    dep.pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .is_some_and(|refs| {
            refs.iter().any(|r| {
                r["uid"].as_str() == Some(owner_uid)
                    && r["blockOwnerDeletion"].as_bool() == Some(true)
            })
        })
}

/// Removes the owner reference to `owner_uid` from a dependent.
fn orphan(cluster: &VirtualCluster, dep: &ObjRef, owner_uid: &str) {
    let Some(rt) = cluster.type_of_key(&dep.key) else {
        return;
    };
    let Some(obj) = cluster.store.get(&dep.key, &dep.namespace, &dep.name) else {
        return;
    };
    let mut new = (*obj).clone();
    if let Some(refs) = new
        .pointer_mut("/metadata/ownerReferences")
        .and_then(Value::as_array_mut)
    {
        refs.retain(|r| r["uid"].as_str() != Some(owner_uid));
        if refs.is_empty() {
            object::meta_mut(&mut new).remove("ownerReferences");
        }
    }
    let _ = cluster.update(&rt, Some(&dep.namespace), &dep.name, new, None, &manager());
}

/// Background collection of the dependents of a removed owner.
fn collect_dependents(cluster: &VirtualCluster, state: &mut State, owner_uid: &str) {
    let Some(deps) = state.dependents.remove(owner_uid) else {
        return;
    };
    for dep in deps {
        let Some(obj) = cluster.store.get(&dep.key, &dep.namespace, &dep.name) else {
            continue;
        };
        let live_owners = object::owner_uids(&obj)
            .into_iter()
            .filter(|u| *u != owner_uid && state.uids.contains_key(*u))
            .count();
        if live_owners > 0 {
            orphan(cluster, &dep, owner_uid);
        } else if let Some(rt) = cluster.type_of_key(&dep.key) {
            let _ = cluster.delete(&rt, &dep.namespace, &dep.name, &DeleteOptions::default());
        }
    }
}

/// Deletes everything in a terminating namespace, then finalizes it.
fn clean_namespace(cluster: &VirtualCluster, state: &mut State, ns: &Arc<Value>) {
    let name = object::name(ns).to_string();
    let mut remaining = 0;
    for rt in cluster
        .types()
        .iter()
        .filter(|t| t.namespaced && t.preferred && !t.create_only)
    {
        let (objs, _) = cluster.store.list(&rt.storage_key(), Some(&name), None);
        for o in objs {
            remaining += 1;
            if !object::is_deleting(&o) {
                let _ = cluster.delete(rt, &name, object::name(&o), &DeleteOptions::default());
            }
        }
    }
    let spec_finalizers = ns
        .pointer("/spec/finalizers")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty());
    if remaining == 0 && spec_finalizers {
        let mut body = (**ns).clone();
        body["spec"]["finalizers"] = json!([]);
        let _ = finalize_namespace(cluster, &name, &body, false);
    } else if remaining > 0 {
        // Objects held by finalizers: look again shortly.
        state.schedule(
            Instant::now() + Duration::from_millis(500),
            ObjRef::of(&key("", "namespaces"), ns),
        );
    }
}

/// PUT namespaces/<name>/finalize: sets spec.finalizers; a terminating namespace without
/// finalizers is removed.
pub fn finalize_namespace(
    cluster: &VirtualCluster,
    name: &str,
    body: &Value,
    dry_run: bool,
) -> Result<Arc<Value>, ApiError> {
    let rt = cluster
        .find_type("", "v1", "namespaces")
        .ok_or_else(ApiError::path_not_found)?;
    let finalizers = body
        .pointer("/spec/finalizers")
        .cloned()
        .unwrap_or(json!([]));
    let written = cluster
        .store
        .write(&key("", "namespaces"), "", name, |cur| {
            let cur = cur.ok_or_else(|| ApiError::not_found(&rt, name))?;
            let mut new = (**cur).clone();
            new["spec"]["finalizers"] = finalizers;
            if prepare::is_noop(cur, &new) || dry_run {
                return Ok(Change::Keep);
            }
            let empty = new["spec"]["finalizers"]
                .as_array()
                .is_none_or(Vec::is_empty);
            if object::is_deleting(&new) && empty && object::finalizers(&new).is_empty() {
                return Ok(Change::Remove(new));
            }
            Ok(Change::Put(new))
        })?;
    let _ = NAMESPACE_FINALIZER;
    Ok(written.object().clone())
}

/// kwok-like status for workloads.
fn workload_status(
    cluster: &VirtualCluster,
    state: &mut State,
    rt: &ResourceType,
    k: &StorageKey,
    obj: &Arc<Value>,
) {
    if !matches!(
        rt.plural.as_str(),
        "deployments"
            | "statefulsets"
            | "daemonsets"
            | "replicasets"
            | "jobs"
            | "pods"
            | "services"
            | "ingresses"
            | "persistentvolumeclaims"
            | "horizontalpodautoscalers"
            | "poddisruptionbudgets"
    ) {
        return;
    }
    let r = ObjRef::of(k, obj);
    let uid = object::uid(obj).to_string();
    let generation = obj
        .pointer("/metadata/generation")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let now = Instant::now();
    let first = match state.seen.get(&r) {
        Some((u, g, t)) if *u == uid && *g == generation => *t,
        _ => {
            state.seen.insert(r.clone(), (uid, generation, now));
            now
        }
    };
    let outcome = workload::reconcile(
        &rt.group,
        &rt.kind,
        obj,
        now - first,
        &object::now_rfc3339(),
        &cluster.settings.workload,
    );
    let ns = object::namespace(obj).to_string();
    let name = object::name(obj).to_string();
    match outcome {
        Outcome::Unchanged => {}
        Outcome::Status {
            status,
            recheck_after,
        } => {
            let mut new = (**obj).clone();
            new["status"] = status;
            let _ = cluster.update(rt, Some(&ns), &name, new, status_sub(rt), &manager());
            if let Some(after) = recheck_after {
                state.schedule(now + after, r);
            }
        }
        Outcome::SpecAndStatus { spec_patch, status } if is_pod(rt) => {
            // The scheduler binds through pods/binding, which writes spec.nodeName straight to
            // storage: no generation, no managed fields.
            let node = spec_patch["nodeName"].as_str().unwrap_or_default();
            if let Ok(bound) = bind_pod(cluster, rt, &ns, &name, node, &object::now_rfc3339()) {
                let mut with_status = (*bound).clone();
                with_status["status"] = status;
                let _ = cluster.update(
                    rt,
                    Some(&ns),
                    &name,
                    with_status,
                    status_sub(rt),
                    &manager(),
                );
            }
        }
        Outcome::SpecAndStatus { spec_patch, status } => {
            let mut new = (**obj).clone();
            new["spec"] = super::patch::merge_patch(&new["spec"], &spec_patch);
            if let Ok((updated, _)) = cluster.update(rt, Some(&ns), &name, new, None, &manager()) {
                let mut with_status = (*updated).clone();
                with_status["status"] = status;
                let _ = cluster.update(
                    rt,
                    Some(&ns),
                    &name,
                    with_status,
                    status_sub(rt),
                    &manager(),
                );
            }
        }
    }
}

fn is_pod(rt: &ResourceType) -> bool {
    rt.crd.is_none() && rt.group.is_empty() && rt.plural == "pods"
}

/// What `POST pods/<name>/binding` does (`BindingREST.setPodNodeAndMetadata`): sets
/// spec.nodeName and the PodScheduled condition in one storage update, past the pod strategy,
/// so neither the generation nor managedFields move.
pub fn bind_pod(
    cluster: &VirtualCluster,
    rt: &ResourceType,
    ns: &str,
    name: &str,
    node: &str,
    now: &str,
) -> Result<Arc<Value>, ApiError> {
    let written = cluster
        .store
        .write(&rt.storage_key(), ns, name, |cur| {
            let cur = cur.ok_or_else(|| ApiError::not_found(rt, name))?;
            let conflict = |why: String| ApiError::conflict(rt, name, &why);
            if object::is_deleting(cur) {
                return Err(conflict(format!(
                    "pod {name} is being deleted, cannot be assigned to a host"
                )));
            }
            let assigned = cur["spec"]["nodeName"].as_str().unwrap_or_default();
            if !assigned.is_empty() {
                return Err(conflict(format!(
                    "pod {name} is already assigned to node \"{assigned}\""
                )));
            }
            let mut pod = (**cur).clone();
            pod["spec"]["nodeName"] = json!(node);
            if !pod["status"].is_object() {
                pod["status"] = json!({});
            }
            let conditions = pod["status"]
                .as_object_mut()
                .map(|s| s.entry("conditions").or_insert_with(|| json!([])));
            if let Some(Value::Array(list)) = conditions {
                match list.iter_mut().find(|c| c["type"] == "PodScheduled") {
                    Some(c) if c["status"] == "True" => {}
                    Some(c) => {
                        c["status"] = json!("True");
                        c["lastTransitionTime"] = json!(now);
                    }
                    None => list.push(json!({"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": now})),
                }
            }
            Ok(Change::Put(pod))
        })?;
    Ok(written.object().clone())
}

fn status_sub(rt: &ResourceType) -> Option<&'static str> {
    rt.status_subresource.then_some("status")
}

/// What a new virtual cluster starts with: the system namespaces, the bootstrap RBAC
/// objects, the `kubernetes` Service, and each namespace's defaults.
pub fn bootstrap(cluster: &VirtualCluster) {
    let opts = WriteOptions {
        manager: "kube-apiserver".into(),
        explicit_manager: true,
        ..Default::default()
    };
    let types = cluster.types();
    let find = |plural: &str| {
        types
            .iter()
            .find(|t| t.plural == plural && t.crd.is_none())
            .cloned()
    };
    if let Some(rt) = find("namespaces") {
        for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            let _ = cluster.create(
                &rt,
                None,
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
                &opts,
            );
        }
    }
    if let Some(rt) = find("clusterroles") {
        for r in super::rbac::bootstrap_cluster_roles() {
            let _ = cluster.create(&rt, None, r, &opts);
        }
    }
    if let Some(rt) = find("clusterrolebindings") {
        for b in super::rbac::bootstrap_cluster_role_bindings() {
            let _ = cluster.create(&rt, None, b, &opts);
        }
    }
    if let Some(rt) = find("services") {
        // The apiserver's own Service, which its bootstrap controller keeps in `default`.
        let svc = json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "kubernetes", "namespace": "default",
                "labels": {"component": "apiserver", "provider": "kubernetes"}},
            "spec": {"type": "ClusterIP", "clusterIP": KUBERNETES_SERVICE_IP, "sessionAffinity": "None",
                "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}]},
        });
        let _ = cluster.create(&rt, Some("default"), svc, &opts);
    }
    let (namespaces, _) = cluster.store.list(&key("", "namespaces"), None, None);
    for ns in namespaces {
        namespace_defaults(cluster, &ns);
    }
}

/// The first address of the default service CIDR (10.96.0.0/12), which the `kubernetes`
/// Service takes.
pub const KUBERNETES_SERVICE_IP: &str = "10.96.0.1";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_block_owner_deletion_references_hold_a_foreground_deletion() {
        let dep = |block: Option<bool>| {
            let mut r = json!({"apiVersion": "v1", "kind": "ConfigMap", "name": "o", "uid": "u1"});
            if let Some(b) = block {
                r["blockOwnerDeletion"] = json!(b);
            }
            json!({"metadata": {"name": "d", "ownerReferences": [{"uid": "other", "blockOwnerDeletion": true}, r]}})
        };
        assert!(blocks_owner_deletion(&dep(Some(true)), "u1"));
        assert!(!blocks_owner_deletion(&dep(Some(false)), "u1"));
        assert!(!blocks_owner_deletion(&dep(None), "u1"));
        assert!(!blocks_owner_deletion(&dep(Some(true)), "u2"));
    }
}
