//! The watch of one scope of a cached type (a namespace, or the whole cluster): list, then
//! follow events into the [`LiveCache`]; after an error list again — at once the first time (a
//! working watch that breaks), then 1 s, 2 s, … up to 30 s (jittered) while the type fails — and
//! at once when the cluster comes back (the cache's epoch). What an error says of the type and
//! of the cluster ([`FailureKind`]) feeds the cache's staleness ([`super::live_health`]).

use std::collections::HashSet;
use std::sync::Weak;
use std::time::Duration;

use futures::StreamExt;
use kube::api::{Api, DynamicObject};
use kube::runtime::watcher::{self, Event};
use tokio::time::Instant;

use super::live::{LiveCache, TypeCache};
use super::live_health::{Failure, FailureKind, TypeState};
use super::tracking::{INSTANCE_LABEL, ObjectKey};

/// A watch that had run this long starts over at once after an error.
const HEALTHY_WATCH: Duration = Duration::from_secs(30);
/// The longest wait between two lists of a failing type.
const RELIST_CAP: Duration = Duration::from_secs(30);

/// Watches one scope of a type (a namespace, or the whole cluster) for as long as the type is
/// cached: lists, then follows events; after an error lists again (at once the first time, then
/// 1 s, 2 s, … up to 30 s, jittered), and at once when the cluster comes back.
pub(super) async fn watch_scope(
    me: Weak<LiveCache>,
    cache: Weak<TypeCache>,
    api: Api<DynamicObject>,
    scope: usize,
    namespace: Option<String>,
) {
    let Some(mut epochs) = me.upgrade().map(|m| m.epoch.subscribe()) else {
        return;
    };
    let mut errors = 0u32;
    let mut listed_at: Option<Instant> = None;
    loop {
        let epoch = *epochs.borrow_and_update();
        let config = watcher::Config::default()
            .labels(INSTANCE_LABEL)
            .any_semantic();
        let mut stream = watcher::watcher(api.clone(), config).boxed();
        let mut listing: Option<HashSet<ObjectKey>> = None;
        let mut listed = false;
        let error = loop {
            let event = tokio::select! {
                event = stream.next() => event,
                changed = epochs.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    break None; // the cluster came back: list again
                }
            };
            let Some(event) = event else { break None };
            let (Some(me), Some(cache)) = (me.upgrade(), cache.upgrade()) else {
                return;
            };
            match event {
                Ok(Event::Init) => listing = Some(HashSet::new()),
                Ok(Event::InitApply(o)) => {
                    if let Some(key) = me.apply(&cache, &o, false)
                        && let Some(l) = listing.as_mut()
                    {
                        l.insert(key);
                    }
                }
                Ok(Event::Apply(o)) => {
                    me.apply(&cache, &o, true);
                }
                Ok(Event::Delete(o)) => me.delete(&cache, &o),
                Ok(Event::InitDone) => {
                    let seen = listing.take().unwrap_or_default();
                    me.forget_unseen(&cache, &seen, namespace.as_deref());
                    listed = true;
                    listed_at = Some(Instant::now());
                    me.set_scope(&cache, scope, |s| *s = (TypeState::Ready, epoch));
                }
                // The resourceVersion is too old: the watcher lists again by itself.
                Err(watcher::Error::WatchError(s)) if s.code == 410 => {}
                Err(e) => break Some(e),
            }
        };
        let Some(error) = error else { continue };
        if listed_at.is_some_and(|t| t.elapsed() > HEALTHY_WATCH) {
            errors = 0;
        }
        errors = errors.saturating_add(1);
        let (Some(me), Some(cache)) = (me.upgrade(), cache.upgrade()) else {
            return;
        };
        let failure = Failure {
            kind: failure_kind(&error),
            message: describe_watch_error(&error),
        };
        tracing::debug!(kind = %cache.resource.kind, error = %failure.message, errors, "live watch error; listing again");
        if failure.kind == FailureKind::Gone {
            me.set_scope(&cache, scope, |s| s.0 = s.0.fail(failure));
            me.forget_type(&cache.gvk());
            return;
        }
        // A working watch that breaks lists again at once; a list that fails, or a second
        // error in a row, is a failure of the type.
        if !listed || errors > 1 {
            me.set_scope(&cache, scope, |s| s.0 = s.0.fail(failure));
        }
        drop((me, cache));
        if errors > 1 {
            let wait = Duration::from_secs(1)
                .saturating_mul(1 << (errors - 2).min(5))
                .min(RELIST_CAP);
            tokio::select! {
                _ = tokio::time::sleep(crate::timing::jittered(wait, wait / 5)) => {}
                changed = epochs.changed() => if changed.is_err() { return },
            }
        }
    }
}

/// What a watch error says of the type and of the cluster.
fn failure_kind(e: &watcher::Error) -> FailureKind {
    let status = |code: u16| match code {
        401 => FailureKind::Unauthorized,
        404 => FailureKind::Gone,
        _ => FailureKind::Refused,
    };
    match e {
        watcher::Error::InitialListFailed(k)
        | watcher::Error::WatchStartFailed(k)
        | watcher::Error::WatchFailed(k) => match k {
            kube::Error::Api(s) => status(s.code),
            _ => FailureKind::Unreachable,
        },
        watcher::Error::WatchError(s) if s.code == 401 => FailureKind::Unauthorized,
        watcher::Error::WatchError(_) | watcher::Error::NoResourceVersion => FailureKind::Refused,
    }
}

/// A watch error as one line, without the watcher's wording around the API's.
fn describe_watch_error(e: &watcher::Error) -> String {
    match e {
        watcher::Error::InitialListFailed(kube::Error::Api(s))
        | watcher::Error::WatchStartFailed(kube::Error::Api(s))
        | watcher::Error::WatchFailed(kube::Error::Api(s)) => {
            format!("{} ({} {})", s.message, s.code, s.reason)
        }
        watcher::Error::InitialListFailed(k)
        | watcher::Error::WatchStartFailed(k)
        | watcher::Error::WatchFailed(k) => crate::cluster::describe_error(k),
        watcher::Error::WatchError(s) => format!("{} ({} {})", s.message, s.code, s.reason),
        other => crate::cluster::describe_error(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: u16) -> kube::Error {
        kube::Error::Api(
            kube::core::Status::failure("no", "Reason")
                .with_code(code)
                .boxed(),
        )
    }

    #[test]
    fn errors_say_whose_problem_they_are() {
        use watcher::Error::*;
        assert_eq!(
            failure_kind(&InitialListFailed(api(403))),
            FailureKind::Refused
        );
        assert_eq!(
            failure_kind(&InitialListFailed(api(500))),
            FailureKind::Refused
        );
        assert_eq!(
            failure_kind(&WatchStartFailed(api(401))),
            FailureKind::Unauthorized
        );
        assert_eq!(
            failure_kind(&InitialListFailed(api(404))),
            FailureKind::Gone
        );
        let refused = kube::Error::Service(Box::new(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "connection refused",
        )));
        assert_eq!(
            failure_kind(&InitialListFailed(refused)),
            FailureKind::Unreachable
        );
        assert_eq!(failure_kind(&NoResourceVersion), FailureKind::Refused);
        assert_eq!(
            describe_watch_error(&InitialListFailed(api(403))),
            "no (403 Reason)"
        );
    }
}
