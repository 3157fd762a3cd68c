//! `app sync` and `app rollback`: an operation written into the Application's top-level
//! `operation` field (Argo CD's shape; the hub starts it, records it in
//! `status.operationState` and clears the field), then, unless `--async`, a wait for that
//! operation to finish and its result.
//!
//! The request carries an id in `operation.info` (`flotilla.dev/request`), which the hub copies
//! into `status.operationState.operation`: the wait knows the state is its own operation's,
//! whatever the clock says.

use std::time::{Duration, Instant};

use jiff::Timestamp;

use super::error::AppError;
use super::session::Session;
use super::table::table;
use crate::api::Application;
use crate::api::application::{ApplicationSource, Info, OperationState};
use crate::api::operation::{Operation, OperationInitiator, SyncOperation};
use crate::sync::operation::{automated, phase};

/// The `info` name of a request's id.
pub const REQUEST_INFO: &str = "flotilla.dev/request";

/// How often the Application is read while waiting.
const POLL: Duration = Duration::from_millis(500);

/// What to sync to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SyncRequest {
    pub revision: Option<String>,
    /// One per source (multi-source rollback).
    pub revisions: Vec<String>,
    pub prune: bool,
    /// The source(s) to sync instead of the spec's (a rollback: those it deployed then).
    pub source: Option<ApplicationSource>,
    pub sources: Vec<ApplicationSource>,
}

/// Whether and how long to wait.
#[derive(Debug, Clone, Copy)]
pub struct WaitFor {
    pub wait: bool,
    pub timeout: Duration,
}

/// The operation of a request, with a fresh id.
pub fn operation(req: &SyncRequest, request_id: &str) -> Operation {
    let username = std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "flotilla-cli".into());
    Operation {
        sync: Some(SyncOperation {
            revision: req.revision.clone(),
            revisions: req.revisions.clone(),
            prune: req.prune,
            source: req.source.clone(),
            sources: req.sources.clone(),
            ..Default::default()
        }),
        initiated_by: Some(OperationInitiator {
            username: Some(username),
            automated: false,
        }),
        info: vec![Info {
            name: REQUEST_INFO.into(),
            value: request_id.into(),
        }],
        ..Default::default()
    }
}

fn request_id() -> String {
    format!(
        "{}-{}",
        Timestamp::now().as_nanosecond(),
        std::process::id()
    )
}

/// `app sync`.
pub async fn sync(
    session: &Session,
    name: &str,
    req: &SyncRequest,
    wait: WaitFor,
) -> Result<(), AppError> {
    run(session, name, req, wait, |_| Ok(())).await
}

/// `app rollback`: a sync to the revision(s) and source(s) of history entry `id` (every source
/// of a multi-source Application); refused under auto-sync
/// (it would sync straight back), as Argo CD refuses it.
pub async fn rollback(
    session: &Session,
    name: &str,
    id: i64,
    prune: bool,
    wait: WaitFor,
) -> Result<(), AppError> {
    let app = session.app(name).await?;
    let req = rollback_request(&app, id, prune)?;
    run(session, name, &req, wait, |a| {
        rollback_request(a, id, prune).map(|_| ())
    })
    .await
}

/// The sync that rolls `app` back to history entry `id`.
pub fn rollback_request(app: &Application, id: i64, prune: bool) -> Result<SyncRequest, AppError> {
    let name = app.metadata.name.clone().unwrap_or_default();
    if automated(&app.spec).is_some() {
        return Err(AppError::AutoSyncEnabled { name });
    }
    let history = app
        .status
        .as_ref()
        .map(|s| s.history.as_slice())
        .unwrap_or_default();
    let Some(entry) = history.iter().find(|h| h.id == id) else {
        let valid = if history.is_empty() {
            "none (the application has no history yet)".to_string()
        } else {
            history
                .iter()
                .map(|h| h.id.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        return Err(AppError::UnknownHistoryId { name, id, valid });
    };
    let revision = Some(entry.revision.clone())
        .filter(|r| !r.is_empty())
        .or_else(|| entry.revisions.first().cloned());
    Ok(SyncRequest {
        revision,
        revisions: entry.revisions.clone(),
        prune,
        source: entry.source.clone(),
        sources: entry.sources.clone(),
    })
}

async fn run(
    session: &Session,
    name: &str,
    req: &SyncRequest,
    wait: WaitFor,
    check: impl Fn(&Application) -> Result<(), AppError>,
) -> Result<(), AppError> {
    let id = request_id();
    session.request(name, &operation(req, &id), check).await?;
    if !wait.wait {
        println!(
            "application {name}: operation requested (sync to {})",
            req.revision.as_deref().unwrap_or("the target revision")
        );
        return Ok(());
    }
    let state = wait_operation(session, name, &id, wait.timeout).await?;
    print!("{}", result(&state));
    if state.phase == phase::SUCCEEDED {
        Ok(())
    } else {
        Err(AppError::OperationFailed {
            name: name.to_string(),
            phase: state.phase.clone(),
            message: state.message.clone().unwrap_or_default(),
        })
    }
}

/// Waits until the state of the operation with request id `id` is terminal.
async fn wait_operation(
    session: &Session,
    name: &str,
    id: &str,
    timeout: Duration,
) -> Result<OperationState, AppError> {
    let start = Instant::now();
    loop {
        let app = session.app(name).await?;
        let state = app.status.as_ref().and_then(|s| s.operation_state.clone());
        let ours = state.as_ref().filter(|s| is_request(s, id));
        if let Some(s) = ours.filter(|s| s.phase != phase::RUNNING) {
            return Ok(s.clone());
        }
        if start.elapsed() >= timeout {
            let status = match ours {
                Some(s) => format!(
                    "operation {}{}",
                    s.phase,
                    s.message
                        .as_deref()
                        .map(|m| format!(": {m}"))
                        .unwrap_or_default()
                ),
                None if app.operation.is_some() => "the hub has not started the operation".into(),
                None => "the operation is not recorded".into(),
            };
            return Err(AppError::Timeout {
                name: name.to_string(),
                what: "the operation to finish".into(),
                waited: format!("{timeout:?}"),
                status,
            });
        }
        tokio::time::sleep(
            POLL.min(timeout.saturating_sub(start.elapsed()))
                .max(Duration::from_millis(10)),
        )
        .await;
    }
}

/// Whether `state` records the operation of request `id`.
pub fn is_request(state: &OperationState, id: &str) -> bool {
    state.operation.as_ref().is_some_and(|o| {
        o.info
            .iter()
            .any(|i| i.name == REQUEST_INFO && i.value == id)
    })
}

/// Phase, message, revision and times, then GROUP KIND NAMESPACE NAME STATUS MESSAGE of each
/// resource.
pub fn result(state: &OperationState) -> String {
    let mut out = String::new();
    let line = |out: &mut String, k: &str, v: &str| {
        out.push_str(format!("{:<14}{v}\n", format!("{k}:")).as_str())
    };
    line(&mut out, "Operation", "Sync");
    line(&mut out, "Phase", &state.phase);
    line(
        &mut out,
        "Message",
        state.message.as_deref().unwrap_or_default(),
    );
    if let Some(r) = &state.sync_result {
        line(&mut out, "Revision", &r.revision);
    }
    if let Some(t) = &state.started_at {
        line(&mut out, "Started", &t.0.to_string());
    }
    if let Some(t) = &state.finished_at {
        line(&mut out, "Finished", &t.0.to_string());
    }
    let rows: Vec<Vec<String>> = state
        .sync_result
        .iter()
        .flat_map(|r| r.resources.iter())
        .map(|r| {
            vec![
                r.group.clone(),
                r.kind.clone(),
                r.namespace.clone(),
                r.name.clone(),
                r.status.clone().unwrap_or_default(),
                r.message.clone().unwrap_or_default(),
            ]
        })
        .collect();
    if !rows.is_empty() {
        out.push('\n');
        out.push_str(&table(
            &["GROUP", "KIND", "NAMESPACE", "NAME", "STATUS", "MESSAGE"],
            &rows,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn app(policy: serde_json::Value) -> Application {
        serde_json::from_value(json!({"metadata": {"name": "web"}, "spec": {"syncPolicy": policy},
            "status": {"history": [{"id": 0, "revision": "aaa"}, {"id": 1, "revision": "", "revisions": ["bbb", "ccc"],
                "sources": [{"repoURL": "https://git.example/r.git", "path": "apps/a"}, {"repoURL": "https://git.example/r.git", "path": "apps/b"}]}]}}))
        .unwrap()
    }

    #[test]
    fn rollback_requests() {
        let e = rollback_request(&app(json!({"automated": {}})), 0, false).unwrap_err();
        assert!(
            e.to_string()
                .contains("rollback cannot be initiated when auto-sync is enabled"),
            "{e}"
        );
        assert!(rollback_request(&app(json!({"automated": {"enabled": false}})), 0, false).is_ok());
        let manual = app(json!({}));
        assert_eq!(
            rollback_request(&manual, 0, true).unwrap(),
            SyncRequest {
                revision: Some("aaa".into()),
                prune: true,
                ..Default::default()
            }
        );
        // Every source of a multi-source deployment goes back: revisions and sources.
        let multi = rollback_request(&manual, 1, false).unwrap();
        assert_eq!(multi.revisions, ["bbb", "ccc"]);
        assert_eq!(
            multi
                .sources
                .iter()
                .map(|s| s.path.as_deref().unwrap_or_default())
                .collect::<Vec<_>>(),
            ["apps/a", "apps/b"]
        );
        let op = serde_json::to_value(operation(&multi, "1")).unwrap();
        assert_eq!(op["sync"]["revisions"], json!(["bbb", "ccc"]));
        assert_eq!(op["sync"]["sources"][1]["path"], "apps/b");
        let e = rollback_request(&manual, 7, false).unwrap_err();
        assert_eq!(
            e.to_string(),
            "application \"web\": no history entry with ID 7; valid IDs: 0, 1"
        );
    }

    #[test]
    fn the_operation_carries_its_request_id() {
        let op = operation(
            &SyncRequest {
                revision: Some("abc".into()),
                prune: true,
                ..Default::default()
            },
            "42-1",
        );
        let v = serde_json::to_value(&op).unwrap();
        assert_eq!(v["sync"], json!({"revision": "abc", "prune": true}));
        assert!(v["initiatedBy"]["username"].is_string());
        let state = OperationState {
            operation: Some(op),
            phase: "Succeeded".into(),
            ..Default::default()
        };
        assert!(is_request(&state, "42-1") && !is_request(&state, "42-2"));
    }
}
