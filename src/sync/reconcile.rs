//! One Application's pass, a named pipeline: desired (Git → render) → live (the pool's cache) →
//! compare and health → decide (a requested operation, the automated policy, a running sync)
//! → sync step (apply in waves, prune) → status (written only when it changed) → requeue.
//!
//! Safety: a failed render or an unreachable Git server never applies and never prunes; the
//! automation never prunes everything unless `allowEmpty`; a cluster whose live cache cannot be
//! trusted (dark, refusing the hub, being listed again) is reported `Unknown` and nothing is
//! synced there until it recovers; a kind that cannot be listed makes the Applications that use
//! it `Unknown` (a `ComparisonError` naming the kind), not the cluster.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;
use kube::api::{Api, GroupVersionKind, Patch, PatchParams};
use serde_json::{Value, json};

use super::app_status::{self, ResourceView, UNKNOWN, condition};
use super::diff::{self, CompareOptions, IgnoreRule};
use super::engine::Engine;
use super::health::{self, ResourceHealth};
use super::live::{LiveError, TypeCache, gvk_of};
use super::operation::{self, AutoSync, Observed, phase};
use super::pool::Pool;
use super::source::{self, Desired, SourceError};
use super::sync_run::{self, Step};
use super::tracking::ObjectKey;
use crate::api::application::{HealthStatus, OperationState, SyncStatus};
use crate::api::operation::{Operation, SyncOperation};
use crate::api::{Application, ApplicationStatus};

/// The resources finalizer (and its `/foreground`, `/background` variants).
pub const RESOURCES_FINALIZER: &str = crate::appset::application_template::RESOURCES_FINALIZER;

pub(super) fn now() -> Time {
    Time(Timestamp::now())
}

/// The pass of Application `name` in `pool`; returns when to run it again.
pub async fn run(engine: &Engine, pool: &Pool, name: &str) -> Option<Duration> {
    let app = match engine.current_app(name).await {
        Ok(app) => app,
        Err(Some(wait)) => return Some(wait),
        Err(None) => {
            engine.forget(name);
            return None;
        }
    };
    if engine
        .destination(&app)
        .map(|c| c.server().to_string())
        .as_deref()
        != Some(pool.server.as_str())
    {
        // Its destination moved: the right pool takes it.
        engine.enqueue(&app, Duration::ZERO);
        return None;
    }
    let started = std::time::Instant::now();
    let requeue = if app.metadata.deletion_timestamp.is_some() {
        finalize(engine, pool, &app).await
    } else {
        pass(engine, pool, &app).await
    };
    engine
        .metrics
        .app_reconcile
        .with_label_values(&[
            engine.config.namespace.as_str(),
            &pool.cluster.server_shown().shown(),
        ])
        .observe(started.elapsed().as_secs_f64());
    requeue
}

/// An Application whose destination is not registered: `Unknown`, and why.
pub async fn unrouted(engine: &Engine, name: &str) -> Option<Duration> {
    let app = match engine.current_app(name).await {
        Ok(app) => app,
        Err(wait) => return wait,
    };
    if engine.destination(&app).is_some() {
        engine.enqueue(&app, Duration::ZERO);
        return None;
    }
    if app.metadata.deletion_timestamp.is_some() {
        // Nothing can be deleted on a cluster that is not registered: let the object go.
        let _ = remove_finalizer(engine, &app).await;
        return None;
    }
    let d = &app.spec.destination;
    let target = d
        .server
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| crate::api::ServerUrl(s).to_string())
        .or_else(|| d.name.clone())
        .unwrap_or_else(|| "(none)".into());
    let mut status = app.status.clone().unwrap_or_default();
    status.sync = Some(SyncStatus {
        status: UNKNOWN.into(),
        revision: status.sync.as_ref().and_then(|s| s.revision.clone()),
        revisions: vec![],
    });
    app_status::set_condition(
        &mut status.conditions,
        condition::INVALID_SPEC,
        format!("the destination cluster {target} is not registered"),
        &now(),
    );
    write_status(engine, &app, status).await;
    engine.resync_delay()
}

/// Everything a pass learns about the Application's resources.
struct Compared {
    views: Vec<ResourceView>,
    health: HealthStatus,
    observed: Observed,
    /// Live owned objects no longer desired, with their type.
    orphans: Vec<(Arc<TypeCache>, Value)>,
}

async fn pass(engine: &Engine, pool: &Pool, app: &Application) -> Option<Duration> {
    let name = app.name_any();
    let refresh = ["flotilla.dev/refresh", "argocd.argoproj.io/refresh"]
        .iter()
        .any(|k| app.annotations().contains_key(*k));
    if refresh || app.operation.is_some() {
        // A refresh, or a sync a user asked for, resolves the revisions again now.
        engine.rounds.force();
    }
    if refresh {
        // Consumed now, whatever the pass finds: a later refresh is a new request.
        clear_refresh(engine, app).await;
    } else if !engine.config.resync.is_zero() {
        // Without periodic resync, Git is read again only on a refresh, a webhook or an
        // operation.
        engine.rounds.refresh_if_older(engine.config.resync);
    }
    let mut status = app.status.clone().unwrap_or_default();
    let requested = app.operation.as_deref().cloned();
    let running = status
        .operation_state
        .as_ref()
        .filter(|o| o.phase == phase::RUNNING)
        .cloned();

    // 1. Desired, at the target revision.
    let desired = match render(engine, app, &[]).await {
        Ok(d) => d,
        Err(e) => {
            let retry = e.is_transient().then(transient_retry);
            return failed_comparison(engine, app, status, requested, e.to_string(), retry).await;
        }
    };
    // 2. The cluster, unless its cache cannot be trusted or it is backing off.
    if let Some((err, until)) = pool.unavailable() {
        return unavailable(engine, app, status, &err, until).await;
    }
    let types = match ensure_types(pool, app, &desired.objects).await {
        Ok(t) => t,
        Err(err) => {
            let until = pool.failed(err.clone());
            return unavailable(engine, app, status, &err, Some(until)).await;
        }
    };
    if !types.failed.is_empty() {
        let cluster = destination_name(app);
        let message = format!("cluster {cluster}: {}", types.failed.join("; "));
        return failed_comparison(
            engine,
            app,
            status,
            requested,
            message,
            Some(transient_retry()),
        )
        .await;
    }
    let types = types.cached;
    let mut desired = desired;
    if let Err(e) = complete(
        app,
        pool.live.installation_id(),
        &mut desired.objects,
        &types,
    ) {
        return failed_comparison(engine, app, status, requested, e.to_string(), None).await;
    }
    let ignore = IgnoreRule::all_valid(&app.spec.ignore_differences);
    let mut compared = compare(pool, app, &desired, &types, &ignore);
    app_status::clear_condition(&mut status.conditions, condition::COMPARISON_ERROR);
    app_status::clear_condition(&mut status.conditions, condition::UNKNOWN_ERROR);
    app_status::clear_condition(&mut status.conditions, condition::INVALID_SPEC);

    // 3. Decide. SyncError says why the automation does not sync (Argo CD's autoSync
    // condition): cleared while an operation runs or when it has nothing against a sync.
    let mut requeue = engine.resync_delay();
    let mut cleared_operation = false;
    if running.is_some() || requested.is_some() {
        app_status::clear_condition(&mut status.conditions, condition::SYNC_ERROR);
    }
    let op: Option<(Operation, OperationState)> = if let Some(state) = running {
        state.operation.clone().map(|o| (o, state))
    } else if let Some(req) = requested {
        cleared_operation = true;
        Some((
            req.clone(),
            OperationState {
                operation: Some(req),
                phase: phase::RUNNING.into(),
                started_at: Some(now()),
                ..Default::default()
            },
        ))
    } else {
        let decision = operation::auto_sync(&app.spec, app.status.as_ref(), &compared.observed);
        set_sync_error(&mut status, &decision);
        match decision {
            AutoSync::Sync { prune, self_heal } => match self_heal_wait(engine, &name, self_heal) {
                Some(wait) => {
                    requeue = Some(wait);
                    None
                }
                None => {
                    let mut options = app
                        .spec
                        .sync_policy
                        .as_ref()
                        .map(|p| p.sync_options.clone())
                        .unwrap_or_default();
                    // Self-heal reverts drift, and drift made with kubectl took the hub's fields:
                    // reclaiming them is the point, so its applies force the conflicts.
                    if self_heal {
                        options.push("ForceConflicts=true".into());
                    }
                    let o = operation::automated_operation(&compared.observed, prune, &options);
                    Some((
                        o.clone(),
                        OperationState {
                            operation: Some(o),
                            phase: phase::RUNNING.into(),
                            started_at: Some(now()),
                            ..Default::default()
                        },
                    ))
                }
            },
            _ => None,
        }
    };

    // 4. Sync step.
    if let Some((operation, state)) = op {
        let outcome = sync_step(
            engine, pool, app, &operation, state, &desired, &types, &compared,
        )
        .await;
        let mut finished = false;
        match outcome {
            Step::Running(state, wait) => {
                status.operation_state = Some(state);
                requeue = Some(wait);
            }
            Step::Done(state, deployed) => {
                if deployed && let Some(result) = &state.sync_result {
                    let limit = app.spec.revision_history_limit.unwrap_or(10).max(1) as usize;
                    let entry = app_status::deployment(result, state.started_at.clone(), &now());
                    app_status::push_history(&mut status.history, entry, limit);
                }
                status.operation_state = Some(state);
                finished = true;
            }
            Step::Unavailable(state, err) => {
                status.operation_state = Some(state);
                let until = pool.failed(err.clone());
                // The operation's state is recorded before the request is cleared, so a
                // client never sees neither.
                let requeue = unavailable(engine, app, status, &err, Some(until)).await;
                if cleared_operation {
                    clear_request(engine, app).await;
                }
                return requeue;
            }
        }
        // What the sync wrote is in the live cache already: compare again.
        compared = compare(pool, app, &desired, &types, &ignore);
        if finished {
            // What the automation makes of the finished operation (a failed one at this
            // revision is not tried again: SyncError says so).
            let decision = operation::auto_sync(&app.spec, Some(&status), &compared.observed);
            set_sync_error(&mut status, &decision);
        }
    }
    pool.succeeded();

    // 5. Status.
    status.sync = Some(app_status::sync_status(
        &compared.views,
        desired.revision(),
        &desired.revisions,
    ));
    status.health = Some(compared.health.clone());
    status.resources = app_status::resource_statuses(&compared.views);
    status.reconciled_at = Some(now());
    status.source_type = Some(desired.source_type.to_string());
    write_status(engine, app, status).await;
    if cleared_operation {
        clear_request(engine, app).await;
    }
    requeue
}

/// Sets or clears `SyncError` as the automation's decision says.
fn set_sync_error(status: &mut ApplicationStatus, decision: &AutoSync) {
    match decision.sync_error() {
        Some(message) => app_status::set_condition(
            &mut status.conditions,
            condition::SYNC_ERROR,
            message.to_string(),
            &now(),
        ),
        None => app_status::clear_condition(&mut status.conditions, condition::SYNC_ERROR),
    }
}

/// When a pass that failed for a reason that may pass (Git unreachable, a kind not listable
/// yet) runs again.
fn transient_retry() -> Duration {
    crate::timing::jittered(Duration::from_secs(30), Duration::from_secs(10))
}

/// The destination cluster as the user named it.
fn destination_name(app: &Application) -> String {
    let d = &app.spec.destination;
    d.name
        .clone()
        .filter(|n| !n.is_empty())
        .or_else(|| d.server.clone())
        .unwrap_or_default()
}

/// Argo CD's self-heal backoff: 2 s, 6 s, 18 s, … at most 5 min between consecutive self-heals;
/// a sync to a new revision is never held back.
fn self_heal_wait(engine: &Engine, name: &str, self_heal: bool) -> Option<Duration> {
    if !self_heal {
        engine.update_memo(name, |m| m.self_heals = 0);
        return None;
    }
    let memo = engine.memo(name);
    let backoff = Duration::from_secs(2)
        .mul_f64(3f64.powi(memo.self_heals.saturating_sub(1).min(10) as i32))
        .min(Duration::from_secs(300));
    let now = tokio::time::Instant::now();
    if memo.self_heals > 0
        && let Some(last) = memo.last_self_heal
    {
        if now < last + backoff {
            return Some(last + backoff - now);
        }
        if now > last + Duration::from_secs(300) {
            engine.update_memo(name, |m| m.self_heals = 0);
        }
    }
    engine.update_memo(name, |m| {
        m.self_heals += 1;
        m.last_self_heal = Some(now);
    });
    None
}

async fn render(
    engine: &Engine,
    app: &Application,
    revisions: &[String],
) -> Result<Desired, SourceError> {
    let git = engine.rounds.cache().clone();
    let renders = engine.renders.clone();
    let app = app.clone();
    let revisions = revisions.to_vec();
    let started = std::time::Instant::now();
    let result =
        tokio::task::spawn_blocking(move || source::render(&app, &revisions, &git, &renders))
            .await
            .unwrap_or_else(|e| Err(SourceError::Task(e.to_string())));
    engine
        .metrics
        .app_render
        .observe(started.elapsed().as_secs_f64());
    result
}

/// The types a pass compares with: cached (and watched), or failed for this kind alone.
struct Types {
    cached: HashMap<GroupVersionKind, Arc<TypeCache>>,
    /// Kinds that cannot be listed (forbidden, failing, slow), as messages naming each.
    failed: Vec<String>,
}

/// The cached type of every kind desired or previously managed (status.resources), watched.
/// `Err`: the cluster fails as a whole (no answer, credentials refused).
async fn ensure_types(pool: &Pool, app: &Application, objects: &[Value]) -> Result<Types, String> {
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
    let mut out = Types {
        cached: HashMap::new(),
        failed: Vec::new(),
    };
    for (group, version, kind) in gvks {
        let gvk = GroupVersionKind::gvk(&group, &version, &kind);
        match pool.live.ensure(&gvk).await {
            Ok(t) => {
                out.cached.insert(gvk, t);
            }
            // A kind the cluster does not serve (yet: a CRD of this very app) is missing.
            Err(LiveError::NotServed(_)) => {}
            Err(e) if e.is_cluster_level() => return Err(e.to_string()),
            // A slow first list is the kind's problem only while the cluster answers its probe.
            Err(e @ LiveError::Timeout { .. }) if !pool.cluster.state().is_connected() => {
                return Err(e.to_string());
            }
            Err(e) => out.failed.push(e.to_string()),
        }
    }
    Ok(out)
}

/// Namespaces and tracking marks, with each kind's scope from discovery (an unknown kind
/// keeps its namespace, as written).
fn complete(
    app: &Application,
    installation_id: &str,
    objects: &mut [Value],
    types: &HashMap<GroupVersionKind, Arc<TypeCache>>,
) -> Result<(), SourceError> {
    source::complete(app, installation_id, objects, |o| {
        types
            .get(&gvk_of(o))
            .map(|t| t.namespaced)
            .unwrap_or(!o["metadata"]["namespace"].is_null() || !is_cluster_scoped_builtin(o))
    })
}

/// Built-in kinds that are cluster-scoped, for objects whose type is not served yet.
fn is_cluster_scoped_builtin(o: &Value) -> bool {
    matches!(
        o["kind"].as_str().unwrap_or_default(),
        "Namespace"
            | "CustomResourceDefinition"
            | "ClusterRole"
            | "ClusterRoleBinding"
            | "PersistentVolume"
            | "StorageClass"
            | "PriorityClass"
            | "APIService"
            | "ValidatingWebhookConfiguration"
            | "MutatingWebhookConfiguration"
            | "IngressClass"
    )
}

fn compare(
    pool: &Pool,
    app: &Application,
    desired: &Desired,
    types: &HashMap<GroupVersionKind, Arc<TypeCache>>,
    ignore: &[IgnoreRule],
) -> Compared {
    let name = app.name_any();
    let options = CompareOptions {
        ignore: ignore.to_vec(),
        ..Default::default()
    };
    let mut views = Vec::new();
    let mut healths = Vec::new();
    let mut needs_apply = false;
    let mut keys: HashSet<ObjectKey> = HashSet::new();
    for obj in &desired.objects {
        let gvk = gvk_of(obj);
        let key = ObjectKey::of(obj);
        keys.insert(key.clone());
        let live = types.get(&gvk).and_then(|_| pool.live.get(&gvk, &key));
        let c = diff::compare(obj, live.as_ref(), &options);
        needs_apply |= !c.in_sync;
        let h = live.as_ref().and_then(health::resource_health);
        healths.push(ResourceHealth {
            kind: key.kind.clone(),
            name: key.name.clone(),
            health: h.clone(),
            live: live.is_some(),
            ignored: health::is_health_ignored(obj),
        });
        views.push(ResourceView {
            key,
            version: gvk.version.clone(),
            synced: c.in_sync,
            health: if live.is_some() {
                h
            } else {
                Some(HealthStatus {
                    status: "Missing".into(),
                    message: None,
                })
            },
            requires_pruning: false,
        });
    }
    let orphans = orphans(pool, &name, &keys, types);
    for (t, live) in &orphans {
        views.push(ResourceView {
            key: ObjectKey::of(live),
            version: t.resource.version.clone(),
            synced: false,
            health: health::resource_health(live),
            requires_pruning: true,
        });
    }
    let needs_prune = !orphans.is_empty();
    Compared {
        views,
        health: health::app_health(&healths),
        observed: Observed {
            revision: desired.revision().to_string(),
            revisions: desired.revisions.clone(),
            needs_apply,
            needs_prune,
            prunes_all: needs_prune && desired.objects.is_empty(),
        },
        orphans,
    }
}

/// The live objects the Application owns that `keys` (a desired set) no longer names, with
/// their types: what a prune deletes.
fn orphans(
    pool: &Pool,
    name: &str,
    keys: &HashSet<ObjectKey>,
    types: &HashMap<GroupVersionKind, Arc<TypeCache>>,
) -> Vec<(Arc<TypeCache>, Value)> {
    let mut orphans = Vec::new();
    for (gvk, live) in pool.live.owned_by(name) {
        if keys.contains(&ObjectKey::of(&live)) || live["metadata"]["deletionTimestamp"].is_string()
        {
            continue;
        }
        if let Some(t) = types.get(&gvk).cloned().or_else(|| pool.live.type_of(&gvk)) {
            orphans.push((t, live));
        }
    }
    orphans
}

/// The sync: the operation's revision (rendered again when it is not the target's), applied
/// in steps, then pruned.
#[allow(clippy::too_many_arguments)]
async fn sync_step(
    engine: &Engine,
    pool: &Pool,
    app: &Application,
    operation: &Operation,
    state: OperationState,
    target: &Desired,
    types: &HashMap<GroupVersionKind, Arc<TypeCache>>,
    compared: &Compared,
) -> Step {
    let sync = operation.sync.clone().unwrap_or_default();
    let mut revisions: Vec<String> = if sync.revisions.is_empty() {
        sync.revision.clone().into_iter().collect()
    } else {
        sync.revisions.clone()
    };
    revisions.retain(|r| !r.is_empty());
    // A rollback names the source(s) it deployed then: rendered instead of the spec's.
    let rendered_app = with_sources(app, &sync);
    let same_sources = rendered_app.is_none();
    // One revision names the first source's (the others keep their target); several, each
    // source's.
    if same_sources
        && (revisions.is_empty()
            || revisions == target.revisions
            || (revisions.len() == 1 && revisions[0] == target.revision()))
    {
        return sync_run::step(
            engine,
            pool,
            app,
            operation,
            state,
            target,
            types,
            &compared.orphans,
        )
        .await;
    }
    // Another revision or source (a rollback): its own manifests, types and orphans.
    let source_app = rendered_app.as_ref().unwrap_or(app);
    let mut desired = match render(engine, source_app, &revisions).await {
        Ok(d) => d,
        Err(e) => return sync_run::failed(state, format!("ComparisonError: {e}")),
    };
    let mut own_types = match ensure_types(pool, app, &desired.objects).await {
        Ok(t) if t.failed.is_empty() => t.cached,
        Ok(t) => {
            return sync_run::failed(state, format!("ComparisonError: {}", t.failed.join("; ")));
        }
        Err(err) => return sync_run::failed(state, format!("ComparisonError: {err}")),
    };
    for (gvk, t) in types {
        own_types.entry(gvk.clone()).or_insert_with(|| t.clone());
    }
    if let Err(e) = complete(
        app,
        pool.live.installation_id(),
        &mut desired.objects,
        &own_types,
    ) {
        return sync_run::failed(state, format!("ComparisonError: {e}"));
    }
    let keys: HashSet<ObjectKey> = desired.objects.iter().map(ObjectKey::of).collect();
    let orphans = orphans(pool, &app.name_any(), &keys, &own_types);
    sync_run::step(
        engine, pool, app, operation, state, &desired, &own_types, &orphans,
    )
    .await
}

/// The Application with the source(s) an operation names instead of its spec's (a rollback
/// restores the sources of the deployment it returns to); `None` when it names none, or the
/// spec's (a `targetRevision` aside).
fn with_sources(app: &Application, sync: &SyncOperation) -> Option<Application> {
    let spec = &app.spec;
    if !sync.sources.is_empty() {
        if operation::same_sources(&sync.sources, &spec.sources) {
            return None;
        }
        let mut other = app.clone();
        other.spec.sources = sync.sources.clone();
        other.spec.source = None;
        return Some(other);
    }
    let source = sync.source.as_ref()?;
    if spec.sources.is_empty()
        && spec
            .source
            .as_ref()
            .is_some_and(|s| operation::same_source(s, source))
    {
        return None;
    }
    let mut other = app.clone();
    other.spec.source = Some(source.clone());
    other.spec.sources = Vec::new();
    Some(other)
}

/// The comparison failed (the source does not render, a kind cannot be listed): `Unknown` with
/// a `ComparisonError`, a requested operation ends in `Error`, nothing is applied or pruned.
/// `retry`: when to try again (`None`: at the periodic resync, or on a change).
async fn failed_comparison(
    engine: &Engine,
    app: &Application,
    mut status: ApplicationStatus,
    requested: Option<Operation>,
    e: String,
    retry: Option<Duration>,
) -> Option<Duration> {
    tracing::warn!(app = %app.name_any(), error = %e, "comparison failed; nothing applied or pruned");
    status.sync = Some(SyncStatus {
        status: UNKNOWN.into(),
        revision: status.sync.as_ref().and_then(|s| s.revision.clone()),
        revisions: vec![],
    });
    app_status::set_condition(
        &mut status.conditions,
        condition::COMPARISON_ERROR,
        e.clone(),
        &now(),
    );
    if let Some(req) = requested.clone() {
        status.operation_state = Some(OperationState {
            operation: Some(req),
            phase: phase::ERROR.into(),
            message: Some(format!("ComparisonError: {e}")),
            started_at: Some(now()),
            finished_at: Some(now()),
            ..Default::default()
        });
    }
    status.reconciled_at = Some(now());
    // The operation's state is recorded before the request is cleared.
    write_status(engine, app, status).await;
    if requested.is_some() {
        clear_request(engine, app).await;
    }
    retry.or_else(|| engine.resync_delay())
}

/// The cluster cannot be worked with: `Unknown`, with a `ComparisonError` naming the cluster
/// and the cause (as Argo CD's "failed to sync cluster"). Written once per change: the cause
/// is the one the cluster went dark with. `until`: the end of the pool's backoff (`None`: the
/// live cache recovers by itself and queues every Application of the cluster again).
async fn unavailable(
    engine: &Engine,
    app: &Application,
    mut status: ApplicationStatus,
    err: &str,
    until: Option<tokio::time::Instant>,
) -> Option<Duration> {
    status.sync = Some(SyncStatus {
        status: UNKNOWN.into(),
        revision: status.sync.as_ref().and_then(|s| s.revision.clone()),
        revisions: vec![],
    });
    let cluster = destination_name(app);
    app_status::clear_condition(&mut status.conditions, condition::UNKNOWN_ERROR);
    app_status::set_condition(
        &mut status.conditions,
        condition::COMPARISON_ERROR,
        format!("cluster {cluster} is unavailable: {err}"),
        &now(),
    );
    write_status(engine, app, status).await;
    match until {
        Some(until) => Some(
            until
                .saturating_duration_since(tokio::time::Instant::now())
                .max(Duration::from_millis(100)),
        ),
        None => engine.resync_delay(),
    }
}

/// Writes `status` if it differs from the live one other than in `reconciledAt` (a JSON patch
/// replacing the whole status, so nothing stale survives).
pub(super) async fn write_status(engine: &Engine, app: &Application, status: ApplicationStatus) {
    if app
        .status
        .as_ref()
        .is_some_and(|s| app_status::same_ignoring_time(s, &status))
    {
        return;
    }
    let api: Api<Application> = Api::namespaced(engine.hub.clone(), &engine.config.namespace);
    let patch: json_patch::Patch =
        match serde_json::from_value(json!([{"op": "add", "path": "/status", "value": status}])) {
            Ok(p) => p,
            Err(_) => return,
        };
    match api
        .patch_status(
            &app.name_any(),
            &PatchParams::default(),
            &Patch::<()>::Json(patch),
        )
        .await
    {
        Ok(written) => {
            engine.wrote(&app.name_any(), &written);
            engine.metrics.app_status_writes.inc()
        }
        Err(e) => {
            tracing::warn!(app = %app.name_any(), error = %crate::cluster::describe_error(&e), "writing the status failed")
        }
    }
}

async fn clear_request(engine: &Engine, app: &Application) {
    let api: Api<Application> = Api::namespaced(engine.hub.clone(), &engine.config.namespace);
    let patch = json!({"operation": null});
    match api
        .patch(
            &app.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
    {
        Ok(written) => engine.wrote(&app.name_any(), &written),
        Err(e) => {
            tracing::warn!(app = %app.name_any(), error = %e, "clearing the operation failed")
        }
    }
}

async fn clear_refresh(engine: &Engine, app: &Application) {
    let api: Api<Application> = Api::namespaced(engine.hub.clone(), &engine.config.namespace);
    let patch = json!({"metadata": {"annotations": {"flotilla.dev/refresh": null, "argocd.argoproj.io/refresh": null}}});
    match api
        .patch(
            &app.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
    {
        Ok(written) => engine.wrote(&app.name_any(), &written),
        Err(e) => {
            tracing::warn!(app = %app.name_any(), error = %e, "clearing the refresh annotation failed")
        }
    }
}

async fn remove_finalizer(engine: &Engine, app: &Application) -> Result<(), kube::Error> {
    let api: Api<Application> = Api::namespaced(engine.hub.clone(), &engine.config.namespace);
    let keep: Vec<String> = app
        .finalizers()
        .iter()
        .filter(|f| !f.starts_with(RESOURCES_FINALIZER))
        .cloned()
        .collect();
    let patch =
        json!({"metadata": {"finalizers": keep, "resourceVersion": app.resource_version()}});
    api.patch(
        &app.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await
    .map(|_| ())
}

/// Deletion of an Application with the resources finalizer: its resources go first (cascade),
/// then the finalizer.
async fn finalize(engine: &Engine, pool: &Pool, app: &Application) -> Option<Duration> {
    let finalizer = app
        .finalizers()
        .iter()
        .find(|f| f.starts_with(RESOURCES_FINALIZER))
        .cloned()?;
    let propagation = match finalizer.strip_prefix(RESOURCES_FINALIZER) {
        Some("/background") => "background",
        _ => "foreground",
    };
    // A cache that cannot be trusted might not show every resource: deleting the finalizer
    // then could leave some behind.
    if let Some((_, until)) = pool.unavailable() {
        return Some(until.map_or(Duration::from_secs(5), |u| {
            u.saturating_duration_since(tokio::time::Instant::now())
        }));
    }
    let types = match ensure_types(pool, app, &[]).await {
        Ok(t) if t.failed.is_empty() => t.cached,
        Ok(t) => {
            let mut status = app.status.clone().unwrap_or_default();
            app_status::set_condition(
                &mut status.conditions,
                condition::DELETION_ERROR,
                t.failed.join("; "),
                &now(),
            );
            write_status(engine, app, status).await;
            return Some(transient_retry());
        }
        Err(err) => {
            let until = pool.failed(err);
            return Some(until.saturating_duration_since(tokio::time::Instant::now()));
        }
    };
    let owned = pool.live.owned_by(&app.name_any());
    if owned.is_empty() {
        if let Err(e) = remove_finalizer(engine, app).await {
            tracing::warn!(app = %app.name_any(), error = %e, "removing the finalizer failed");
            return Some(Duration::from_secs(2));
        }
        tracing::info!(app = %app.name_any(), "deleted with its resources");
        return None;
    }
    for (gvk, obj) in owned {
        if obj["metadata"]["deletionTimestamp"].is_string() {
            continue;
        }
        let Some(t) = types.get(&gvk).cloned().or_else(|| pool.live.type_of(&gvk)) else {
            continue;
        };
        let key = ObjectKey::of(&obj);
        pool.live.record_delete(&key);
        if let Err(e) = super::apply::delete(
            pool.live.client(),
            &t.resource,
            t.namespaced,
            &key,
            propagation,
        )
        .await
        {
            let mut status = app.status.clone().unwrap_or_default();
            app_status::set_condition(
                &mut status.conditions,
                condition::DELETION_ERROR,
                e.to_string(),
                &now(),
            );
            write_status(engine, app, status).await;
            if e.is_unavailable() {
                let until = pool.failed(e.to_string());
                return Some(until.saturating_duration_since(tokio::time::Instant::now()));
            }
        }
    }
    Some(Duration::from_secs(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_rollback_renders_the_sources_it_names() {
        let app: Application = serde_json::from_value(json!({
            "metadata": {"name": "web"},
            "spec": {"sources": [{"repoURL": "https://git.example/r.git", "path": "apps/a", "targetRevision": "main"},
                                 {"repoURL": "https://git.example/r.git", "path": "apps/b", "targetRevision": "main"}]}
        }))
        .unwrap();
        let mut sync = SyncOperation::default();
        assert!(with_sources(&app, &sync).is_none(), "no sources named");
        // The sources deployed then, at their commits: the same sources.
        sync.sources = app.spec.sources.clone();
        for s in &mut sync.sources {
            s.target_revision = Some("0123abc".into());
        }
        assert!(with_sources(&app, &sync).is_none());
        // The second source's path changed since: the rollback renders the old one.
        sync.sources[1].path = Some("apps/old-b".into());
        let other = with_sources(&app, &sync).unwrap();
        assert_eq!(other.spec.sources[1].path.as_deref(), Some("apps/old-b"));
        assert!(other.spec.source.is_none());
        // A single source.
        let single: Application = serde_json::from_value(json!({
            "metadata": {"name": "web"},
            "spec": {"source": {"repoURL": "https://git.example/r.git", "path": "apps/a"}}
        }))
        .unwrap();
        let mut sync = SyncOperation {
            source: single.spec.source.clone(),
            ..Default::default()
        };
        assert!(with_sources(&single, &sync).is_none());
        sync.source.as_mut().unwrap().path = Some("apps/old".into());
        assert_eq!(
            with_sources(&single, &sync)
                .unwrap()
                .spec
                .source
                .unwrap()
                .path
                .as_deref(),
            Some("apps/old")
        );
    }
}
