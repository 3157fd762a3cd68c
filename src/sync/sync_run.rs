//! Running a sync, one step per pass, in gitops-engine's order ([`order::steps`]): Namespaces
//! and CRDs first, then wave by wave — prune what left Git in this wave (if the operation prunes;
//! `Prune=false` respected; the prune waves mirrored, so deletions go in reverse wave order;
//! `PruneLast` after every wave), apply what is out of sync (server-side apply), wait until the
//! wave is ready (and its pruned objects gone) before the next one. A failure retries with the
//! operation's backoff, else fails the operation.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use kube::ResourceExt;
use kube::api::GroupVersionKind;
use serde_json::{Value, json};

use super::apply::{self, WriteError};
use super::diff::{self, CompareOptions, IgnoreRule};
use super::engine::Engine;
use super::health;
use super::live::{LiveError, TypeCache, gvk_of};
use super::operation::{self, phase};
use super::order::{self, SyncOptions};
use super::pool::Pool;
use super::reconcile::now;
use super::source::Desired;
use super::tracking::{self, ObjectKey};
use crate::api::Application;
use crate::api::application::{OperationState, ResourceResult, SyncOperationResult};
use crate::api::operation::Operation;

/// Applies in flight per step.
const APPLY_CONCURRENCY: usize = 8;

/// Where a sync stands after this pass.
pub enum Step {
    /// More to do: come back after the wait.
    Running(OperationState, Duration),
    /// Finished; `true` when it is a deployment for the history (succeeded, not a dry run).
    Done(OperationState, bool),
    /// The cluster could not be reached: the operation stays running; the pool backs off.
    Unavailable(OperationState, String),
}

fn result(key: &ObjectKey, version: &str, status: &str, message: String) -> ResourceResult {
    ResourceResult {
        group: key.group.clone(),
        version: version.to_string(),
        kind: key.kind.clone(),
        namespace: key.namespace.clone(),
        name: key.name.clone(),
        status: Some(status.to_string()),
        message: Some(message),
        sync_phase: Some("Sync".into()),
    }
}

/// Replaces the result of the same resource, or adds it.
fn record(results: &mut Vec<ResourceResult>, r: ResourceResult) {
    match results.iter_mut().find(|x| {
        x.group == r.group && x.kind == r.kind && x.namespace == r.namespace && x.name == r.name
    }) {
        Some(x) => *x = r,
        None => results.push(r),
    }
}

/// The operation failed before doing anything (for example its revision does not render).
pub fn failed(mut state: OperationState, message: String) -> Step {
    state.phase = phase::ERROR.into();
    state.message = Some(message);
    state.finished_at = Some(now());
    Step::Done(state, false)
}

/// The result of a sync of `desired` so far: its revision(s) and source(s) — what
/// `alreadyAttemptedSync` compares and the history records — and the resources' results.
fn sync_result(
    app: &Application,
    desired: &Desired,
    resources: Vec<ResourceResult>,
) -> SyncOperationResult {
    let multi = !app.spec.sources.is_empty();
    SyncOperationResult {
        revision: desired.revision().to_string(),
        resources,
        revisions: if multi {
            desired.revisions.clone()
        } else {
            Vec::new()
        },
        source: if multi {
            None
        } else {
            desired.sources.first().cloned()
        },
        sources: if multi {
            desired.sources.clone()
        } else {
            Vec::new()
        },
        destination: Some(app.spec.destination.clone()),
    }
}

/// A live object this operation pruned that is still being deleted (foreground deletion waits
/// for its dependents): the next wave waits for it, as gitops-engine's does.
fn pending_deletion(pool: &Pool, app: &str, results: &[ResourceResult]) -> Option<ObjectKey> {
    results
        .iter()
        .filter(|r| r.status.as_deref() == Some("Pruned"))
        .filter_map(|r| {
            let key = ObjectKey {
                group: r.group.clone(),
                kind: r.kind.clone(),
                namespace: r.namespace.clone(),
                name: r.name.clone(),
            };
            let gvk = GroupVersionKind::gvk(&r.group, &r.version, &r.kind);
            let live = pool.live.get(&gvk, &key)?;
            (live["metadata"]["deletionTimestamp"].is_string()
                && tracking::owner(&live, pool.live.installation_id()).as_deref() == Some(app))
            .then_some(key)
        })
        .min()
}

/// Whether a live object lets the next wave start: a CRD once Established, anything else once
/// it has no health or a settled one.
fn ready(live: Option<&Value>) -> Result<bool, String> {
    let Some(live) = live else { return Ok(false) };
    if live["kind"] == "CustomResourceDefinition" {
        let established = live["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["type"] == "Established" && c["status"] == "True");
        return Ok(established);
    }
    match health::resource_health(live).map(|h| h.status) {
        Some(s) if s == "Degraded" => Err("is Degraded".into()),
        Some(s) if s == "Progressing" || s == "Missing" || s == "Unknown" => Ok(false),
        _ => Ok(true),
    }
}

#[allow(clippy::too_many_arguments)]
pub async fn step(
    engine: &Engine,
    pool: &Pool,
    app: &Application,
    operation: &Operation,
    mut state: OperationState,
    desired: &Desired,
    types: &HashMap<GroupVersionKind, Arc<TypeCache>>,
    orphans: &[(Arc<TypeCache>, Value)],
) -> Step {
    let sync = operation.sync.clone().unwrap_or_default();
    let mut options: Vec<String> = app
        .spec
        .sync_policy
        .as_ref()
        .map(|p| p.sync_options.clone())
        .unwrap_or_default();
    options.extend(sync.sync_options.iter().cloned());
    let options = SyncOptions::parse(&options);
    let automated_op = operation.initiated_by.as_ref().is_some_and(|i| i.automated);
    let allow_empty = operation::automated(&app.spec).is_some_and(|a| a.allow_empty);
    let mut results = state
        .sync_result
        .as_ref()
        .map(|r| r.resources.clone())
        .unwrap_or_default();

    // The automation never deletes everything unless allowEmpty (auto-sync does not start such a
    // sync; this stops one started before the source emptied). A user's sync with prune may:
    // that is how an Application is emptied on purpose, as in Argo CD. A failed render never
    // gets here.
    if automated_op
        && sync.prune
        && desired.objects.is_empty()
        && !orphans.is_empty()
        && !allow_empty
    {
        return finish(
            state,
            results,
            desired,
            Some(format!(
                "the sync would delete all {} resources of the application (the source renders none); set syncPolicy.automated.allowEmpty to allow it",
                orphans.len()
            )),
            app,
            operation,
        );
    }
    if sync.dry_run {
        return finish(state, results, desired, None, app, operation);
    }
    if options.create_namespace
        && let Err(e) = create_namespace(pool, app).await
    {
        if e.is_unavailable() {
            return Step::Unavailable(state, e.cause().to_string());
        }
        return finish(state, results, desired, Some(e.to_string()), app, operation);
    }
    if let Some(key) = pending_deletion(pool, &app.name_any(), &results) {
        state.message = Some(format!("waiting for deletion of {key}"));
        state.sync_result = Some(sync_result(app, desired, results));
        return Step::Running(state, engine.config.wave_delay);
    }
    let compare = CompareOptions::default();
    let respected = if options.respect_ignore_differences {
        IgnoreRule::all_valid(&app.spec.ignore_differences)
    } else {
        Vec::new()
    };
    let prunable: Vec<&Value> = if sync.prune {
        orphans.iter().map(|(_, o)| o).collect()
    } else {
        Vec::new()
    };
    let steps = order::steps(&desired.objects, &prunable, options.prune_last);
    let last = steps.len().saturating_sub(1);
    for (n, step) in steps.iter().enumerate() {
        // Prunes of the wave first.
        let mut pruned = false;
        for &i in &step.prunes {
            let (t, obj) = &orphans[i];
            let key = ObjectKey::of(obj);
            let version = t.resource.version.clone();
            if !order::may_prune(obj) {
                record(
                    &mut results,
                    result(&key, &version, "PruneSkipped", "ignored (no prune)".into()),
                );
                continue;
            }
            pool.live.record_delete(&key);
            match apply::delete(
                pool.live.client(),
                &t.resource,
                t.namespaced,
                &key,
                &options.prune_propagation,
            )
            .await
            {
                Ok(()) => {
                    pruned = true;
                    record(
                        &mut results,
                        result(&key, &version, "Pruned", "pruned".into()),
                    );
                }
                Err(e) if e.is_unavailable() => {
                    state.sync_result = Some(sync_result(app, desired, results));
                    return Step::Unavailable(state, e.cause().to_string());
                }
                Err(e) => {
                    record(
                        &mut results,
                        result(&key, &version, "SyncFailed", e.to_string()),
                    );
                    return finish(
                        state,
                        results,
                        desired,
                        Some(format!("pruning failed: {e}")),
                        app,
                        operation,
                    );
                }
            }
        }
        // Then its applies.
        let mut pending: Vec<Cow<'_, Value>> = Vec::new();
        for &i in &step.items {
            let mut obj = Cow::Borrowed(&desired.objects[i]);
            let gvk = gvk_of(&obj);
            let live = types
                .get(&gvk)
                .and_then(|_| pool.live.get(&gvk, &ObjectKey::of(&obj)));
            // RespectIgnoreDifferences: an existing object keeps its live ignored fields.
            if let Some(live) = &live {
                for rule in &respected {
                    if rule.matches(&obj) {
                        rule.keep_live(obj.to_mut(), live);
                    }
                }
            }
            if !diff::compare(&obj, live.as_ref(), &compare).in_sync {
                pending.push(obj);
            }
        }
        if !pending.is_empty() {
            let applies: Vec<_> = pending
                .iter()
                .map(|obj| Box::pin(apply_one(pool, obj, types, options.force_conflicts)))
                .collect();
            let outcomes: Vec<(ObjectKey, String, Result<(), WriteError>)> =
                futures::stream::iter(applies)
                    .buffer_unordered(APPLY_CONCURRENCY)
                    .collect()
                    .await;
            let mut failure = None;
            for (key, version, outcome) in outcomes {
                match outcome {
                    Ok(()) => record(
                        &mut results,
                        result(
                            &key,
                            &version,
                            "Synced",
                            format!("{} serverside-applied", key.kind.to_lowercase()),
                        ),
                    ),
                    Err(e) if e.is_unavailable() => {
                        state.sync_result = Some(sync_result(app, desired, results));
                        return Step::Unavailable(state, e.cause().to_string());
                    }
                    Err(e) => {
                        record(
                            &mut results,
                            result(&key, &version, "SyncFailed", e.to_string()),
                        );
                        failure.get_or_insert(e.to_string());
                    }
                }
            }
            if let Some(f) = failure {
                return finish(
                    state,
                    results,
                    desired,
                    Some(format!("one or more objects failed to apply: {f}")),
                    app,
                    operation,
                );
            }
        }
        if n == last {
            break;
        }
        if !pending.is_empty() || pruned {
            // The next wave starts once this one is ready (and its prunes gone).
            state.message = Some(format!("waiting for wave {} to be ready", step.wave));
            state.sync_result = Some(sync_result(app, desired, results));
            return Step::Running(state, engine.config.wave_delay);
        }
        for &i in &step.items {
            let obj = &desired.objects[i];
            let live = pool.live.get(&gvk_of(obj), &ObjectKey::of(obj));
            match ready(live.as_ref()) {
                Ok(true) => {}
                Ok(false) => {
                    state.message = Some(format!(
                        "waiting for {} (wave {}) to be ready",
                        ObjectKey::of(obj),
                        step.wave
                    ));
                    state.sync_result = Some(sync_result(app, desired, results));
                    return Step::Running(state, engine.config.wave_delay);
                }
                Err(why) => {
                    return finish(
                        state,
                        results,
                        desired,
                        Some(format!("{} (wave {}) {why}", ObjectKey::of(obj), step.wave)),
                        app,
                        operation,
                    );
                }
            }
        }
    }
    finish(state, results, desired, None, app, operation)
}

async fn apply_one(
    pool: &Pool,
    obj: &Value,
    types: &HashMap<GroupVersionKind, Arc<TypeCache>>,
    force: bool,
) -> (ObjectKey, String, Result<(), WriteError>) {
    let gvk = gvk_of(obj);
    let key = ObjectKey::of(obj);
    let t = match types.get(&gvk) {
        Some(t) => t.clone(),
        // Not served when the pass began (a CRD applied in an earlier step): ask again.
        None => match pool.live.ensure(&gvk).await {
            Ok(t) => t,
            Err(LiveError::NotServed(what)) => {
                return (
                    key.clone(),
                    gvk.version,
                    Err(WriteError::Rejected {
                        object: key.to_string(),
                        code: 404,
                        message: format!("the cluster does not serve {what}"),
                    }),
                );
            }
            Err(e) => {
                return (
                    key.clone(),
                    gvk.version,
                    Err(write_error(key.to_string(), &e)),
                );
            }
        },
    };
    let outcome =
        match apply::apply(pool.live.client(), &t.resource, t.namespaced, obj, force).await {
            Ok(live) => {
                pool.live.record_write(&gvk, live);
                Ok(())
            }
            Err(e) => Err(e),
        };
    (key, gvk.version, outcome)
}

/// A type that could not be listed, as the failure of a write of `object`: the cluster's when
/// it is unreachable; else the kind's problem (forbidden, not listable), so this object fails,
/// not the cluster.
fn write_error(object: String, e: &LiveError) -> WriteError {
    if e.is_cluster_level() {
        WriteError::Unavailable {
            object,
            message: e.to_string(),
        }
    } else {
        WriteError::Rejected {
            object,
            code: 0,
            message: e.to_string(),
        }
    }
}

/// `CreateNamespace=true`: the destination namespace, with `managedNamespaceMetadata`. Not
/// tracked, so never pruned.
async fn create_namespace(pool: &Pool, app: &Application) -> Result<(), WriteError> {
    let Some(ns) = app
        .spec
        .destination
        .namespace
        .clone()
        .filter(|n| !n.is_empty())
    else {
        return Ok(());
    };
    let gvk = GroupVersionKind::gvk("", "v1", "Namespace");
    let meta = app
        .spec
        .sync_policy
        .as_ref()
        .and_then(|p| p.managed_namespace_metadata.clone())
        .unwrap_or_default();
    let obj = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": meta.labels, "annotations": meta.annotations}});
    let t = match pool.live.type_of(&gvk) {
        Some(t) => t,
        None => pool
            .live
            .ensure(&gvk)
            .await
            .map_err(|e| write_error(format!("Namespace/{ns}"), &e))?,
    };
    apply::apply(pool.live.client(), &t.resource, false, &obj, false)
        .await
        .map(|_| ())
}

/// Ends the operation: Succeeded, or — on `failure` — retried after the backoff of its retry
/// strategy, else Failed.
fn finish(
    mut state: OperationState,
    results: Vec<ResourceResult>,
    desired: &Desired,
    failure: Option<String>,
    app: &Application,
    operation: &Operation,
) -> Step {
    state.sync_result = Some(sync_result(app, desired, results));
    match failure {
        None => {
            state.phase = phase::SUCCEEDED.into();
            state.message = Some("successfully synced (all tasks run)".into());
            state.finished_at = Some(now());
            let dry = operation.sync.as_ref().is_some_and(|s| s.dry_run);
            Step::Done(state, !dry)
        }
        Some(message) => {
            let strategy = operation
                .retry
                .clone()
                .or_else(|| app.spec.sync_policy.as_ref().and_then(|p| p.retry.clone()));
            let attempt = state.retry_count.unwrap_or(0) + 1;
            match operation::next_retry(strategy.as_ref(), attempt) {
                Some(wait) => {
                    tracing::info!(app = %app.name_any(), attempt, ?wait, "sync failed; retrying: {message}");
                    state.retry_count = Some(attempt);
                    state.message = Some(format!(
                        "retrying attempt #{attempt} in {}s: {message}",
                        wait.as_secs()
                    ));
                    Step::Running(state, wait)
                }
                None => {
                    tracing::warn!(app = %app.name_any(), "sync failed: {message}");
                    state.phase = phase::FAILED.into();
                    state.message = Some(message);
                    state.finished_at = Some(now());
                    Step::Done(state, false)
                }
            }
        }
    }
}
