//! One virtual cluster: its store, the resource types it serves, its credentials, faults and
//! request counters.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde_json::Value;

use super::error::ApiError;
use super::faults::{Counters, Faults};
use super::rbac::{self, Attributes, RbacSource, UserInfo};
use super::resource::{self, ResourceType, StorageKey};
use super::store::Store;
use super::token::TokenIssuer;
use super::workload::WorkloadConfig;

/// Settings shared by the virtual clusters of one simulator.
#[derive(Debug, Clone)]
pub struct ClusterSettings {
    /// Watch history kept per resource type (events); a watch from an older resourceVersion gets 410.
    pub watch_history: usize,
    /// How often watches that asked for bookmarks get one.
    pub bookmark_interval: Duration,
    /// Workload status (kwok-like).
    pub workload: WorkloadConfig,
}

impl Default for ClusterSettings {
    fn default() -> Self {
        Self {
            watch_history: 2000,
            bookmark_interval: Duration::from_secs(5),
            workload: WorkloadConfig {
                ready_after: Duration::from_secs(1),
                lb_ip_prefix: "172.18.255.".into(),
            },
        }
    }
}

/// The user of the cluster's admin token.
pub const ADMIN_USER: &str = "kubernetes-admin";
pub const MASTERS_GROUP: &str = "system:masters";
/// Who a request without credentials is (`anonymous.NewAuthenticator`).
pub const ANONYMOUS_USER: &str = "system:anonymous";
pub const UNAUTHENTICATED_GROUP: &str = "system:unauthenticated";
/// Where a request without credentials is served as `system:anonymous`: the paths the default
/// `system:public-info-viewer` ClusterRole opens to everyone. This is kube-apiserver with an
/// `AuthenticationConfiguration` whose `anonymous.conditions` list these paths (structured
/// authentication, beta and on by default since v1.32); everywhere else no credentials is 401,
/// as with `--anonymous-auth=false`.
pub const ANONYMOUS_PATHS: &[&str] = &["/version", "/version/", "/healthz", "/livez", "/readyz"];

/// A virtual cluster.
pub struct VirtualCluster {
    pub name: String,
    pub store: Store,
    types: RwLock<Arc<Vec<ResourceType>>>,
    admin_token: String,
    pub tokens: TokenIssuer,
    pub faults: Faults,
    pub counters: Counters,
    pub settings: ClusterSettings,
    /// The CA certificate, PEM, that service-account token Secrets carry as `ca.crt`.
    pub ca_pem: String,
    pub openapi: super::openapi_cache::Shared,
}

impl std::fmt::Debug for VirtualCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VirtualCluster")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl VirtualCluster {
    pub fn new(name: &str, settings: ClusterSettings, ca_pem: String) -> Self {
        Self {
            name: name.to_string(),
            store: Store::new(settings.watch_history),
            types: RwLock::new(Arc::new(resource::builtins())),
            admin_token: super::object::random_token(32),
            tokens: TokenIssuer::new(),
            faults: Faults::new(),
            counters: Counters::default(),
            settings,
            ca_pem,
            openapi: Default::default(),
        }
    }

    /// The bearer token of the cluster's administrator (group `system:masters`).
    pub fn admin_token(&self) -> &str {
        &self.admin_token
    }

    /// The resource types served now.
    pub fn types(&self) -> Arc<Vec<ResourceType>> {
        self.types.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn find_type(&self, group: &str, version: &str, plural: &str) -> Option<ResourceType> {
        self.types()
            .iter()
            .find(|t| t.group == group && t.version == version && t.plural == plural)
            .cloned()
    }

    /// The type of an object by its apiVersion and kind (for owner references and controllers).
    pub fn type_of(&self, api_version: &str, kind: &str) -> Option<ResourceType> {
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        self.types()
            .iter()
            .find(|t| t.group == group && t.version == version && t.kind == kind)
            .cloned()
    }

    /// The preferred served type of a stored resource.
    pub fn type_of_key(&self, key: &StorageKey) -> Option<ResourceType> {
        let types = self.types();
        let mut matching = types
            .iter()
            .filter(|t| t.group == key.group && t.plural == key.plural);
        let first = matching.next()?.clone();
        Some(
            types
                .iter()
                .find(|t| t.group == key.group && t.plural == key.plural && t.preferred)
                .cloned()
                .unwrap_or(first),
        )
    }

    /// Recomputes the served types from the stored CRDs (after a CRD is written or removed).
    pub fn refresh_types(&self) {
        let crd_key = StorageKey {
            group: "apiextensions.k8s.io".into(),
            plural: "customresourcedefinitions".into(),
        };
        let (crds, _) = self.store.list(&crd_key, None, None);
        let mut types = resource::builtins();
        for crd in &crds {
            for t in resource::from_crd(crd) {
                // A CRD can't shadow a built-in resource.
                if !types
                    .iter()
                    .any(|b| b.group == t.group && b.plural == t.plural && b.crd.is_none())
                {
                    types.push(t);
                }
            }
        }
        *self.types.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(types);
    }

    /// Who is calling, as kube-apiserver's authenticator chain decides: a verified client
    /// certificate (tried first), else the bearer token (the admin token or a service-account
    /// token; one that doesn't verify is 401), else — when `anonymous` allows it, see
    /// [`ANONYMOUS_PATHS`] — `system:anonymous` in `system:unauthenticated`, whom RBAC then
    /// judges. A request without credentials anywhere else is 401.
    pub fn authenticate(
        &self,
        bearer: Option<&str>,
        cert: Option<&(String, Vec<String>)>,
        anonymous: bool,
    ) -> Result<UserInfo, ApiError> {
        if let Some((user, groups)) = cert {
            let mut groups = groups.clone();
            groups.push("system:authenticated".into());
            return Ok(UserInfo {
                name: user.clone(),
                uid: String::new(),
                groups,
            });
        }
        if let Some(token) = bearer.filter(|t| !t.is_empty()) {
            if constant_time_eq(token.as_bytes(), self.admin_token.as_bytes()) {
                return Ok(UserInfo {
                    name: ADMIN_USER.into(),
                    uid: String::new(),
                    groups: vec![MASTERS_GROUP.into(), "system:authenticated".into()],
                });
            }
            return self
                .service_account_user(token)
                .ok_or_else(ApiError::unauthorized);
        }
        if !anonymous {
            return Err(ApiError::unauthorized());
        }
        Ok(UserInfo {
            name: ANONYMOUS_USER.into(),
            uid: String::new(),
            groups: vec![UNAUTHENTICATED_GROUP.into()],
        })
    }

    /// A service-account token is valid while it verifies and its ServiceAccount (and, for a
    /// legacy token, its Secret) still exist with the same uid.
    fn service_account_user(&self, token: &str) -> Option<UserInfo> {
        let claims = self.tokens.verify(token, super::object::now_unix())?;
        let sa_key = StorageKey {
            group: String::new(),
            plural: "serviceaccounts".into(),
        };
        let sa = self
            .store
            .get(&sa_key, &claims.namespace, &claims.service_account)?;
        if super::object::uid(&sa) != claims.service_account_uid {
            return None;
        }
        if let Some((secret_name, secret_uid)) = &claims.secret {
            let secret_key = StorageKey {
                group: String::new(),
                plural: "secrets".into(),
            };
            let secret = self
                .store
                .get(&secret_key, &claims.namespace, secret_name)?;
            if !secret_uid.is_empty() && super::object::uid(&secret) != secret_uid {
                return None;
            }
            // A legacy token is valid while its Secret still holds it (legacy.go).
            use base64::Engine;
            let held = secret
                .pointer("/data/token")
                .and_then(Value::as_str)
                .and_then(|t| base64::engine::general_purpose::STANDARD.decode(t).ok());
            if held.as_deref() != Some(token.as_bytes()) {
                return None;
            }
        }
        let mut user = rbac::service_account_user(&claims.namespace, &claims.service_account);
        user.uid = claims.service_account_uid.clone();
        Some(user)
    }

    /// RBAC, with `system:masters` allowed everything.
    pub fn authorize(&self, user: &UserInfo, attrs: &Attributes) -> bool {
        self.authorization(user, attrs).is_some()
    }

    /// Why the request is allowed (`None`: it is not): kube-apiserver's authorizer chain, the
    /// privileged-group authorizer (`system:masters`, no reason given) before RBAC.
    pub fn authorization(&self, user: &UserInfo, attrs: &Attributes) -> Option<String> {
        if user.groups.iter().any(|g| g == MASTERS_GROUP) {
            return Some(String::new());
        }
        rbac::allowed_by(user, attrs, &StoreRbac(&self.store))
    }

    /// The RBAC rules of `user` in `namespace` (and cluster-wide).
    pub fn rules_for(&self, user: &UserInfo, namespace: &str) -> Vec<Value> {
        rbac::rules_for(user, namespace, &StoreRbac(&self.store))
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

struct StoreRbac<'a>(&'a Store);

impl StoreRbac<'_> {
    fn objects(&self, plural: &str, namespace: Option<&str>) -> Vec<Arc<Value>> {
        let key = StorageKey {
            group: "rbac.authorization.k8s.io".into(),
            plural: plural.into(),
        };
        self.0.list(&key, namespace, None).0
    }
}

impl RbacSource for StoreRbac<'_> {
    fn cluster_roles(&self) -> Vec<Arc<Value>> {
        self.objects("clusterroles", None)
    }
    fn cluster_role_bindings(&self) -> Vec<Arc<Value>> {
        self.objects("clusterrolebindings", None)
    }
    fn roles(&self, namespace: &str) -> Vec<Arc<Value>> {
        self.objects("roles", Some(namespace))
    }
    fn role_bindings(&self, namespace: &str) -> Vec<Arc<Value>> {
        self.objects("rolebindings", Some(namespace))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authentication_follows_the_apiserver_chain() {
        let c = VirtualCluster::new("dev", ClusterSettings::default(), String::new());
        let cert = ("jane".to_string(), vec!["devs".to_string()]);
        // No credentials: anonymous where that is allowed, 401 elsewhere.
        assert_eq!(
            c.authenticate(None, None, true).unwrap(),
            UserInfo {
                name: ANONYMOUS_USER.into(),
                uid: String::new(),
                groups: vec![UNAUTHENTICATED_GROUP.into()]
            }
        );
        assert_eq!(
            c.authenticate(Some(""), None, true).unwrap().name,
            ANONYMOUS_USER
        );
        assert_eq!(c.authenticate(None, None, false).unwrap_err().code, 401);
        // A token that doesn't verify is never anonymous.
        assert_eq!(
            c.authenticate(Some("nope"), None, true).unwrap_err().code,
            401
        );
        assert_eq!(
            c.authenticate(Some(c.admin_token()), None, false)
                .unwrap()
                .name,
            ADMIN_USER
        );
        // A client certificate is tried before the bearer token.
        let u = c.authenticate(Some("nope"), Some(&cert), false).unwrap();
        assert_eq!(
            (u.name.as_str(), u.groups.as_slice()),
            (
                "jane",
                ["devs".to_string(), "system:authenticated".to_string()].as_slice()
            )
        );
    }
}
