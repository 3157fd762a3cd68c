//! Service-account tokens as JWTs in kube-apiserver's claim layouts (`pkg/serviceaccount/claims.go`
//! for bound tokens from the TokenRequest API, `legacy.go` for tokens of
//! `kubernetes.io/service-account-token` Secrets), checked as `jwt.go` and go-jose check them
//! (issuer, signature, `exp`/`nbf`/`iat` with go-jose's 60 s leeway).
//!
//! Real clusters sign with RS256 (or ES256) and publish the key at `/openid/v1/jwks`; the simulator
//! signs with HS256 under a per-issuer random key, so the header reads `{"alg":"HS256","kid":...}`.
//! Clients treat tokens as opaque bearer strings, so this shows only to someone decoding one.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use serde_json::{Map, Value, json};

/// The `iss` of bound tokens (kube-apiserver's default `--service-account-issuer`).
pub const BOUND_ISSUER: &str = "https://kubernetes.default.svc.cluster.local";
/// The `iss` of legacy Secret tokens.
pub const LEGACY_ISSUER: &str = "kubernetes/serviceaccount";
/// go-jose's `jwt.DefaultLeeway`, applied to `exp`, `nbf` and `iat`.
const LEEWAY_SECONDS: i64 = 60;

const LEGACY_NAMESPACE: &str = "kubernetes.io/serviceaccount/namespace";
const LEGACY_SECRET_NAME: &str = "kubernetes.io/serviceaccount/secret.name";
const LEGACY_SA_NAME: &str = "kubernetes.io/serviceaccount/service-account.name";
const LEGACY_SA_UID: &str = "kubernetes.io/serviceaccount/service-account.uid";

/// What a token says about its bearer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TokenClaims {
    pub namespace: String,
    pub service_account: String,
    pub service_account_uid: String,
    /// The Secret the token is bound to: `(name, uid)`. Legacy claims carry no Secret uid, so a
    /// verified legacy token gives `(name, "")`.
    pub secret: Option<(String, String)>,
    /// Empty for legacy tokens.
    pub audiences: Vec<String>,
    /// Unix seconds; 0 for legacy tokens, which carry no `iat`.
    pub issued_at: i64,
    /// Unix seconds; `None` marks a legacy Secret token (legacy claims, no expiry).
    pub expires_at: Option<i64>,
}

impl TokenClaims {
    /// `system:serviceaccount:<namespace>:<name>`, the `sub` claim.
    pub fn username(&self) -> String {
        format!(
            "system:serviceaccount:{}:{}",
            self.namespace, self.service_account
        )
    }
}

/// Signs and verifies the tokens of one virtual cluster.
pub struct TokenIssuer {
    key: hmac::Key,
    kid: String,
    rng: SystemRandom,
    issued: AtomicU64,
}

impl fmt::Debug for TokenIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenIssuer")
            .field("alg", &"HS256")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl Default for TokenIssuer {
    fn default() -> Self {
        Self::new()
    }
}

impl TokenIssuer {
    /// A fresh issuer with a random 256-bit key.
    pub fn new() -> Self {
        let rng = SystemRandom::new();
        let mut key = [0u8; 32];
        let mut kid = [0u8; 32];
        // Without the system RNG no safe key can be made; there is nothing to fall back to.
        rng.fill(&mut key)
            .and_then(|()| rng.fill(&mut kid))
            .expect("system random number generator failed");
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, &key),
            kid: URL_SAFE_NO_PAD.encode(kid),
            rng,
            issued: AtomicU64::new(0),
        }
    }

    /// The `kid` header of this issuer's tokens.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// A signed token: bound claims when `expires_at` is set, legacy claims otherwise.
    pub fn issue(&self, claims: &TokenClaims) -> String {
        let payload = match claims.expires_at {
            Some(exp) => self.bound_payload(claims, exp),
            None => legacy_payload(claims),
        };
        let header = json!({ "alg": "HS256", "kid": self.kid });
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(payload.to_string())
        );
        let signature = hmac::sign(&self.key, input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()))
    }

    /// The claims of a token this issuer signed, if its signature, issuer and times check out at
    /// `now_unix`. Anything malformed gives `None`. Whether the ServiceAccount (and Secret) still
    /// exist with the same uid is for the caller to check, as the apiserver's validators do.
    pub fn verify(&self, token: &str, now_unix: i64) -> Option<TokenClaims> {
        let mut parts = token.split('.');
        let (header_part, payload_part, signature) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let header = decode_json(header_part)?;
        if header.get("alg")?.as_str()? != "HS256" {
            return None;
        }
        if header
            .get("kid")
            .is_some_and(|kid| kid.as_str() != Some(self.kid.as_str()))
        {
            return None;
        }
        let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
        let signed = token.get(..header_part.len() + 1 + payload_part.len())?;
        // Constant-time comparison of the MAC.
        hmac::verify(&self.key, signed.as_bytes(), &signature).ok()?;
        let claims = decode_json(payload_part)?;
        match claims.get("iss")?.as_str()? {
            BOUND_ISSUER => bound_claims(claims.as_object()?, now_unix),
            LEGACY_ISSUER => legacy_claims(claims.as_object()?),
            _ => None,
        }
    }

    fn bound_payload(&self, claims: &TokenClaims, exp: i64) -> Value {
        let mut k8s = Map::new();
        if !claims.namespace.is_empty() {
            k8s.insert("namespace".into(), json!(claims.namespace));
        }
        k8s.insert(
            "serviceaccount".into(),
            reference(&claims.service_account, &claims.service_account_uid),
        );
        if let Some((name, uid)) = &claims.secret {
            k8s.insert("secret".into(), reference(name, uid));
        }
        let mut payload = json!({
            "exp": exp,
            "iat": claims.issued_at,
            "iss": BOUND_ISSUER,
            "jti": self.jti(),
            "kubernetes.io": k8s,
            "nbf": claims.issued_at,
            "sub": claims.username(),
        });
        if !claims.audiences.is_empty() {
            // go-jose v2 always writes `aud` as an array.
            payload["aud"] = json!(claims.audiences);
        }
        payload
    }

    /// A random (version 4) UUID, as the apiserver puts in `jti`.
    fn jti(&self) -> String {
        let mut b = [0u8; 16];
        if self.rng.fill(&mut b).is_err() {
            // Unique and unguessable without the RNG: a MAC of a counter.
            let n = self.issued.fetch_add(1, Ordering::Relaxed);
            b.copy_from_slice(&hmac::sign(&self.key, &n.to_be_bytes()).as_ref()[..16]);
        }
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
        format!(
            "{}-{}-{}-{}-{}",
            &hex[..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..]
        )
    }
}

/// A `{name, uid}` reference with go's `omitempty`.
fn reference(name: &str, uid: &str) -> Value {
    let mut r = Map::new();
    if !name.is_empty() {
        r.insert("name".into(), json!(name));
    }
    if !uid.is_empty() {
        r.insert("uid".into(), json!(uid));
    }
    Value::Object(r)
}

fn legacy_payload(claims: &TokenClaims) -> Value {
    let secret_name = claims
        .secret
        .as_ref()
        .map(|(name, _)| name.as_str())
        .unwrap_or_default();
    json!({
        "iss": LEGACY_ISSUER,
        LEGACY_NAMESPACE: claims.namespace,
        LEGACY_SECRET_NAME: secret_name,
        LEGACY_SA_NAME: claims.service_account,
        LEGACY_SA_UID: claims.service_account_uid,
        "sub": claims.username(),
    })
}

fn decode_json(segment: &str) -> Option<Value> {
    let bytes = URL_SAFE_NO_PAD.decode(segment).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// A go-jose `NumericDate` (a JSON number, fractions dropped).
fn numeric_date(v: Option<&Value>) -> Option<Option<i64>> {
    match v {
        None | Some(Value::Null) => Some(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
            .map(Some),
        Some(_) => None,
    }
}

fn text(v: Option<&Value>) -> Option<&str> {
    match v {
        None | Some(Value::Null) => Some(""),
        Some(Value::String(s)) => Some(s),
        Some(_) => None,
    }
}

fn bound_claims(claims: &Map<String, Value>, now: i64) -> Option<TokenClaims> {
    let exp = numeric_date(claims.get("exp"))??;
    let nbf = numeric_date(claims.get("nbf"))?;
    let iat = numeric_date(claims.get("iat"))?;
    let late = now.saturating_add(LEEWAY_SECONDS);
    if nbf.is_some_and(|nbf| late < nbf)
        || iat.is_some_and(|iat| late < iat)
        || now.saturating_sub(LEEWAY_SECONDS) > exp
    {
        return None;
    }
    let audiences = match claims.get("aud") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(a)) => vec![a.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .map(|s| s.as_str().map(str::to_string))
            .collect::<Option<_>>()?,
        Some(_) => return None,
    };
    let k8s = claims.get("kubernetes.io")?.as_object()?;
    let sa = k8s.get("serviceaccount")?;
    let secret = match k8s.get("secret") {
        None | Some(Value::Null) => None,
        Some(s) => Some((
            text(s.get("name"))?.to_string(),
            text(s.get("uid"))?.to_string(),
        )),
    };
    let out = TokenClaims {
        namespace: text(k8s.get("namespace"))?.to_string(),
        service_account: text(sa.get("name"))?.to_string(),
        service_account_uid: text(sa.get("uid"))?.to_string(),
        secret,
        audiences,
        issued_at: iat.unwrap_or(0),
        expires_at: Some(exp),
    };
    (!out.namespace.is_empty() && !out.service_account.is_empty()).then_some(out)
}

/// The legacy validator's checks: every claim present, and `sub` naming the same account.
fn legacy_claims(claims: &Map<String, Value>) -> Option<TokenClaims> {
    let get = |k: &str| text(claims.get(k)).filter(|s| !s.is_empty());
    let sub = get("sub")?;
    let out = TokenClaims {
        namespace: get(LEGACY_NAMESPACE)?.to_string(),
        secret: Some((get(LEGACY_SECRET_NAME)?.to_string(), String::new())),
        service_account: get(LEGACY_SA_NAME)?.to_string(),
        service_account_uid: get(LEGACY_SA_UID)?.to_string(),
        audiences: Vec::new(),
        issued_at: 0,
        expires_at: None,
    };
    (sub == out.username()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000;

    fn bound() -> TokenClaims {
        TokenClaims {
            namespace: "default".into(),
            service_account: "deployer".into(),
            service_account_uid: "8f0c7bd2-0000-4000-8000-000000000001".into(),
            secret: None,
            audiences: vec![BOUND_ISSUER.into()],
            issued_at: NOW,
            expires_at: Some(NOW + 3607),
        }
    }

    fn legacy() -> TokenClaims {
        TokenClaims {
            secret: Some(("deployer-token-x7k2p".into(), String::new())),
            audiences: Vec::new(),
            issued_at: 0,
            expires_at: None,
            ..bound()
        }
    }

    fn segment(token: &str, i: usize) -> Value {
        decode_json(token.split('.').nth(i).unwrap()).unwrap()
    }

    #[test]
    fn bound_tokens_use_the_apiserver_claims_layout() {
        let issuer = TokenIssuer::new();
        let token = issuer.issue(&bound());
        assert_eq!(
            segment(&token, 0),
            json!({"alg": "HS256", "kid": issuer.kid()})
        );
        let payload = segment(&token, 1);
        let keys: Vec<&String> = payload.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "aud",
                "exp",
                "iat",
                "iss",
                "jti",
                "kubernetes.io",
                "nbf",
                "sub"
            ]
        );
        assert_eq!(
            payload["aud"],
            json!(["https://kubernetes.default.svc.cluster.local"])
        );
        assert_eq!(
            payload["iss"],
            "https://kubernetes.default.svc.cluster.local"
        );
        assert_eq!(payload["sub"], "system:serviceaccount:default:deployer");
        assert_eq!(
            (
                payload["iat"].as_i64(),
                payload["nbf"].as_i64(),
                payload["exp"].as_i64()
            ),
            (Some(NOW), Some(NOW), Some(NOW + 3607))
        );
        assert_eq!(
            payload["kubernetes.io"],
            json!({"namespace": "default", "serviceaccount": {"name": "deployer", "uid": "8f0c7bd2-0000-4000-8000-000000000001"}})
        );
        let jti = payload["jti"].as_str().unwrap();
        assert_eq!((jti.len(), &jti[14..15]), (36, "4"));
        assert_ne!(
            jti,
            segment(&issuer.issue(&bound()), 1)["jti"].as_str().unwrap()
        );
        assert_eq!(issuer.verify(&token, NOW + 10), Some(bound()));
        let with_secret = TokenClaims {
            secret: Some(("s".into(), "u".into())),
            ..bound()
        };
        assert_eq!(
            segment(&issuer.issue(&with_secret), 1)["kubernetes.io"]["secret"],
            json!({"name": "s", "uid": "u"})
        );
        assert_eq!(
            issuer.verify(&issuer.issue(&with_secret), NOW),
            Some(with_secret)
        );
    }

    #[test]
    fn legacy_tokens_use_the_legacy_claims() {
        let issuer = TokenIssuer::new();
        let token = issuer.issue(&legacy());
        assert_eq!(
            segment(&token, 1),
            json!({
                "iss": "kubernetes/serviceaccount",
                "kubernetes.io/serviceaccount/namespace": "default",
                "kubernetes.io/serviceaccount/secret.name": "deployer-token-x7k2p",
                "kubernetes.io/serviceaccount/service-account.name": "deployer",
                "kubernetes.io/serviceaccount/service-account.uid": "8f0c7bd2-0000-4000-8000-000000000001",
                "sub": "system:serviceaccount:default:deployer"
            })
        );
        // No expiry: valid at any time.
        assert_eq!(issuer.verify(&token, i64::MAX), Some(legacy()));
        assert_eq!(issuer.verify(&token, i64::MIN), Some(legacy()));
    }

    #[test]
    fn expiry_and_not_before_allow_go_jose_leeway() {
        let issuer = TokenIssuer::new();
        let token = issuer.issue(&bound());
        assert!(issuer.verify(&token, NOW + 3607 + 60).is_some());
        assert!(issuer.verify(&token, NOW + 3607 + 61).is_none());
        assert!(issuer.verify(&token, NOW - 60).is_some());
        assert!(issuer.verify(&token, NOW - 61).is_none());
    }

    #[test]
    fn anything_tampered_or_malformed_is_refused() {
        let issuer = TokenIssuer::new();
        let token = issuer.issue(&bound());
        assert!(TokenIssuer::new().verify(&token, NOW).is_none());
        let parts: Vec<&str> = token.split('.').collect();
        let forged_payload =
            URL_SAFE_NO_PAD.encode(segment(&token, 1).to_string().replace("deployer", "admin"));
        for bad in [
            String::new(),
            "a.b".into(),
            format!("{token}.x"),
            format!("{}.{forged_payload}.{}", parts[0], parts[2]),
            format!("{}.{}.{}", parts[0], parts[1], &parts[2][1..]),
            format!("{}.{}.!!", parts[0], parts[1]),
            format!("{}.{}.", parts[0], parts[1]),
            format!(
                "{}.{}.{}",
                URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#),
                parts[1],
                parts[2]
            ),
            "ä.ö.ü".into(),
        ] {
            assert!(issuer.verify(&bad, NOW).is_none(), "{bad}");
        }
        // A correctly signed token with a foreign issuer or missing claims is refused too.
        let sign = |payload: Value| {
            let input = format!(
                "{}.{}",
                parts[0],
                URL_SAFE_NO_PAD.encode(payload.to_string())
            );
            let sig = hmac::sign(&issuer.key, input.as_bytes());
            format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
        };
        let mut foreign = segment(&token, 1);
        foreign["iss"] = json!("https://example.com");
        assert!(issuer.verify(&sign(foreign), NOW).is_none());
        let mut no_exp = segment(&token, 1);
        no_exp.as_object_mut().unwrap().remove("exp");
        assert!(issuer.verify(&sign(no_exp), NOW).is_none());
        let mut wrong_sub = segment(&issuer.issue(&legacy()), 1);
        wrong_sub["sub"] = json!("system:serviceaccount:default:other");
        assert!(issuer.verify(&sign(wrong_sub), NOW).is_none());
        assert!(issuer.verify(&sign(json!([1, 2])), NOW).is_none());
    }

    #[test]
    fn debug_does_not_show_the_key() {
        let issuer = TokenIssuer::new();
        let shown = format!("{issuer:?}");
        assert!(shown.contains(issuer.kid()) && shown.starts_with("TokenIssuer"));
        assert!(!shown.contains("key"));
    }
}
