//! `app diff`: what a sync would change. Desired is rendered from Git at the Application's
//! target revision exactly as the hub renders it (`sync::source`), live is read from the
//! destination cluster through the hub's live cache (`sync::live`, same label filter), and each
//! pair is compared by the hub's own comparison (`sync::diff`): only resources the hub would see
//! as out of sync are shown, each as a unified diff of the normalised objects (desired fields
//! against the live values of those fields), so server-set fields never show as drift. Owned
//! live objects that Git no longer has are shown as removed (a sync with `--prune` deletes them).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use kube::api::GroupVersionKind;
use serde_json::Value;

use super::error::AppError;
use super::session::Session;
use super::show::cluster as destination_of;
use crate::api::{Application, ClusterSecret, IN_CLUSTER_NAME, IN_CLUSTER_SERVER};
use crate::cluster::ClientOptions;
use crate::cluster::client::client_for;
use crate::git::GitCache;
use crate::render::RenderCache;
use crate::sync::diff::{self, CompareOptions, IgnoreRule, normalized_for_display};
use crate::sync::live::{LiveCache, LiveError, TypeCache, describe, gvk_of};
use crate::sync::source::{self, SourceError};
use crate::sync::tracking::ObjectKey;

/// What `app diff` needs besides the Application.
pub struct DiffOptions {
    pub git_cache: PathBuf,
    /// How long listing one resource type in the destination may take.
    pub timeout: Duration,
    /// The hub's installation id (which live objects are the Application's).
    pub installation_id: String,
}

/// One resource that differs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceDiff {
    pub key: ObjectKey,
    /// The unified diff (`--- live/…`, `+++ desired/…`).
    pub text: String,
}

/// The differences of Application `name`, sorted by resource.
pub async fn diff(
    session: &Session,
    name: &str,
    opts: &DiffOptions,
) -> Result<Vec<ResourceDiff>, AppError> {
    let app = session.app(name).await?;
    let git = Arc::new(GitCache::new(
        opts.git_cache.clone(),
        session.repositories().await,
    ));
    let desired = render(&app, git).await.map_err(|e| AppError::Desired {
        name: name.to_string(),
        cause: e.to_string(),
    })?;
    let (client, namespaces) = destination(session, &app).await?;
    let destination = destination_of(&app);
    let live = LiveCache::new(
        client,
        namespaces,
        Arc::new(|_: &str| {}),
        Arc::new(|| {}),
        opts.timeout,
        &opts.installation_id,
    );
    let types = watch_types(&live, &app, &desired.objects)
        .await
        .map_err(|(what, cause)| AppError::Live {
            name: name.to_string(),
            destination,
            what,
            cause,
        })?;
    let mut objects = desired.objects;
    let namespaced = |o: &Value| types.get(&gvk_of(o)).map(|t| t.namespaced).unwrap_or(true);
    source::complete(&app, &opts.installation_id, &mut objects, namespaced).map_err(|e| {
        AppError::Desired {
            name: name.to_string(),
            cause: e.to_string(),
        }
    })?;
    let ignore = IgnoreRule::all_valid(&app.spec.ignore_differences);
    let pairs: Vec<(Value, Option<Value>)> = objects
        .into_iter()
        .map(|d| {
            let live_obj = live.get(&gvk_of(&d), &ObjectKey::of(&d));
            (d, live_obj)
        })
        .collect();
    let keys: HashSet<ObjectKey> = pairs.iter().map(|(d, _)| ObjectKey::of(d)).collect();
    let orphans: Vec<Value> = live
        .owned_by(name)
        .into_iter()
        .map(|(_, v)| v)
        .filter(|v| {
            !keys.contains(&ObjectKey::of(v)) && !v["metadata"]["deletionTimestamp"].is_string()
        })
        .collect();
    Ok(differences(
        &pairs,
        &orphans,
        &CompareOptions {
            ignore,
            ..Default::default()
        },
    ))
}

async fn render(app: &Application, git: Arc<GitCache>) -> Result<source::Desired, SourceError> {
    let app = app.clone();
    tokio::task::spawn_blocking(move || {
        source::render(&app, &[], git.as_ref(), &RenderCache::default())
    })
    .await
    .unwrap_or_else(|e| Err(SourceError::Task(e.to_string())))
}

/// A client of the Application's destination, from its cluster Secret (by server, else by
/// name), and the namespaces the Secret allows; the hub's own cluster for `in-cluster` when
/// no Secret names it.
async fn destination(
    session: &Session,
    app: &Application,
) -> Result<(kube::Client, Vec<String>), AppError> {
    let name = app.metadata.name.clone().unwrap_or_default();
    let d = &app.spec.destination;
    let server = d
        .server
        .as_deref()
        .map(|s| s.trim_end_matches('/'))
        .filter(|s| !s.is_empty());
    let cluster_name = d.name.as_deref().filter(|n| !n.is_empty());
    let label = destination_of(app);
    let err = |cause: String| AppError::Cluster {
        name: name.clone(),
        destination: if label.is_empty() {
            "(none)".into()
        } else {
            label.clone()
        },
        cause,
    };
    if server.is_none() && cluster_name.is_none() {
        return Err(err("spec.destination names no server and no cluster".into()));
    }
    let secrets = session.clusters().await?;
    let found: Option<&ClusterSecret> = match (server, cluster_name) {
        (Some(s), _) => secrets.iter().find(|c| c.server == s),
        (None, Some(n)) => secrets.iter().find(|c| c.name == n),
        (None, None) => None,
    };
    match found {
        Some(secret) => {
            let options = ClientOptions {
                qps: 0.0,
                ..ClientOptions::default()
            };
            let client = client_for(secret, &options)
                .await
                .map_err(|e| err(e.to_string()))?;
            Ok((client, secret.namespaces.clone()))
        }
        None if server == Some(IN_CLUSTER_SERVER)
            || (server.is_none() && cluster_name == Some(IN_CLUSTER_NAME)) =>
        {
            Ok((session.hub.client.clone(), Vec::new()))
        }
        None => Err(err(format!(
            "not registered: no cluster Secret in namespace {} has that {}",
            session.namespace,
            if server.is_some() { "server" } else { "name" }
        ))),
    }
}

/// Watches (lists) every type desired or recorded in `status.resources`, as the hub does; a
/// type the cluster does not serve has no live objects. The error: what, and why.
async fn watch_types(
    live: &Arc<LiveCache>,
    app: &Application,
    objects: &[Value],
) -> Result<HashMap<GroupVersionKind, Arc<TypeCache>>, (String, String)> {
    let mut gvks: BTreeSet<(String, String, String)> = objects
        .iter()
        .map(gvk_of)
        .map(|g| (g.group, g.version, g.kind))
        .collect();
    for r in app.status.iter().flat_map(|s| s.resources.iter()) {
        gvks.insert((
            r.group.clone().unwrap_or_default(),
            r.version.clone().unwrap_or_else(|| "v1".into()),
            r.kind.clone(),
        ));
    }
    let mut out = HashMap::new();
    for (group, version, kind) in gvks {
        let gvk = GroupVersionKind::gvk(&group, &version, &kind);
        match live.ensure(&gvk).await {
            Ok(t) => {
                out.insert(gvk, t);
            }
            Err(LiveError::NotServed(_)) => {}
            Err(e) => return Err((describe(&gvk), e.to_string())),
        }
    }
    Ok(out)
}

/// `kind.group/namespace/name`, for diff headers.
fn label(key: &ObjectKey) -> String {
    let kind = if key.group.is_empty() {
        key.kind.clone()
    } else {
        format!("{}.{}", key.kind, key.group)
    };
    [kind.as_str(), key.namespace.as_str(), key.name.as_str()]
        .iter()
        .filter(|p| !p.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join("/")
}

/// The resources the hub's comparison finds out of sync (desired with its live object, or
/// `None` when missing), and the orphans (owned, no longer desired) as removed, sorted.
pub fn differences(
    pairs: &[(Value, Option<Value>)],
    orphans: &[Value],
    opts: &CompareOptions,
) -> Vec<ResourceDiff> {
    let mut out = Vec::new();
    for (desired, live) in pairs {
        let c = diff::compare(desired, live.as_ref(), opts);
        if c.in_sync {
            continue;
        }
        let key = ObjectKey::of(desired);
        let mut text = diff::unified_diff(&label(&key), live.as_ref(), desired);
        if text.is_empty() {
            // The comparison sees drift the YAML does not show (an ignored path, a list order):
            // name the fields.
            text = format!("fields that differ: {}\n", c.drift.join(", "));
        }
        out.push(ResourceDiff { key, text });
    }
    for live in orphans {
        let key = ObjectKey::of(live);
        out.push(ResourceDiff {
            key: key.clone(),
            text: removed(&label(&key), live),
        });
    }
    out.sort_by(|a, b| a.key.cmp(&b.key));
    out
}

/// The unified diff of a live object that desired does not have.
fn removed(label: &str, live: &Value) -> String {
    let yaml = serde_yaml::to_string(&normalized_for_display(live)).unwrap_or_default();
    let lines: Vec<&str> = yaml.lines().collect();
    let mut out = format!(
        "--- live/{label}\n+++ desired/{label}\n@@ -1,{} +0,0 @@\n",
        lines.len()
    );
    for l in lines {
        out.push('-');
        out.push_str(l);
        out.push('\n');
    }
    out
}

/// The diffs as printed: a header per resource, then its diff.
pub fn render_text(diffs: &[ResourceDiff]) -> String {
    let mut out = String::new();
    for d in diffs {
        out.push_str(&format!("===== {} ======\n", label(&d.key)));
        out.push_str(&d.text);
        if !d.text.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn cm(color: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings", "namespace": "web"}, "data": {"color": color}})
    }

    #[test]
    fn only_what_differs_is_shown() {
        let mut live = cm("blue");
        live["metadata"]["uid"] = json!("1234");
        live["metadata"]["resourceVersion"] = json!("7");
        live["metadata"]["labels"] = json!({"added-by-someone": "x"});
        let same = (cm("blue"), Some(live.clone()));
        assert!(
            differences(&[same], &[], &CompareOptions::default()).is_empty(),
            "server fields and others' labels are no drift"
        );
        let changed = (cm("green"), Some(live));
        let d = differences(&[changed], &[], &CompareOptions::default());
        assert_eq!(d.len(), 1);
        assert!(
            d[0].text.contains("-  color: blue\n+  color: green"),
            "{}",
            d[0].text
        );
        assert!(
            !d[0].text.contains("uid") && !d[0].text.contains("added-by-someone"),
            "{}",
            d[0].text
        );
        assert!(render_text(&d).starts_with("===== ConfigMap/web/settings ======\n--- live/ConfigMap/web/settings\n+++ desired/ConfigMap/web/settings\n"));
    }

    #[test]
    fn missing_is_added_and_orphans_are_removed() {
        let mut orphan = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "old", "namespace": "web", "uid": "u"}});
        orphan["spec"] = json!({"replicas": 1});
        let d = differences(&[(cm("blue"), None)], &[orphan], &CompareOptions::default());
        assert_eq!(d.len(), 2);
        assert!(
            d[0].text.contains("+data:\n+  color: blue\n"),
            "{}",
            d[0].text
        );
        assert_eq!(label(&d[1].key), "Deployment.apps/web/old");
        assert!(
            d[1].text.contains("@@ -1,")
                && d[1].text.contains("-  replicas: 1\n")
                && !d[1].text.contains("uid"),
            "{}",
            d[1].text
        );
    }
}
