//! The ApplicationSet controller (driver): kube-runtime's `Controller` over the ApplicationSets
//! of the hub namespace — one pending entry per ApplicationSet, never two reconciles of one at
//! once, `concurrency` of them in parallel — triggered by ApplicationSet changes, by changes of
//! the Applications they own that concern it ([`owned_changes`]: not their status), and by
//! cluster registry changes that concern them.
//!
//! One pass: wait for a synced registry → expand (in a blocking task: Git is libgit2) →
//! [`plan`] → write Applications in parallel (bounded) → [`status`] → patch status only if it
//! changed. A generation error writes no Application at all.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{Stream, StreamExt};
use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use kube::runtime::controller::Action;
use kube::runtime::reflector::{self, ObjectRef, ReflectHandle, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube_runtime::Controller;
use serde_json::json;

use super::cluster_interest;
use super::error::{AppSetError, GenerateError};
use super::expand::{Inputs, expand};
use super::freshness::{Fetch, Freshness};
use super::owned_changes::OwnedChanges;
use super::plan::{self, Plan, Policy, is_controlled_by};
use super::status::{self, Outcome, RESOURCES_UP_TO_DATE, reason};
use crate::api::application_set::ApplicationSetResource;
use crate::api::{Application, ApplicationSet};
use crate::cluster::Registry;
use crate::git::rounds::GitRounds;
use crate::observe::Metrics;

/// Annotation that asks for a re-evaluation with fresh Git data (removed after the pass).
pub const REFRESH_ANNOTATION: &str = "flotilla.dev/refresh";
/// Argo CD's ApplicationSet refresh annotation, honoured the same way.
pub const ARGO_REFRESH_ANNOTATION: &str = "argocd.argoproj.io/application-set-refresh";
/// Finalizer held while the policy forbids deleting Applications: on deletion of the
/// ApplicationSet its Applications are released (owner references removed), not collected.
pub const PRESERVE_FINALIZER: &str = "flotilla.dev/preserve-applications";

/// How the controller behaves (the `flotilla hub` flags).
#[derive(Debug, Clone)]
pub struct ControllerConfig {
    pub namespace: String,
    /// `--policy`.
    pub policy: Policy,
    /// `--policy-override`: whether `spec.syncPolicy.applicationsSync` is honoured.
    pub policy_override: bool,
    /// ApplicationSets reconciled at once.
    pub concurrency: u16,
    /// Application writes in flight per pass.
    pub write_concurrency: usize,
    /// `status.resources` entries at most.
    pub max_resources_status: usize,
    /// Re-evaluation interval of git generators without `requeueAfterSeconds` is theirs (180 s);
    /// ApplicationSets without git generators are re-evaluated this often anyway.
    pub resync: Duration,
    /// Git is fetched again at most this often for the periodic re-evaluations, or as often as
    /// an ApplicationSet's `requeueAfterSeconds` asks if that is shorter (a refresh always
    /// fetches).
    pub git_min_interval: Duration,
}

impl Default for ControllerConfig {
    fn default() -> Self {
        Self {
            namespace: "flotilla".into(),
            policy: Policy::Sync,
            policy_override: true,
            concurrency: 10,
            write_concurrency: 50,
            max_resources_status: 5000,
            resync: Duration::from_secs(600),
            git_min_interval: Duration::from_secs(10),
        }
    }
}

/// What a reconcile can fail with (the controller retries it).
#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    #[error("ApplicationSet {appset}: {action}: {source}")]
    Api {
        appset: String,
        action: &'static str,
        source: kube::Error,
    },
    #[error("ApplicationSet {appset}: the generation task failed: {source}")]
    Task {
        appset: String,
        source: tokio::task::JoinError,
    },
}

struct Context {
    client: kube::Client,
    registry: Arc<Registry>,
    rounds: Arc<GitRounds>,
    apps: Store<Application>,
    config: ControllerConfig,
    metrics: Arc<Metrics>,
    /// When each ApplicationSet last read Git afresh.
    fresh: Arc<Freshness>,
}

/// What the controller reads besides its own watch: the hub's shared Application cache and its
/// change feed (with the deletions, which the shared cache does not pass on), the cluster
/// registry and the Git refresh rounds.
pub struct Shared {
    pub registry: Arc<Registry>,
    pub rounds: Arc<GitRounds>,
    pub apps: Store<Application>,
    pub app_events: ReflectHandle<Application>,
    pub app_deletes: tokio::sync::mpsc::UnboundedReceiver<Arc<Application>>,
    pub metrics: Arc<Metrics>,
    /// Shared with the hub, which reports its size.
    pub fresh: Arc<Freshness>,
}

/// Runs the controller until the returned future is dropped.
pub async fn run(client: kube::Client, shared: Shared, config: ControllerConfig) {
    let Shared {
        registry,
        rounds,
        apps,
        app_events,
        app_deletes,
        metrics,
        fresh,
    } = shared;
    let appsets: Api<ApplicationSet> = Api::namespaced(client.clone(), &config.namespace);
    let (appset_reader, appset_writer) = reflector::store();
    let (forget_fresh, forget_metrics) = (fresh.clone(), metrics.clone());
    let appset_stream = watcher(appsets, watcher::Config::default())
        .default_backoff()
        .modify(slim)
        .reflect(appset_writer)
        .inspect(move |event| {
            if let Ok(watcher::Event::Delete(a)) = event {
                forget(&forget_fresh, &forget_metrics, a);
            }
        })
        .applied_objects()
        .predicate_filter(spec_and_metadata, Default::default());
    let cluster_triggers = cluster_triggers(registry.clone(), appset_reader.clone());
    let owned = owned_triggers(app_events, app_deletes, apps.clone());
    let concurrency = config.concurrency;
    let ctx = Arc::new(Context {
        client,
        registry: registry.clone(),
        rounds,
        apps,
        config,
        metrics,
        fresh,
    });
    // Nothing is decided before the registry and the Applications are fully known: an empty
    // registry at start means "not listed yet", not "no clusters".
    registry.wait_synced().await;
    Controller::for_stream(appset_stream, appset_reader)
        .owns_shared_stream(owned)
        .reconcile_on(cluster_triggers)
        .with_config(
            kube_runtime::controller::Config::default()
                .concurrency(concurrency)
                .debounce(Duration::from_millis(200)),
        )
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            if let Err(e) = result {
                tracing::debug!(error = %e, "ApplicationSet controller");
            }
        })
        .await;
}

/// What the caches need not keep: managedFields and kubectl's last-applied copy (together often
/// more than the object itself).
pub fn slim<K: kube::Resource>(obj: &mut K) {
    let meta = obj.meta_mut();
    meta.managed_fields = None;
    if let Some(a) = meta.annotations.as_mut() {
        a.remove("kubectl.kubernetes.io/last-applied-configuration");
    }
}

/// The ApplicationSet changes worth a pass: spec (generation), labels, annotations (refresh),
/// finalizers, deletion. Status writes (our own) are not.
fn spec_and_metadata(a: &ApplicationSet) -> Option<u64> {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    a.metadata.generation.hash(&mut h);
    a.metadata.labels.hash(&mut h);
    a.metadata.annotations.hash(&mut h);
    a.metadata.finalizers.hash(&mut h);
    a.metadata
        .deletion_timestamp
        .as_ref()
        .map(|t| t.0.as_second())
        .hash(&mut h);
    Some(h.finish())
}

/// A deleted ApplicationSet: its freshness entry and its metric series go.
fn forget(fresh: &Freshness, metrics: &Metrics, appset: &ApplicationSet) {
    if let Some(uid) = appset.metadata.uid.as_deref() {
        fresh.forget(uid);
    }
    let (ns, name) = (appset.namespace().unwrap_or_default(), appset.name_any());
    for status in ["True", "False", ""] {
        let _ = metrics
            .appset_info
            .remove_label_values(&[ns.as_str(), name.as_str(), status]);
    }
    let _ = metrics
        .appset_owned_applications
        .remove_label_values(&[ns.as_str(), name.as_str()]);
    let _ = metrics
        .appset_reconcile
        .remove_label_values(&[ns.as_str(), name.as_str()]);
}

/// Events between two prunings of [`OwnedChanges`] against the Application cache.
const PRUNE_EVERY: usize = 4096;

/// The owned Applications' events worth a pass of their ApplicationSet (see [`OwnedChanges`]):
/// the shared cache's feed, filtered, and the deletions.
fn owned_triggers(
    applied: ReflectHandle<Application>,
    deleted: tokio::sync::mpsc::UnboundedReceiver<Arc<Application>>,
    cache: Store<Application>,
) -> impl Stream<Item = Arc<Application>> + Send + 'static {
    let deleted = tokio_stream::wrappers::UnboundedReceiverStream::new(deleted);
    let mut changes = OwnedChanges::default();
    let mut events = 0usize;
    futures::stream::select(applied.map(|a| (a, false)), deleted.map(|a| (a, true))).filter_map(
        move |(app, gone)| {
            let pass = if gone {
                changes.deleted(&app)
            } else {
                changes.admit(&app)
            };
            events += 1;
            if events.is_multiple_of(PRUNE_EVERY) {
                let live: std::collections::HashSet<String> =
                    cache.state().iter().filter_map(|a| a.uid()).collect();
                changes.retain(|uid| live.contains(uid));
            }
            futures::future::ready(pass.then_some(app))
        },
    )
}

/// The ApplicationSets concerned by each registry change.
fn cluster_triggers(
    registry: Arc<Registry>,
    appsets: Store<ApplicationSet>,
) -> impl Stream<Item = ObjectRef<ApplicationSet>> + Send + 'static {
    let rx = registry.subscribe();
    futures::stream::unfold((rx, appsets), |(mut rx, appsets)| async move {
        loop {
            let refs: Vec<ObjectRef<ApplicationSet>> = match rx.recv().await {
                Ok(change) => appsets
                    .state()
                    .iter()
                    .filter(|a| cluster_interest::concerns(a, &change.label_sets()))
                    .map(|a| ObjectRef::from_obj(a.as_ref()))
                    .collect(),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => appsets
                    .state()
                    .iter()
                    .filter(|a| cluster_interest::uses_clusters(a))
                    .map(|a| ObjectRef::from_obj(a.as_ref()))
                    .collect(),
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            };
            if !refs.is_empty() {
                return Some((futures::stream::iter(refs), (rx, appsets)));
            }
        }
    })
    .flatten()
}

fn error_policy(
    appset: Arc<ApplicationSet>,
    error: &ControllerError,
    _ctx: Arc<Context>,
) -> Action {
    tracing::warn!(appset = %appset.name_any(), error = %error, "ApplicationSet pass failed; retrying");
    Action::requeue(crate::timing::jittered(
        Duration::from_secs(5),
        Duration::from_secs(5),
    ))
}

async fn reconcile(
    appset: Arc<ApplicationSet>,
    ctx: Arc<Context>,
) -> Result<Action, ControllerError> {
    let started = Instant::now();
    let ns = appset.namespace().unwrap_or_default();
    let name = appset.name_any();
    let result = pass(&appset, &ctx).await;
    ctx.metrics
        .appset_reconcile
        .with_label_values(&[&ns, &name])
        .observe(started.elapsed().as_secs_f64());
    result
}

async fn pass(appset: &ApplicationSet, ctx: &Context) -> Result<Action, ControllerError> {
    let qualified = super::expand::qualified_name(appset);
    let api: Api<ApplicationSet> =
        Api::namespaced(ctx.client.clone(), &appset.namespace().unwrap_or_default());
    let policy = Policy::effective(appset, ctx.config.policy, ctx.config.policy_override);
    if appset.metadata.deletion_timestamp.is_some() {
        return on_deletion(appset, ctx, &api, &qualified).await;
    }
    ensure_finalizer(
        appset,
        &api,
        &qualified,
        policy.as_ref().is_ok_and(|p| !p.allows_delete()),
    )
    .await?;
    if ctx.apps.wait_until_ready().await.is_err() {
        return Ok(Action::requeue(Duration::from_secs(1)));
    }
    let policy = match policy {
        Ok(p) => p,
        Err(message) => {
            let outcome = Outcome::Failed {
                reason: reason::GENERATION_ERROR,
                message: format!(
                    "ApplicationSet {qualified}: spec.syncPolicy.applicationsSync: {message}"
                ),
            };
            write_status(appset, ctx, &api, &outcome, &qualified).await?;
            return Ok(Action::await_change());
        }
    };
    let expansion = match generate(appset, ctx).await? {
        Ok(e) => e,
        Err(e) => {
            let why = if matches_template_error(&e.cause) {
                reason::RENDER_ERROR
            } else {
                reason::GENERATION_ERROR
            };
            tracing::warn!(appset = %qualified, error = %e, "generation failed; nothing written");
            write_status(
                appset,
                ctx,
                &api,
                &Outcome::Failed {
                    reason: why,
                    message: e.to_string(),
                },
                &qualified,
            )
            .await?;
            let retry = if e.is_transient() {
                Duration::from_secs(30)
            } else {
                Duration::from_secs(180)
            };
            return Ok(Action::requeue(crate::timing::jittered(retry, retry / 10)));
        }
    };
    let ns = appset.namespace().unwrap_or_default();
    let live: HashMap<String, Arc<Application>> = ctx
        .apps
        .state()
        .into_iter()
        .filter(|a| a.namespace().as_deref() == Some(ns.as_str()))
        .map(|a| (a.name_any(), a))
        .collect();
    let requeue_after = expansion.requeue_after;
    let plan = plan::plan(
        appset,
        policy,
        expansion.applications,
        &expansion.duplicates,
        &live,
    );
    let mut problems: Vec<(&'static str, String)> = plan
        .invalid
        .iter()
        .map(|m| (reason::VALIDATION_ERROR, m.clone()))
        .collect();
    if let Some(n) = plan.empty_refused {
        problems.push((
            reason::DELETION_REFUSED,
            format!("the generators yielded no Applications where {n} exist; none was deleted (set spec.syncPolicy.allowEmpty: true to allow this)"),
        ));
        tracing::warn!(appset = %qualified, kept = n, "empty generation: no Application deleted");
    }
    if !plan.is_empty() {
        tracing::info!(appset = %qualified, create = plan.creates.len(), update = plan.updates.len(), delete = plan.deletes.len(), "writing Applications");
    }
    let deleted: std::collections::HashSet<String> =
        plan.deletes.iter().map(|(n, _)| n.clone()).collect();
    let (empty_refused, invalid) = (plan.empty_refused, !plan.invalid.is_empty());
    let (written, write_problems) = execute(plan, ctx, &ns).await;
    problems.extend(write_problems);
    let uid = appset.metadata.uid.as_deref().unwrap_or_default();
    let owned: Vec<ApplicationSetResource> = live
        .values()
        .filter(|a| {
            is_controlled_by(a, uid)
                && !deleted.contains(a.metadata.name.as_deref().unwrap_or_default())
        })
        .map(|a| status::resource_entry(a))
        .chain(written)
        .collect();
    drop(live);
    let outcome = Outcome::Generated { problems };
    let up_to_date = write_status_with(appset, ctx, &api, &outcome, owned, &qualified).await?;
    clear_refresh(appset, &api, &qualified).await?;
    let retry_soon = !up_to_date && empty_refused.is_none() && !invalid;
    let next = match (retry_soon, requeue_after) {
        (true, _) => Duration::from_secs(10),
        (false, Some(d)) => d,
        (false, None) => ctx.config.resync,
    };
    Ok(Action::requeue(crate::timing::jittered(next, next / 10)))
}

fn matches_template_error(e: &GenerateError) -> bool {
    match e {
        GenerateError::At { source, .. } => matches_template_error(source),
        GenerateError::Template(_) => true,
        _ => false,
    }
}

/// Expands in a blocking task, with fresh Git data when the ApplicationSet asks for a refresh,
/// changed, or has not seen fresh data for its requeue interval.
async fn generate(
    appset: &ApplicationSet,
    ctx: &Context,
) -> Result<Result<super::Expansion, AppSetError>, ControllerError> {
    let uid = appset.metadata.uid.clone().unwrap_or_default();
    let generation = appset.metadata.generation.unwrap_or(0);
    let refresh = appset.annotations().contains_key(REFRESH_ANNOTATION)
        || appset.annotations().contains_key(ARGO_REFRESH_ANNOTATION);
    match ctx.fresh.begin(
        &uid,
        generation,
        refresh,
        Instant::now(),
        ctx.config.git_min_interval,
    ) {
        Fetch::Force => ctx.rounds.force(),
        Fetch::IfOlder(age) => {
            ctx.rounds.refresh_if_older(age);
        }
        Fetch::No => {}
    }
    let appset = appset.clone();
    let (clusters, invalid_clusters) = ctx.registry.secrets();
    let in_cluster = ctx.registry.in_cluster_enabled();
    let git = ctx.rounds.cache().clone();
    let qualified = super::expand::qualified_name(&appset);
    let expansion = tokio::task::spawn_blocking(move || {
        expand(
            &appset,
            &Inputs {
                clusters: &clusters,
                invalid_clusters: &invalid_clusters,
                in_cluster,
                git: git.as_ref(),
            },
        )
    })
    .await
    .map_err(|source| ControllerError::Task {
        appset: qualified,
        source,
    })?;
    if let Ok(e) = &expansion {
        ctx.fresh.set_interval(&uid, e.requeue_after);
    }
    Ok(expansion)
}

/// One Application write.
enum Op {
    Create(Application),
    Update(Application),
    Delete(String, String),
}

/// Performs the writes, at most `write_concurrency` at once. Returns the Applications created
/// or updated (for the status) and what failed.
async fn execute(
    plan: Plan,
    ctx: &Context,
    ns: &str,
) -> (Vec<ApplicationSetResource>, Vec<(&'static str, String)>) {
    let api: Api<Application> = Api::namespaced(ctx.client.clone(), ns);
    let ops: Vec<Op> = plan
        .creates
        .into_iter()
        .map(Op::Create)
        .chain(plan.updates.into_iter().map(Op::Update))
        .chain(plan.deletes.into_iter().map(|(n, u)| Op::Delete(n, u)))
        .collect();
    let futures: Vec<_> = ops
        .into_iter()
        .map(|op| write_one(api.clone(), ctx.metrics.clone(), op))
        .collect();
    let results: Vec<WriteResult> = futures::stream::iter(futures)
        .buffer_unordered(ctx.config.write_concurrency.max(1))
        .collect()
        .await;
    let mut written = Vec::new();
    let mut problems = Vec::new();
    for r in results {
        match r {
            Ok(Some(entry)) => written.push(entry),
            Ok(None) => {}
            Err(p) => problems.push(p),
        }
    }
    problems.sort();
    (written, problems)
}

/// The status entry of what was written, or what failed.
type WriteResult = Result<Option<ApplicationSetResource>, (&'static str, String)>;

async fn write_one(api: Api<Application>, metrics: Arc<Metrics>, op: Op) -> WriteResult {
    let describe = |e: &kube::Error| crate::cluster::describe_error(e);
    let (verb, result) = match op {
        Op::Create(a) => (
            "create",
            match api.create(&PostParams::default(), &a).await {
                Ok(created) => Ok(Some(status::resource_entry(&created))),
                // Created by an earlier pass or a previous hub: the next pass updates it.
                Err(kube::Error::Api(s)) if s.code == 409 => Ok(None),
                Err(e) => Err((
                    reason::CREATE_ERROR,
                    format!("creating Application {}: {}", a.name_any(), describe(&e)),
                )),
            },
        ),
        Op::Update(a) => (
            "update",
            match api.replace(&a.name_any(), &PostParams::default(), &a).await {
                Ok(updated) => Ok(Some(status::resource_entry(&updated))),
                Err(e) => Err((
                    reason::UPDATE_ERROR,
                    format!("updating Application {}: {}", a.name_any(), describe(&e)),
                )),
            },
        ),
        Op::Delete(name, uid) => {
            let params = DeleteParams {
                preconditions: Some(Preconditions {
                    uid: Some(uid),
                    resource_version: None,
                }),
                ..Default::default()
            };
            (
                "delete",
                match api.delete(&name, &params).await {
                    Ok(_) => Ok(None),
                    Err(kube::Error::Api(s)) if s.code == 404 => Ok(None),
                    Err(e) => Err((
                        reason::DELETE_ERROR,
                        format!("deleting Application {name}: {}", describe(&e)),
                    )),
                },
            )
        }
    };
    metrics
        .appset_writes
        .with_label_values(&[verb, if result.is_ok() { "ok" } else { "error" }])
        .inc();
    result
}

async fn write_status(
    appset: &ApplicationSet,
    ctx: &Context,
    api: &Api<ApplicationSet>,
    outcome: &Outcome,
    qualified: &str,
) -> Result<bool, ControllerError> {
    let uid = appset.metadata.uid.clone().unwrap_or_default();
    let owned: Vec<ApplicationSetResource> = ctx
        .apps
        .state()
        .iter()
        .filter(|a| is_controlled_by(a, &uid))
        .map(|a| status::resource_entry(a))
        .collect();
    write_status_with(appset, ctx, api, outcome, owned, qualified).await
}

/// Patches the status if it differs from the live one. Returns whether ResourcesUpToDate is True.
async fn write_status_with(
    appset: &ApplicationSet,
    ctx: &Context,
    api: &Api<ApplicationSet>,
    outcome: &Outcome,
    owned: Vec<ApplicationSetResource>,
    qualified: &str,
) -> Result<bool, ControllerError> {
    let now = Time(Timestamp::now());
    let new = status::status(
        outcome,
        appset.status.as_ref(),
        owned,
        ctx.config.max_resources_status,
        &now,
    );
    let up_to_date = new
        .conditions
        .iter()
        .any(|c| c.type_ == RESOURCES_UP_TO_DATE && c.status == "True");
    let (ns, name) = (appset.namespace().unwrap_or_default(), appset.name_any());
    ctx.metrics
        .appset_owned_applications
        .with_label_values(&[&ns, &name])
        .set(new.resources_count.unwrap_or(0));
    let update_status = new
        .conditions
        .iter()
        .find(|c| c.type_ == RESOURCES_UP_TO_DATE)
        .map(|c| c.status.clone())
        .unwrap_or_default();
    let other = if update_status == "True" {
        "False"
    } else {
        "True"
    };
    let _ = ctx
        .metrics
        .appset_info
        .remove_label_values(&[ns.as_str(), name.as_str(), other]);
    ctx.metrics
        .appset_info
        .with_label_values(&[&ns, &name, &update_status])
        .set(1);
    if appset.status.as_ref() == Some(&new) {
        return Ok(up_to_date);
    }
    let patch = json!({"status": {
        "conditions": new.conditions,
        "resources": if new.resources.is_empty() { serde_json::Value::Null } else { json!(new.resources) },
        "resourcesCount": new.resources_count,
        "health": new.health,
    }});
    api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(|source| ControllerError::Api {
            appset: qualified.to_string(),
            action: "writing status",
            source,
        })?;
    Ok(up_to_date)
}

async fn clear_refresh(
    appset: &ApplicationSet,
    api: &Api<ApplicationSet>,
    qualified: &str,
) -> Result<(), ControllerError> {
    let present: Vec<&str> = [REFRESH_ANNOTATION, ARGO_REFRESH_ANNOTATION]
        .into_iter()
        .filter(|k| appset.annotations().contains_key(*k))
        .collect();
    if present.is_empty() {
        return Ok(());
    }
    let nulls: serde_json::Map<String, serde_json::Value> = present
        .iter()
        .map(|k| (k.to_string(), serde_json::Value::Null))
        .collect();
    let patch = json!({"metadata": {"annotations": nulls}});
    api.patch(
        &appset.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await
    .map(|_| ())
    .map_err(|source| ControllerError::Api {
        appset: qualified.to_string(),
        action: "removing the refresh annotation",
        source,
    })
}

/// Holds [`PRESERVE_FINALIZER`] exactly while the policy forbids deletes.
async fn ensure_finalizer(
    appset: &ApplicationSet,
    api: &Api<ApplicationSet>,
    qualified: &str,
    want: bool,
) -> Result<(), ControllerError> {
    let finalizers = appset.finalizers();
    let has = finalizers.iter().any(|f| f == PRESERVE_FINALIZER);
    if has == want {
        return Ok(());
    }
    let mut list: Vec<String> = finalizers
        .iter()
        .filter(|f| *f != PRESERVE_FINALIZER)
        .cloned()
        .collect();
    if want {
        list.push(PRESERVE_FINALIZER.to_string());
    }
    let patch =
        json!({"metadata": {"finalizers": list, "resourceVersion": appset.resource_version()}});
    api.patch(
        &appset.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await
    .map(|_| ())
    .map_err(|source| ControllerError::Api {
        appset: qualified.to_string(),
        action: "updating finalizers",
        source,
    })
}

/// Deletion: with [`PRESERVE_FINALIZER`], release the Applications (drop our controller
/// reference so the garbage collector keeps them), then drop the finalizer. Without it, the
/// garbage collector deletes the Applications through their owner references.
async fn on_deletion(
    appset: &ApplicationSet,
    ctx: &Context,
    api: &Api<ApplicationSet>,
    qualified: &str,
) -> Result<Action, ControllerError> {
    if !appset.finalizers().iter().any(|f| f == PRESERVE_FINALIZER) {
        return Ok(Action::await_change());
    }
    if ctx.apps.wait_until_ready().await.is_err() {
        return Ok(Action::requeue(Duration::from_secs(1)));
    }
    let uid = appset.metadata.uid.clone().unwrap_or_default();
    let apps: Api<Application> =
        Api::namespaced(ctx.client.clone(), &appset.namespace().unwrap_or_default());
    for app in ctx
        .apps
        .state()
        .iter()
        .filter(|a| is_controlled_by(a, &uid))
    {
        let owners: Vec<_> = app
            .owner_references()
            .iter()
            .filter(|o| o.uid != uid)
            .cloned()
            .collect();
        let patch = json!({"metadata": {"ownerReferences": owners, "resourceVersion": app.resource_version()}});
        apps.patch(
            &app.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
        .map_err(|source| ControllerError::Api {
            appset: qualified.to_string(),
            action: "releasing an Application",
            source,
        })?;
    }
    tracing::info!(appset = %qualified, "deleted; its Applications are kept (the policy forbids deleting them)");
    ensure_finalizer(appset, api, qualified, false).await?;
    Ok(Action::await_change())
}
