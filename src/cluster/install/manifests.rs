//! The objects `cluster add` writes, and what to change in objects that exist already. Pure.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{Secret, ServiceAccount};
use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject,
};
use kube::api::ObjectMeta;
use serde_json::{Map, Value, json};

use super::kubeconfig::{TargetAuth, TargetCluster, b64};
use super::{
    InstallError, LONG_LIVED_TOKEN_SECRET, MANAGED_BY_ANNOTATION, MANAGED_BY_FLOTILLA,
    MANAGER_ROLE, MANAGER_ROLE_BINDING, MANAGER_SERVICE_ACCOUNT, ROTATED_TOKEN_PREFIX,
    SA_NAME_ANNOTATION, SA_TOKEN_TYPE,
};
use crate::api::secret::{ARGOCD_SECRET_TYPE_LABEL, FLOTILLA_SECRET_TYPE_LABEL};
use crate::api::{ClusterSecret, SecretData, Sensitive};

const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

fn meta(name: &str, namespace: Option<&str>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        namespace: namespace.map(str::to_string),
        ..Default::default()
    }
}

fn all() -> Option<Vec<String>> {
    Some(vec!["*".to_string()])
}

/// `flotilla-manager` in `namespace`.
pub fn service_account(namespace: &str) -> ServiceAccount {
    ServiceAccount {
        metadata: meta(MANAGER_SERVICE_ACCOUNT, Some(namespace)),
        ..Default::default()
    }
}

/// Everything on every resource; with `non_resource`, every non-resource URL too.
fn rules(non_resource: bool) -> Vec<PolicyRule> {
    let mut rules = vec![PolicyRule {
        api_groups: all(),
        resources: all(),
        verbs: vec!["*".into()],
        ..Default::default()
    }];
    if non_resource {
        rules.push(PolicyRule {
            non_resource_urls: all(),
            verbs: vec!["*".into()],
            ..Default::default()
        });
    }
    rules
}

/// ClusterRole `flotilla-manager-role`: `*` on all resources and non-resource URLs.
pub fn cluster_role() -> ClusterRole {
    ClusterRole {
        metadata: meta(MANAGER_ROLE, None),
        rules: Some(rules(true)),
        ..Default::default()
    }
}

/// Role `flotilla-manager-role` in `namespace`: `*` on all resources.
pub fn role(namespace: &str) -> Role {
    Role {
        metadata: meta(MANAGER_ROLE, Some(namespace)),
        rules: Some(rules(false)),
    }
}

fn manager_subject(sa_namespace: &str) -> Subject {
    Subject {
        kind: "ServiceAccount".into(),
        name: MANAGER_SERVICE_ACCOUNT.into(),
        namespace: Some(sa_namespace.into()),
        api_group: None,
    }
}

fn role_ref(kind: &str) -> RoleRef {
    RoleRef {
        api_group: RBAC_GROUP.into(),
        kind: kind.into(),
        name: MANAGER_ROLE.into(),
    }
}

/// ClusterRoleBinding `flotilla-manager-role-binding` of the ClusterRole to the ServiceAccount.
pub fn cluster_role_binding(sa_namespace: &str) -> ClusterRoleBinding {
    ClusterRoleBinding {
        metadata: meta(MANAGER_ROLE_BINDING, None),
        role_ref: role_ref("ClusterRole"),
        subjects: Some(vec![manager_subject(sa_namespace)]),
    }
}

/// RoleBinding `flotilla-manager-role-binding` in `namespace` of the Role to the ServiceAccount.
pub fn role_binding(namespace: &str, sa_namespace: &str) -> RoleBinding {
    RoleBinding {
        metadata: meta(MANAGER_ROLE_BINDING, Some(namespace)),
        role_ref: role_ref("Role"),
        subjects: Some(vec![manager_subject(sa_namespace)]),
    }
}

/// `flotilla-manager-long-lived-token`, the token Secret of `flotilla-manager` that `cluster add`
/// creates.
pub fn token_secret(sa_namespace: &str) -> Secret {
    let mut s = rotated_token_secret(sa_namespace, MANAGER_SERVICE_ACCOUNT);
    s.metadata.generate_name = None;
    s.metadata.name = Some(LONG_LIVED_TOKEN_SECRET.into());
    s
}

/// A new token Secret for the ServiceAccount `sa`, named by the API server (`generateName:
/// flotilla-manager-token-`, or `<sa>-token-` for another ServiceAccount).
pub fn rotated_token_secret(sa_namespace: &str, sa: &str) -> Secret {
    let prefix = if sa == MANAGER_SERVICE_ACCOUNT {
        ROTATED_TOKEN_PREFIX.to_string()
    } else {
        format!("{sa}-token-")
    };
    let mut metadata = ObjectMeta {
        generate_name: Some(prefix),
        namespace: Some(sa_namespace.into()),
        ..Default::default()
    };
    metadata.annotations = Some([(SA_NAME_ANNOTATION.to_string(), sa.to_string())].into());
    Secret {
        metadata,
        type_: Some(SA_TOKEN_TYPE.into()),
        ..Default::default()
    }
}

/// What an existing object needs to become what `cluster add` wants.
pub enum Update<K> {
    Unchanged,
    /// Replace it with this (the existing object with the wanted fields set).
    Replace(K),
}

/// Rules are replaced when they differ.
pub fn cluster_role_update(existing: &ClusterRole, desired: &ClusterRole) -> Update<ClusterRole> {
    if existing.rules == desired.rules && existing.aggregation_rule.is_none() {
        return Update::Unchanged;
    }
    Update::Replace(ClusterRole {
        rules: desired.rules.clone(),
        aggregation_rule: None,
        ..existing.clone()
    })
}

pub fn role_update(existing: &Role, desired: &Role) -> Update<Role> {
    if existing.rules == desired.rules {
        return Update::Unchanged;
    }
    Update::Replace(Role {
        rules: desired.rules.clone(),
        ..existing.clone()
    })
}

/// A binding keeps its other subjects and gains ours if missing. Its roleRef is immutable: a
/// different one is a conflict.
fn binding_subjects(
    object: &str,
    existing: (&RoleRef, &Option<Vec<Subject>>),
    desired: (&RoleRef, &Option<Vec<Subject>>),
) -> Result<Option<Vec<Subject>>, String> {
    if existing.0 != desired.0 {
        return Err(format!(
            "{object} binds {} {:?}, not {} {MANAGER_ROLE}; roleRef cannot change, delete the binding first",
            existing.0.kind, existing.0.name, desired.0.kind
        ));
    }
    let have = existing.1.clone().unwrap_or_default();
    let missing: Vec<Subject> = desired
        .1
        .iter()
        .flatten()
        .filter(|s| !have.iter().any(|h| same_subject(h, s)))
        .cloned()
        .collect();
    if missing.is_empty() {
        return Ok(None);
    }
    Ok(Some(have.into_iter().chain(missing).collect()))
}

/// Subjects compared as the API server defaults them (`apiGroup` of a ServiceAccount is `""`;
/// `rbac.authorization.k8s.io` for users and groups).
fn same_subject(a: &Subject, b: &Subject) -> bool {
    let group = |s: &Subject| match s.api_group.as_deref() {
        Some(g) if !g.is_empty() => g.to_string(),
        _ if s.kind == "ServiceAccount" => String::new(),
        _ => RBAC_GROUP.to_string(),
    };
    a.kind == b.kind
        && a.name == b.name
        && a.namespace.as_deref().unwrap_or_default() == b.namespace.as_deref().unwrap_or_default()
        && group(a) == group(b)
}

pub fn cluster_role_binding_update(
    existing: &ClusterRoleBinding,
    desired: &ClusterRoleBinding,
) -> Result<Update<ClusterRoleBinding>, String> {
    let object = format!("clusterrolebinding {MANAGER_ROLE_BINDING}");
    Ok(
        match binding_subjects(
            &object,
            (&existing.role_ref, &existing.subjects),
            (&desired.role_ref, &desired.subjects),
        )? {
            None => Update::Unchanged,
            Some(subjects) => Update::Replace(ClusterRoleBinding {
                subjects: Some(subjects),
                ..existing.clone()
            }),
        },
    )
}

pub fn role_binding_update(
    existing: &RoleBinding,
    desired: &RoleBinding,
) -> Result<Update<RoleBinding>, String> {
    let ns = existing.metadata.namespace.as_deref().unwrap_or_default();
    let object = format!("rolebinding {ns}/{MANAGER_ROLE_BINDING}");
    Ok(
        match binding_subjects(
            &object,
            (&existing.role_ref, &existing.subjects),
            (&desired.role_ref, &desired.subjects),
        )? {
            None => Update::Unchanged,
            Some(subjects) => Update::Replace(RoleBinding {
                subjects: Some(subjects),
                ..existing.clone()
            }),
        },
    )
}

/// Whether `secret` is a live token Secret of the ServiceAccount `sa`.
pub fn is_token_secret_of(secret: &Secret, sa: &str) -> bool {
    secret.type_.as_deref() == Some(SA_TOKEN_TYPE)
        && secret.metadata.deletion_timestamp.is_none()
        && secret
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(SA_NAME_ANNOTATION))
            .map(String::as_str)
            == Some(sa)
}

/// The token a token Secret holds, once the token controller has filled it.
pub fn token_of(secret: &Secret) -> Option<Sensitive<String>> {
    let bytes = &secret.data.as_ref()?.get("token")?.0;
    let text = std::str::from_utf8(bytes).ok()?.trim();
    (!text.is_empty()).then(|| Sensitive::new(text.to_string()))
}

/// The token Secret of `flotilla-manager` that `cluster add` reuses: the long-lived one, else
/// the newest (e.g. the one `cluster rotate` made).
pub fn pick_token_secret(secrets: &[Secret]) -> Option<&Secret> {
    let mine = || {
        secrets
            .iter()
            .filter(|s| is_token_secret_of(s, MANAGER_SERVICE_ACCOUNT))
    };
    mine()
        .find(|s| s.metadata.name.as_deref() == Some(LONG_LIVED_TOKEN_SECRET))
        .or_else(|| {
            mine().max_by(|a, b| {
                (
                    a.metadata.creation_timestamp.as_ref().map(|t| t.0),
                    &a.metadata.name,
                )
                    .cmp(&(
                        b.metadata.creation_timestamp.as_ref().map(|t| t.0),
                        &b.metadata.name,
                    ))
            })
        })
}

/// The name of the token Secret of `sa` holding `token`, compared in memory.
pub fn secret_holding<'a>(
    secrets: &'a [Secret],
    sa: &str,
    token: &Sensitive<String>,
    except: &str,
) -> Option<&'a str> {
    secrets
        .iter()
        .filter(|s| is_token_secret_of(s, sa) && s.metadata.name.as_deref() != Some(except))
        .find(|s| {
            token_of(s)
                .is_some_and(|t| constant_time_eq(t.expose().as_bytes(), token.expose().as_bytes()))
        })
        .and_then(|s| s.metadata.name.as_deref())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The hub's cluster Secret for a target.
pub struct Registration {
    /// The `name` key.
    pub name: String,
    pub target: TargetCluster,
    /// The ServiceAccount's token; used unless the kubeconfig user has a client certificate.
    pub token: Sensitive<String>,
    /// The `namespaces` key; empty for cluster-wide access.
    pub namespaces: Vec<String>,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration")
            .field("name", &self.name)
            .field("target", &self.target)
            .field("token", &self.token)
            .field("namespaces", &self.namespaces)
            .field("labels", &self.labels)
            .field("annotations", &self.annotations)
            .finish()
    }
}

impl Registration {
    /// Argo CD's `config`: the token (or client certificate) and the TLS settings.
    pub fn config(&self) -> Value {
        let t = &self.target;
        let mut tls = Map::new();
        tls.insert("insecure".into(), Value::Bool(t.insecure));
        if let Some(name) = &t.server_name {
            tls.insert("serverName".into(), json!(name));
        }
        if let Some(ca) = &t.ca_data {
            tls.insert("caData".into(), json!(b64(ca)));
        }
        let mut config = Map::new();
        match &t.auth {
            TargetAuth::ClientCertificate { cert, key } => {
                tls.insert("certData".into(), json!(b64(cert)));
                tls.insert("keyData".into(), json!(b64(key.expose())));
            }
            TargetAuth::Other => {
                config.insert("bearerToken".into(), json!(self.token.expose()));
            }
        }
        config.insert("tlsClientConfig".into(), Value::Object(tls));
        Value::Object(config)
    }

    /// The Secret `secret_name` in `namespace`, checked to parse as a cluster Secret.
    pub fn secret(&self, namespace: &str, secret_name: &str) -> Result<Secret, InstallError> {
        let mut labels = self.labels.clone();
        labels.insert(FLOTILLA_SECRET_TYPE_LABEL.into(), "cluster".into());
        let mut annotations = self.annotations.clone();
        annotations.insert(MANAGED_BY_ANNOTATION.into(), MANAGED_BY_FLOTILLA.into());
        let mut data = BTreeMap::new();
        let mut put = |k: &str, v: String| data.insert(k.to_string(), ByteString(v.into_bytes()));
        put("name", self.name.clone());
        put("server", self.target.server.clone());
        put("config", self.config().to_string());
        if !self.namespaces.is_empty() {
            put("namespaces", self.namespaces.join(","));
        }
        let secret = Secret {
            metadata: ObjectMeta {
                name: Some(secret_name.into()),
                namespace: Some(namespace.into()),
                labels: Some(labels),
                annotations: Some(annotations),
                ..Default::default()
            },
            type_: Some("Opaque".into()),
            data: Some(data),
            ..Default::default()
        };
        ClusterSecret::from_secret(&SecretData::from_k8s(&secret))
            .map_err(|e| InstallError::InvalidSecret(e.to_string()))?;
        Ok(secret)
    }
}

/// The keys of a cluster Secret that `cluster add` owns; others (`project`, `shard`...) are kept.
const OWNED_KEYS: [&str; 4] = ["name", "server", "config", "namespaces"];

/// `existing` with the owned keys, labels and annotations of `desired` (other labels,
/// annotations and keys kept), or `Unchanged` when that is what it holds already. `config` is
/// compared as JSON, so formatting alone is no change.
pub fn hub_secret_update(existing: &Secret, desired: &Secret) -> Update<Secret> {
    let mut data = existing.data.clone().unwrap_or_default();
    for (k, v) in existing.string_data.iter().flatten() {
        data.insert(k.clone(), ByteString(v.clone().into_bytes()));
    }
    let want = desired.data.clone().unwrap_or_default();
    let mut changed = false;
    for key in OWNED_KEYS {
        match (data.get(key), want.get(key)) {
            (None, None) => {}
            (Some(have), Some(w)) if same_value(key, have, w) => {}
            (_, Some(w)) => {
                data.insert(key.to_string(), w.clone());
                changed = true;
            }
            (Some(_), None) => {
                data.remove(key);
                changed = true;
            }
        }
    }
    let mut meta = existing.metadata.clone();
    changed |= merge_map(&mut meta.labels, desired.metadata.labels.as_ref());
    changed |= merge_map(&mut meta.annotations, desired.metadata.annotations.as_ref());
    if !changed {
        return Update::Unchanged;
    }
    Update::Replace(Secret {
        metadata: meta,
        data: Some(data),
        string_data: None,
        ..existing.clone()
    })
}

fn same_value(key: &str, have: &ByteString, want: &ByteString) -> bool {
    if key == "config" {
        let parse = |b: &ByteString| serde_json::from_slice::<Value>(&b.0).ok();
        if let (Some(a), Some(b)) = (parse(have), parse(want)) {
            return a == b;
        }
    }
    have == want
}

/// Sets every entry of `want` in `map`; whether anything changed.
fn merge_map(
    map: &mut Option<BTreeMap<String, String>>,
    want: Option<&BTreeMap<String, String>>,
) -> bool {
    let map = map.get_or_insert_with(BTreeMap::new);
    let mut changed = false;
    for (k, v) in want.into_iter().flatten() {
        if map.get(k) != Some(v) {
            map.insert(k.clone(), v.clone());
            changed = true;
        }
    }
    changed
}

/// `secret` with `config.bearerToken` set to `token` (everything else in `config` kept).
pub fn with_bearer_token(
    secret: &Secret,
    token: &Sensitive<String>,
) -> Result<Secret, InstallError> {
    let name = format!(
        "{}/{}",
        secret.metadata.namespace.as_deref().unwrap_or_default(),
        secret.metadata.name.as_deref().unwrap_or_default()
    );
    let mut data = secret.data.clone().unwrap_or_default();
    let mut config = match data.get("config") {
        None => Map::new(),
        Some(bytes) => match serde_json::from_slice::<Value>(&bytes.0) {
            Ok(Value::Object(map)) => map,
            _ => {
                return Err(InstallError::InvalidSecret(format!(
                    "Secret {name}: config is not a JSON object"
                )));
            }
        },
    };
    config.insert("bearerToken".into(), json!(token.expose()));
    data.insert(
        "config".into(),
        ByteString(Value::Object(config).to_string().into_bytes()),
    );
    Ok(Secret {
        data: Some(data),
        string_data: None,
        ..secret.clone()
    })
}

/// Whether a cluster Secret was written by flotilla's or Argo CD's CLI (and so may be deleted;
/// others only lose their `secret-type` labels).
pub fn is_cli_managed(secret: &Secret) -> bool {
    let a = secret.metadata.annotations.as_ref();
    a.and_then(|a| a.get(MANAGED_BY_ANNOTATION))
        .is_some_and(|v| v == MANAGED_BY_FLOTILLA)
        || a.and_then(|a| a.get(crate::api::secret::MANAGED_BY_ANNOTATION))
            .is_some_and(|v| v == super::MANAGED_BY_ARGOCD)
}

/// Whether a Secret carries either `secret-type: cluster` label.
pub fn is_cluster_secret(secret: &Secret) -> bool {
    let labels = secret.metadata.labels.as_ref();
    [FLOTILLA_SECRET_TYPE_LABEL, ARGOCD_SECRET_TYPE_LABEL]
        .iter()
        .any(|l| {
            labels
                .and_then(|m| m.get(*l))
                .is_some_and(|v| v == "cluster")
        })
}

#[cfg(test)]
#[path = "manifests_tests.rs"]
mod tests;
