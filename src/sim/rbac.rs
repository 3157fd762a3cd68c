//! The RBAC authorizer as kube-apiserver runs it (`plugin/pkg/auth/authorizer/rbac/rbac.go`,
//! `pkg/registry/rbac/validation/rule.go`, `pkg/apis/rbac/v1/evaluation_helpers.go`): a request
//! is allowed when any rule reachable from a ClusterRoleBinding, or from a RoleBinding in the
//! request's namespace, covers it. Objects are `rbac.authorization.k8s.io/v1` JSON.
//!
//! ClusterRoles with an `aggregationRule` take the rules of the ClusterRoles their selectors
//! match, computed on each check (what the clusterrole-aggregation controller writes into
//! `rules` on a real cluster, transitively and minus duplicates). Also here: the user of a
//! service account, and the default ClusterRoles and ClusterRoleBindings of a fresh cluster.

use std::cell::OnceCell;
use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::selector::LabelSelector;

/// An authenticated (or anonymous) user.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserInfo {
    pub name: String,
    /// A service account's uid; empty for other users.
    pub uid: String,
    pub groups: Vec<String>,
}

/// What a request does, as the request-info resolver describes it. For a request on a namespace
/// object itself (`/api/v1/namespaces/foo`) kube-apiserver sets `namespace` to its name.
#[derive(Debug, Clone, Copy, Default)]
pub struct Attributes<'a> {
    /// `get`, `list`, `watch`, `create`, ...; for non-resource requests the lower-cased HTTP method.
    pub verb: &'a str,
    pub api_group: &'a str,
    pub resource: &'a str,
    pub subresource: &'a str,
    pub namespace: Option<&'a str>,
    pub name: Option<&'a str>,
    /// Set for non-resource requests (`/version`, `/healthz`, `/apis`, ...).
    pub path: Option<&'a str>,
}

/// Where the authorizer reads RBAC objects from.
pub trait RbacSource {
    fn cluster_roles(&self) -> Vec<Arc<Value>>;
    fn cluster_role_bindings(&self) -> Vec<Arc<Value>>;
    fn roles(&self, namespace: &str) -> Vec<Arc<Value>>;
    fn role_bindings(&self, namespace: &str) -> Vec<Arc<Value>>;
}

/// Whether RBAC allows the request (`DecisionAllow`; anything else is "no opinion", i.e. 403).
pub fn authorize(user: &UserInfo, attrs: &Attributes, source: &dyn RbacSource) -> bool {
    allowed_by(user, attrs, source).is_some()
}

/// The reason RBAC allows the request, as its authorizer words it (`RBAC: allowed by
/// ClusterRoleBinding "x" of ClusterRole "y" to Group "z"`); `None` when it does not.
pub fn allowed_by(user: &UserInfo, attrs: &Attributes, source: &dyn RbacSource) -> Option<String> {
    let resolver = Resolver {
        source,
        cluster_roles: OnceCell::new(),
    };
    for binding in source.cluster_role_bindings() {
        if let Some(subject) = subject_for(user, &binding["subjects"], "")
            && resolver
                .role_ref_rules(&binding["roleRef"], None)
                .iter()
                .any(|r| rule_allows(attrs, r))
        {
            return Some(format!(
                "RBAC: allowed by ClusterRoleBinding {} of {} {} to {}",
                go_quote(name_of(&binding)),
                str_of(&binding["roleRef"], "kind"),
                go_quote(str_of(&binding["roleRef"], "name")),
                describe_subject(subject, "")
            ));
        }
    }
    let namespace = attrs.namespace.filter(|ns| !ns.is_empty())?;
    source.role_bindings(namespace).iter().find_map(|binding| {
        let subject = subject_for(user, &binding["subjects"], namespace)?;
        resolver
            .role_ref_rules(&binding["roleRef"], Some(namespace))
            .iter()
            .any(|r| rule_allows(attrs, r))
            .then(|| {
                format!(
                    "RBAC: allowed by RoleBinding {} of {} {} to {}",
                    go_quote(&format!("{}/{namespace}", name_of(binding))),
                    str_of(&binding["roleRef"], "kind"),
                    go_quote(str_of(&binding["roleRef"], "name")),
                    describe_subject(subject, namespace)
                )
            })
    })
}

/// `RulesFor`: every rule granted to `user` by ClusterRoleBindings, and by RoleBindings in
/// `namespace` (if any), in the order the bindings are read.
pub fn rules_for(user: &UserInfo, namespace: &str, source: &dyn RbacSource) -> Vec<Value> {
    let resolver = Resolver {
        source,
        cluster_roles: OnceCell::new(),
    };
    let mut rules = Vec::new();
    for binding in source.cluster_role_bindings() {
        if subject_for(user, &binding["subjects"], "").is_some() {
            rules.extend(resolver.role_ref_rules(&binding["roleRef"], None));
        }
    }
    if !namespace.is_empty() {
        for binding in source.role_bindings(namespace) {
            if subject_for(user, &binding["subjects"], namespace).is_some() {
                rules.extend(resolver.role_ref_rules(&binding["roleRef"], Some(namespace)));
            }
        }
    }
    rules
}

/// `%q` of a plain string (names are printable).
fn go_quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// `describeSubject`.
fn describe_subject(subject: &Value, binding_namespace: &str) -> String {
    let kind = str_of(subject, "kind");
    let name = str_of(subject, "name");
    if kind == "ServiceAccount" {
        let ns = match str_of(subject, "namespace") {
            "" => binding_namespace,
            ns => ns,
        };
        return format!("{kind} {}", go_quote(&format!("{name}/{ns}")));
    }
    format!("{kind} {}", go_quote(name))
}

/// The rules a ClusterRole grants: its `rules`, or for an aggregated role the rules of the
/// ClusterRoles its selectors match (`all` is every ClusterRole of the cluster).
pub fn effective_cluster_role_rules(role: &Value, all: &[Arc<Value>]) -> Vec<Value> {
    effective_rules(role, all, &mut Vec::new())
}

/// The user a service account authenticates as (`serviceaccount.UserInfo`).
pub fn service_account_user(namespace: &str, name: &str) -> UserInfo {
    UserInfo {
        name: format!("system:serviceaccount:{namespace}:{name}"),
        uid: String::new(),
        groups: vec![
            "system:serviceaccounts".to_string(),
            format!("system:serviceaccounts:{namespace}"),
            "system:authenticated".to_string(),
        ],
    }
}

struct Resolver<'a> {
    source: &'a dyn RbacSource,
    cluster_roles: OnceCell<Vec<Arc<Value>>>,
}

impl Resolver<'_> {
    fn cluster_roles(&self) -> &[Arc<Value>] {
        self.cluster_roles
            .get_or_init(|| self.source.cluster_roles())
    }

    /// `GetRoleReferenceRules`: a Role in the binding's namespace or a ClusterRole; an unresolvable
    /// reference grants nothing.
    fn role_ref_rules(&self, role_ref: &Value, binding_namespace: Option<&str>) -> Vec<Value> {
        let name = str_of(role_ref, "name");
        match str_of(role_ref, "kind") {
            "Role" => binding_namespace
                .and_then(|ns| {
                    self.source
                        .roles(ns)
                        .into_iter()
                        .find(|r| name_of(r) == name)
                })
                .map(|r| array_of(&r, "rules").to_vec())
                .unwrap_or_default(),
            "ClusterRole" => {
                let all = self.cluster_roles();
                all.iter()
                    .find(|r| name_of(r) == name)
                    .map(|r| effective_rules(r, all, &mut Vec::new()))
                    .unwrap_or_default()
            }
            _ => Vec::new(),
        }
    }
}

fn str_of<'a>(v: &'a Value, field: &str) -> &'a str {
    v.get(field).and_then(Value::as_str).unwrap_or_default()
}

fn array_of<'a>(v: &'a Value, field: &str) -> &'a [Value] {
    v.get(field)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

fn name_of(v: &Value) -> &str {
    v.pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn effective_rules(role: &Value, all: &[Arc<Value>], visiting: &mut Vec<String>) -> Vec<Value> {
    let aggregation = match role.get("aggregationRule") {
        Some(a) if !a.is_null() => a,
        _ => return array_of(role, "rules").to_vec(),
    };
    let name = name_of(role).to_string();
    if visiting.contains(&name) {
        // A cycle never converges to anything but what its members add themselves.
        return Vec::new();
    }
    let mut selectors = Vec::new();
    for s in array_of(aggregation, "clusterRoleSelectors") {
        match LabelSelector::from_object(s) {
            Ok(sel) => selectors.push(sel),
            // The controller gives up and leaves the stored rules alone.
            Err(_) => return array_of(role, "rules").to_vec(),
        }
    }
    visiting.push(name.clone());
    let mut sorted: Vec<&Arc<Value>> = all.iter().collect();
    sorted.sort_by(|a, b| name_of(a).cmp(name_of(b)));
    let mut rules: Vec<Value> = Vec::new();
    for selector in &selectors {
        for other in sorted
            .iter()
            .filter(|r| name_of(r) != name && selector.matches_object(r))
        {
            for rule in effective_rules(other, all, visiting) {
                if !rules.contains(&rule) {
                    rules.push(rule);
                }
            }
        }
    }
    visiting.pop();
    rules
}

/// `appliesTo`: the first subject that names the user. A ServiceAccount subject without a
/// namespace means the RoleBinding's namespace (and matches nothing in a ClusterRoleBinding).
fn subject_for<'a>(user: &UserInfo, subjects: &'a Value, namespace: &str) -> Option<&'a Value> {
    subjects.as_array().into_iter().flatten().find(|s| {
        let name = str_of(s, "name");
        match str_of(s, "kind") {
            "User" => user.name == name,
            "Group" => user.groups.iter().any(|g| g == name),
            "ServiceAccount" => {
                let sa_namespace = match str_of(s, "namespace") {
                    "" => namespace,
                    ns => ns,
                };
                !sa_namespace.is_empty()
                    && user.name == format!("system:serviceaccount:{sa_namespace}:{name}")
            }
            _ => false,
        }
    })
}

fn strings<'a>(rule: &'a Value, field: &str) -> impl Iterator<Item = &'a str> {
    array_of(rule, field).iter().filter_map(Value::as_str)
}

/// `RuleAllows`.
fn rule_allows(attrs: &Attributes, rule: &Value) -> bool {
    let verb = strings(rule, "verbs").any(|v| v == "*" || v == attrs.verb);
    if let Some(path) = attrs.path {
        return verb
            && strings(rule, "nonResourceURLs").any(|u| {
                u == "*"
                    || u == path
                    || (u.ends_with('*') && path.starts_with(u.trim_end_matches('*')))
            });
    }
    let sub = attrs.subresource;
    let combined = if sub.is_empty() {
        attrs.resource.to_string()
    } else {
        format!("{}/{sub}", attrs.resource)
    };
    let group = strings(rule, "apiGroups").any(|g| g == "*" || g == attrs.api_group);
    let resource = strings(rule, "resources").any(|r| {
        r == "*"
            || r == combined
            || (!sub.is_empty()
                && r.len() == sub.len() + 2
                && r.starts_with("*/")
                && r.ends_with(sub))
    });
    let names = array_of(rule, "resourceNames");
    let name = names.is_empty()
        || strings(rule, "resourceNames").any(|n| n == attrs.name.unwrap_or_default());
    verb && group && resource && name
}

const READ: &[&str] = &["get", "list", "watch"];
const WRITE: &[&str] = &["create", "delete", "deletecollection", "patch", "update"];
#[rustfmt::skip]
const READ_WRITE: &[&str] = &["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

fn sorted(items: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = items.iter().map(|s| s.to_string()).collect();
    v.sort();
    v.dedup();
    v
}

/// `rbacv1helpers.NewRule(verbs...).Groups(...).Resources(...)`; the builder sorts each list.
fn rule(verbs: &[&str], groups: &[&str], resources: &[&str]) -> Value {
    json!({ "apiGroups": sorted(groups), "resources": sorted(resources), "verbs": sorted(verbs) })
}

fn url_rule(urls: &[&str]) -> Value {
    json!({ "nonResourceURLs": sorted(urls), "verbs": ["get"] })
}

fn bootstrap_metadata(name: &str, extra_labels: &[(&str, &str)]) -> Value {
    let mut labels = Map::new();
    labels.insert("kubernetes.io/bootstrapping".into(), "rbac-defaults".into());
    for (k, v) in extra_labels {
        labels.insert((*k).into(), (*v).into());
    }
    json!({
        "name": name,
        "labels": labels,
        "annotations": { "rbac.authorization.kubernetes.io/autoupdate": "true" },
    })
}

fn cluster_role(name: &str, labels: &[(&str, &str)], rules: Vec<Value>) -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": bootstrap_metadata(name, labels),
        "rules": rules,
    })
}

fn aggregated_role(name: &str, labels: &[(&str, &str)], aggregate_from: &str) -> Value {
    let mut role = cluster_role(name, labels, Vec::new());
    role["aggregationRule"] = json!({
        "clusterRoleSelectors": [{ "matchLabels": { format!("rbac.authorization.k8s.io/aggregate-to-{aggregate_from}"): "true" } }]
    });
    role
}

const TO_ADMIN: (&str, &str) = ("rbac.authorization.k8s.io/aggregate-to-admin", "true");
const TO_EDIT: (&str, &str) = ("rbac.authorization.k8s.io/aggregate-to-edit", "true");
const TO_VIEW: (&str, &str) = ("rbac.authorization.k8s.io/aggregate-to-view", "true");

#[rustfmt::skip]
fn aggregate_to_edit_rules() -> Vec<Value> {
    let core = &[""];
    vec![
        rule(READ, core, &["pods/attach", "pods/proxy", "pods/exec", "pods/portforward", "secrets", "services/proxy"]),
        rule(&["impersonate"], core, &["serviceaccounts"]),
        rule(WRITE, core, &["pods", "pods/attach", "pods/proxy", "pods/exec", "pods/portforward"]),
        rule(&["create"], core, &["pods/eviction"]),
        rule(
            WRITE,
            core,
            &[
                "replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts", "services",
                "services/proxy", "persistentvolumeclaims", "configmaps", "secrets",
            ],
        ),
        rule(&["create"], core, &["serviceaccounts/token"]),
        rule(WRITE, &["", "events.k8s.io"], &["events"]),
        rule(
            WRITE,
            &["apps"],
            &[
                "statefulsets", "statefulsets/scale", "daemonsets", "deployments", "deployments/scale",
                "deployments/rollback", "replicasets", "replicasets/scale",
            ],
        ),
        rule(WRITE, &["autoscaling"], &["horizontalpodautoscalers"]),
        rule(WRITE, &["batch"], &["jobs", "cronjobs"]),
        rule(
            WRITE,
            &["extensions"],
            &[
                "daemonsets", "deployments", "deployments/scale", "deployments/rollback", "ingresses", "replicasets",
                "replicasets/scale", "replicationcontrollers/scale", "networkpolicies",
            ],
        ),
        rule(WRITE, &["policy"], &["poddisruptionbudgets"]),
        rule(WRITE, &["networking.k8s.io"], &["networkpolicies", "ingresses"]),
        rule(READ_WRITE, &["coordination.k8s.io"], &["leases"]),
    ]
}

#[rustfmt::skip]
fn aggregate_to_view_rules() -> Vec<Value> {
    let core = &[""];
    vec![
        rule(
            READ,
            core,
            &[
                "pods", "replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts", "services",
                "services/status", "endpoints", "persistentvolumeclaims", "persistentvolumeclaims/status", "configmaps",
            ],
        ),
        rule(
            READ,
            core,
            &[
                "limitranges", "resourcequotas", "bindings", "pods/status", "resourcequotas/status",
                "namespaces/status", "replicationcontrollers/status", "pods/log",
            ],
        ),
        rule(READ, core, &["namespaces"]),
        rule(READ, &["", "events.k8s.io"], &["events"]),
        rule(READ, &["discovery.k8s.io"], &["endpointslices"]),
        rule(
            READ,
            &["apps"],
            &[
                "controllerrevisions", "statefulsets", "statefulsets/status", "statefulsets/scale", "daemonsets",
                "daemonsets/status", "deployments", "deployments/status", "deployments/scale", "replicasets",
                "replicasets/status", "replicasets/scale",
            ],
        ),
        rule(READ, &["autoscaling"], &["horizontalpodautoscalers", "horizontalpodautoscalers/status"]),
        rule(READ, &["batch"], &["jobs", "cronjobs", "cronjobs/status", "jobs/status"]),
        rule(
            READ,
            &["extensions"],
            &[
                "daemonsets", "daemonsets/status", "deployments", "deployments/scale", "deployments/status",
                "ingresses", "ingresses/status", "replicasets", "replicasets/scale", "replicasets/status",
                "replicationcontrollers/scale", "networkpolicies",
            ],
        ),
        rule(READ, &["policy"], &["poddisruptionbudgets", "poddisruptionbudgets/status"]),
        rule(READ, &["networking.k8s.io"], &["networkpolicies", "ingresses", "ingresses/status"]),
    ]
}

/// The default ClusterRoles of a fresh cluster that matter here (bootstrappolicy), labelled and
/// annotated as the real ones. `admin`, `edit` and `view` carry their aggregation rules and the
/// rules the aggregation controller fills in.
#[rustfmt::skip]
pub fn bootstrap_cluster_roles() -> Vec<Value> {
    let mut roles = vec![
        cluster_role("cluster-admin", &[], vec![rule(&["*"], &["*"], &["*"]), json!({ "nonResourceURLs": ["*"], "verbs": ["*"] })]),
        cluster_role(
            "system:discovery",
            &[],
            vec![url_rule(&[
                "/livez", "/readyz", "/healthz", "/version", "/version/", "/openapi", "/openapi/*", "/api", "/api/*",
                "/apis", "/apis/*",
            ])],
        ),
        cluster_role(
            "system:basic-user",
            &[],
            vec![
                rule(&["create"], &["authorization.k8s.io"], &["selfsubjectaccessreviews", "selfsubjectrulesreviews"]),
                rule(&["create"], &["authentication.k8s.io"], &["selfsubjectreviews"]),
            ],
        ),
        cluster_role("system:public-info-viewer", &[], vec![url_rule(crate::sim::cluster::ANONYMOUS_PATHS)]),
        cluster_role(
            "system:service-account-issuer-discovery",
            &[],
            vec![url_rule(&["/.well-known/openid-configuration", "/openid/v1/jwks"])],
        ),
        aggregated_role("admin", &[], "admin"),
        aggregated_role("edit", &[TO_ADMIN], "edit"),
        aggregated_role("view", &[TO_EDIT], "view"),
        cluster_role(
            "system:aggregate-to-admin",
            &[TO_ADMIN],
            vec![
                rule(&["create"], &["authorization.k8s.io"], &["localsubjectaccessreviews"]),
                rule(READ_WRITE, &["rbac.authorization.k8s.io"], &["roles", "rolebindings"]),
            ],
        ),
        cluster_role("system:aggregate-to-edit", &[TO_EDIT], aggregate_to_edit_rules()),
        cluster_role("system:aggregate-to-view", &[TO_VIEW], aggregate_to_view_rules()),
    ];
    let all: Vec<Arc<Value>> = roles.iter().cloned().map(Arc::new).collect();
    for role in roles.iter_mut().filter(|r| r.get("aggregationRule").is_some()) {
        role["rules"] = Value::Array(effective_cluster_role_rules(role, &all));
    }
    roles
}

fn cluster_role_binding(name: &str, subjects: &[(&str, &str)]) -> Value {
    let subjects: Vec<Value> = subjects
        .iter()
        .map(|(kind, name)| json!({ "apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": name }))
        .collect();
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": bootstrap_metadata(name, &[]),
        "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name },
        "subjects": subjects,
    })
}

/// The default ClusterRoleBindings of those roles.
pub fn bootstrap_cluster_role_bindings() -> Vec<Value> {
    vec![
        cluster_role_binding("cluster-admin", &[("Group", "system:masters")]),
        cluster_role_binding("system:discovery", &[("Group", "system:authenticated")]),
        cluster_role_binding("system:basic-user", &[("Group", "system:authenticated")]),
        cluster_role_binding(
            "system:public-info-viewer",
            &[
                ("Group", "system:authenticated"),
                ("Group", "system:unauthenticated"),
            ],
        ),
        cluster_role_binding(
            "system:service-account-issuer-discovery",
            &[("Group", "system:serviceaccounts")],
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Objects {
        cluster_roles: Vec<Value>,
        cluster_role_bindings: Vec<Value>,
        roles: Vec<Value>,
        role_bindings: Vec<Value>,
    }

    fn in_namespace(objs: &[Value], ns: &str) -> Vec<Arc<Value>> {
        objs.iter()
            .filter(|o| o["metadata"]["namespace"] == ns)
            .cloned()
            .map(Arc::new)
            .collect()
    }

    impl RbacSource for Objects {
        fn cluster_roles(&self) -> Vec<Arc<Value>> {
            self.cluster_roles.iter().cloned().map(Arc::new).collect()
        }
        fn cluster_role_bindings(&self) -> Vec<Arc<Value>> {
            self.cluster_role_bindings
                .iter()
                .cloned()
                .map(Arc::new)
                .collect()
        }
        fn roles(&self, namespace: &str) -> Vec<Arc<Value>> {
            in_namespace(&self.roles, namespace)
        }
        fn role_bindings(&self, namespace: &str) -> Vec<Arc<Value>> {
            in_namespace(&self.role_bindings, namespace)
        }
    }

    fn bootstrap() -> Objects {
        Objects {
            cluster_roles: bootstrap_cluster_roles(),
            cluster_role_bindings: bootstrap_cluster_role_bindings(),
            ..Default::default()
        }
    }

    fn binding(
        kind: &str,
        ns: &str,
        name: &str,
        role_kind: &str,
        role: &str,
        subjects: Value,
    ) -> Value {
        json!({
            "kind": kind, "metadata": {"name": name, "namespace": ns},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role},
            "subjects": subjects,
        })
    }

    fn user(name: &str, groups: &[&str]) -> UserInfo {
        UserInfo {
            uid: String::new(),
            name: name.into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
        }
    }

    fn res<'a>(
        verb: &'a str,
        group: &'a str,
        resource: &'a str,
        ns: Option<&'a str>,
    ) -> Attributes<'a> {
        Attributes {
            verb,
            api_group: group,
            resource,
            namespace: ns,
            ..Default::default()
        }
    }

    fn url<'a>(verb: &'a str, path: &'a str) -> Attributes<'a> {
        Attributes {
            verb,
            path: Some(path),
            ..Default::default()
        }
    }

    #[test]
    fn service_account_user_has_the_apiserver_groups() {
        let u = service_account_user("ns1", "builder");
        assert_eq!(u.name, "system:serviceaccount:ns1:builder");
        assert_eq!(
            u.groups,
            [
                "system:serviceaccounts",
                "system:serviceaccounts:ns1",
                "system:authenticated"
            ]
        );
    }

    #[test]
    fn bootstrap_policy_grants_what_a_fresh_cluster_grants() {
        let objs = bootstrap();
        let alice = user("alice", &["system:authenticated"]);
        let anonymous = user("system:anonymous", &["system:unauthenticated"]);
        let admin = user(
            "kubernetes-admin",
            &["system:masters", "system:authenticated"],
        );
        assert!(authorize(&alice, &url("get", "/apis/apps/v1"), &objs));
        assert!(authorize(&alice, &url("get", "/version"), &objs));
        assert!(!authorize(&alice, &url("post", "/version"), &objs));
        assert!(authorize(&anonymous, &url("get", "/healthz"), &objs));
        assert!(!authorize(&anonymous, &url("get", "/apis"), &objs));
        assert!(!authorize(
            &alice,
            &res("list", "", "pods", Some("default")),
            &objs
        ));
        let ssar = res(
            "create",
            "authorization.k8s.io",
            "selfsubjectaccessreviews",
            None,
        );
        assert!(authorize(&alice, &ssar, &objs) && !authorize(&anonymous, &ssar, &objs));
        assert!(authorize(
            &admin,
            &res("delete", "apps", "deployments", Some("x")),
            &objs
        ));
        assert!(authorize(&admin, &url("get", "/metrics"), &objs));
        let sa = service_account_user("default", "default");
        assert!(authorize(&sa, &url("get", "/openid/v1/jwks"), &objs));
        for role in bootstrap_cluster_roles() {
            assert_eq!(
                role["metadata"]["labels"]["kubernetes.io/bootstrapping"],
                "rbac-defaults"
            );
            assert_eq!(
                role["metadata"]["annotations"]["rbac.authorization.kubernetes.io/autoupdate"],
                "true"
            );
        }
    }

    #[test]
    fn aggregated_roles_take_the_rules_of_the_roles_they_select() {
        let mut objs = bootstrap();
        for (name, role) in [("viewer", "view"), ("editor", "edit"), ("owner", "admin")] {
            objs.role_bindings.push(binding(
                "RoleBinding",
                "team",
                name,
                "ClusterRole",
                role,
                json!([{"kind": "User", "name": name}]),
            ));
        }
        let (viewer, editor, owner) =
            (user("viewer", &[]), user("editor", &[]), user("owner", &[]));
        let ns = Some("team");
        let get_pods = res("get", "", "pods", ns);
        assert!(
            authorize(&viewer, &get_pods, &objs)
                && authorize(&editor, &get_pods, &objs)
                && authorize(&owner, &get_pods, &objs)
        );
        let secrets = res("get", "", "secrets", ns);
        assert!(!authorize(&viewer, &secrets, &objs) && authorize(&editor, &secrets, &objs));
        let create_deploy = res("create", "apps", "deployments", ns);
        assert!(
            !authorize(&viewer, &create_deploy, &objs) && authorize(&editor, &create_deploy, &objs)
        );
        let create_role = res("create", "rbac.authorization.k8s.io", "roles", ns);
        assert!(!authorize(&editor, &create_role, &objs) && authorize(&owner, &create_role, &objs));
        let scale = Attributes {
            subresource: "scale",
            ..res("patch", "apps", "deployments", ns)
        };
        assert!(authorize(&editor, &scale, &objs));
        let status = Attributes {
            subresource: "status",
            ..res("update", "apps", "deployments", ns)
        };
        assert!(!authorize(&owner, &status, &objs));
        // A RoleBinding to a ClusterRole grants only inside its namespace.
        assert!(!authorize(
            &owner,
            &res("get", "", "pods", Some("other")),
            &objs
        ));
        assert!(!authorize(&owner, &res("list", "", "pods", None), &objs));
        // A new ClusterRole labelled aggregate-to-view extends view (and so edit and admin).
        objs.cluster_roles.push(json!({
            "metadata": {"name": "widgets-view", "labels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}},
            "rules": [{"apiGroups": ["example.com"], "resources": ["widgets"], "verbs": ["get"]}]
        }));
        let widgets = res("get", "example.com", "widgets", ns);
        assert!(authorize(&viewer, &widgets, &objs) && authorize(&owner, &widgets, &objs));
        // The stored rules of the bootstrap admin are the aggregated ones.
        let roles = bootstrap_cluster_roles();
        let admin = roles
            .iter()
            .find(|r| r["metadata"]["name"] == "admin")
            .unwrap();
        assert!(admin["rules"].as_array().unwrap().len() > 20);
    }

    #[test]
    fn aggregation_cycles_terminate() {
        let objs = Objects {
            cluster_roles: vec![
                json!({"metadata": {"name": "a", "labels": {"x": "a"}}, "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"x": "b"}}]}}),
                json!({"metadata": {"name": "b", "labels": {"x": "b"}}, "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"x": "a"}}]}}),
            ],
            cluster_role_bindings: vec![binding(
                "ClusterRoleBinding",
                "",
                "a",
                "ClusterRole",
                "a",
                json!([{"kind": "User", "name": "u"}]),
            )],
            ..Default::default()
        };
        assert!(!authorize(
            &user("u", &[]),
            &res("get", "", "pods", None),
            &objs
        ));
    }

    #[test]
    fn subjects_match_as_applies_to_does() {
        let rule = json!([{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}]);
        let objs = Objects {
            roles: vec![
                json!({"metadata": {"name": "cm-reader", "namespace": "ns1"}, "rules": rule}),
            ],
            role_bindings: vec![binding(
                "RoleBinding",
                "ns1",
                "rb",
                "Role",
                "cm-reader",
                json!([{"kind": "ServiceAccount", "name": "local"}, {"kind": "ServiceAccount", "name": "far", "namespace": "ns2"}, {"kind": "Group", "name": "readers"}]),
            )],
            cluster_roles: vec![json!({"metadata": {"name": "cm-reader"}, "rules": rule})],
            cluster_role_bindings: vec![binding(
                "ClusterRoleBinding",
                "",
                "crb",
                "ClusterRole",
                "cm-reader",
                json!([{"kind": "ServiceAccount", "name": "local"}]),
            )],
        };
        let get = res("get", "", "configmaps", Some("ns1"));
        assert!(authorize(
            &service_account_user("ns1", "local"),
            &get,
            &objs
        ));
        assert!(authorize(&service_account_user("ns2", "far"), &get, &objs));
        assert!(!authorize(
            &service_account_user("ns2", "local"),
            &get,
            &objs
        ));
        assert!(authorize(&user("bob", &["readers"]), &get, &objs));
        // A namespace-less ServiceAccount subject matches nothing in a ClusterRoleBinding.
        assert!(!authorize(
            &service_account_user("ns1", "local"),
            &res("get", "", "configmaps", Some("ns3")),
            &objs
        ));
        // A Role is only found in the binding's namespace.
        assert!(!authorize(
            &user("bob", &["readers"]),
            &res("get", "", "configmaps", Some("ns2")),
            &objs
        ));
    }

    // Cases of rbac_test.go TestRuleMatches.
    #[test]
    fn rules_match_as_rule_allows_does() {
        let allows = |rule: Value, attrs: Attributes| rule_allows(&attrs, &rule);
        let r =
            |resources: Value| json!({"apiGroups": ["*"], "resources": resources, "verbs": ["*"]});
        let sub = |resource, subresource| Attributes {
            subresource,
            ..res("get", "", resource, Some("ns"))
        };
        assert!(allows(r(json!(["*/scale"])), sub("deployments", "scale")));
        assert!(!allows(
            r(json!(["*/scale"])),
            res("get", "", "deployments", Some("ns"))
        ));
        assert!(!allows(r(json!(["*/scale"])), sub("deployments", "status")));
        assert!(allows(r(json!(["deployments/*"])), sub("deployments", "*")));
        assert!(!allows(
            r(json!(["deployments"])),
            sub("deployments", "status")
        ));
        assert!(allows(r(json!(["*"])), sub("deployments", "status")));
        let named = json!({"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["a"], "verbs": ["get", "list"]});
        assert!(allows(
            named.clone(),
            Attributes {
                name: Some("a"),
                ..res("get", "", "secrets", Some("ns"))
            }
        ));
        assert!(!allows(
            named.clone(),
            Attributes {
                name: Some("b"),
                ..res("get", "", "secrets", Some("ns"))
            }
        ));
        assert!(!allows(named, res("list", "", "secrets", Some("ns"))));
        let urls = json!({"nonResourceURLs": ["/foo/*", "/bar"], "verbs": ["get"]});
        assert!(
            allows(urls.clone(), url("get", "/foo/bar"))
                && allows(urls.clone(), url("get", "/foo/"))
        );
        assert!(
            !allows(urls.clone(), url("get", "/foo")) && allows(urls.clone(), url("get", "/bar"))
        );
        assert!(
            !allows(urls.clone(), url("get", "/bar/baz")) && !allows(urls, url("post", "/bar"))
        );
        // Resource rules never match non-resource requests, nor the other way round.
        assert!(!allows(r(json!(["*"])), url("get", "/api")));
        assert!(!allows(
            json!({"nonResourceURLs": ["*"], "verbs": ["*"]}),
            res("get", "", "pods", None)
        ));
    }
}
