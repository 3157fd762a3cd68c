//! Service defaults: core/v1 `SetDefaults_Service`, then what the Service REST storage does on
//! create (IP family fields, cluster IP and node port allocation) for a single-stack IPv4
//! cluster with `--service-cluster-ip-range=10.96.0.0/12` and node ports 30000-32767.
//!
//! Allocation is deterministic instead of stateful: the cluster IP is a hash of
//! `namespace/name` in the range's dynamic band (never 10.96.0.x, so never the network address,
//! `kubernetes` at 10.96.0.1 or the usual static picks like DNS at 10.96.0.10), node ports are a
//! hash of `namespace/name/port` in the ports' dynamic band. Re-running on an update gives the
//! same values, which stands in for the REST storage copying allocated values from the old object.

use ring::digest;
use serde_json::{Value, json};

use super::util::{
    Obj, child, default_ptr, default_str, each, empty_map, empty_str, ensure, str_of, unset,
    zero_num,
};

/// 10.96.0.0/12: 2^20 addresses; the first 256 are the static band, the last is broadcast.
const CLUSTER_IP_BASE: u32 = 0x0A60_0000;
const CLUSTER_IP_SIZE: u32 = 1 << 20;
const CLUSTER_IP_STATIC: u32 = 256;
/// 30000-32767; the first 86 (min(max(16, 2768/32), 128)) are the static band.
const NODE_PORT_MIN: u32 = 30000;
const NODE_PORT_MAX: u32 = 32767;
const NODE_PORT_STATIC: u32 = 86;

/// All of a Service's server-side defaults. `namespace` and `name` seed the allocations.
pub fn service(obj: &mut Obj, namespace: &str, name: &str) {
    let Some(spec) = ensure(obj, "spec") else {
        return;
    };
    set_defaults(spec);
    // A wrong-typed `type` fails decoding; nothing more is done for it.
    let Some(svc_type) = spec.get("type").and_then(Value::as_str).map(str::to_string) else {
        return;
    };
    if let Some(ingress) = child(obj, "status")
        .and_then(|s| child(s, "loadBalancer"))
        .filter(|_| svc_type == "LoadBalancer")
    {
        each(ingress, "ingress", |i| {
            if !empty_str(i, "ip") && unset(i, "ipMode") {
                i.insert("ipMode".into(), json!("VIP"));
            }
        });
    }
    let Some(spec) = child(obj, "spec") else {
        return;
    };
    if svc_type == "ExternalName" {
        return;
    }
    ip_families(spec);
    cluster_ips(spec, namespace, name);
    node_ports(spec, &svc_type, namespace, name);
}

/// `SetDefaults_Service` (pkg/apis/core/v1/defaults.go).
fn set_defaults(spec: &mut Obj) {
    default_str(spec, "sessionAffinity", "None");
    match str_of(spec, "sessionAffinity") {
        "None" => {
            spec.remove("sessionAffinityConfig");
        }
        "ClientIP" => {
            let has_timeout = child(spec, "sessionAffinityConfig")
                .and_then(|c| child(c, "clientIP"))
                .is_some_and(|c| !unset(c, "timeoutSeconds"));
            if !has_timeout {
                spec.insert(
                    "sessionAffinityConfig".into(),
                    json!({"clientIP": {"timeoutSeconds": 10800}}),
                );
            }
        }
        _ => {}
    }
    default_str(spec, "type", "ClusterIP");
    each(spec, "ports", |p| {
        default_str(p, "protocol", "TCP");
        let target_unset = match p.get("targetPort") {
            None | Some(Value::Null) => true,
            Some(Value::String(s)) => s.is_empty(),
            Some(Value::Number(n)) => n.as_f64() == Some(0.0),
            _ => false,
        };
        if target_unset && let Some(port) = p.get("port").filter(|v| v.is_number()).cloned() {
            p.insert("targetPort".into(), port);
        }
    });
    let svc_type = str_of(spec, "type").to_string();
    let has_external_ips = spec
        .get("externalIPs")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty());
    let externally_accessible = svc_type == "LoadBalancer"
        || svc_type == "NodePort"
        || (svc_type == "ClusterIP" && has_external_ips);
    if externally_accessible {
        default_str(spec, "externalTrafficPolicy", "Cluster");
    }
    if matches!(svc_type.as_str(), "ClusterIP" | "NodePort" | "LoadBalancer") {
        default_ptr(spec, "internalTrafficPolicy", json!("Cluster"));
    }
    if svc_type == "LoadBalancer" {
        default_ptr(spec, "allocateLoadBalancerNodePorts", json!(true));
    }
}

fn is_headless(spec: &Obj) -> bool {
    str_of(spec, "clusterIP") == "None"
        || spec
            .get("clusterIPs")
            .and_then(Value::as_array)
            .and_then(|a| a.first())
            .and_then(Value::as_str)
            == Some("None")
}

/// `initIPFamilyFields` on create, for a single-stack IPv4 cluster.
fn ip_families(spec: &mut Obj) {
    // normalizeClusterIPs: a set clusterIP seeds clusterIPs.
    if let Some(Value::String(ip)) = spec.get("clusterIP")
        && !ip.is_empty()
        && unset_or_empty_array(spec, "clusterIPs")
    {
        let ip = ip.clone();
        spec.insert("clusterIPs".into(), json!([ip]));
    }
    let selectorless_headless = is_headless(spec) && empty_map(spec, "selector");
    if unset(spec, "ipFamilyPolicy") {
        let policy = if selectorless_headless {
            "RequireDualStack"
        } else {
            "SingleStack"
        };
        spec.insert("ipFamilyPolicy".into(), json!(policy));
    }
    if !unset_or_empty_array(spec, "ipFamilies") {
        return;
    }
    let mut families: Vec<&str> = Vec::new();
    if let Some(ips) = spec.get("clusterIPs").and_then(Value::as_array) {
        for ip in ips.iter().filter_map(Value::as_str) {
            if ip == "None" {
                break;
            }
            families.push(if ip.contains(':') { "IPv6" } else { "IPv4" });
        }
    }
    if families.is_empty() {
        families.push("IPv4");
    }
    // Headless and selectorless services may list both families even on a single-stack cluster.
    if selectorless_headless
        && families.len() < 2
        && str_of(spec, "ipFamilyPolicy") != "SingleStack"
    {
        families.push(if families[0] == "IPv4" {
            "IPv6"
        } else {
            "IPv4"
        });
    }
    spec.insert("ipFamilies".into(), json!(families));
}

fn unset_or_empty_array(spec: &Obj, key: &str) -> bool {
    match spec.get(key) {
        None | Some(Value::Null) => true,
        Some(Value::Array(a)) => a.is_empty(),
        _ => false,
    }
}

/// Allocates the cluster IP of a headful service that has none.
fn cluster_ips(spec: &mut Obj, namespace: &str, name: &str) {
    if is_headless(spec) {
        if str_of(spec, "clusterIP") == "None" && unset_or_empty_array(spec, "clusterIPs") {
            spec.insert("clusterIPs".into(), json!(["None"]));
        }
        return;
    }
    let requested = match (spec.get("clusterIP"), spec.get("clusterIPs")) {
        (Some(Value::String(ip)), _) if !ip.is_empty() => return,
        (None | Some(Value::Null) | Some(Value::String(_)), Some(Value::Array(ips))) => {
            match ips.first() {
                // A clusterIPs list without clusterIP: take its first entry as the request.
                Some(Value::String(ip)) if !ip.is_empty() => Some(ip.clone()),
                None | Some(Value::String(_)) => None,
                _ => return,
            }
        }
        (None | Some(Value::Null) | Some(Value::String(_)), None | Some(Value::Null)) => None,
        _ => return,
    };
    let ip = requested.unwrap_or_else(|| allocate_ip(namespace, name));
    spec.insert("clusterIP".into(), json!(ip));
    match spec.get_mut("clusterIPs").and_then(Value::as_array_mut) {
        Some(ips) if !ips.is_empty() => ips[0] = json!(ip),
        _ => {
            spec.insert("clusterIPs".into(), json!([ip]));
        }
    }
}

fn allocate_ip(namespace: &str, name: &str) -> String {
    let dynamic = CLUSTER_IP_SIZE - CLUSTER_IP_STATIC - 1;
    let offset =
        CLUSTER_IP_STATIC + (hash(&format!("{namespace}/{name}")) % u64::from(dynamic)) as u32;
    let ip = CLUSTER_IP_BASE + offset;
    format!(
        "{}.{}.{}.{}",
        ip >> 24,
        (ip >> 16) & 0xff,
        (ip >> 8) & 0xff,
        ip & 0xff
    )
}

/// Node ports for NodePort and LoadBalancer services (unless `allocateLoadBalancerNodePorts`
/// is false), shared by ports with the same number, and the health check port of a
/// LoadBalancer with `externalTrafficPolicy: Local`.
fn node_ports(spec: &mut Obj, svc_type: &str, namespace: &str, name: &str) {
    let allocate = svc_type == "NodePort"
        || (svc_type == "LoadBalancer"
            && spec.get("allocateLoadBalancerNodePorts") != Some(&Value::Bool(false)));
    let mut used: Vec<u64> = Vec::new();
    if let Some(ports) = spec.get("ports").and_then(Value::as_array) {
        used.extend(
            ports
                .iter()
                .filter_map(|p| p.get("nodePort").and_then(Value::as_u64))
                .filter(|n| *n != 0),
        );
    }
    if let Some(n) = spec.get("healthCheckNodePort").and_then(Value::as_u64) {
        used.push(n);
    }
    if allocate && let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
        // Ports with the same number share one node port, explicit or allocated.
        let mut by_port: Vec<(Value, u64)> = ports
            .iter()
            .filter_map(|p| {
                Some((
                    p.get("port")?.clone(),
                    p.get("nodePort")
                        .and_then(Value::as_u64)
                        .filter(|n| *n != 0)?,
                ))
            })
            .collect();
        for p in ports.iter_mut().filter_map(Value::as_object_mut) {
            if !zero_num(p, "nodePort") {
                continue;
            }
            let port = p.get("port").cloned().unwrap_or(Value::Null);
            let n = match by_port.iter().find(|(q, _)| *q == port) {
                Some((_, n)) => *n,
                None => {
                    let n = pick_node_port(&format!("{namespace}/{name}/{port}"), &used);
                    used.push(n);
                    by_port.push((port, n));
                    n
                }
            };
            p.insert("nodePort".into(), json!(n));
        }
    }
    if svc_type == "LoadBalancer"
        && str_of(spec, "externalTrafficPolicy") == "Local"
        && zero_num(spec, "healthCheckNodePort")
    {
        let n = pick_node_port(&format!("{namespace}/{name}/healthCheck"), &used);
        spec.insert("healthCheckNodePort".into(), json!(n));
    }
}

fn pick_node_port(seed: &str, used: &[u64]) -> u64 {
    let span = u64::from(NODE_PORT_MAX - NODE_PORT_MIN + 1 - NODE_PORT_STATIC);
    let first = u64::from(NODE_PORT_MIN + NODE_PORT_STATIC);
    let start = hash(seed) % span;
    (0..span)
        .map(|i| first + (start + i) % span)
        .find(|n| !used.contains(n))
        .unwrap_or(first + start)
}

fn hash(seed: &str) -> u64 {
    let d = digest::digest(&digest::SHA256, seed.as_bytes());
    d.as_ref()
        .iter()
        .take(8)
        .fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Map;

    fn run(v: Value) -> Value {
        let mut m = match v {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        service(&mut m, "default", "web");
        Value::Object(m)
    }

    fn in_dynamic_band(ip: &str) -> bool {
        let o: Vec<u32> = ip.split('.').filter_map(|p| p.parse().ok()).collect();
        o.len() == 4
            && o[0] == 10
            && (96..=111).contains(&o[1])
            && !(o[1] == 96 && o[2] == 0)
            && ip != "10.111.255.255"
    }

    #[test]
    fn cluster_ip_service_as_kubectl_shows_it() {
        let svc = run(json!({"spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}}));
        let ip = allocate_ip("default", "web");
        assert!(in_dynamic_band(&ip), "{ip}");
        assert_eq!(
            svc["spec"],
            json!({
                "clusterIP": ip, "clusterIPs": [ip], "internalTrafficPolicy": "Cluster", "ipFamilies": ["IPv4"],
                "ipFamilyPolicy": "SingleStack", "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}],
                "selector": {"app": "web"}, "sessionAffinity": "None", "type": "ClusterIP"
            })
        );
    }

    #[test]
    fn allocation_is_deterministic_and_spread() {
        assert_eq!(allocate_ip("a", "b"), allocate_ip("a", "b"));
        assert_ne!(allocate_ip("a", "b"), allocate_ip("b", "a"));
        for i in 0..500 {
            let ip = allocate_ip("ns", &format!("svc-{i}"));
            assert!(in_dynamic_band(&ip), "{ip}");
        }
    }

    #[test]
    fn set_cluster_ip_and_named_target_port_are_kept() {
        let svc = run(
            json!({"spec": {"clusterIP": "10.96.0.10", "ports": [{"port": 53, "protocol": "UDP", "targetPort": "dns"}]}}),
        );
        assert_eq!(svc["spec"]["clusterIP"], "10.96.0.10");
        assert_eq!(svc["spec"]["clusterIPs"], json!(["10.96.0.10"]));
        assert_eq!(
            svc["spec"]["ports"][0],
            json!({"port": 53, "protocol": "UDP", "targetPort": "dns"})
        );
    }

    #[test]
    fn headless_services() {
        let svc = run(
            json!({"spec": {"clusterIP": "None", "selector": {"app": "db"}, "ports": [{"port": 5432}]}}),
        );
        assert_eq!(svc["spec"]["clusterIP"], "None");
        assert_eq!(svc["spec"]["clusterIPs"], json!(["None"]));
        assert_eq!(svc["spec"]["ipFamilyPolicy"], "SingleStack");
        assert_eq!(svc["spec"]["ipFamilies"], json!(["IPv4"]));
        // Headless without a selector: RequireDualStack and both families (alloc.go special case).
        let svc = run(json!({"spec": {"clusterIP": "None"}}));
        assert_eq!(svc["spec"]["ipFamilyPolicy"], "RequireDualStack");
        assert_eq!(svc["spec"]["ipFamilies"], json!(["IPv4", "IPv6"]));
    }

    #[test]
    fn node_ports_are_allocated_and_shared_by_port_number() {
        let svc = run(json!({"spec": {"type": "NodePort", "ports": [
            {"name": "dns", "port": 53, "protocol": "UDP"}, {"name": "dns-tcp", "port": 53},
            {"name": "web", "port": 80}, {"name": "fixed", "port": 443, "nodePort": 30443}]}}));
        let ports = &svc["spec"]["ports"];
        let n: Vec<u64> = (0..4)
            .filter_map(|i| ports[i]["nodePort"].as_u64())
            .collect();
        assert_eq!(n.len(), 4);
        assert_eq!(n[0], n[1]);
        assert_ne!(n[0], n[2]);
        assert_eq!(n[3], 30443);
        assert!(n.iter().all(|p| (30000..=32767).contains(p)));
        assert_eq!(svc["spec"]["externalTrafficPolicy"], "Cluster");
        assert_eq!(
            run(json!({"spec": {"type": "NodePort", "ports": [{"port": 80}]}}))["spec"]["ports"][0]
                ["nodePort"],
            ports[2]["nodePort"]
        );
    }

    #[test]
    fn load_balancers() {
        let svc = run(
            json!({"spec": {"type": "LoadBalancer", "externalTrafficPolicy": "Local", "ports": [{"port": 443}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}, {"hostname": "lb.example.com"}]}}}),
        );
        assert_eq!(svc["spec"]["allocateLoadBalancerNodePorts"], true);
        assert!(svc["spec"]["ports"][0]["nodePort"].is_u64());
        assert!(svc["spec"]["healthCheckNodePort"].is_u64());
        assert_ne!(
            svc["spec"]["healthCheckNodePort"],
            svc["spec"]["ports"][0]["nodePort"]
        );
        assert_eq!(
            svc["status"]["loadBalancer"]["ingress"],
            json!([{"ip": "192.0.2.1", "ipMode": "VIP"}, {"hostname": "lb.example.com"}])
        );
        let svc = run(
            json!({"spec": {"type": "LoadBalancer", "allocateLoadBalancerNodePorts": false, "ports": [{"port": 443}]}}),
        );
        assert!(svc["spec"]["ports"][0].get("nodePort").is_none());
        assert!(svc["spec"].get("healthCheckNodePort").is_none());
    }

    #[test]
    fn external_name_and_session_affinity() {
        let svc = run(json!({"spec": {"type": "ExternalName", "externalName": "db.example.com"}}));
        assert_eq!(
            svc["spec"],
            json!({"type": "ExternalName", "externalName": "db.example.com", "sessionAffinity": "None"})
        );
        let svc = run(json!({"spec": {"sessionAffinity": "ClientIP", "ports": [{"port": 80}]}}));
        assert_eq!(
            svc["spec"]["sessionAffinityConfig"],
            json!({"clientIP": {"timeoutSeconds": 10800}})
        );
        let svc =
            run(json!({"spec": {"sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 60}}}}));
        assert!(svc["spec"].get("sessionAffinityConfig").is_none());
    }
}
