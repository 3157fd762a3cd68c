//! Printers of networking, RBAC binding and coordination kinds, after kube-apiserver's
//! `pkg/printers/internalversion`.

use serde_json::{Value, json};

use super::corev1::load_balancer_ips;
use super::format::{age, arr, format_selector, s};
use super::{AGE, NAME, Printer, c, wide};

pub(super) const INGRESS: Printer = Printer {
    columns: &[
        NAME,
        c(
            "Class",
            "string",
            "The name of the IngressClass resource that should be used for additional configuration",
        ),
        c(
            "Hosts",
            "string",
            "Hosts that incoming requests are matched against before the ingress rule",
        ),
        c(
            "Address",
            "string",
            "Address is a list containing ingress points for the load-balancer",
        ),
        c("Ports", "string", "Ports of TLS configurations that open"),
        AGE,
    ],
    row: |o, now| {
        vec![
            json!(s(o, "/metadata/name")),
            json!(o["spec"]["ingressClassName"].as_str().unwrap_or("<none>")),
            json!(hosts(arr(o, "/spec/rules"))),
            json!(load_balancer_ips(&o["status"]["loadBalancer"]).join(",")),
            json!(if arr(o, "/spec/tls").is_empty() {
                "80"
            } else {
                "80, 443"
            }),
            json!(age(o, now)),
        ]
    },
};

/// `formatHosts`: up to three hosts, `*` when none.
fn hosts(rules: &[Value]) -> String {
    const MAX: usize = 3;
    let mut list: Vec<&str> = Vec::new();
    let mut more = false;
    for rule in rules {
        if list.len() == MAX {
            more = true;
        }
        let host = rule["host"].as_str().unwrap_or("");
        if !more && !host.is_empty() {
            list.push(host);
        }
    }
    if list.is_empty() {
        return "*".to_string();
    }
    let text = list.join(",");
    if more {
        format!("{text} + {} more...", rules.len() - MAX)
    } else {
        text
    }
}

pub(super) const NETWORK_POLICY: Printer = Printer {
    columns: &[
        NAME,
        c(
            "Pod-Selector",
            "string",
            "Selects the pods to which this NetworkPolicy object applies.",
        ),
        AGE,
    ],
    row: |o, now| {
        // podSelector is a required struct: an absent one selects everything.
        let sel = if o["spec"]["podSelector"].is_null() {
            json!({})
        } else {
            o["spec"]["podSelector"].clone()
        };
        vec![
            json!(s(o, "/metadata/name")),
            json!(format_selector(&sel)),
            json!(age(o, now)),
        ]
    },
};

pub(super) const ROLE_BINDING: Printer = Printer {
    columns: &[
        NAME,
        c(
            "Role",
            "string",
            "RoleRef can reference a Role in the current namespace or a ClusterRole in the global namespace.",
        ),
        AGE,
        wide("Users", "string", "Users in the roleBinding"),
        wide("Groups", "string", "Groups in the roleBinding"),
        wide(
            "ServiceAccounts",
            "string",
            "ServiceAccounts in the roleBinding",
        ),
    ],
    row: binding_row,
};

pub(super) const CLUSTER_ROLE_BINDING: Printer = Printer {
    columns: &[
        NAME,
        c(
            "Role",
            "string",
            "RoleRef can only reference a ClusterRole in the global namespace.",
        ),
        AGE,
        wide("Users", "string", "Users in the clusterRoleBinding"),
        wide("Groups", "string", "Groups in the clusterRoleBinding"),
        wide(
            "ServiceAccounts",
            "string",
            "ServiceAccounts in the clusterRoleBinding",
        ),
    ],
    row: binding_row,
};

/// `printRoleBinding` / `printClusterRoleBinding` with `rbac.SubjectsStrings`.
fn binding_row(o: &Value, now: i64) -> Vec<Value> {
    let (mut users, mut groups, mut sas) = (Vec::new(), Vec::new(), Vec::new());
    for subject in arr(o, "/subjects") {
        let name = subject["name"].as_str().unwrap_or("");
        match subject["kind"].as_str().unwrap_or("") {
            "ServiceAccount" => sas.push(format!(
                "{}/{name}",
                subject["namespace"].as_str().unwrap_or("")
            )),
            "User" => users.push(name.to_string()),
            "Group" => groups.push(name.to_string()),
            _ => {}
        }
    }
    vec![
        json!(s(o, "/metadata/name")),
        json!(format!(
            "{}/{}",
            s(o, "/roleRef/kind"),
            s(o, "/roleRef/name")
        )),
        json!(age(o, now)),
        json!(users.join(", ")),
        json!(groups.join(", ")),
        json!(sas.join(", ")),
    ]
}

pub(super) const LEASE: Printer = Printer {
    columns: &[
        NAME,
        c(
            "Holder",
            "string",
            "holderIdentity contains the identity of the holder of a current lease.",
        ),
        AGE,
    ],
    row: |o, now| {
        vec![
            json!(s(o, "/metadata/name")),
            json!(s(o, "/spec/holderIdentity")),
            json!(age(o, now)),
        ]
    },
};

/// The `/scale` subresource (`printScale`).
pub(super) const SCALE: Printer = Printer {
    columns: &[
        NAME,
        c(
            "Desired",
            "integer",
            "replicas is the desired number of instances for the scaled object.",
        ),
        c(
            "Available",
            "integer",
            "replicas is the actual number of observed instances of the scaled object.",
        ),
    ],
    row: |o, _| {
        vec![
            json!(s(o, "/metadata/name")),
            json!(
                o.pointer("/spec/replicas")
                    .and_then(Value::as_i64)
                    .unwrap_or(0)
            ),
            json!(
                o.pointer("/status/replicas")
                    .and_then(Value::as_i64)
                    .unwrap_or(0)
            ),
        ]
    },
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ingress_row() {
        let ing = json!({"metadata": {"name": "web"}, "spec": {"ingressClassName": "nginx",
            "rules": [{"host": "a.example.com"}, {"host": "b.example.com"}, {}, {"host": "c"}, {"host": "d"}],
            "tls": [{"hosts": ["a.example.com"]}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "10.0.0.2"}, {"hostname": "lb.example.com"}]}}});
        assert_eq!(
            (INGRESS.row)(&ing, 0)[1..5],
            [
                json!("nginx"),
                json!("a.example.com,b.example.com,c + 2 more..."),
                json!("10.0.0.2,lb.example.com"),
                json!("80, 443")
            ]
        );
        assert_eq!(hosts(&[]), "*");
    }

    #[test]
    fn binding_and_policy_rows() {
        let rb = json!({"metadata": {"name": "rb"}, "roleRef": {"kind": "ClusterRole", "name": "view"},
            "subjects": [{"kind": "User", "name": "alice"}, {"kind": "ServiceAccount", "name": "sa", "namespace": "ns"},
                         {"kind": "Group", "name": "devs"}, {"kind": "User", "name": "bob"}]});
        assert_eq!(
            binding_row(&rb, 0),
            vec![
                json!("rb"),
                json!("ClusterRole/view"),
                json!("<unknown>"),
                json!("alice, bob"),
                json!("devs"),
                json!("ns/sa")
            ]
        );
        let np = json!({"metadata": {"name": "deny"}, "spec": {"podSelector": {}}});
        assert_eq!((NETWORK_POLICY.row)(&np, 0)[1], json!("<none>"));
    }
}
