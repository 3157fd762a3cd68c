//! The status an ApplicationSet pass reports, without I/O: Argo CD's three conditions with its
//! reasons and coupling, `status.resources` (capped, with the true count) and `status.health`.
//! Transition times are kept while a condition's status stays the same, so an unchanged pass
//! yields an equal status and the controller writes nothing.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::api::Application;
use crate::api::application::HealthStatus;
use crate::api::application_set::{
    ApplicationSetCondition, ApplicationSetResource, ApplicationSetStatus,
};

pub const ERROR_OCCURRED: &str = "ErrorOccurred";
pub const PARAMETERS_GENERATED: &str = "ParametersGenerated";
pub const RESOURCES_UP_TO_DATE: &str = "ResourcesUpToDate";

/// Argo CD's condition reasons (`applicationset_types.go`), and Flotilla's own.
pub mod reason {
    pub const ERROR_OCCURRED: &str = "ErrorOccurred";
    pub const UP_TO_DATE: &str = "ApplicationSetUpToDate";
    pub const PARAMETERS_GENERATED: &str = "ParametersGenerated";
    pub const GENERATION_ERROR: &str = "ApplicationGenerationFromParamsError";
    pub const RENDER_ERROR: &str = "RenderTemplateParamsError";
    pub const VALIDATION_ERROR: &str = "ApplicationValidationError";
    pub const CREATE_ERROR: &str = "CreateApplicationError";
    pub const UPDATE_ERROR: &str = "UpdateApplicationError";
    pub const DELETE_ERROR: &str = "DeleteApplicationError";
    /// Flotilla: an empty generation where Applications exist, refused.
    pub const DELETION_REFUSED: &str = "ApplicationDeletionRefused";
}

/// How a pass went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Generation failed: nothing was written. `reason` is one of the generation reasons.
    Failed {
        reason: &'static str,
        message: String,
    },
    /// Generated; `problems` are (reason, message) of what could not be done, first first.
    Generated {
        problems: Vec<(&'static str, String)>,
    },
}

/// The three conditions for `outcome`, keeping the transition times of `previous` where a
/// condition's status did not change.
pub fn conditions(
    outcome: &Outcome,
    previous: &[ApplicationSetCondition],
    now: &Time,
) -> Vec<ApplicationSetCondition> {
    let c = |type_: &str, status: bool, reason: &str, message: String| ApplicationSetCondition {
        type_: type_.to_string(),
        status: if status { "True" } else { "False" }.to_string(),
        reason: reason.to_string(),
        message,
        last_transition_time: None,
    };
    let mut out = match outcome {
        Outcome::Failed { reason, message } => vec![
            c(ERROR_OCCURRED, true, reason, message.clone()),
            c(PARAMETERS_GENERATED, false, reason, message.clone()),
            c(
                RESOURCES_UP_TO_DATE,
                false,
                reason::ERROR_OCCURRED,
                message.clone(),
            ),
        ],
        Outcome::Generated { problems } => {
            let params = c(
                PARAMETERS_GENERATED,
                true,
                reason::PARAMETERS_GENERATED,
                "Successfully generated parameters for all Applications".into(),
            );
            match problems.first() {
                None => {
                    let ok = "All applications have been generated successfully".to_string();
                    vec![
                        c(ERROR_OCCURRED, false, reason::UP_TO_DATE, ok.clone()),
                        params,
                        c(RESOURCES_UP_TO_DATE, true, reason::UP_TO_DATE, ok),
                    ]
                }
                Some((why, first)) => {
                    let message = match problems.len() {
                        1 => first.clone(),
                        n => format!("{first} (and {} more)", n - 1),
                    };
                    vec![
                        c(ERROR_OCCURRED, true, why, message.clone()),
                        params,
                        c(RESOURCES_UP_TO_DATE, false, reason::ERROR_OCCURRED, message),
                    ]
                }
            }
        }
    };
    for cond in &mut out {
        let kept = previous
            .iter()
            .find(|p| p.type_ == cond.type_ && p.status == cond.status)
            .and_then(|p| p.last_transition_time.clone());
        cond.last_transition_time = Some(kept.unwrap_or_else(|| now.clone()));
    }
    out
}

/// `status.health` from the conditions (Argo CD's `CalculateHealth`, without rollouts).
pub fn health(conditions: &[ApplicationSetCondition]) -> HealthStatus {
    let is_true = |t: &str| {
        conditions
            .iter()
            .any(|c| c.type_ == t && c.status == "True")
    };
    let find = |t: &str| conditions.iter().find(|c| c.type_ == t);
    if is_true(ERROR_OCCURRED) {
        return HealthStatus {
            status: "Degraded".into(),
            message: find(ERROR_OCCURRED).map(|c| c.message.clone()),
        };
    }
    if is_true(RESOURCES_UP_TO_DATE) {
        return HealthStatus {
            status: "Healthy".into(),
            message: find(RESOURCES_UP_TO_DATE).map(|c| c.message.clone()),
        };
    }
    HealthStatus {
        status: "Unknown".into(),
        message: None,
    }
}

/// The `status.resources` entry of an owned Application.
pub fn resource_entry(app: &Application) -> ApplicationSetResource {
    let status = app.status.as_ref();
    ApplicationSetResource {
        group: "flotilla.dev".into(),
        version: "v1alpha1".into(),
        kind: "Application".into(),
        name: app.metadata.name.clone().unwrap_or_default(),
        namespace: app.metadata.namespace.clone().unwrap_or_default(),
        status: status
            .and_then(|s| s.sync.as_ref())
            .map(|s| s.status.clone()),
        health: status.and_then(|s| s.health.clone()),
    }
}

/// One `status.resources` entry per owned Application (the last one of a name wins), sorted by
/// name, at most `cap` of them; and the true count.
pub fn resources(
    owned: impl IntoIterator<Item = ApplicationSetResource>,
    cap: usize,
) -> (Vec<ApplicationSetResource>, i64) {
    let mut by_name: BTreeMap<String, ApplicationSetResource> = BTreeMap::new();
    for entry in owned {
        by_name.insert(entry.name.clone(), entry);
    }
    let count = by_name.len() as i64;
    (by_name.into_values().take(cap).collect(), count)
}

/// The whole status.
pub fn status(
    outcome: &Outcome,
    previous: Option<&ApplicationSetStatus>,
    owned: Vec<ApplicationSetResource>,
    cap: usize,
    now: &Time,
) -> ApplicationSetStatus {
    let previous_conditions = previous
        .map(|p| p.conditions.as_slice())
        .unwrap_or_default();
    let conditions = conditions(outcome, previous_conditions, now);
    let (resources, count) = resources(owned, cap);
    let health = Some(health(&conditions));
    ApplicationSetStatus {
        conditions,
        resources,
        resources_count: Some(count),
        health,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now(s: i64) -> Time {
        Time(jiff::Timestamp::from_second(s).unwrap())
    }

    #[test]
    fn success_is_stable_and_keeps_transition_times() {
        let ok = Outcome::Generated { problems: vec![] };
        let first = conditions(&ok, &[], &now(100));
        assert_eq!(
            first
                .iter()
                .map(|c| (c.type_.as_str(), c.status.as_str()))
                .collect::<Vec<_>>(),
            [
                (ERROR_OCCURRED, "False"),
                (PARAMETERS_GENERATED, "True"),
                (RESOURCES_UP_TO_DATE, "True")
            ]
        );
        let again = conditions(&ok, &first, &now(200));
        assert_eq!(first, again, "an unchanged pass yields an equal status");
        assert_eq!(health(&first).status, "Healthy");
    }

    #[test]
    fn failures_couple_the_conditions() {
        let ok = conditions(&Outcome::Generated { problems: vec![] }, &[], &now(100));
        let failed = Outcome::Failed {
            reason: reason::GENERATION_ERROR,
            message: "git: unreachable".into(),
        };
        let c = conditions(&failed, &ok, &now(200));
        assert_eq!(
            (c[0].status.as_str(), c[0].reason.as_str()),
            ("True", reason::GENERATION_ERROR)
        );
        assert_eq!(
            (
                c[1].status.as_str(),
                c[2].status.as_str(),
                c[2].reason.as_str()
            ),
            ("False", "False", reason::ERROR_OCCURRED)
        );
        assert_eq!(c[0].last_transition_time, Some(now(200)));
        assert_eq!(health(&c).status, "Degraded");
        let problems = Outcome::Generated {
            problems: vec![
                (reason::VALIDATION_ERROR, "dup a".into()),
                (reason::CREATE_ERROR, "b".into()),
                (reason::CREATE_ERROR, "c".into()),
            ],
        };
        let c = conditions(&problems, &[], &now(1));
        assert_eq!(c[0].message, "dup a (and 2 more)");
        assert_eq!(c[0].reason, reason::VALIDATION_ERROR);
        assert_eq!(c[1].status, "True");
    }

    #[test]
    fn resources_are_sorted_capped_and_counted() {
        let apps: Vec<Application> = ["c", "a", "b"]
            .iter()
            .map(|n| Application::new(n, Default::default()))
            .collect();
        let (list, count) = resources(apps.iter().map(resource_entry), 2);
        assert_eq!(
            list.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert_eq!(count, 3);
    }
}
