//! What a request path asks for, parsed the way kube-apiserver's RequestInfoFactory does.

use std::collections::HashMap;

/// The target of a request path below `/clusters/<name>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Version,
    Health,
    /// `/api`
    CoreVersions,
    /// `/apis`
    Groups,
    /// `/apis/<group>`
    Group(String),
    /// `/api/v1` or `/apis/<group>/<version>`
    GroupVersion {
        group: String,
        version: String,
    },
    OpenApiV2,
    OpenApiV3Index,
    /// `/openapi/v3/<path>` such as `apis/apps/v1`.
    OpenApiV3(String),
    Resource(ResourcePath),
    Unknown,
}

/// A resource path: `/api/v1/namespaces/ns/configmaps/name/status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourcePath {
    pub group: String,
    pub version: String,
    pub namespace: Option<String>,
    pub resource: String,
    pub name: Option<String>,
    pub subresource: Option<String>,
    /// The deprecated `/watch/` path prefix was used.
    pub watch_prefix: bool,
}

/// Parses a path below the virtual cluster prefix (starting with `/`).
pub fn parse_path(path: &str) -> Target {
    let segments: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(percent_decode)
        .collect();
    let s: Vec<&str> = segments.iter().map(String::as_str).collect();
    match s.as_slice() {
        ["version"] => Target::Version,
        ["healthz" | "livez" | "readyz", ..] => Target::Health,
        ["api"] => Target::CoreVersions,
        ["apis"] => Target::Groups,
        ["apis", group] => Target::Group(group.to_string()),
        ["api", version] => Target::GroupVersion {
            group: String::new(),
            version: version.to_string(),
        },
        ["apis", group, version] => Target::GroupVersion {
            group: group.to_string(),
            version: version.to_string(),
        },
        ["openapi", "v2"] => Target::OpenApiV2,
        ["openapi", "v3"] => Target::OpenApiV3Index,
        ["openapi", "v3", rest @ ..] => Target::OpenApiV3(rest.join("/")),
        ["api", version, rest @ ..] => resource_path("", version, rest),
        ["apis", group, version, rest @ ..] => resource_path(group, version, rest),
        _ => Target::Unknown,
    }
}

fn resource_path(group: &str, version: &str, mut rest: &[&str]) -> Target {
    let mut watch_prefix = false;
    if rest.first() == Some(&"watch") {
        watch_prefix = true;
        rest = &rest[1..];
    }
    let mut namespace = None;
    // `namespaces/<ns>/<resource>...` names a namespaced resource; `namespaces[/<name>[/sub]]` is
    // the namespaces resource itself, its subresources being `status` and `finalize` (as
    // RequestInfoFactory's namespaceSubresources).
    if rest.len() >= 3 && rest[0] == "namespaces" && !matches!(rest[2], "status" | "finalize") {
        namespace = Some(rest[1].to_string());
        rest = &rest[2..];
    }
    let (resource, name, subresource) = match rest {
        [r] => (*r, None, None),
        [r, n] => (*r, Some(n.to_string()), None),
        [r, n, sub] => (*r, Some(n.to_string()), Some(sub.to_string())),
        _ => return Target::Unknown,
    };
    Target::Resource(ResourcePath {
        group: group.to_string(),
        version: version.to_string(),
        namespace,
        resource: resource.to_string(),
        name,
        subresource,
        watch_prefix,
    })
}

fn percent_decode(s: &str) -> String {
    if !s.contains('%') {
        return s.to_string();
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(b) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Query parameters (the last value wins, as Go's `url.Values.Get` takes the first; kube clients
/// never repeat them).
#[derive(Debug, Default, Clone)]
pub struct Query(HashMap<String, String>);

impl Query {
    pub fn parse(query: Option<&str>) -> Self {
        let mut map = HashMap::new();
        if let Some(q) = query {
            for (k, v) in form_urlencoded::parse(q.as_bytes()) {
                map.entry(k.into_owned()).or_insert_with(|| v.into_owned());
            }
        }
        Self(map)
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// A boolean parameter: "true"/"1" (Go's strconv.ParseBool accepts more; these are what clients send).
    pub fn flag(&self, key: &str) -> bool {
        matches!(
            self.get(key),
            Some("true" | "1" | "True" | "TRUE" | "t" | "T")
        )
    }

    pub fn dry_run(&self) -> bool {
        self.0.get("dryRun").is_some_and(|v| v == "All")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(p: &str) -> ResourcePath {
        match parse_path(p) {
            Target::Resource(r) => r,
            other => panic!("{p}: {other:?}"),
        }
    }

    #[test]
    fn paths_parse_like_the_apiserver() {
        assert_eq!(parse_path("/api"), Target::CoreVersions);
        assert_eq!(parse_path("/apis/apps"), Target::Group("apps".into()));
        assert_eq!(
            parse_path("/api/v1"),
            Target::GroupVersion {
                group: "".into(),
                version: "v1".into()
            }
        );
        assert_eq!(
            parse_path("/openapi/v3/apis/apps/v1"),
            Target::OpenApiV3("apis/apps/v1".into())
        );
        let r = res("/api/v1/namespaces/dev/configmaps/x/status");
        assert_eq!(
            (
                r.namespace.as_deref(),
                r.resource.as_str(),
                r.name.as_deref(),
                r.subresource.as_deref()
            ),
            (Some("dev"), "configmaps", Some("x"), Some("status"))
        );
        let r = res("/api/v1/namespaces/dev");
        assert_eq!(
            (r.namespace, r.resource.as_str(), r.name.as_deref()),
            (None, "namespaces", Some("dev"))
        );
        let r = res("/api/v1/namespaces/dev/finalize");
        assert_eq!(
            (
                r.resource.as_str(),
                r.name.as_deref(),
                r.subresource.as_deref()
            ),
            ("namespaces", Some("dev"), Some("finalize"))
        );
        let r = res("/apis/apps/v1/deployments");
        assert_eq!((r.namespace, r.name), (None, None));
        let r = res("/api/v1/watch/namespaces/dev/pods");
        assert!(r.watch_prefix);
        assert_eq!(r.namespace.as_deref(), Some("dev"));
        assert_eq!(parse_path("/api/v1/a/b/c/d"), Target::Unknown);
    }

    #[test]
    fn queries_decode() {
        let q = Query::parse(Some(
            "labelSelector=app%3Dweb%2Ctier+in+%28a%29&watch=1&dryRun=All",
        ));
        assert_eq!(q.get("labelSelector"), Some("app=web,tier in (a)"));
        assert!(q.flag("watch") && q.dry_run());
        assert_eq!(
            res("/api/v1/namespaces/a%3Ab/configmaps")
                .namespace
                .as_deref(),
            Some("a:b")
        );
    }
}
