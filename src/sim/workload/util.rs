//! Helpers shared by the per-kind status writers: tolerant field readers, the controllers'
//! name hash, condition bookkeeping, stable fake addresses and the image reference parser.

use std::time::Duration;

use serde_json::{Map, Value, json};

use super::WorkloadConfig;

/// Everything a status writer needs about one call.
pub(super) struct Ctx<'a> {
    pub obj: &'a Value,
    pub since: Duration,
    /// `now`, at second precision as Kubernetes writes timestamps.
    pub now: String,
    pub cfg: &'a WorkloadConfig,
    /// The current status (an empty object when absent or not an object).
    pub prev: Value,
}

impl<'a> Ctx<'a> {
    pub fn new(obj: &'a Value, since: Duration, now: &str, cfg: &'a WorkloadConfig) -> Self {
        let prev = match obj.get("status") {
            Some(Value::Object(m)) => Value::Object(m.clone()),
            _ => Value::Object(Map::new()),
        };
        Self {
            obj,
            since,
            now: normalize_time(now),
            cfg,
            prev,
        }
    }

    /// Whether the simulated pods have had time to start.
    pub fn ready(&self) -> bool {
        self.since >= self.cfg.ready_after
    }

    /// Time left until `ready()` turns true.
    pub fn remaining(&self) -> Duration {
        self.cfg.ready_after.saturating_sub(self.since)
    }

    pub fn name(&self) -> &str {
        self.obj["metadata"]["name"].as_str().unwrap_or_default()
    }

    pub fn namespace(&self) -> &str {
        self.obj["metadata"]["namespace"]
            .as_str()
            .unwrap_or_default()
    }

    pub fn generation(&self) -> Option<i64> {
        int(&self.obj["metadata"]["generation"])
    }

    pub fn spec(&self) -> &'a Value {
        &self.obj["spec"]
    }

    /// `status.observedGeneration` equals `metadata.generation` (this generation was written).
    pub fn observed_current(&self) -> bool {
        int(&self.prev["observedGeneration"]) == self.generation()
    }

    /// The previous status's integer field, 0 when absent.
    pub fn prev_int(&self, field: &str) -> i64 {
        int(&self.prev[field]).unwrap_or(0).max(0)
    }
}

/// Writes `status` unless it equals the current one.
pub(super) fn finish(ctx: &Ctx<'_>, status: Value, recheck: Option<Duration>) -> super::Outcome {
    if status == ctx.prev {
        super::Outcome::Unchanged
    } else {
        super::Outcome::Status {
            status,
            recheck_after: recheck,
        }
    }
}

/// `now` at second precision (`2024-05-01T10:00:00Z`); unparseable input is kept as given.
pub(super) fn normalize_time(now: &str) -> String {
    match now.parse::<jiff::Timestamp>() {
        Ok(ts) => ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        Err(_) => now.to_string(),
    }
}

/// An integer field; strings, fractions and out-of-range numbers read as absent.
pub(super) fn int(v: &Value) -> Option<i64> {
    v.as_i64().filter(|n| i32::try_from(*n).is_ok())
}

/// A replica count: the field if it is a non-negative integer, else `default`.
pub(super) fn count(v: &Value, default: i64) -> i64 {
    match int(v) {
        Some(n) if n >= 0 => n,
        _ => default,
    }
}

/// Inserts `value` under `key` only when it is non-zero, as Go's `omitempty` does.
pub(super) fn put_nonzero(map: &mut Map<String, Value>, key: &str, value: i64) {
    if value != 0 {
        map.insert(key.to_string(), json!(value));
    }
}

/// An int-or-percent resolved against `total` (`intstr.GetScaledValueFromIntOrPercent`).
/// Returns `None` for malformed values.
pub(super) fn scaled(v: &Value, total: i64, round_up: bool) -> Option<i64> {
    if let Some(n) = int(v) {
        return Some(n);
    }
    let pct: i64 = v.as_str()?.strip_suffix('%')?.parse().ok()?;
    let product = pct.checked_mul(total)?;
    Some(if round_up {
        (product + 99).div_euclid(100)
    } else {
        product.div_euclid(100)
    })
}

/// FNV-1a, 32 bits: the hash the controllers use for pod-template and revision names.
pub(super) fn fnv32a(data: &[u8]) -> u32 {
    data.iter().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(*b)).wrapping_mul(0x0100_0193)
    })
}

/// `rand.SafeEncodeString(fmt.Sprint(hash))`: the decimal digits mapped onto the alphabet
/// `bcdfghjklmnpqrstvwxz2456789`, as in `7c5ddbdf54`.
pub(super) fn safe_encode(hash: u32) -> String {
    const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    hash.to_string()
        .bytes()
        .map(|b| char::from(ALPHANUMS[usize::from(b) % ALPHANUMS.len()]))
        .collect()
}

/// The pod-template hash of a Deployment's ReplicaSet (`pod-template-hash` label).
pub fn pod_template_hash(template: &Value) -> String {
    safe_encode(fnv32a(template.to_string().as_bytes()))
}

/// The hex SHA-256 of `data`.
pub(super) fn sha256_hex(data: &str) -> String {
    ring::digest::digest(&ring::digest::SHA256, data.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A stable load-balancer address for `namespace/name`: the prefix and a host number 1–254.
pub(super) fn lb_ip(cfg: &WorkloadConfig, namespace: &str, name: &str) -> String {
    let h = fnv32a(format!("{namespace}/{name}").as_bytes());
    format!("{}{}", cfg.lb_ip_prefix, h % 254 + 1)
}

/// The simulated node's name, address and labels.
pub(super) const NODE_NAME: &str = "kind-control-plane";
pub(super) const NODE_IP: &str = "172.18.0.2";
pub(super) const NODE_LABELS: &[(&str, &str)] = &[
    ("kubernetes.io/os", "linux"),
    ("kubernetes.io/arch", "amd64"),
    ("kubernetes.io/hostname", NODE_NAME),
    ("beta.kubernetes.io/os", "linux"),
    ("beta.kubernetes.io/arch", "amd64"),
];

/// Whether a pod spec's `nodeSelector` matches the simulated node.
pub(super) fn fits_node(pod_spec: &Value) -> bool {
    match pod_spec["nodeSelector"].as_object() {
        None => true,
        Some(sel) => sel.iter().all(|(k, v)| {
            NODE_LABELS
                .iter()
                .any(|(lk, lv)| lk == k && v.as_str() == Some(*lv))
        }),
    }
}

/// The condition of type `ty` in `status.conditions`.
pub(super) fn find_condition<'v>(status: &'v Value, ty: &str) -> Option<&'v Value> {
    status["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"].as_str() == Some(ty))
}

/// The `lastTransitionTime` a condition keeps: the previous one while its status is unchanged.
pub(super) fn transition_time(prev: Option<&Value>, status: &str, now: &str) -> String {
    match prev {
        Some(p) if p["status"].as_str() == Some(status) => p["lastTransitionTime"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| now.to_string()),
        _ => now.to_string(),
    }
}

/// Whether a previous condition already says `status`, `reason` and `message`.
pub(super) fn same_condition(
    prev: Option<&Value>,
    status: &str,
    reason: &str,
    message: &str,
) -> bool {
    prev.is_some_and(|p| {
        p["status"].as_str() == Some(status)
            && p["reason"].as_str().unwrap_or_default() == reason
            && p["message"].as_str().unwrap_or_default() == message
    })
}

/// A parsed container image reference (`[domain/]path[:tag][@digest]`), normalized the way
/// container runtimes report it (`nginx` is `docker.io/library/nginx`).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct ImageRef {
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl ImageRef {
    pub fn parse(image: &str) -> Self {
        let (rest, digest) = match image.split_once('@') {
            Some((r, d)) => (r, Some(d.to_string())),
            None => (image, None),
        };
        let (name, tag) = match rest.rfind(':') {
            Some(i) if !rest[i..].contains('/') => (&rest[..i], Some(rest[i + 1..].to_string())),
            _ => (rest, None),
        };
        let repository = match name.split_once('/') {
            Some((first, _)) if first.contains(['.', ':']) || first == "localhost" => {
                name.to_string()
            }
            Some(_) => format!("docker.io/{name}"),
            None => format!("docker.io/library/{name}"),
        };
        Self {
            repository,
            tag,
            digest,
        }
    }

    /// The reference as `status.containerStatuses[].image` shows it once pulled.
    pub fn display(&self) -> String {
        match (&self.tag, &self.digest) {
            (Some(t), _) => format!("{}:{t}", self.repository),
            (None, Some(d)) => format!("{}@{d}", self.repository),
            (None, None) => format!("{}:latest", self.repository),
        }
    }

    /// `status.containerStatuses[].imageID`: the repository at a (stable, made-up) digest.
    pub fn image_id(&self) -> String {
        let digest = self
            .digest
            .clone()
            .unwrap_or_else(|| format!("sha256:{}", sha256_hex(&self.display())));
        format!("{}@{digest}", self.repository)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_encode_matches_replica_set_names() {
        // Real ReplicaSet hashes use only the digits' images: 4-9 and b, c, d, f.
        assert_eq!(safe_encode(1234567890), "56789bcdf4");
        let h =
            pod_template_hash(&json!({"spec": {"containers": [{"name": "a", "image": "nginx"}]}}));
        assert!(
            h.len() <= 10 && h.chars().all(|c| "456789bcdf".contains(c)),
            "{h}"
        );
        assert_eq!(
            h,
            pod_template_hash(&json!({"spec": {"containers": [{"image": "nginx", "name": "a"}]}}))
        );
    }

    #[test]
    fn fnv_known_vectors() {
        assert_eq!(fnv32a(b""), 0x811c9dc5);
        assert_eq!(fnv32a(b"a"), 0xe40c292c);
        assert_eq!(fnv32a(b"foobar"), 0xbf9cf968);
    }

    #[test]
    fn scaled_values_round_like_intstr() {
        assert_eq!(scaled(&json!("25%"), 1, true), Some(1));
        assert_eq!(scaled(&json!("25%"), 1, false), Some(0));
        assert_eq!(scaled(&json!("25%"), 4, false), Some(1));
        assert_eq!(scaled(&json!(2), 10, false), Some(2));
        assert_eq!(scaled(&json!("x%"), 10, false), None);
        assert_eq!(scaled(&json!(true), 10, false), None);
    }

    #[test]
    fn readers_tolerate_odd_input() {
        assert_eq!(count(&json!("3"), 1), 1);
        assert_eq!(count(&json!(-2), 1), 1);
        assert_eq!(count(&json!(1.5), 1), 1);
        assert_eq!(count(&json!(1u64 << 40), 1), 1);
        assert_eq!(count(&json!(4), 1), 4);
        assert_eq!(
            normalize_time("2024-05-01T10:00:00.123456Z"),
            "2024-05-01T10:00:00Z"
        );
        assert_eq!(normalize_time("garbage"), "garbage");
    }

    #[test]
    fn image_references_normalize_like_containerd() {
        let r = ImageRef::parse("nginx");
        assert_eq!(r.display(), "docker.io/library/nginx:latest");
        assert!(r.image_id().starts_with("docker.io/library/nginx@sha256:"));
        assert_eq!(
            ImageRef::parse("bitnami/redis:7").display(),
            "docker.io/bitnami/redis:7"
        );
        let r = ImageRef::parse("registry:5000/x:fail");
        assert_eq!(
            (r.repository.as_str(), r.tag.as_deref()),
            ("registry:5000/x", Some("fail"))
        );
        let r = ImageRef::parse("localhost/app");
        assert_eq!(r.display(), "localhost/app:latest");
        let r = ImageRef::parse("ghcr.io/o/app@sha256:abc");
        assert_eq!(
            (r.tag.clone(), r.image_id()),
            (None, "ghcr.io/o/app@sha256:abc".to_string())
        );
    }

    #[test]
    fn lb_ip_is_stable_and_in_prefix() {
        let cfg = WorkloadConfig::default();
        let a = lb_ip(&cfg, "default", "web");
        assert_eq!(a, lb_ip(&cfg, "default", "web"));
        let host: u32 = a
            .strip_prefix("172.18.255.")
            .and_then(|h| h.parse().ok())
            .unwrap_or(0);
        assert!((1..=254).contains(&host), "{a}");
    }
}
