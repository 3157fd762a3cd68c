//! The health of an Application from its resources (Argo CD `setApplicationHealth`).

use super::HealthCode;
use crate::api::application::HealthStatus;

/// One managed resource as the app's health sees it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResourceHealth {
    /// For the app's message: `<kind>/<name>`.
    pub kind: String,
    pub name: String,
    /// [`super::resource_health`] of the live object; `None` for kinds without a check.
    pub health: Option<HealthStatus>,
    /// Whether the object exists in the cluster.
    pub live: bool,
    /// Left out of the health: [`super::is_health_ignored`], hooks, `IgnoreExtraneous`.
    pub ignored: bool,
}

/// The worst health of the counted resources, starting from Healthy.
///
/// Ignored resources do not count. The app is Missing only when it has (counted) resources and
/// none of them is live; otherwise a missing resource does not worsen the health (it only makes
/// the app OutOfSync). A status string that is not a known code counts as Unknown. The
/// message is that of the first worst resource, prefixed with `<kind>/<name>: `; a Healthy app
/// has no message.
pub fn app_health(resources: &[ResourceHealth]) -> HealthStatus {
    let counted: Vec<&ResourceHealth> = resources.iter().filter(|r| !r.ignored).collect();
    if !counted.is_empty() && counted.iter().all(|r| !r.live) {
        return HealthCode::Missing.status();
    }
    let mut worst: Option<(HealthCode, &ResourceHealth, &HealthStatus)> = None;
    for r in counted.into_iter().filter(|r| r.live) {
        let Some(health) = &r.health else { continue };
        let code = HealthCode::parse(&health.status).unwrap_or(HealthCode::Unknown);
        if worst.is_none_or(|(w, _, _)| code > w) {
            worst = Some((code, r, health));
        }
    }
    match worst {
        None | Some((HealthCode::Healthy, _, _)) => HealthCode::Healthy.status(),
        Some((code, r, health)) => {
            let prefix = format!("{}/{}", r.kind, r.name);
            code.with_message(match health.message.as_deref() {
                Some(m) if !m.is_empty() => format!("{prefix}: {m}"),
                _ => prefix,
            })
        }
    }
}
