//! Kubeconfig files for virtual clusters.

use base64::Engine;
use serde_json::json;

/// One cluster's credentials as a kubeconfig entry.
pub struct KubeconfigEntry<'a> {
    pub name: &'a str,
    pub server: &'a str,
    pub ca_pem: &'a str,
    pub token: &'a str,
}

/// A kubeconfig with one context per entry (named after the cluster); the first is current.
pub fn render(entries: &[KubeconfigEntry<'_>]) -> String {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let clusters: Vec<_> = entries
        .iter()
        .map(|e| json!({ "name": e.name, "cluster": { "server": e.server, "certificate-authority-data": b64(e.ca_pem) } }))
        .collect();
    let users: Vec<_> = entries
        .iter()
        .map(|e| json!({ "name": format!("{}-admin", e.name), "user": { "token": e.token } }))
        .collect();
    let contexts: Vec<_> = entries
        .iter()
        .map(|e| json!({ "name": e.name, "context": { "cluster": e.name, "user": format!("{}-admin", e.name), "namespace": "default" } }))
        .collect();
    let doc = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": clusters,
        "users": users,
        "contexts": contexts,
        "current-context": entries.first().map(|e| e.name).unwrap_or_default(),
    });
    serde_yaml::to_string(&doc).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contexts_are_named_after_clusters() {
        let y = render(&[KubeconfigEntry {
            name: "dev",
            server: "https://127.0.0.1:1/clusters/dev",
            ca_pem: "PEM",
            token: "t",
        }]);
        let v: serde_json::Value = serde_yaml::from_str(&y).unwrap();
        assert_eq!(v["current-context"], "dev");
        assert_eq!(v["contexts"][0]["context"]["user"], "dev-admin");
        assert_eq!(
            v["clusters"][0]["cluster"]["certificate-authority-data"],
            "UEVN"
        );
    }
}
