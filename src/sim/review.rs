//! The create-only review resources, evaluated against the cluster's authentication and RBAC
//! as kube-apiserver's review REST storages do: `authorization.k8s.io/v1`
//! SelfSubjectAccessReview, SubjectAccessReview, LocalSubjectAccessReview (what `kubectl auth
//! can-i` asks), SelfSubjectRulesReview (`kubectl auth can-i --list`), and
//! `authentication.k8s.io/v1` SelfSubjectReview (`kubectl auth whoami`) and TokenReview.
//! Nothing is stored: the request comes back with its status filled in.

use serde_json::{Map, Value, json};

use super::cluster::VirtualCluster;
use super::error::ApiError;
use super::rbac::{Attributes, UserInfo};
use super::resource::ResourceType;
use super::write::WriteOptions;

fn text<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

fn strings(v: &Value, pointer: &str) -> Vec<String> {
    v.pointer(pointer)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn invalid(rt: &ResourceType, field: &str, message: &str) -> ApiError {
    ApiError::invalid(rt, "", &[(field.to_string(), message.to_string())])
}

/// The attributes of a `resourceAttributes` or `nonResourceAttributes` object.
fn attributes(spec: &Value) -> Attributes<'_> {
    if let Some(r) = spec.get("resourceAttributes").filter(|r| r.is_object()) {
        let opt = |f: &str| r.get(f).and_then(Value::as_str).filter(|s| !s.is_empty());
        Attributes {
            verb: text(r, "/verb"),
            api_group: text(r, "/group"),
            resource: text(r, "/resource"),
            subresource: text(r, "/subresource"),
            namespace: opt("namespace"),
            name: opt("name"),
            path: None,
        }
    } else {
        let n = &spec["nonResourceAttributes"];
        Attributes {
            verb: text(n, "/verb"),
            path: Some(text(n, "/path")),
            ..Default::default()
        }
    }
}

/// `ValidateSelfSubjectAccessReviewSpec` (and the same rule of the other access reviews).
fn check_one_of_attributes(rt: &ResourceType, spec: &Value) -> Result<(), ApiError> {
    let has = |f: &str| spec.get(f).is_some_and(|v| !v.is_null());
    match (has("resourceAttributes"), has("nonResourceAttributes")) {
        (true, true) => Err(invalid(
            rt,
            "spec.nonResourceAttributes",
            &format!(
                "Invalid value: {}: cannot be specified in combination with resourceAttributes",
                go_struct_value(&spec["nonResourceAttributes"])
            ),
        )),
        (false, false) => Err(invalid(
            rt,
            "spec.resourceAttributes",
            "Invalid value: \"null\": exactly one of nonResourceAttributes or resourceAttributes must be specified",
        )),
        _ => Ok(()),
    }
}

/// `%#v` of a `NonResourceAttributes`, as field errors print it.
fn go_struct_value(v: &Value) -> String {
    format!(
        "v1.NonResourceAttributes{{Path:{:?}, Verb:{:?}}}",
        text(v, "/path"),
        text(v, "/verb")
    )
}

/// `SubjectAccessReviewStatus` of a decision.
fn access_status(decision: Option<String>) -> Value {
    match decision {
        Some(reason) if reason.is_empty() => json!({ "allowed": true }),
        Some(reason) => json!({ "allowed": true, "reason": reason }),
        None => json!({ "allowed": false }),
    }
}

/// The user a SubjectAccessReview asks about.
fn subject_of(rt: &ResourceType, spec: &Value) -> Result<UserInfo, ApiError> {
    let user = text(spec, "/user").to_string();
    let groups = strings(spec, "/groups");
    if user.is_empty() && groups.is_empty() {
        return Err(invalid(
            rt,
            "spec.user",
            "Invalid value: \"\": at least one of user or group must be specified",
        ));
    }
    Ok(UserInfo {
        name: user,
        uid: text(spec, "/uid").to_string(),
        groups,
    })
}

/// `authentication.k8s.io/v1` `UserInfo`.
fn user_info(user: &UserInfo) -> Value {
    let mut u = Map::new();
    u.insert("username".into(), json!(user.name));
    if !user.uid.is_empty() {
        u.insert("uid".into(), json!(user.uid));
    }
    if !user.groups.is_empty() {
        u.insert("groups".into(), json!(user.groups));
    }
    Value::Object(u)
}

/// RBAC rules as a `SubjectRulesReviewStatus`: rules with resources become resource rules,
/// rules with non-resource URLs non-resource rules.
fn rules_status(rules: &[Value]) -> Value {
    let mut resource_rules = Vec::new();
    let mut non_resource_rules = Vec::new();
    for rule in rules {
        let list = |f: &str| strings(rule, &format!("/{f}"));
        if !list("resources").is_empty() {
            let mut r = Map::new();
            r.insert("verbs".into(), json!(list("verbs")));
            for f in ["apiGroups", "resources", "resourceNames"] {
                if !list(f).is_empty() {
                    r.insert(f.into(), json!(list(f)));
                }
            }
            resource_rules.push(Value::Object(r));
        }
        if !list("nonResourceURLs").is_empty() {
            non_resource_rules.push(
                json!({ "verbs": list("verbs"), "nonResourceURLs": list("nonResourceURLs") }),
            );
        }
    }
    json!({ "resourceRules": resource_rules, "nonResourceRules": non_resource_rules, "incomplete": false })
}

impl VirtualCluster {
    /// POST of a review by `user`: the request with its status. `ns` is the path's namespace
    /// (LocalSubjectAccessReview).
    pub fn review(
        &self,
        rt: &ResourceType,
        ns: &str,
        user: &UserInfo,
        mut body: Value,
        opts: &WriteOptions,
    ) -> Result<Value, ApiError> {
        super::validation::check_type_meta(rt, &mut body, &self.types())?;
        super::write::decode_body(rt, &mut body, opts)?;
        let spec = body.get("spec").cloned().unwrap_or(Value::Null);
        let status = match (rt.group.as_str(), rt.kind.as_str()) {
            ("authorization.k8s.io", "SelfSubjectAccessReview") => {
                check_one_of_attributes(rt, &spec)?;
                access_status(self.authorization(user, &attributes(&spec)))
            }
            ("authorization.k8s.io", "SubjectAccessReview") => {
                check_one_of_attributes(rt, &spec)?;
                let subject = subject_of(rt, &spec)?;
                access_status(self.authorization(&subject, &attributes(&spec)))
            }
            ("authorization.k8s.io", "LocalSubjectAccessReview") => {
                if spec
                    .get("nonResourceAttributes")
                    .is_some_and(|v| !v.is_null())
                {
                    return Err(invalid(
                        rt,
                        "spec.nonResourceAttributes",
                        &format!(
                            "Invalid value: {}: disallowed on this kind of request",
                            go_struct_value(&spec["nonResourceAttributes"])
                        ),
                    ));
                }
                check_one_of_attributes(rt, &spec)?;
                let subject = subject_of(rt, &spec)?;
                let requested = text(&spec, "/resourceAttributes/namespace");
                if requested != ns {
                    return Err(ApiError::bad_request(format!(
                        "spec.resourceAttributes.namespace must match namespace: {ns}"
                    )));
                }
                access_status(self.authorization(&subject, &attributes(&spec)))
            }
            ("authorization.k8s.io", "SelfSubjectRulesReview") => {
                rules_status(&self.rules_for(user, text(&spec, "/namespace")))
            }
            ("authentication.k8s.io", "SelfSubjectReview") => {
                json!({ "userInfo": user_info(user) })
            }
            ("authentication.k8s.io", "TokenReview") => {
                let token = text(&spec, "/token");
                if token.is_empty() {
                    return Err(ApiError::bad_request(
                        "token is required for TokenReview in authentication",
                    ));
                }
                match self.authenticate(Some(token), None, false) {
                    Ok(who) => {
                        let mut s = json!({ "authenticated": true, "user": user_info(&who) });
                        let audiences = strings(&spec, "/audiences");
                        if !audiences.is_empty() {
                            s["audiences"] = json!(audiences);
                        }
                        s
                    }
                    Err(_) => json!({ "user": {} }),
                }
            }
            _ => return Err(ApiError::path_not_found()),
        };
        let meta = body
            .as_object_mut()
            .and_then(|m| m.get_mut("metadata"))
            .and_then(Value::as_object_mut);
        if let Some(meta) = meta {
            // An ObjectMeta that was never stored, as Go serializes it.
            meta.entry("creationTimestamp").or_insert(Value::Null);
        }
        body["status"] = status;
        Ok(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(k: &str) -> ResourceType {
        super::super::resource::builtins()
            .into_iter()
            .find(|t| t.kind == k)
            .unwrap()
    }

    #[test]
    fn access_reviews_need_exactly_one_kind_of_attributes() {
        let rt = kind("SelfSubjectAccessReview");
        let e = check_one_of_attributes(&rt, &json!({})).unwrap_err();
        assert_eq!(
            (e.code, e.message.as_str()),
            (
                422,
                "SelfSubjectAccessReview.authorization.k8s.io \"\" is invalid: spec.resourceAttributes: Invalid value: \"null\": exactly one of nonResourceAttributes or resourceAttributes must be specified"
            )
        );
        let both = json!({"resourceAttributes": {"verb": "get"}, "nonResourceAttributes": {"path": "/api", "verb": "get"}});
        assert!(
            check_one_of_attributes(&rt, &both)
                .unwrap_err()
                .message
                .ends_with("spec.nonResourceAttributes: Invalid value: v1.NonResourceAttributes{Path:\"/api\", Verb:\"get\"}: cannot be specified in combination with resourceAttributes")
        );
        let spec = json!({"resourceAttributes": {"verb": "get", "group": "apps", "resource": "deployments", "subresource": "scale", "namespace": "dev", "name": "web"}});
        let a = attributes(&spec);
        assert_eq!(
            (
                a.verb,
                a.api_group,
                a.resource,
                a.subresource,
                a.namespace,
                a.name,
                a.path
            ),
            (
                "get",
                "apps",
                "deployments",
                "scale",
                Some("dev"),
                Some("web"),
                None
            )
        );
        let spec = json!({"nonResourceAttributes": {"verb": "get", "path": "/healthz"}});
        let n = attributes(&spec);
        assert_eq!((n.verb, n.path), ("get", Some("/healthz")));
    }

    #[test]
    fn rules_split_into_resource_and_non_resource_rules() {
        let rules = [
            json!({"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}),
            json!({"nonResourceURLs": ["*"], "verbs": ["*"]}),
            json!({"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["a"], "verbs": ["get"]}),
        ];
        assert_eq!(
            rules_status(&rules),
            json!({"resourceRules": [
                    {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]},
                    {"verbs": ["get"], "apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["a"]}],
                "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
                "incomplete": false})
        );
    }
}
