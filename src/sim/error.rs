//! API errors as kube-apiserver reports them: a `Status` body with a reason and an HTTP code.

use serde_json::{Value, json};

use super::resource::ResourceType;

/// One failed request. `to_status` gives the `Status` object that goes on the wire.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    pub details: Option<Value>,
    /// Seconds, for 429 (sent as the `Retry-After` header and in details).
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            reason,
            message: message.into(),
            details: None,
            retry_after: None,
        }
    }

    fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    fn resource_details(rt: &ResourceType, name: &str) -> Value {
        let mut d = json!({ "name": name, "kind": rt.plural });
        if !rt.group.is_empty() {
            d["group"] = json!(rt.group);
        }
        d
    }

    pub fn not_found(rt: &ResourceType, name: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("{} \"{name}\" not found", rt.qualified()),
        )
        .with_details(Self::resource_details(rt, name))
    }

    /// NotFound for a resource known only by its group and plural (e.g. the namespace of a request).
    pub fn not_found_named(group: &str, plural: &str, name: &str) -> Self {
        let qualified = if group.is_empty() {
            plural.to_string()
        } else {
            format!("{plural}.{group}")
        };
        let mut d = json!({ "name": name, "kind": plural });
        if !group.is_empty() {
            d["group"] = json!(group);
        }
        Self::new(404, "NotFound", format!("{qualified} \"{name}\" not found")).with_details(d)
    }

    /// 404 for a path that names no served resource.
    pub fn path_not_found() -> Self {
        Self::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
        .with_details(json!({}))
    }

    pub fn already_exists(rt: &ResourceType, name: &str) -> Self {
        Self::new(
            409,
            "AlreadyExists",
            format!("{} \"{name}\" already exists", rt.qualified()),
        )
        .with_details(Self::resource_details(rt, name))
    }

    /// Optimistic-concurrency failure of an update.
    pub fn conflict(rt: &ResourceType, name: &str, why: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": {why}",
                rt.qualified()
            ),
        )
        .with_details(Self::resource_details(rt, name))
    }

    /// A conflict on a resource known by its name and group (e.g. `deployments/scale`, `apps`).
    pub fn conflict_on(resource: &str, group: &str, name: &str, why: &str) -> Self {
        let qualified = if group.is_empty() {
            resource.to_string()
        } else {
            format!("{resource}.{group}")
        };
        let mut d = json!({ "name": name, "kind": resource });
        if !group.is_empty() {
            d["group"] = json!(group);
        }
        Self::new(
            409,
            "Conflict",
            format!("Operation cannot be fulfilled on {qualified} \"{name}\": {why}"),
        )
        .with_details(d)
    }

    pub fn modified(rt: &ResourceType, name: &str) -> Self {
        Self::conflict(
            rt,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    /// 422: `Kind.group "name" is invalid: field: Invalid value: ...` (`errors.NewInvalid`, which
    /// names the group-qualified kind). `causes` are (field, message).
    pub fn invalid(rt: &ResourceType, name: &str, causes: &[(String, String)]) -> Self {
        Self::invalid_kind(&rt.group, &rt.kind, name, causes)
    }

    /// [`ApiError::invalid`] for a kind known by its group and name (e.g. `autoscaling` `Scale`).
    pub fn invalid_kind(
        group: &str,
        kind_name: &str,
        name: &str,
        causes: &[(String, String)],
    ) -> Self {
        let text: Vec<String> = causes.iter().map(|(f, m)| format!("{f}: {m}")).collect();
        let kind = if group.is_empty() {
            kind_name.to_string()
        } else {
            format!("{kind_name}.{group}")
        };
        let message = if text.len() == 1 {
            format!("{kind} \"{name}\" is invalid: {}", text[0])
        } else {
            format!("{kind} \"{name}\" is invalid: [{}]", text.join(", "))
        };
        let causes: Vec<Value> = causes
            .iter()
            .map(|(f, m)| json!({ "reason": field_error_reason(m), "message": m, "field": f }))
            .collect();
        let mut details = json!({ "name": name, "kind": kind_name, "causes": causes });
        if !group.is_empty() {
            details["group"] = json!(group);
        }
        Self::new(422, "Invalid", message).with_details(details)
    }

    /// 422 for invalid request options (`ListOptions.meta.k8s.io "" is invalid: ...`).
    pub fn invalid_options(kind: &str, causes: &[(String, String)]) -> Self {
        let text: Vec<String> = causes.iter().map(|(f, m)| format!("{f}: {m}")).collect();
        let joined = if text.len() == 1 {
            text[0].clone()
        } else {
            format!("[{}]", text.join(", "))
        };
        let causes: Vec<Value> = causes
            .iter()
            .map(|(f, m)| json!({ "reason": field_error_reason(m), "message": m, "field": f }))
            .collect();
        Self::new(
            422,
            "Invalid",
            format!("{kind}.meta.k8s.io \"\" is invalid: {joined}"),
        )
        .with_details(json!({ "group": "meta.k8s.io", "kind": kind, "causes": causes }))
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    pub fn unauthorized() -> Self {
        Self::new(401, "Unauthorized", "Unauthorized")
    }

    /// 403 as kube-apiserver words a denied resource request (`responsewriters.Forbidden`): the
    /// group-qualified resource and name, then the attributes, `resource/subresource` and the
    /// namespace attribute (for a namespace object, its own name) included.
    pub fn forbidden(user: &str, attrs: &super::rbac::Attributes) -> Self {
        let (group, plural) = (attrs.api_group, attrs.resource);
        let qualified = if group.is_empty() {
            plural.to_string()
        } else {
            format!("{plural}.{group}")
        };
        let name = attrs.name.filter(|n| !n.is_empty());
        let target = match name {
            Some(n) => format!("{qualified} \"{n}\" is forbidden"),
            None => format!("{qualified} is forbidden"),
        };
        let resource = if attrs.subresource.is_empty() {
            plural.to_string()
        } else {
            format!("{plural}/{}", attrs.subresource)
        };
        let scope = match attrs.namespace.filter(|ns| !ns.is_empty()) {
            Some(ns) => format!(" in the namespace \"{ns}\""),
            None => " at the cluster scope".to_string(),
        };
        let mut details = json!({ "kind": plural });
        if let Some(n) = name {
            details["name"] = json!(n);
        }
        if !group.is_empty() {
            details["group"] = json!(group);
        }
        Self::new(
            403,
            "Forbidden",
            format!("{target}: User \"{user}\" cannot {} resource \"{resource}\" in API group \"{group}\"{scope}", attrs.verb),
        )
        .with_details(details)
    }

    /// 403 from an admission plugin (`errors.NewForbidden`): `<resource> "<name>" is forbidden:
    /// <why>`.
    pub fn forbidden_because(rt: &ResourceType, name: &str, why: &str) -> Self {
        Self::new(
            403,
            "Forbidden",
            format!("{} \"{name}\" is forbidden: {why}", rt.qualified()),
        )
        .with_details(Self::resource_details(rt, name))
    }

    /// 403 for a non-resource URL such as `/version`.
    pub fn forbidden_path(user: &str, verb: &str, path: &str) -> Self {
        Self::new(
            403,
            "Forbidden",
            format!("forbidden: User \"{user}\" cannot {verb} path \"{path}\""),
        )
        .with_details(json!({}))
    }

    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(405, "MethodNotAllowed", message).with_details(json!({}))
    }

    pub fn not_acceptable(message: impl Into<String>) -> Self {
        Self::new(406, "NotAcceptable", message)
    }

    pub fn unsupported_media_type(content_type: &str, accepted: &[&str]) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: {}",
                accepted.join(", ")
            ),
        )
        .with_details(json!({ "causes": [{ "reason": "UnexpectedHeader", "message": format!("unsupported media type {content_type:?}"), "field": "Content-Type" }] }))
    }

    pub fn gone(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    pub fn too_many_requests(retry_after: u64) -> Self {
        let mut e = Self::new(
            429,
            "TooManyRequests",
            "Too many requests, please try again later.",
        )
        .with_details(json!({ "retryAfterSeconds": retry_after }));
        e.retry_after = Some(retry_after);
        e
    }

    pub fn internal(message: impl Into<String>) -> Self {
        let message = message.into();
        Self::new(
            500,
            "InternalError",
            format!("Internal error occurred: {message}"),
        )
        .with_details(json!({ "causes": [{ "message": message }] }))
    }

    /// 403 for a create in a namespace that is being deleted.
    pub fn namespace_terminating(rt: &ResourceType, name: &str, namespace: &str) -> Self {
        let mut e = Self::new(
            403,
            "Forbidden",
            format!(
                "{} \"{name}\" is forbidden: unable to create new content in namespace {namespace} because it is being terminated",
                rt.qualified()
            ),
        )
        .with_details(Self::resource_details(rt, name));
        if let Some(d) = e.details.as_mut() {
            d["causes"] = json!([{ "reason": "NamespaceTerminating", "message": format!("namespace {namespace} is being terminated"), "field": "metadata.namespace" }]);
        }
        e
    }

    /// The `Status` object for the wire.
    pub fn to_status(&self) -> Value {
        let mut s = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(d) = &self.details {
            s["details"] = d.clone();
        }
        s
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.reason, self.message)
    }
}

impl std::error::Error for ApiError {}

/// The `field.ErrorType` of a field error, from the words its `ErrorBody` starts with.
fn field_error_reason(message: &str) -> &'static str {
    const PREFIXES: &[(&str, &str)] = &[
        ("Required value", "FieldValueRequired"),
        ("Unsupported value", "FieldValueNotSupported"),
        ("Duplicate value", "FieldValueDuplicate"),
        ("Not found", "FieldValueNotFound"),
        ("Forbidden", "FieldValueForbidden"),
        ("Too long", "FieldValueTooLong"),
        ("Too many", "FieldValueTooMany"),
        ("Internal error", "InternalError"),
    ];
    PREFIXES
        .iter()
        .find(|(p, _)| message.starts_with(p))
        .map_or("FieldValueInvalid", |(_, r)| r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::rbac::Attributes;

    #[test]
    fn forbidden_is_worded_like_the_apiserver() {
        let sa = "system:serviceaccount:default:robot";
        let attrs = Attributes {
            verb: "create",
            resource: "serviceaccounts",
            subresource: "token",
            namespace: Some("default"),
            name: Some("robot"),
            ..Default::default()
        };
        let e = ApiError::forbidden(sa, &attrs);
        assert_eq!(e.code, 403);
        assert_eq!(
            e.message,
            "serviceaccounts \"robot\" is forbidden: User \"system:serviceaccount:default:robot\" cannot create resource \"serviceaccounts/token\" in API group \"\" in the namespace \"default\""
        );
        assert_eq!(
            e.details,
            Some(json!({"kind": "serviceaccounts", "name": "robot"}))
        );
        let list = Attributes {
            verb: "list",
            api_group: "apps",
            resource: "deployments",
            ..Default::default()
        };
        assert_eq!(
            ApiError::forbidden("bob", &list).message,
            "deployments.apps is forbidden: User \"bob\" cannot list resource \"deployments\" in API group \"apps\" at the cluster scope"
        );
        // A namespace object's own name is its namespace attribute.
        let ns = Attributes {
            verb: "get",
            resource: "namespaces",
            namespace: Some("dev"),
            name: Some("dev"),
            ..Default::default()
        };
        assert_eq!(
            ApiError::forbidden("bob", &ns).message,
            "namespaces \"dev\" is forbidden: User \"bob\" cannot get resource \"namespaces\" in API group \"\" in the namespace \"dev\""
        );
    }

    #[test]
    fn invalid_names_the_qualified_kind_and_field_reasons() {
        let types = crate::sim::resource::builtins();
        let deploy = types.iter().find(|t| t.plural == "deployments").unwrap();
        let e = ApiError::invalid(
            deploy,
            "web",
            &[(
                "spec.replicas".into(),
                "Invalid value: -1: must be greater than or equal to 0".into(),
            )],
        );
        assert_eq!(
            e.message,
            "Deployment.apps \"web\" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0"
        );
        let cm = types.iter().find(|t| t.plural == "configmaps").unwrap();
        let e = ApiError::invalid(
            cm,
            "c",
            &[
                ("data".into(), "Required value".into()),
                ("x".into(), "Unsupported value: \"y\"".into()),
            ],
        );
        assert_eq!(
            e.message,
            "ConfigMap \"c\" is invalid: [data: Required value, x: Unsupported value: \"y\"]"
        );
        let details = e.details.unwrap();
        assert_eq!(details["causes"][0]["reason"], "FieldValueRequired");
        assert_eq!(details["causes"][1]["reason"], "FieldValueNotSupported");
        assert_eq!(details["kind"], "ConfigMap");
    }
}
