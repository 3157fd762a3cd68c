//! Simulator conformance: deletion. Finalizers, propagation policies and garbage collection,
//! namespace deletion, deletecollection, preconditions and what a DELETE answers, with kube-rs
//! and kubectl.

mod support;

use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch,
    PatchParams, PostParams, Preconditions, WatchEvent, WatchParams,
};
use kube::core::Status;
use serde_json::json;
use support::sim::{eventually, ok, start};

const LIMIT: Duration = Duration::from_secs(10);
const HOLD: &str = "example.com/hold";

fn cm(name: &str, labels: &[(&str, &str)]) -> ConfigMap {
    support::sim::labelled_cm(name, labels)
}

fn held(name: &str) -> ConfigMap {
    let mut c = cm(name, &[]);
    c.metadata.finalizers = Some(vec![HOLD.into()]);
    c
}

/// A ConfigMap owned by `owner`, with `blockOwnerDeletion` if `block`.
fn owned_by(mut c: ConfigMap, owner: &ConfigMap, block: bool) -> ConfigMap {
    c.metadata.owner_references = Some(vec![OwnerReference {
        api_version: "v1".into(),
        kind: "ConfigMap".into(),
        name: owner.metadata.name.clone().unwrap(),
        uid: owner.metadata.uid.clone().unwrap(),
        block_owner_deletion: block.then_some(true),
        controller: None,
    }]);
    c
}

fn api_error(e: kube::Error) -> (u16, String, String) {
    match e {
        kube::Error::Api(s) => (s.code, s.reason.clone(), s.message.clone()),
        other => panic!("expected an API error, got {other:?}"),
    }
}

fn release() -> Patch<serde_json::Value> {
    Patch::Merge(json!({"metadata": {"finalizers": null}}))
}

async fn gone<K>(api: &Api<K>, name: &str, what: &str)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    eventually(LIMIT, what, || async {
        matches!(api.get_opt(name).await, Ok(None)).then_some(())
    })
    .await;
}

fn finalizers(c: &ConfigMap) -> Vec<String> {
    c.metadata.finalizers.clone().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finalizers_hold_a_deleting_object() {
    let env = start(&["dev"]).await;
    let api: Api<ConfigMap> = Api::namespaced(env.client("dev").await, "default");
    let created = api
        .create(&PostParams::default(), &held("f"))
        .await
        .unwrap();
    let mut w = api
        .watch(
            &WatchParams::default().disable_bookmarks(),
            created.metadata.resource_version.as_deref().unwrap(),
        )
        .await
        .unwrap()
        .boxed();

    // The DELETE answers the object, now marked for deletion.
    let deleting = api
        .delete("f", &DeleteParams::default())
        .await
        .unwrap()
        .left()
        .expect("the object, not a Status");
    let ts = deleting
        .metadata
        .deletion_timestamp
        .clone()
        .expect("deletionTimestamp is set");
    assert_eq!(deleting.metadata.deletion_grace_period_seconds, Some(0));
    assert_eq!(finalizers(&deleting), [HOLD]);
    let got = api.get("f").await.unwrap();
    assert_eq!(got.metadata.deletion_timestamp, Some(ts.clone()));

    // It can still be updated, but it can't get new finalizers.
    let updated = api
        .patch(
            "f",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"k": "still here"}})),
        )
        .await
        .unwrap();
    assert_eq!(updated.data.as_ref().unwrap()["k"], "still here");
    assert_eq!(updated.metadata.deletion_timestamp, Some(ts.clone()));
    let more = Patch::Merge(json!({"metadata": {"finalizers": [HOLD, "example.com/more"]}}));
    let (code, reason, message) = api_error(
        api.patch("f", &PatchParams::default(), &more)
            .await
            .unwrap_err(),
    );
    assert_eq!((code, reason.as_str()), (422, "Invalid"));
    assert!(
        message.contains("metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{\"example.com/more\"}"),
        "{message}"
    );
    // Its deletionTimestamp can't be changed, and deleting again changes nothing.
    let mut moved = api.get("f").await.unwrap();
    moved.metadata.deletion_timestamp = None;
    let kept = api
        .replace("f", &PostParams::default(), &moved)
        .await
        .unwrap();
    assert_eq!(kept.metadata.deletion_timestamp, Some(ts.clone()));
    let again = api
        .delete("f", &DeleteParams::default())
        .await
        .unwrap()
        .left()
        .unwrap();
    assert_eq!(
        again.metadata.resource_version,
        kept.metadata.resource_version
    );

    // Removing the last finalizer removes the object.
    let last = api
        .patch("f", &PatchParams::default(), &release())
        .await
        .unwrap();
    assert!(finalizers(&last).is_empty());
    assert!(api.get_opt("f").await.unwrap().is_none());

    // Watchers saw: the deletion mark, the update, then DELETED with the object as stored last.
    let mut seen = Vec::new();
    while seen.len() < 3 {
        match tokio::time::timeout(LIMIT, w.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap()
        {
            WatchEvent::Modified(c) => seen.push(("MODIFIED", c)),
            WatchEvent::Deleted(c) => seen.push(("DELETED", c)),
            other => panic!("unexpected {other:?}"),
        }
    }
    let kinds: Vec<&str> = seen.iter().map(|(k, _)| *k).collect();
    assert_eq!(kinds, ["MODIFIED", "MODIFIED", "DELETED"]);
    assert!(seen[0].1.metadata.deletion_timestamp.is_some());
    let deleted = &seen[2].1;
    assert_eq!(finalizers(deleted), [HOLD]);
    assert_eq!(deleted.data.as_ref().unwrap()["k"], "still here");
    let rv = |c: &ConfigMap| {
        c.metadata
            .resource_version
            .as_deref()
            .unwrap()
            .parse::<u64>()
            .unwrap()
    };
    assert!(rv(deleted) > rv(&kept));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_deletion_collects_dependents() {
    let env = start(&["dev"]).await;
    let api: Api<ConfigMap> = Api::namespaced(env.client("dev").await, "default");
    let owner = api
        .create(&PostParams::default(), &cm("owner", &[]))
        .await
        .unwrap();
    let other = api
        .create(&PostParams::default(), &cm("other-owner", &[]))
        .await
        .unwrap();
    api.create(
        &PostParams::default(),
        &owned_by(cm("dep", &[]), &owner, false),
    )
    .await
    .unwrap();
    // A dependent with a second, living owner stays and only loses the dead reference.
    let mut shared = owned_by(cm("shared", &[]), &owner, false);
    let second = owned_by(cm("x", &[]), &other, false)
        .metadata
        .owner_references
        .unwrap();
    shared
        .metadata
        .owner_references
        .as_mut()
        .unwrap()
        .extend(second);
    api.create(&PostParams::default(), &shared).await.unwrap();

    let status: Status = api
        .delete("owner", &DeleteParams::background())
        .await
        .unwrap()
        .right()
        .expect("a Status for a ConfigMap");
    assert!(status.is_success());
    let details = status.details.unwrap();
    assert_eq!(
        (details.name.as_str(), details.kind.as_str()),
        ("owner", "configmaps")
    );
    assert_eq!(Some(details.uid), owner.metadata.uid.clone());
    assert!(
        api.get_opt("owner").await.unwrap().is_none(),
        "the owner is gone at once"
    );
    gone(&api, "dep", "the dependent to be collected").await;
    eventually(
        LIMIT,
        "the shared dependent to lose its reference to the dead owner",
        || async {
            let s = api.get("shared").await.unwrap();
            let refs = s.metadata.owner_references.unwrap_or_default();
            (refs.len() == 1).then_some(refs)
        },
    )
    .await;
    let refs = api
        .get("shared")
        .await
        .unwrap()
        .metadata
        .owner_references
        .unwrap();
    assert_eq!(refs[0].uid, other.metadata.uid.clone().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreground_deletion_waits_for_blocking_dependents() {
    let env = start(&["dev"]).await;
    let api: Api<ConfigMap> = Api::namespaced(env.client("dev").await, "default");
    let owner = api
        .create(&PostParams::default(), &cm("owner", &[]))
        .await
        .unwrap();
    api.create(
        &PostParams::default(),
        &owned_by(held("blocker"), &owner, true),
    )
    .await
    .unwrap();
    api.create(
        &PostParams::default(),
        &owned_by(cm("plain", &[]), &owner, true),
    )
    .await
    .unwrap();

    let deleting = api
        .delete("owner", &DeleteParams::foreground())
        .await
        .unwrap()
        .left()
        .expect("the owner, waiting");
    assert!(deleting.metadata.deletion_timestamp.is_some());
    assert_eq!(finalizers(&deleting), ["foregroundDeletion"]);
    gone(&api, "plain", "the plain dependent to be deleted").await;
    eventually(LIMIT, "the held dependent to be deleting", || async {
        let b = api.get("blocker").await.unwrap();
        (b.metadata.deletion_timestamp.is_some() && finalizers(&b) == [HOLD]).then_some(())
    })
    .await;
    let waiting = api
        .get("owner")
        .await
        .expect("the owner waits for its blocking dependent");
    assert_eq!(finalizers(&waiting), ["foregroundDeletion"]);
    api.patch("blocker", &PatchParams::default(), &release())
        .await
        .unwrap();
    gone(&api, "owner", "the owner to go after its dependents").await;

    // A dependent without blockOwnerDeletion is deleted but doesn't hold the owner.
    let owner = api
        .create(&PostParams::default(), &cm("owner2", &[]))
        .await
        .unwrap();
    api.create(
        &PostParams::default(),
        &owned_by(held("loose"), &owner, false),
    )
    .await
    .unwrap();
    api.delete("owner2", &DeleteParams::foreground())
        .await
        .unwrap();
    gone(
        &api,
        "owner2",
        "the owner with a non-blocking dependent to go",
    )
    .await;
    let loose = api.get("loose").await.unwrap();
    assert!(
        loose.metadata.deletion_timestamp.is_some(),
        "the dependent is being deleted too"
    );
    api.patch("loose", &PatchParams::default(), &release())
        .await
        .unwrap();
    gone(&api, "loose", "the released dependent to go").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orphan_deletion_keeps_dependents() {
    let env = start(&["dev"]).await;
    let api: Api<ConfigMap> = Api::namespaced(env.client("dev").await, "default");
    let owner = api
        .create(&PostParams::default(), &cm("owner", &[]))
        .await
        .unwrap();
    api.create(
        &PostParams::default(),
        &owned_by(cm("dep", &[]), &owner, true),
    )
    .await
    .unwrap();
    let deleting = api
        .delete("owner", &DeleteParams::orphan())
        .await
        .unwrap()
        .left()
        .expect("the owner, waiting");
    assert_eq!(finalizers(&deleting), ["orphan"]);
    gone(&api, "owner", "the owner to be deleted").await;
    let dep = eventually(
        LIMIT,
        "the dependent to lose its owner reference",
        || async {
            let d = api.get("dep").await.unwrap();
            d.metadata.owner_references.is_none().then_some(d)
        },
    )
    .await;
    assert!(dep.metadata.deletion_timestamp.is_none());
    // And it stays: once the collector has dealt with a later change, it is still there.
    let mut ghost = cm("ghost", &[]);
    ghost.metadata.uid = Some("9a3c9f0e-0000-4000-8000-000000000001".into());
    api.create(
        &PostParams::default(),
        &owned_by(cm("probe", &[]), &ghost, false),
    )
    .await
    .unwrap();
    gone(
        &api,
        "probe",
        "a later dependent of a missing owner to be collected",
    )
    .await;
    assert!(api.get_opt("dep").await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dependent_of_a_missing_owner_is_collected() {
    let env = start(&["dev"]).await;
    let api: Api<ConfigMap> = Api::namespaced(env.client("dev").await, "default");
    let mut ghost = cm("ghost", &[]);
    ghost.metadata.uid = Some("9a3c9f0e-0000-4000-8000-000000000000".into());
    api.create(
        &PostParams::default(),
        &owned_by(cm("orphaned", &[]), &ghost, false),
    )
    .await
    .unwrap();
    // An owner of that name whose uid differs does not count.
    let real = api
        .create(&PostParams::default(), &cm("ghost", &[]))
        .await
        .unwrap();
    assert_ne!(real.metadata.uid, ghost.metadata.uid);
    gone(
        &api,
        "orphaned",
        "the dependent of a missing owner to be collected",
    )
    .await;
    // A dependent of a living owner stays.
    let kept = api
        .create(
            &PostParams::default(),
            &owned_by(cm("kept", &[]), &real, false),
        )
        .await
        .unwrap();
    api.create(
        &PostParams::default(),
        &owned_by(cm("orphaned2", &[]), &ghost, false),
    )
    .await
    .unwrap();
    gone(
        &api,
        "orphaned2",
        "another dependent of a missing owner to be collected",
    )
    .await;
    assert_eq!(
        api.get("kept").await.unwrap().metadata.uid,
        kept.metadata.uid
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_namespace_removes_its_contents() {
    let env = start(&["dev"]).await;
    let client = env.client("dev").await;
    let manifest = r#"
apiVersion: v1
kind: Namespace
metadata:
  name: doomed
---
apiVersion: v1
kind: ConfigMap
metadata: {name: plain, namespace: doomed}
data: {k: v}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: held, namespace: doomed, finalizers: [example.com/hold]}
data: {k: v}
"#;
    ok(&env
        .kubectl_stdin("dev", &["apply", "-f", "-"], Some(manifest))
        .await);
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "doomed");
    let out = ok(&env
        .kubectl("dev", &["delete", "namespace", "doomed", "--wait=false"])
        .await);
    assert!(out.contains("namespace \"doomed\" deleted"), "{out}");

    let ns = namespaces.get("doomed").await.unwrap();
    assert!(ns.metadata.deletion_timestamp.is_some());
    assert_eq!(ns.status.unwrap().phase.as_deref(), Some("Terminating"));
    assert_eq!(
        ns.spec.unwrap().finalizers,
        Some(vec!["kubernetes".to_string()])
    );
    let (code, reason, message) = api_error(
        cms.create(&PostParams::default(), &cm("late", &[]))
            .await
            .unwrap_err(),
    );
    assert_eq!((code, reason.as_str()), (403, "Forbidden"));
    assert_eq!(
        message,
        "configmaps \"late\" is forbidden: unable to create new content in namespace doomed because it is being terminated"
    );
    gone(&cms, "plain", "the namespace's plain ConfigMap to go").await;
    gone(
        &cms,
        "kube-root-ca.crt",
        "the namespace's CA ConfigMap to go",
    )
    .await;
    let held = cms.get("held").await.unwrap();
    assert!(held.metadata.deletion_timestamp.is_some());
    assert!(
        namespaces.get_opt("doomed").await.unwrap().is_some(),
        "the namespace waits for its contents"
    );
    let table = ok(&env.kubectl("dev", &["get", "namespace", "doomed"]).await);
    assert!(
        table
            .lines()
            .nth(1)
            .is_some_and(|l| l.split_whitespace().nth(1) == Some("Terminating")),
        "{table}"
    );
    cms.patch("held", &PatchParams::default(), &release())
        .await
        .unwrap();
    gone(&namespaces, "doomed", "the namespace to go once empty").await;

    // kubectl delete waits until the namespace is gone.
    ok(&env
        .kubectl_stdin(
            "dev",
            &["apply", "-f", "-"],
            Some(
                &manifest
                    .replace("doomed", "quick")
                    .replace(", finalizers: [example.com/hold]", ""),
            ),
        )
        .await);
    let out = ok(&env.kubectl("dev", &["delete", "namespace", "quick"]).await);
    assert!(out.contains("namespace \"quick\" deleted"), "{out}");
    assert!(
        namespaces.get_opt("quick").await.unwrap().is_none(),
        "gone when kubectl returns"
    );
    let quick: Api<ConfigMap> = Api::namespaced(client.clone(), "quick");
    let (code, _, _) = api_error(quick.get("plain").await.unwrap_err());
    assert_eq!(code, 404);
    let leftovers: Vec<String> = Api::<ConfigMap>::all(client)
        .list(&ListParams::default().fields("metadata.namespace=quick"))
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|c| c.metadata.name.unwrap())
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// A namespace deleted in the foreground (as a GitOps controller deletes what it applied) goes
/// once empty: it has no dependents to wait for, only its content.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_namespace_deleted_in_the_foreground_goes() {
    let env = start(&["dev"]).await;
    let client = env.client("dev").await;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    for (name, policy) in [
        ("fore", DeleteParams::foreground()),
        ("orph", DeleteParams::orphan()),
    ] {
        namespaces
            .create(
                &PostParams::default(),
                &serde_json::from_value(json!({"metadata": {"name": name}})).unwrap(),
            )
            .await
            .unwrap();
        let cms: Api<ConfigMap> = Api::namespaced(client.clone(), name);
        cms.create(&PostParams::default(), &held("held"))
            .await
            .unwrap();
        namespaces.delete(name, &policy).await.unwrap();
        eventually(LIMIT, "the content deleting", || async {
            cms.get("held")
                .await
                .ok()?
                .metadata
                .deletion_timestamp
                .map(|_| ())
        })
        .await;
        assert!(
            namespaces.get_opt(name).await.unwrap().is_some(),
            "{name}: the namespace waits for its content"
        );
        cms.patch("held", &PatchParams::default(), &release())
            .await
            .unwrap();
        gone(&namespaces, name, "the namespace to go once empty").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_system_namespaces_may_not_be_deleted() {
    let env = start(&["dev"]).await;
    let namespaces: Api<Namespace> = Api::all(env.client("dev").await);
    // kube-apiserver's NamespaceLifecycle admission, before anything is written.
    for name in ["default", "kube-system", "kube-public"] {
        let err = support::sim::fails(&env.kubectl("dev", &["delete", "namespace", name]).await);
        assert_eq!(
            err.trim(),
            format!(
                "Error from server (Forbidden): namespaces \"{name}\" is forbidden: this namespace may not be deleted"
            )
        );
        let (code, reason, message) = api_error(
            namespaces
                .delete(name, &DeleteParams::default().dry_run())
                .await
                .unwrap_err(),
        );
        assert_eq!((code, reason.as_str()), (403, "Forbidden"));
        assert_eq!(
            message,
            format!("namespaces \"{name}\" is forbidden: this namespace may not be deleted")
        );
        let ns = namespaces.get(name).await.unwrap();
        assert!(ns.metadata.deletion_timestamp.is_none(), "{name}");
    }
    // Any other namespace goes, kube-node-lease included.
    let out = ok(&env
        .kubectl(
            "dev",
            &["delete", "namespace", "kube-node-lease", "--wait=false"],
        )
        .await);
    assert!(
        out.contains("namespace \"kube-node-lease\" deleted"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_delete_by_manifest_and_by_selector() {
    let env = start(&["dev"]).await;
    let api: Api<ConfigMap> = Api::namespaced(env.client("dev").await, "default");
    let manifest = r#"
apiVersion: v1
kind: ConfigMap
metadata: {name: m1, labels: {x: one}}
data: {k: v}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: m2, labels: {x: two}}
data: {k: v}
"#;
    ok(&env
        .kubectl_stdin("dev", &["apply", "-f", "-"], Some(manifest))
        .await);
    let out = ok(&env
        .kubectl_stdin("dev", &["delete", "-f", "-"], Some(manifest))
        .await);
    assert!(
        out.contains("configmap \"m1\" deleted") && out.contains("configmap \"m2\" deleted"),
        "{out}"
    );
    assert!(
        api.get_opt("m1").await.unwrap().is_none() && api.get_opt("m2").await.unwrap().is_none()
    );
    let err = String::from_utf8_lossy(
        &env.kubectl_stdin("dev", &["delete", "-f", "-"], Some(manifest))
            .await
            .stderr,
    )
    .into_owned();
    assert!(err.contains("configmaps \"m1\" not found"), "{err}");
    let out = ok(&env
        .kubectl_stdin(
            "dev",
            &["delete", "-f", "-", "--ignore-not-found"],
            Some(manifest),
        )
        .await);
    assert!(out.trim().is_empty(), "{out}");

    for (name, x) in [("a", "one"), ("b", "one"), ("c", "two")] {
        api.create(&PostParams::default(), &cm(name, &[("x", x)]))
            .await
            .unwrap();
    }
    let out = ok(&env.kubectl("dev", &["delete", "cm", "-l", "x=one"]).await);
    let mut lines: Vec<&str> = out.lines().collect();
    lines.sort();
    assert_eq!(
        lines,
        ["configmap \"a\" deleted", "configmap \"b\" deleted"]
    );
    assert!(api.get_opt("c").await.unwrap().is_some());
    let out = ok(&env.kubectl("dev", &["delete", "cm", "-l", "x=one"]).await);
    assert_eq!(out.trim(), "No resources found", "{out}");

    // deletecollection answers the list of what it deletes, as it was listed.
    for (name, x) in [("d", "w"), ("e", "w"), ("f", "v")] {
        api.create(&PostParams::default(), &cm(name, &[("x", x)]))
            .await
            .unwrap();
    }
    let mut h = held("g");
    h.metadata.labels = Some([("x".to_string(), "w".to_string())].into());
    api.create(&PostParams::default(), &h).await.unwrap();
    let list = api
        .delete_collection(
            &DeleteParams::default(),
            &ListParams::default().labels("x=w"),
        )
        .await
        .unwrap()
        .left()
        .expect("a list");
    let mut names: Vec<String> = list
        .items
        .iter()
        .map(|c| c.metadata.name.clone().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["d", "e", "g"]);
    let g = list
        .items
        .iter()
        .find(|c| c.metadata.name.as_deref() == Some("g"))
        .unwrap();
    assert!(
        g.metadata.deletion_timestamp.is_none(),
        "items are as listed before the deletes"
    );
    assert!(
        api.get("g")
            .await
            .unwrap()
            .metadata
            .deletion_timestamp
            .is_some(),
        "an object held by a finalizer stays, deleting"
    );
    let mut left: Vec<String> = api
        .list(&ListParams::default().labels("x"))
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|c| c.metadata.name.unwrap())
        .collect();
    left.sort();
    assert_eq!(left, ["c", "f", "g"]);
    api.patch("g", &PatchParams::default(), &release())
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preconditions_must_match() {
    let env = start(&["dev"]).await;
    let api: Api<ConfigMap> = Api::namespaced(env.client("dev").await, "default");
    let c = api
        .create(&PostParams::default(), &cm("p", &[]))
        .await
        .unwrap();
    let uid = c.metadata.uid.clone().unwrap();
    let rv = c.metadata.resource_version.clone().unwrap();
    let with = |uid: Option<&str>, rv: Option<&str>| {
        DeleteParams::default().preconditions(Preconditions {
            uid: uid.map(Into::into),
            resource_version: rv.map(Into::into),
        })
    };

    let (code, reason, message) = api_error(
        api.delete("p", &with(Some("not-the-uid"), None))
            .await
            .unwrap_err(),
    );
    assert_eq!((code, reason.as_str()), (409, "Conflict"));
    assert_eq!(
        message,
        format!(
            "Operation cannot be fulfilled on ConfigMap \"p\": the UID in the precondition (not-the-uid) does not match the UID in record ({uid}). The object might have been deleted and then recreated"
        )
    );
    let (code, _, message) = api_error(
        api.delete("p", &with(Some(&uid), Some("1")))
            .await
            .unwrap_err(),
    );
    assert_eq!(code, 409);
    assert_eq!(
        message,
        format!(
            "Operation cannot be fulfilled on ConfigMap \"p\": the ResourceVersion in the precondition (1) does not match the ResourceVersion in record ({rv}). The object might have been modified"
        )
    );
    assert!(
        api.get_opt("p").await.unwrap().is_some(),
        "a failed precondition deletes nothing"
    );
    api.delete("p", &with(Some(&uid), Some(&rv)))
        .await
        .unwrap()
        .right()
        .expect("deleted");
    assert!(api.get_opt("p").await.unwrap().is_none());

    // kubectl's --now / --grace-period paths don't use preconditions, but dry-run must not delete.
    api.create(&PostParams::default(), &cm("q", &[]))
        .await
        .unwrap();
    let out = ok(&env
        .kubectl("dev", &["delete", "cm", "q", "--dry-run=server"])
        .await);
    assert!(
        out.contains("configmap \"q\" deleted (server dry run)"),
        "{out}"
    );
    assert!(api.get_opt("q").await.unwrap().is_some());
}

async fn widget_api(env: &support::sim::SimEnv) -> Api<DynamicObject> {
    let client = env.client("dev").await;
    let crd: CustomResourceDefinition = serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                          "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]
        }
    }))
    .unwrap();
    Api::<CustomResourceDefinition>::all(client.clone())
        .create(&PostParams::default(), &crd)
        .await
        .unwrap();
    let gvk = GroupVersionKind::gvk("example.com", "v1", "Widget");
    let ar = ApiResource::from_gvk_with_plural(&gvk, "widgets");
    let api = Api::<DynamicObject>::namespaced_with(client, "default", &ar);
    eventually(LIMIT, "widgets to be served", || async {
        api.list(&ListParams::default()).await.ok().map(|_| ())
    })
    .await;
    api
}

fn widget(name: &str, finalizers: &[&str]) -> DynamicObject {
    serde_json::from_value(json!({
        "apiVersion": "example.com/v1", "kind": "Widget",
        "metadata": {"name": name, "finalizers": finalizers},
        "spec": {"size": 1}
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_answers_a_status_or_the_object() {
    let env = start(&["dev"]).await;
    let client = env.client("dev").await;
    // ConfigMaps: a Status naming what was deleted.
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let c = cms
        .create(&PostParams::default(), &cm("s", &[]))
        .await
        .unwrap();
    let status = cms
        .delete("s", &DeleteParams::default())
        .await
        .unwrap()
        .right()
        .expect("a Status");
    assert!(status.is_success());
    let details = status.details.unwrap();
    assert_eq!(
        (
            details.name.as_str(),
            details.kind.as_str(),
            details.group.as_str()
        ),
        ("s", "configmaps", "")
    );
    assert_eq!(Some(details.uid), c.metadata.uid);
    // The wire form, as kubectl reads it.
    cms.create(&PostParams::default(), &cm("raw", &[]))
        .await
        .unwrap();
    let req = hyper::Request::delete("/api/v1/namespaces/default/configmaps/raw")
        .body(Vec::new())
        .unwrap();
    let raw: serde_json::Value = client.request(req).await.unwrap();
    assert_eq!(
        (
            raw["kind"].as_str(),
            raw["apiVersion"].as_str(),
            raw["status"].as_str()
        ),
        (Some("Status"), Some("v1"), Some("Success"))
    );
    assert!(
        raw.get("code").is_none(),
        "finalizeDelete's Status has no code: {raw}"
    );

    // Custom resources: the deleted object.
    let widgets = widget_api(&env).await;
    let w = widgets
        .create(&PostParams::default(), &widget("w", &[]))
        .await
        .unwrap();
    let deleted = widgets
        .delete("w", &DeleteParams::default())
        .await
        .unwrap()
        .left()
        .expect("the object for a custom resource");
    assert_eq!(deleted.metadata.uid, w.metadata.uid);
    assert_eq!(deleted.data["spec"]["size"], 1);
    assert!(widgets.get_opt("w").await.unwrap().is_none());
    widgets
        .create(&PostParams::default(), &widget("w2", &[]))
        .await
        .unwrap();
    let out = ok(&env.kubectl("dev", &["delete", "widgets", "w2"]).await);
    assert!(out.contains("widget.example.com \"w2\" deleted"), "{out}");

    // A custom resource held by a finalizer: marked, and its generation moves.
    let held = widgets
        .create(&PostParams::default(), &widget("held", &[HOLD]))
        .await
        .unwrap();
    assert_eq!(held.metadata.generation, Some(1));
    let marked = widgets
        .delete("held", &DeleteParams::default())
        .await
        .unwrap()
        .left()
        .unwrap();
    assert!(marked.metadata.deletion_timestamp.is_some());
    assert_eq!(marked.metadata.generation, Some(2));
    widgets
        .patch("held", &PatchParams::default(), &release())
        .await
        .unwrap();
    assert!(widgets.get_opt("held").await.unwrap().is_none());
    let (code, _, message) = api_error(
        widgets
            .delete("held", &DeleteParams::default())
            .await
            .unwrap_err(),
    );
    assert_eq!(
        (code, message.as_str()),
        (404, "widgets.example.com \"held\" not found")
    );
}
