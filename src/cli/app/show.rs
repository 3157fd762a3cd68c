//! What `app list`, `app get` and `app history` print, without I/O.

use super::table::{short_sha, table};
use crate::api::application::{ApplicationSource, OperationState};
use crate::api::{Application, ServerUrl};
use crate::sync::operation::automated;
use crate::sync::source::sources;

/// The destination cluster: its name, else its server (shown without user info: see
/// [`ServerUrl`]).
pub fn cluster(app: &Application) -> String {
    let d = &app.spec.destination;
    d.name
        .clone()
        .filter(|n| !n.is_empty())
        .or_else(|| d.server.as_deref().map(|s| ServerUrl(s).to_string()))
        .unwrap_or_default()
}

fn status_of(app: &Application) -> (String, String, String) {
    let s = app.status.as_ref();
    let sync = s.and_then(|s| s.sync.as_ref());
    (
        sync.map(|x| x.status.clone()).unwrap_or_default(),
        s.and_then(|s| s.health.as_ref())
            .map(|h| h.status.clone())
            .unwrap_or_default(),
        sync.and_then(|x| x.revision.clone()).unwrap_or_default(),
    )
}

/// The first source with manifests (not only a `ref`), else the first.
fn main_source(app: &Application) -> Option<ApplicationSource> {
    let all = sources(app);
    all.iter()
        .find(|s| !crate::render::is_ref_only(s))
        .or(all.first())
        .cloned()
}

/// NAME CLUSTER NAMESPACE REPO PATH TARGET SYNC HEALTH REVISION, like `argocd app list`.
pub fn list(apps: &[Application]) -> String {
    let rows: Vec<Vec<String>> = apps
        .iter()
        .map(|a| {
            let source = main_source(a).unwrap_or_default();
            let (sync, health, revision) = status_of(a);
            let more = sources(a).len().saturating_sub(1);
            let repo = if more > 0 {
                format!("{} (+{more})", source.repo_url)
            } else {
                source.repo_url
            };
            vec![
                a.metadata.name.clone().unwrap_or_default(),
                cluster(a),
                a.spec.destination.namespace.clone().unwrap_or_default(),
                repo,
                source.path.unwrap_or_default(),
                source.target_revision.unwrap_or_else(|| "HEAD".into()),
                sync,
                health,
                short_sha(&revision),
            ]
        })
        .collect();
    table(
        &[
            "NAME",
            "CLUSTER",
            "NAMESPACE",
            "REPO",
            "PATH",
            "TARGET",
            "SYNC",
            "HEALTH",
            "REVISION",
        ],
        &rows,
    )
}

fn field(out: &mut String, name: &str, value: &str) {
    let label = format!("{name}:");
    out.push_str(format!("{label:<20}{value}").trim_end());
    out.push('\n');
}

/// `Automated (Prune, SelfHeal)` or `Manual`, then the sync options.
fn sync_policy(app: &Application) -> String {
    let mut text = match automated(&app.spec) {
        Some(a) => {
            let flags: Vec<&str> = [
                (a.prune, "Prune"),
                (a.self_heal, "SelfHeal"),
                (a.allow_empty, "AllowEmpty"),
            ]
            .iter()
            .filter(|f| f.0)
            .map(|f| f.1)
            .collect();
            if flags.is_empty() {
                "Automated".to_string()
            } else {
                format!("Automated ({})", flags.join(", "))
            }
        }
        None => "Manual".to_string(),
    };
    let options = app
        .spec
        .sync_policy
        .as_ref()
        .map(|p| p.sync_options.clone())
        .unwrap_or_default();
    if !options.is_empty() {
        text.push_str(&format!(" [{}]", options.join(", ")));
    }
    text
}

fn operation(state: &OperationState) -> String {
    let mut text = state.phase.clone();
    if let Some(m) = state.message.as_deref().filter(|m| !m.is_empty()) {
        text.push_str(": ");
        text.push_str(m);
    }
    if let Some(t) = state.finished_at.as_ref().or(state.started_at.as_ref()) {
        text.push_str(&format!(" (at {})", t.0));
    }
    text
}

/// The summary, then GROUP KIND NAMESPACE NAME STATUS HEALTH of `status.resources`, like
/// `argocd app get`.
pub fn get(app: &Application) -> String {
    let mut out = String::new();
    let name = app.metadata.name.clone().unwrap_or_default();
    field(
        &mut out,
        "Name",
        &format!(
            "{}/{name}",
            app.metadata.namespace.as_deref().unwrap_or_default()
        ),
    );
    field(&mut out, "Project", &app.spec.project);
    let d = &app.spec.destination;
    field(&mut out, "Cluster", &cluster(app));
    if d.name.as_deref().is_some_and(|n| !n.is_empty())
        && d.server.as_deref().is_some_and(|s| !s.is_empty())
    {
        field(
            &mut out,
            "Server",
            &ServerUrl(d.server.as_deref().unwrap_or_default()).shown(),
        );
    }
    field(
        &mut out,
        "Namespace",
        d.namespace.as_deref().unwrap_or_default(),
    );
    let all = sources(app);
    field(
        &mut out,
        if all.len() > 1 { "Sources" } else { "Source" },
        if all.is_empty() { "(none)" } else { "" },
    );
    for s in &all {
        field(&mut out, "- Repo", &s.repo_url);
        field(
            &mut out,
            "  Target",
            s.target_revision.as_deref().unwrap_or("HEAD"),
        );
        if let Some(p) = &s.path {
            field(&mut out, "  Path", p);
        }
        if let Some(r) = &s.ref_ {
            field(&mut out, "  Ref", r);
        }
    }
    field(&mut out, "Sync Policy", &sync_policy(app));
    let status = app.status.clone().unwrap_or_default();
    let (sync, health, revision) = status_of(app);
    let target = main_source(app)
        .and_then(|s| s.target_revision)
        .unwrap_or_else(|| "HEAD".into());
    let sync = if sync.is_empty() {
        "Unknown".to_string()
    } else {
        sync
    };
    let preposition = if sync == "Synced" { "to" } else { "from" };
    let rev = if revision.is_empty() {
        String::new()
    } else {
        format!(" ({})", short_sha(&revision))
    };
    field(
        &mut out,
        "Sync Status",
        &format!("{sync} {preposition} {target}{rev}"),
    );
    let health_message = status
        .health
        .as_ref()
        .and_then(|h| h.message.clone())
        .map(|m| format!(" ({m})"))
        .unwrap_or_default();
    field(
        &mut out,
        "Health Status",
        &format!(
            "{}{health_message}",
            if health.is_empty() {
                "Unknown"
            } else {
                &health
            }
        ),
    );
    if let Some(op) = &status.operation_state {
        field(&mut out, "Last Operation", &operation(op));
    }
    if !status.conditions.is_empty() {
        field(&mut out, "Conditions", "");
        for c in &status.conditions {
            field(
                &mut out,
                &format!("- {}", c.type_),
                &c.message.replace(['\n', '\r'], " "),
            );
        }
    }
    out.push('\n');
    let rows: Vec<Vec<String>> = status
        .resources
        .iter()
        .map(|r| {
            let mut s = r.status.clone().unwrap_or_default();
            if r.requires_pruning {
                s.push_str(" (requires pruning)");
            }
            vec![
                r.group.clone().unwrap_or_default(),
                r.kind.clone(),
                r.namespace.clone().unwrap_or_default(),
                r.name.clone(),
                s,
                r.health
                    .as_ref()
                    .map(|h| h.status.clone())
                    .unwrap_or_default(),
            ]
        })
        .collect();
    out.push_str(&table(
        &["GROUP", "KIND", "NAMESPACE", "NAME", "STATUS", "HEALTH"],
        &rows,
    ));
    out
}

/// ID DATE REVISION of `status.history`, oldest first.
pub fn history(app: &Application) -> String {
    let history = app
        .status
        .as_ref()
        .map(|s| s.history.clone())
        .unwrap_or_default();
    let rows: Vec<Vec<String>> = history
        .iter()
        .map(|h| {
            let revision = if h.revisions.is_empty() {
                h.revision.clone()
            } else {
                h.revisions.join(",")
            };
            vec![
                h.id.to_string(),
                h.deployed_at
                    .as_ref()
                    .map(|t| t.0.to_string())
                    .unwrap_or_default(),
                revision,
            ]
        })
        .collect();
    table(&["ID", "DATE", "REVISION"], &rows)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn app() -> Application {
        serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "flotilla"},
            "spec": {"project": "default", "source": {"repoURL": "https://git.example.com/r.git", "targetRevision": "main", "path": "apps/web"},
                     "destination": {"name": "dev", "namespace": "shop"}, "syncPolicy": {"automated": {"prune": true}, "syncOptions": ["CreateNamespace=true"]}},
            "status": {"sync": {"status": "Synced", "revision": "0123456789abcdef0123456789abcdef01234567"}, "health": {"status": "Healthy"},
                       "resources": [{"version": "v1", "kind": "ConfigMap", "namespace": "shop", "name": "settings", "status": "Synced", "health": {"status": "Healthy"}},
                                     {"group": "apps", "version": "v1", "kind": "Deployment", "namespace": "shop", "name": "old", "status": "OutOfSync", "requiresPruning": true}],
                       "operationState": {"phase": "Succeeded", "message": "successfully synced", "finishedAt": "2024-01-01T00:00:00Z"},
                       "history": [{"id": 0, "revision": "0123456789abcdef0123456789abcdef01234567", "deployedAt": "2024-01-01T00:00:00Z"}],
                       "conditions": [{"type": "SyncError", "message": "boom"}]}
        }))
        .unwrap()
    }

    #[test]
    fn list_rows() {
        let lines: Vec<String> = list(&[app()]).lines().map(String::from).collect();
        assert_eq!(
            lines[0],
            "NAME   CLUSTER   NAMESPACE   REPO                            PATH       TARGET   SYNC     HEALTH    REVISION"
        );
        assert_eq!(
            lines[1],
            "web    dev       shop        https://git.example.com/r.git   apps/web   main     Synced   Healthy   0123456"
        );
        let mut bare = Application::new("new", Default::default());
        bare.spec.destination.server = Some("https://admin:s3cret@k8s".into());
        let listed = list(&[bare]);
        assert!(
            listed
                .lines()
                .nth(1)
                .unwrap()
                .starts_with("new    https://k8s   -"),
            "a server is shown without its user info: {listed}"
        );
        assert!(!listed.contains("s3cret"));
    }

    #[test]
    fn get_summary_and_resources() {
        let text = get(&app());
        for want in [
            "Name:               flotilla/web",
            "Cluster:            dev",
            "- Repo:             https://git.example.com/r.git",
            "Sync Policy:        Automated (Prune) [CreateNamespace=true]",
            "Sync Status:        Synced to main (0123456)",
            "Health Status:      Healthy",
            "Last Operation:     Succeeded: successfully synced (at 2024-01-01T00:00:00Z)",
            "- SyncError:        boom",
            "GROUP   KIND         NAMESPACE   NAME       STATUS                         HEALTH",
            "-       ConfigMap    shop        settings   Synced                         Healthy",
            "apps    Deployment   shop        old        OutOfSync (requires pruning)   -",
        ] {
            assert!(
                text.lines().any(|l| l == want),
                "missing {want:?} in\n{text}"
            );
        }
    }

    #[test]
    fn history_rows() {
        assert_eq!(
            history(&app()),
            "ID   DATE                   REVISION\n0    2024-01-01T00:00:00Z   0123456789abcdef0123456789abcdef01234567\n"
        );
    }
}
