//! A pod's quality-of-service class, from its containers' resource requests and limits
//! (`GetPodQOS` in `pkg/apis/core/v1/helper/qos`).

use serde_json::Value;

/// The QoS class (`GetPodQOS`): Guaranteed when every container limits cpu and memory and
/// requests equal limits, BestEffort when nothing is requested or limited, else Burstable.
pub(super) fn qos_class(spec: &Value) -> &'static str {
    let empty = Vec::new();
    let all = spec["initContainers"]
        .as_array()
        .unwrap_or(&empty)
        .iter()
        .chain(spec["containers"].as_array().unwrap_or(&empty));
    let (mut any, mut guaranteed) = (false, true);
    for c in all {
        let res = &c["resources"];
        for r in ["cpu", "memory"] {
            let limit = quantity(&res["limits"][r]).filter(|q| *q != 0.0);
            // Requests default to limits.
            let request = quantity(&res["requests"][r])
                .or(limit)
                .filter(|q| *q != 0.0);
            any |= limit.is_some() || request.is_some();
            match (request, limit) {
                (Some(q), Some(l)) if (q - l).abs() <= l.abs() * 1e-9 => {}
                _ => guaranteed = false,
            }
        }
    }
    match (any, guaranteed) {
        (false, _) => "BestEffort",
        (true, true) => "Guaranteed",
        (true, false) => "Burstable",
    }
}

/// A resource quantity (`500m`, `1Gi`, `2e3`, `1`) as a number; `None` when malformed.
fn quantity(v: &Value) -> Option<f64> {
    if let Some(n) = v.as_f64() {
        return Some(n);
    }
    let s = v.as_str()?.trim();
    const SUFFIXES: &[(&str, f64)] = &[
        ("Ki", 1024.0),
        ("Mi", 1048576.0),
        ("Gi", 1073741824.0),
        ("Ti", 1099511627776.0),
        ("Pi", 1125899906842624.0),
        ("Ei", 1152921504606846976.0),
        ("m", 1e-3),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("P", 1e15),
        ("E", 1e18),
    ];
    let (num, mult) = SUFFIXES
        .iter()
        .find_map(|(suf, m)| s.strip_suffix(suf).map(|n| (n, *m)))
        .unwrap_or((s, 1.0));
    num.parse::<f64>()
        .ok()
        .filter(|n| n.is_finite())
        .map(|n| n * mult)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn qos_classes() {
        let spec = |res: Value| json!({"containers": [{"name": "c", "resources": res}]});
        assert_eq!(qos_class(&spec(json!({}))), "BestEffort");
        assert_eq!(
            qos_class(&spec(json!({"limits": {"cpu": "500m", "memory": "1Gi"}}))),
            "Guaranteed"
        );
        assert_eq!(
            qos_class(&spec(
                json!({"limits": {"cpu": "0.5", "memory": "1Gi"}, "requests": {"cpu": "500m", "memory": "1024Mi"}})
            )),
            "Guaranteed"
        );
        assert_eq!(
            qos_class(&spec(json!({"requests": {"cpu": "100m"}}))),
            "Burstable"
        );
        assert_eq!(
            qos_class(&spec(json!({"limits": {"cpu": "1"}}))),
            "Burstable"
        );
        assert_eq!(
            qos_class(&spec(json!({"requests": {"cpu": "0"}}))),
            "BestEffort"
        );
        assert_eq!(quantity(&json!("2e3")), Some(2000.0));
        assert_eq!(quantity(&json!("1Ki")), Some(1024.0));
        assert_eq!(quantity(&json!("x")), None);
    }
}
