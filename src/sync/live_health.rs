//! Whether a cluster's live cache can be trusted, without I/O. A reconcile compares against the
//! cache; when the cache cannot be kept current its Applications must be reported `Unknown`,
//! not `Synced` from a picture of the past (Argo CD's "failed to sync cluster" ComparisonError).
//!
//! The cache of a cluster is stale when:
//! - the registry's probe of the cluster fails (a blackholed cluster: its watches hang, only
//!   the probe notices);
//! - the cluster refuses the hub's credentials (401) on any type;
//! - every type that was listed fails to list for want of an answer (connection refused,
//!   timeouts): one slow type is that type's problem, all of them is the cluster's;
//! - after it came back, until every type has been listed again.
//!
//! Other failures of one type (403, 404, 5xx, a slow list) concern only the Applications that
//! use the type: they are reported on those.

/// Why a type's list or watch failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The API server answered with an error for this type (403, 5xx…).
    Refused,
    /// The type is not served any more (404: its CRD was deleted).
    Gone,
    /// 401: the cluster refuses the hub's credentials, for every type.
    Unauthorized,
    /// No answer: connection refused or reset, timeouts, TLS.
    Unreachable,
}

/// A failure of one type, with the message it is reported with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub kind: FailureKind,
    pub message: String,
}

/// The state of one type's cache (or of one of its watched namespaces).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypeState {
    /// The first list is under way.
    Listing,
    /// Listed, and watched.
    Ready,
    /// The last list failed (the watch retries with backoff); the first failure's message is
    /// kept until it recovers, so a report does not change with every retry.
    Failed(Failure),
}

impl TypeState {
    /// The state of a type watched in several namespaces: failed if one is, listing if one
    /// is, else ready.
    pub fn combine<'a>(scopes: impl IntoIterator<Item = &'a TypeState>) -> TypeState {
        let mut out = TypeState::Ready;
        for s in scopes {
            match s {
                TypeState::Failed(_) => return s.clone(),
                TypeState::Listing => out = TypeState::Listing,
                TypeState::Ready => {}
            }
        }
        out
    }

    /// The state after a failure: an earlier failure keeps its message.
    pub fn fail(&self, failure: Failure) -> TypeState {
        match self {
            TypeState::Failed(f) if f.kind == failure.kind => self.clone(),
            _ => TypeState::Failed(failure),
        }
    }
}

/// One type as the staleness decision sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeView {
    pub state: TypeState,
    /// Listed since the cluster last came back (a ready type that is not current still
    /// shows what it saw before the outage).
    pub current: bool,
}

/// Why the cluster's cache cannot be trusted now, if it cannot.
pub fn stale_cause(probe_error: Option<&str>, types: &[TypeView]) -> Option<String> {
    if let Some(e) = probe_error {
        return Some(e.to_string());
    }
    let failure = |kind: FailureKind| {
        types.iter().find_map(|t| match &t.state {
            TypeState::Failed(f) if f.kind == kind => Some(f.message.clone()),
            _ => None,
        })
    };
    if let Some(m) = failure(FailureKind::Unauthorized) {
        return Some(m);
    }
    let listed: Vec<&TypeView> = types
        .iter()
        .filter(|t| t.state != TypeState::Listing)
        .collect();
    let unreachable = |t: &&TypeView| matches!(&t.state, TypeState::Failed(f) if f.kind == FailureKind::Unreachable);
    if !listed.is_empty() && listed.iter().all(unreachable) {
        return failure(FailureKind::Unreachable);
    }
    if listed
        .iter()
        .any(|t| t.state == TypeState::Ready && !t.current)
    {
        return Some("the cluster's resources are being listed again".into());
    }
    None
}

/// The reported staleness: the cause it began with is kept until it ends, so every
/// Application's status changes once when a cluster goes dark and once when it comes back,
/// however the cause's wording varies meanwhile.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Staleness {
    cause: Option<String>,
}

impl Staleness {
    /// Takes the current cause; returns whether the cache went stale or fresh.
    pub fn update(&mut self, now: Option<String>) -> bool {
        match (&self.cause, now) {
            (None, Some(c)) => {
                self.cause = Some(c);
                true
            }
            (Some(_), None) => {
                self.cause = None;
                true
            }
            _ => false,
        }
    }

    pub fn cause(&self) -> Option<&str> {
        self.cause.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(kind: FailureKind, message: &str) -> TypeView {
        TypeView {
            state: TypeState::Failed(Failure {
                kind,
                message: message.into(),
            }),
            current: true,
        }
    }

    fn ready(current: bool) -> TypeView {
        TypeView {
            state: TypeState::Ready,
            current,
        }
    }

    #[test]
    fn a_failing_probe_or_refused_credentials_make_the_cluster_stale() {
        assert_eq!(
            stale_cause(Some("timed out"), &[ready(true)]).as_deref(),
            Some("timed out")
        );
        assert_eq!(
            stale_cause(
                None,
                &[ready(true), failed(FailureKind::Unauthorized, "401")]
            )
            .as_deref(),
            Some("401")
        );
        assert_eq!(stale_cause(None, &[ready(true)]), None);
        assert_eq!(stale_cause(None, &[]), None);
    }

    #[test]
    fn unreachable_everywhere_is_the_clusters_problem_on_one_type_the_types() {
        let refused = failed(FailureKind::Unreachable, "connection refused");
        assert_eq!(
            stale_cause(None, &[refused.clone(), refused.clone()]).as_deref(),
            Some("connection refused")
        );
        assert_eq!(
            stale_cause(None, &[refused.clone(), ready(true)]),
            None,
            "one slow type"
        );
        let listing = TypeView {
            state: TypeState::Listing,
            current: false,
        };
        assert_eq!(
            stale_cause(None, &[refused.clone(), listing.clone()]).as_deref(),
            Some("connection refused"),
            "a type still in its first list does not count"
        );
        assert_eq!(stale_cause(None, &[listing]), None);
        assert_eq!(
            stale_cause(None, &[failed(FailureKind::Refused, "403"), ready(true)]),
            None,
            "a forbidden type is reported on its Applications"
        );
    }

    #[test]
    fn after_an_outage_the_cache_is_stale_until_listed_again() {
        assert!(stale_cause(None, &[ready(true), ready(false)]).is_some());
        assert_eq!(stale_cause(None, &[ready(true), ready(true)]), None);
    }

    #[test]
    fn staleness_keeps_its_first_cause_and_reports_transitions_once() {
        let mut s = Staleness::default();
        assert!(!s.update(None));
        assert!(s.update(Some("connection refused".into())));
        assert!(!s.update(Some("timed out".into())));
        assert_eq!(s.cause(), Some("connection refused"));
        assert!(s.update(None));
        assert_eq!(s.cause(), None);
    }

    #[test]
    fn type_states_combine_and_keep_the_first_failure() {
        let f = |m: &str| Failure {
            kind: FailureKind::Refused,
            message: m.into(),
        };
        assert_eq!(
            TypeState::combine(&[TypeState::Ready, TypeState::Listing]),
            TypeState::Listing
        );
        assert_eq!(
            TypeState::combine(&[TypeState::Listing, TypeState::Failed(f("x"))]),
            TypeState::Failed(f("x"))
        );
        assert_eq!(TypeState::combine(&[]), TypeState::Ready);
        let first = TypeState::Ready.fail(f("first"));
        assert_eq!(first.fail(f("second")), TypeState::Failed(f("first")));
        let unreachable = Failure {
            kind: FailureKind::Unreachable,
            message: "gone".into(),
        };
        assert_eq!(
            first.fail(unreachable.clone()),
            TypeState::Failed(unreachable),
            "another kind of failure replaces it"
        );
    }
}
