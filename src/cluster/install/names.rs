//! Names: the hub Secret's name for a server (Argo CD's `URIToSecretName`), and which
//! ServiceAccount a token belongs to (from its JWT claims, read without verifying).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::api::Sensitive;

/// The longest Kubernetes object name (a DNS-1123 subdomain).
const MAX_NAME: usize = 253;

/// 32-bit FNV-1a, as Go's `hash/fnv.New32a`.
pub fn fnv32a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(*b)).wrapping_mul(0x0100_0193)
    })
}

/// `cluster-<host without port, lowercased>-<fnv32a(server) in decimal>`, as Argo CD names the
/// Secrets its API creates; characters a DNS-1123 name cannot hold become `-`, and the host is
/// shortened so the name fits in 253 characters. User info in the URL never reaches the name.
pub fn cluster_secret_name(server: &str) -> String {
    let hash = fnv32a(server.as_bytes());
    let host = sanitize_host(&url_host(server));
    let suffix = format!("-{hash}");
    let room = MAX_NAME - "cluster-".len() - suffix.len();
    let host: String = host.chars().take(room).collect();
    let host = host.trim_end_matches(['-', '.']);
    if host.is_empty() {
        format!("cluster{suffix}")
    } else {
        format!("cluster-{host}{suffix}")
    }
}

/// The host of an URL, without scheme, user info, port or path. An IPv6 literal loses its
/// brackets and its `:` become `-` (as Argo CD does).
fn url_host(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    if let Some(bracketed) = host_port.strip_prefix('[') {
        let ip = bracketed.split(']').next().unwrap_or_default();
        return ip.replace(':', "-");
    }
    host_port.split(':').next().unwrap_or_default().to_string()
}

/// Lowercase, with anything but `[a-z0-9.-]` replaced by `-`, and each dot-separated label
/// trimmed of `-` at its ends (empty labels dropped): a DNS-1123 subdomain, or empty.
fn sanitize_host(host: &str) -> String {
    let mapped: String = host
        .chars()
        .map(|c| c.to_ascii_lowercase())
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    mapped
        .split('.')
        .map(|l| l.trim_matches('-'))
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(".")
}

/// Whether `name` is a DNS-1123 subdomain (what Secret and ServiceAccount names must be).
pub fn is_dns1123_subdomain(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && name.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// The `(namespace, name)` of the ServiceAccount a token was issued for, from its JWT `sub`
/// claim (`system:serviceaccount:<ns>:<name>`). `None` for a token that is not such a JWT. The
/// signature is not checked: the answer only says where to look for the token's Secret.
pub fn token_service_account(token: &Sensitive<String>) -> Option<(String, String)> {
    let payload = token.expose().split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let sub = claims.get("sub")?.as_str()?;
    let rest = sub.strip_prefix("system:serviceaccount:")?;
    let (ns, name) = rest.split_once(':')?;
    (is_dns1123_subdomain(ns) && is_dns1123_subdomain(name))
        .then(|| (ns.to_string(), name.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv32a_matches_go() {
        // Go: fnv.New32a() of "" and "a".
        assert_eq!(fnv32a(b""), 2_166_136_261);
        assert_eq!(fnv32a(b"a"), 0xe40c_292c);
        assert_eq!(fnv32a(b"foobar"), 0xbf9c_f968);
    }

    #[test]
    fn argo_cd_secret_names() {
        let server = "https://mycluster.example.com:6443";
        assert_eq!(
            cluster_secret_name(server),
            format!(
                "cluster-mycluster.example.com-{}",
                fnv32a(server.as_bytes())
            )
        );
        let name = cluster_secret_name("https://127.0.0.1:40123/clusters/dev");
        assert!(name.starts_with("cluster-127.0.0.1-"), "{name}");
        assert_ne!(
            name,
            cluster_secret_name("https://127.0.0.1:40123/clusters/staging")
        );
        assert!(
            cluster_secret_name("https://API.Example.COM").starts_with("cluster-api.example.com-")
        );
        assert!(cluster_secret_name("https://[fd00::1]:6443").starts_with("cluster-fd00--1-"));
    }

    #[test]
    fn names_are_valid_and_never_hold_user_info() {
        let long = format!("https://{}.example.com", "a".repeat(300));
        for server in [
            "https://admin:hunter2@k8s.example.com",
            "https://my_cluster.example.com",
            "https://-odd-.example.com.",
            long.as_str(),
            "https://[fe80::1%25eth0]:6443",
            "https://_/",
        ] {
            let name = cluster_secret_name(server);
            assert!(is_dns1123_subdomain(&name), "{name}");
            assert!(
                !name.contains("hunter2") && !name.contains("admin"),
                "{name}"
            );
        }
        assert_eq!(cluster_secret_name(&long).len(), 253);
    }

    #[test]
    fn dns1123_subdomains() {
        for ok in ["a", "cluster-127.0.0.1-123", "a.b-c"] {
            assert!(is_dns1123_subdomain(ok), "{ok}");
        }
        for bad in ["", "A", "a..b", "-a", "a-", "a_b", ".a"] {
            assert!(!is_dns1123_subdomain(bad), "{bad}");
        }
    }

    #[test]
    fn service_account_of_a_token() {
        let jwt = |claims: &str| {
            Sensitive::new(format!(
                "eyJhbGciOiJSUzI1NiJ9.{}.c2ln",
                URL_SAFE_NO_PAD.encode(claims)
            ))
        };
        let t = jwt(
            r#"{"iss":"kubernetes/serviceaccount","sub":"system:serviceaccount:kube-system:flotilla-manager"}"#,
        );
        assert_eq!(
            token_service_account(&t),
            Some(("kube-system".into(), "flotilla-manager".into()))
        );
        assert_eq!(token_service_account(&jwt(r#"{"sub":"jane"}"#)), None);
        assert_eq!(
            token_service_account(&jwt(r#"{"sub":"system:serviceaccount:Bad:x"}"#)),
            None
        );
        assert_eq!(
            token_service_account(&Sensitive::new("opaque".into())),
            None
        );
    }
}
