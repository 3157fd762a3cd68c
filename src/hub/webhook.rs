//! `POST /api/webhook`: a verified Git push refreshes exactly the Applications whose source it
//! touched (repository, revision, and `manifest-generate-paths` when set) and the
//! ApplicationSets whose git generators read the pushed repository and revision. The secrets
//! are read from the hub Secret `--webhook-secret` (keys `github.secret` / `gitlab.secret`, or
//! Argo CD's `webhook.github.secret` / `webhook.gitlab.secret`) on each request, so a rotation
//! needs no restart.

use std::sync::Arc;

use hyper::StatusCode;
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::{Api, ListParams, Patch, PatchParams};
use serde_json::{Value, json};

use crate::api::{ApplicationSet, Sensitive};
use crate::observe::server::{Answer, Route, RouteRequest};
use crate::observe::webhook::{self, PushEvent, Webhook, WebhookSecrets};
use crate::sync::engine::Engine;

/// The route, for the hub's HTTP endpoint.
pub fn route(engine: Arc<Engine>, secret_name: String) -> Route {
    Arc::new(move |req: RouteRequest| {
        let engine = engine.clone();
        let secret_name = secret_name.clone();
        Box::pin(async move { handle(&engine, &secret_name, req).await })
    })
}

async fn secrets(engine: &Engine, name: &str) -> WebhookSecrets {
    let api: Api<Secret> = Api::namespaced(engine.hub.clone(), &engine.config.namespace);
    let Ok(Some(s)) = api.get_opt(name).await else {
        return WebhookSecrets::default();
    };
    let data = s.data.unwrap_or_default();
    let get = |keys: [&str; 2]| {
        keys.iter()
            .find_map(|k| data.get(*k))
            .and_then(|v| String::from_utf8(v.0.clone()).ok())
            .map(|v| Sensitive::new(v.trim().to_string()))
            .filter(|v| !v.expose().is_empty())
    };
    WebhookSecrets {
        github: get(["github.secret", "webhook.github.secret"]),
        gitlab: get(["gitlab.secret", "webhook.gitlab.secret"]),
    }
}

async fn handle(engine: &Engine, secret_name: &str, req: RouteRequest) -> Answer {
    let secrets = secrets(engine, secret_name).await;
    let header = |name: &str| {
        req.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(String::from)
    };
    match webhook::parse(header, &req.body, &secrets) {
        Ok(Webhook::Ignored(what)) => (
            StatusCode::OK,
            format!("{{\"ignored\": {}}}\n", json!(what)),
        ),
        Ok(Webhook::Push(push)) => {
            let apps = engine.on_push(&push);
            let appsets = refresh_appsets(engine, &push).await;
            tracing::info!(git_ref = %push.git_ref, applications = apps.len(), applicationsets = appsets.len(), "webhook: push");
            let body = json!({"applications": apps, "applicationSets": appsets});
            (StatusCode::OK, format!("{body}\n"))
        }
        Err(e) => {
            tracing::warn!(error = %e, "webhook refused");
            (
                StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST),
                format!("{}\n", json!({"error": e.to_string()})),
            )
        }
    }
}

/// Every git generator (at any depth) of an ApplicationSet: (repoURL, revision).
fn git_generators(appset: &ApplicationSet) -> Vec<(String, String)> {
    fn walk(v: &Value, out: &mut Vec<(String, String)>, depth: usize) {
        if depth > 8 {
            return;
        }
        for g in v.as_array().into_iter().flatten() {
            if let Some(git) = g.get("git") {
                let repo = git["repoURL"].as_str().unwrap_or_default().to_string();
                out.push((repo, git["revision"].as_str().unwrap_or("HEAD").to_string()));
            }
            for c in ["matrix", "merge"] {
                if let Some(children) = g.get(c).and_then(|m| m.get("generators")) {
                    walk(children, out, depth + 1);
                }
            }
        }
    }
    let mut out = Vec::new();
    if let Ok(v) = serde_json::to_value(&appset.spec.generators) {
        walk(&v, &mut out, 0);
    }
    out
}

async fn refresh_appsets(engine: &Engine, push: &PushEvent) -> Vec<String> {
    let api: Api<ApplicationSet> = Api::namespaced(engine.hub.clone(), &engine.config.namespace);
    let Ok(list) = api.list(&ListParams::default()).await else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for a in list.items {
        if git_generators(&a)
            .iter()
            .any(|(repo, rev)| push.touches(repo, rev))
        {
            let patch = json!({"metadata": {"annotations": {crate::appset::controller::REFRESH_ANNOTATION: "webhook"}}});
            if api
                .patch(
                    &a.name_any(),
                    &PatchParams::default(),
                    &Patch::Merge(&patch),
                )
                .await
                .is_ok()
            {
                out.push(a.name_any());
            }
        }
    }
    out
}
