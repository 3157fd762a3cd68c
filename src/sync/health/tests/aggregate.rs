//! The app health from its resources.

use super::*;

fn res(health: Option<&str>, live: bool, ignored: bool) -> ResourceHealth {
    ResourceHealth {
        kind: "Deployment".into(),
        name: "web".into(),
        health: health.map(|s| HealthStatus {
            status: s.into(),
            message: Some(format!("{s} message")),
        }),
        live,
        ignored,
    }
}

#[test]
fn app_health_is_the_worst() {
    let rs = [
        res(Some("Healthy"), true, false),
        res(Some("Progressing"), true, false),
        res(Some("Suspended"), true, false),
        res(None, true, false),
    ];
    assert_eq!(
        app_health(&rs),
        HealthStatus {
            status: "Progressing".into(),
            message: Some("Deployment/web: Progressing message".into())
        }
    );
    let rs = [
        res(Some("Degraded"), true, false),
        res(Some("Unknown"), true, false),
    ];
    assert_eq!(app_health(&rs).status, "Unknown");
    let rs = [res(Some("Whatever"), true, false)];
    assert_eq!(app_health(&rs).status, "Unknown");
}

#[test]
fn app_health_first_worst_message() {
    let mut a = res(Some("Degraded"), true, false);
    a.name = "a".into();
    let mut b = res(Some("Degraded"), true, false);
    b.name = "b".into();
    b.health.as_mut().unwrap().message = None;
    assert_eq!(
        app_health(&[a.clone(), b.clone()]).message.as_deref(),
        Some("Deployment/a: Degraded message")
    );
    assert_eq!(app_health(&[b, a]).message.as_deref(), Some("Deployment/b"));
}

#[test]
fn app_health_empty_and_healthy() {
    assert_eq!(app_health(&[]), HealthCode::Healthy.status());
    assert_eq!(
        app_health(&[res(Some("Healthy"), true, false), res(None, true, false)]),
        HealthCode::Healthy.status()
    );
}

#[test]
fn app_health_missing_only_when_nothing_is_live() {
    let rs = [res(None, false, false), res(Some("Missing"), false, false)];
    assert_eq!(app_health(&rs).status, "Missing");
    // one missing resource does not worsen health
    let rs = [res(Some("Healthy"), true, false), res(None, false, false)];
    assert_eq!(app_health(&rs).status, "Healthy");
    let rs = [
        res(Some("Suspended"), true, false),
        res(Some("Missing"), false, false),
    ];
    assert_eq!(app_health(&rs).status, "Suspended");
}

#[test]
fn app_health_leaves_out_ignored_resources() {
    let rs = [
        res(Some("Healthy"), true, false),
        res(Some("Degraded"), true, true),
    ];
    assert_eq!(app_health(&rs).status, "Healthy");
    // the only live resource is ignored: the others are all missing
    let rs = [res(Some("Healthy"), true, true), res(None, false, false)];
    assert_eq!(app_health(&rs).status, "Missing");
    // everything ignored: nothing counts
    let rs = [res(None, false, true)];
    assert_eq!(app_health(&rs).status, "Healthy");
}
