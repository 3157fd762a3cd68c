//! Service-account tokens: the TokenRequest subresource and the token controller that fills
//! `kubernetes.io/service-account-token` Secrets.

use base64::Engine;
use serde_json::{Value, json};

use super::cluster::VirtualCluster;
use super::error::ApiError;
use super::object;
use super::resource::StorageKey;
use super::token::TokenClaims;

pub const DEFAULT_AUDIENCE: &str = "https://kubernetes.default.svc.cluster.local";
pub const SA_TOKEN_TYPE: &str = "kubernetes.io/service-account-token";
pub const SA_NAME_ANNOTATION: &str = "kubernetes.io/service-account.name";
pub const SA_UID_ANNOTATION: &str = "kubernetes.io/service-account.uid";

fn sa_key() -> StorageKey {
    StorageKey {
        group: String::new(),
        plural: "serviceaccounts".into(),
    }
}

/// POST serviceaccounts/<name>/token.
pub fn token_request(
    cluster: &VirtualCluster,
    ns: &str,
    sa_name: &str,
    body: &Value,
    dry_run: bool,
) -> Result<Value, ApiError> {
    let sa = cluster
        .store
        .get(&sa_key(), ns, sa_name)
        .ok_or_else(|| ApiError::not_found_named("", "serviceaccounts", sa_name))?;
    let expiration = match body.pointer("/spec/expirationSeconds") {
        None | Some(Value::Null) => 3600,
        Some(v) => v
            .as_i64()
            .ok_or_else(|| ApiError::bad_request("spec.expirationSeconds must be an integer"))?,
    };
    if expiration < 600 {
        return Err(ApiError::new(
            422,
            "Invalid",
            format!(
                "TokenRequest.authentication.k8s.io \"{sa_name}\" is invalid: spec.expirationSeconds: Invalid value: {expiration}: may not specify a duration less than 10 minutes"
            ),
        ));
    }
    if expiration > 1 << 32 {
        return Err(ApiError::new(
            422,
            "Invalid",
            format!(
                "TokenRequest.authentication.k8s.io \"{sa_name}\" is invalid: spec.expirationSeconds: Invalid value: {expiration}: may not specify a duration larger than 2^32 seconds"
            ),
        ));
    }
    let audiences: Vec<String> = body
        .pointer("/spec/audiences")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .filter(|a: &Vec<String>| !a.is_empty())
        .unwrap_or_else(|| vec![DEFAULT_AUDIENCE.to_string()]);
    let now = object::now_unix();
    let claims = TokenClaims {
        namespace: ns.to_string(),
        service_account: sa_name.to_string(),
        service_account_uid: object::uid(&sa).to_string(),
        secret: None,
        audiences: audiences.clone(),
        issued_at: now,
        expires_at: Some(now + expiration),
    };
    let token = if dry_run {
        String::new()
    } else {
        cluster.tokens.issue(&claims)
    };
    let expires = jiff::Timestamp::from_second(now + expiration)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default();
    Ok(json!({
        "kind": "TokenRequest",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": { "name": sa_name, "namespace": ns, "creationTimestamp": null },
        "spec": { "audiences": audiences, "expirationSeconds": expiration, "boundObjectRef": body.pointer("/spec/boundObjectRef").cloned().unwrap_or(Value::Null) },
        "status": { "token": token, "expirationTimestamp": expires },
    }))
}

/// The data the token controller writes into a service-account token Secret, or None if the
/// Secret needs nothing (not such a Secret, already filled, or its ServiceAccount is missing).
pub fn fill_secret(cluster: &VirtualCluster, secret: &Value) -> Option<Value> {
    if secret.get("type").and_then(Value::as_str) != Some(SA_TOKEN_TYPE)
        || object::is_deleting(secret)
    {
        return None;
    }
    if secret
        .pointer("/data/token")
        .and_then(Value::as_str)
        .is_some_and(|t| !t.is_empty())
    {
        return None;
    }
    let ns = object::namespace(secret);
    let sa_name = secret
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(SA_NAME_ANNOTATION))
        .and_then(Value::as_str)?;
    let sa = cluster.store.get(&sa_key(), ns, sa_name)?;
    let sa_uid = object::uid(&sa).to_string();
    let claims = TokenClaims {
        namespace: ns.to_string(),
        service_account: sa_name.to_string(),
        service_account_uid: sa_uid.clone(),
        secret: Some((
            object::name(secret).to_string(),
            object::uid(secret).to_string(),
        )),
        audiences: Vec::new(),
        issued_at: object::now_unix(),
        expires_at: None,
    };
    let b64 = |s: &str| Value::String(base64::engine::general_purpose::STANDARD.encode(s));
    let mut out = secret.clone();
    let data = out
        .as_object_mut()?
        .entry("data")
        .or_insert_with(|| json!({}));
    if !data.is_object() {
        *data = json!({});
    }
    data["token"] = b64(&cluster.tokens.issue(&claims));
    data["ca.crt"] = b64(&cluster.ca_pem);
    data["namespace"] = b64(ns);
    let meta = object::meta_mut(&mut out);
    let annotations = meta.entry("annotations").or_insert_with(|| json!({}));
    annotations[SA_UID_ANNOTATION] = Value::String(sa_uid);
    Some(out)
}
