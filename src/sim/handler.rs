//! The request pipeline of one virtual cluster: faults, counting, authentication, routing,
//! authorization, then the verb.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, header};
use serde_json::{Value, json};

use super::cluster::VirtualCluster;
use super::decode::FieldValidation;
use super::delete::{self, DeleteOptions};
use super::error::ApiError;
use super::faults::Verdict;
use super::rbac::{Attributes, UserInfo};
use super::read::{self, Filter};
use super::request::{self, Query, ResourcePath, Target};
use super::resource::ResourceType;
use super::response::{self, Body, Format};
use super::scale::ScaleWrite;
use super::table;
use super::watch::{self, WatchRequest};
use super::write::{PatchKind, WriteOptions};
use super::{discovery, openapi_cache};

/// The largest request body kube-apiserver accepts (3 MiB).
const MAX_BODY: usize = 3 * 1024 * 1024;

/// What the connection knows about the caller.
#[derive(Debug, Clone, Default)]
pub struct Caller {
    /// Subject of a verified client certificate.
    pub cert: Option<(String, Vec<String>)>,
    /// The server address the client connected to, for `/api`'s serverAddressByClientCIDRs.
    pub server_address: String,
}

fn header_str(req: &Request<Incoming>, name: header::HeaderName) -> &str {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// Handles one request for `cluster`; `path` is below `/clusters/<name>`. `None` means: never
/// answer (blackhole).
pub async fn handle(
    cluster: Arc<VirtualCluster>,
    req: Request<Incoming>,
    path: String,
    caller: Caller,
) -> Option<Response<Body>> {
    let (latency, verdict) = cluster.faults.decide();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    match verdict {
        Verdict::Hang => return None,
        Verdict::Fail(e) => {
            cluster.counters.add("fault", &path);
            return Some(response::error(&e));
        }
        Verdict::Proceed => {}
    }
    let target = request::parse_path(&path);
    let query = Query::parse(req.uri().query());
    let bearer = header_str(&req, header::AUTHORIZATION)
        .strip_prefix("Bearer ")
        .map(str::trim)
        .map(str::to_string);
    let anonymous = super::cluster::ANONYMOUS_PATHS.contains(&path.as_str());
    let user = match cluster.authenticate(bearer.as_deref(), caller.cert.as_ref(), anonymous) {
        Ok(u) => u,
        Err(e) => {
            cluster.counters.add("unauthorized", &path);
            return Some(response::error(&e));
        }
    };
    Some(match target {
        Target::Resource(rp) => match resource_request(&cluster, req, rp, query, &user).await {
            Ok(r) => r,
            Err(e) => response::error(&e),
        },
        other => {
            cluster.counters.add("get", &path);
            let attrs = Attributes {
                verb: &req.method().as_str().to_lowercase(),
                api_group: "",
                resource: "",
                subresource: "",
                namespace: None,
                name: None,
                path: Some(&path),
            };
            if !cluster.authorize(&user, &attrs) {
                return Some(response::error(&ApiError::forbidden_path(
                    &user.name, attrs.verb, &path,
                )));
            }
            if req.method() != Method::GET {
                return Some(response::error(&ApiError::method_not_allowed(
                    "the server does not allow this method on the requested resource".to_string(),
                )));
            }
            let accept = header_str(&req, header::ACCEPT).to_string();
            non_resource(&cluster, other, &accept, &caller)
        }
    })
}

fn non_resource(
    cluster: &VirtualCluster,
    target: Target,
    accept: &str,
    caller: &Caller,
) -> Response<Body> {
    let types = cluster.types();
    match target {
        Target::Version => response::json(200, &discovery::version()),
        Target::Health => response::full(200, "text/plain; charset=utf-8", "ok"),
        Target::CoreVersions => match discovery::accepts_aggregated(accept) {
            Some(v) => aggregated(&types, true, v),
            None => response::json(200, &discovery::core_versions(&caller.server_address)),
        },
        Target::Groups => match discovery::accepts_aggregated(accept) {
            Some(v) => aggregated(&types, false, v),
            None => response::json(200, &discovery::group_list(&types)),
        },
        Target::Group(g) => match discovery::group(&types, &g) {
            Some(v) => response::json(200, &v),
            None => response::error(&ApiError::path_not_found()),
        },
        Target::GroupVersion { group, version } => {
            match discovery::resource_list(&types, &group, &version) {
                Some(v) => response::json(200, &v),
                None => response::error(&ApiError::path_not_found()),
            }
        }
        Target::OpenApiV3Index => response::json_bytes(200, openapi_cache::index(cluster).to_vec()),
        Target::OpenApiV3(p) => match openapi_cache::document(cluster, &p) {
            Some(b) => response::json_bytes(200, b.to_vec()),
            None => response::error(&ApiError::path_not_found()),
        },
        Target::OpenApiV2 => match openapi_cache::v2(cluster) {
            Some(b) => response::json_bytes(200, b.to_vec()),
            None => response::error(&ApiError::path_not_found()),
        },
        Target::Resource(_) | Target::Unknown => response::error(&ApiError::path_not_found()),
    }
}

fn aggregated(types: &[ResourceType], legacy: bool, version: &'static str) -> Response<Body> {
    let doc = discovery::aggregated(types, legacy, version);
    response::full(
        200,
        discovery::aggregated_content_type(version),
        serde_json::to_vec(&doc).unwrap_or_default(),
    )
}

/// The RBAC verb of a request.
fn verb_of(
    method: &Method,
    rp: &ResourcePath,
    query: &Query,
    content_type: &str,
) -> Result<&'static str, ApiError> {
    Ok(match *method {
        Method::GET if rp.watch_prefix || query.flag("watch") => "watch",
        Method::GET if rp.name.is_some() => "get",
        Method::GET => "list",
        Method::POST => "create",
        Method::PUT => "update",
        Method::PATCH if PatchKind::from_content_type(content_type) == Some(PatchKind::Apply) => {
            "apply"
        }
        Method::PATCH => "patch",
        Method::DELETE if rp.name.is_some() => "delete",
        Method::DELETE => "deletecollection",
        _ => {
            return Err(ApiError::method_not_allowed(
                "the server does not allow this method on the requested resource",
            ));
        }
    })
}

async fn read_body(req: Request<Incoming>) -> Result<Bytes, ApiError> {
    let limited = http_body_util::Limited::new(req.into_body(), MAX_BODY);
    match limited.collect().await {
        Ok(b) => Ok(b.to_bytes()),
        Err(_) => Err(ApiError::new(
            413,
            "RequestEntityTooLarge",
            "Request entity too large: limit is 3145728",
        )),
    }
}

fn write_options(
    query: &Query,
    user_agent: &str,
    options_kind: &str,
) -> Result<WriteOptions, ApiError> {
    let explicit = query.get("fieldManager");
    let manager = match explicit {
        Some(m) => m.to_string(),
        None => user_agent
            .split('/')
            .next()
            .unwrap_or("")
            .chars()
            .take(128)
            .collect(),
    };
    if manager.len() > 128 {
        return Err(ApiError::bad_request(
            "fieldManager: Too long: must have at most 128 bytes",
        ));
    }
    Ok(WriteOptions {
        dry_run: query.dry_run(),
        manager,
        force: query.flag("force"),
        explicit_manager: explicit.is_some(),
        field_validation: FieldValidation::from_query(query.get("fieldValidation"), options_kind)?,
        warnings: Default::default(),
    })
}

async fn resource_request(
    cluster: &Arc<VirtualCluster>,
    req: Request<Incoming>,
    rp: ResourcePath,
    query: Query,
    user: &UserInfo,
) -> Result<Response<Body>, ApiError> {
    let content_type = header_str(&req, header::CONTENT_TYPE).to_string();
    let accept = header_str(&req, header::ACCEPT).to_string();
    let user_agent = header_str(&req, header::USER_AGENT).to_string();
    let method = req.method().clone();
    let verb = verb_of(&method, &rp, &query, &content_type)?;
    let rt = cluster
        .find_type(&rp.group, &rp.version, &rp.resource)
        .ok_or_else(ApiError::path_not_found)?;
    let counted = match &rp.subresource {
        Some(s) => format!("{}/{s}", rt.qualified()),
        None => rt.qualified(),
    };
    cluster.counters.add(verb, &counted);
    if rp.namespace.is_some() && !rt.namespaced {
        return Err(ApiError::path_not_found());
    }
    let subresource_ok = match rp.subresource.as_deref() {
        None => true,
        Some("status") => rt.status_subresource,
        Some("scale") => super::scale::paths(&rt).is_some(),
        Some("token") => rt.crd.is_none() && rt.plural == "serviceaccounts",
        Some("finalize") => rt.crd.is_none() && rt.plural == "namespaces",
        Some(_) => false,
    };
    if !subresource_ok {
        return Err(ApiError::path_not_found());
    }
    let rbac_verb = if verb == "apply" { "patch" } else { verb };
    // kube-apiserver's RequestInfo puts a namespace's own name in the namespace attribute.
    let attr_namespace = if rt.crd.is_none() && rt.group.is_empty() && rt.plural == "namespaces" {
        rp.name.as_deref()
    } else {
        rp.namespace.as_deref()
    };
    // ... and takes a list's or watch's name from a `metadata.name=` field selector, so that
    // rules with resourceNames cover single-object lists and watches.
    let selected_name = match verb {
        "list" | "watch" if rp.name.is_none() => selected_name(&query),
        _ => None,
    };
    let attrs = Attributes {
        verb: rbac_verb,
        api_group: &rt.group,
        resource: &rt.plural,
        subresource: rp.subresource.as_deref().unwrap_or(""),
        namespace: attr_namespace,
        name: rp.name.as_deref().or(selected_name.as_deref()),
        path: None,
    };
    if !cluster.authorize(user, &attrs) {
        return Err(ApiError::forbidden(&user.name, &attrs));
    }
    let table = if table::accepts_table(&accept) {
        Some(
            query
                .get("includeObject")
                .and_then(table::parse_include_object)
                .unwrap_or(table::IncludeObject::Metadata),
        )
    } else {
        None
    };
    let format = if table.is_some() {
        Format::Json
    } else {
        response::negotiate(&accept).ok_or_else(|| {
            ApiError::not_acceptable(
                "only the following media types are accepted: application/json, application/yaml",
            )
        })?
    };
    let ns = if rt.namespaced {
        rp.namespace.clone().unwrap_or_default()
    } else {
        String::new()
    };
    let name = rp.name.clone().unwrap_or_default();
    let sub = rp.subresource.clone();
    if rt.create_only {
        // A review: evaluated, answered, never stored.
        if verb != "create" || rp.name.is_some() {
            return Err(ApiError::method_not_allowed(
                "the server does not allow this method on the requested resource",
            ));
        }
        let body = read_body(req).await?;
        let obj = response::parse_body(&content_type, &body)?;
        let opts = write_options(&query, &user_agent, "CreateOptions")?;
        let out = cluster.review(&rt, &ns, user, obj, &opts)?;
        return Ok(response::with_warnings(
            response::encoded(201, serde_json::to_vec(&out).unwrap_or_default(), format),
            &opts.warnings.take(),
        ));
    }
    if sub.as_deref() == Some("scale") {
        return scale_request(cluster, req, &rt, &ns, &name, verb, &query, table, format).await;
    }
    match verb {
        "get" => {
            let obj = cluster.get(&rt, &ns, &name)?;
            if let Some(include) = table {
                let mut t = table::to_table(&rt, &[&obj], include, super::object::now_unix());
                t["metadata"]["resourceVersion"] = obj
                    .pointer("/metadata/resourceVersion")
                    .cloned()
                    .unwrap_or(json!(""));
                return Ok(response::json(200, &t));
            }
            Ok(response::encoded(200, read::present(&rt, &obj), format))
        }
        "list" => {
            let filter = Filter::from_query(&rt, &query)?;
            let limit = query.get("limit").and_then(|l| l.parse::<usize>().ok());
            let page = cluster.list(
                &rt,
                rp.namespace.as_deref(),
                &filter,
                limit,
                query.get("continue"),
                read::ListRead::from_query(&query)?,
            )?;
            if let Some(include) = table {
                let items: Vec<&Value> = page.items.iter().map(|o| o.as_ref()).collect();
                let mut t = table::to_table(&rt, &items, include, super::object::now_unix());
                t["metadata"]["resourceVersion"] = json!(page.rv.to_string());
                if let Some(c) = &page.continue_token {
                    t["metadata"]["continue"] = json!(c);
                }
                if let Some(r) = page.remaining {
                    t["metadata"]["remainingItemCount"] = json!(r);
                }
                return Ok(response::json(200, &t));
            }
            Ok(response::encoded(200, read::list_json(&rt, &page), format))
        }
        "watch" => {
            let mut filter = Filter::from_query(&rt, &query)?;
            if let Some(n) = &rp.name {
                // The legacy /watch/<resource>/<name> form watches one object.
                let by_name = super::selector::parse_fields(&format!("metadata.name={n}"))
                    .map_err(|e| ApiError::bad_request(e.to_string()))?;
                filter.fields = Some(by_name);
            }
            let rv = match query.get("resourceVersion") {
                None => None,
                Some(v) => Some(v.parse::<u64>().map_err(|_| {
                    ApiError::bad_request(format!("invalid resource version: {v}"))
                })?),
            };
            let timeout = match query
                .get("timeoutSeconds")
                .and_then(|t| t.parse::<i64>().ok())
            {
                // A negative timeout has expired before the watch starts: kube-apiserver's
                // timer fires at once and the stream ends empty.
                Some(t) if t < 0 => {
                    let (resp, tx) = response::stream("application/json");
                    drop(tx);
                    return Ok(resp);
                }
                Some(t) if t > 0 => Duration::from_secs(t.unsigned_abs()),
                // Unset or 0: minRequestTimeout (1800 s) times a random factor in [1, 2).
                _ => Duration::from_secs(1800 + (super::object::now_unix() as u64 % 1800)),
            };
            let wr = WatchRequest {
                rt,
                namespace: rp.namespace.clone(),
                filter,
                resource_version: rv,
                bookmarks: query.flag("allowWatchBookmarks"),
                send_initial_events: query.flag("sendInitialEvents"),
                timeout,
                table,
            };
            let (resp, tx) = response::stream("application/json");
            tokio::spawn(watch::run(cluster.clone(), wr, tx));
            Ok(resp)
        }
        "create" => {
            let body = read_body(req).await?;
            let obj = response::parse_body(&content_type, &body)?;
            let opts = write_options(&query, &user_agent, "CreateOptions")?;
            if sub.as_deref() == Some("token") {
                let tr = super::tokens::token_request(cluster, &ns, &name, &obj, opts.dry_run)?;
                return Ok(response::json(201, &tr));
            }
            if rp.name.is_some() {
                return Err(ApiError::method_not_allowed(
                    "POST requires the collection path",
                ));
            }
            let created = cluster.create(
                &rt,
                Some(&ns).filter(|n| !n.is_empty()).map(String::as_str),
                obj,
                &opts,
            )?;
            Ok(response::with_warnings(
                response::encoded(201, read::present(&rt, &created), format),
                &opts.warnings.take(),
            ))
        }
        "update" => {
            let body = read_body(req).await?;
            let obj = response::parse_body(&content_type, &body)?;
            let opts = write_options(&query, &user_agent, "UpdateOptions")?;
            if sub.as_deref() == Some("finalize") {
                let out =
                    super::controller::finalize_namespace(cluster, &name, &obj, opts.dry_run)?;
                return Ok(response::encoded(200, read::present(&rt, &out), format));
            }
            let (obj, created) =
                cluster.update(&rt, Some(&ns), &name, obj, sub.as_deref(), &opts)?;
            Ok(response::with_warnings(
                response::encoded(
                    if created { 201 } else { 200 },
                    read::present(&rt, &obj),
                    format,
                ),
                &opts.warnings.take(),
            ))
        }
        "patch" | "apply" => {
            let kind = PatchKind::from_content_type(&content_type).ok_or_else(|| {
                ApiError::unsupported_media_type(&content_type, PatchKind::CONTENT_TYPES)
            })?;
            let body = read_body(req).await?;
            let patch = response::parse_body(&content_type, &body)?;
            let opts = write_options(&query, &user_agent, "PatchOptions")?;
            let (obj, created) =
                cluster.patch(&rt, Some(&ns), &name, kind, patch, sub.as_deref(), &opts)?;
            Ok(response::with_warnings(
                response::encoded(
                    if created { 201 } else { 200 },
                    read::present(&rt, &obj),
                    format,
                ),
                &opts.warnings.take(),
            ))
        }
        "delete" => {
            let body = read_body(req).await?;
            let opts = delete_options(&query, &body)?;
            let d = cluster.delete(&rt, &ns, &name, &opts)?;
            Ok(response::encoded(
                200,
                serde_json::to_vec(&delete::delete_response(&rt, &d)).unwrap_or_default(),
                format,
            ))
        }
        "deletecollection" => {
            let body = read_body(req).await?;
            let opts = delete_options(&query, &body)?;
            let filter = Filter::from_query(&rt, &query)?;
            let page = cluster.list(
                &rt,
                rp.namespace.as_deref(),
                &filter,
                None,
                None,
                read::ListRead::Latest,
            )?;
            for obj in &page.items {
                match cluster.delete(
                    &rt,
                    super::object::namespace(obj),
                    super::object::name(obj),
                    &opts,
                ) {
                    Ok(_) => {}
                    Err(e) if e.code == 404 => {}
                    Err(e) => return Err(e),
                }
            }
            // Store.DeleteCollection answers the list as it read it, before the deletes.
            Ok(response::encoded(200, read::list_json(&rt, &page), format))
        }
        _ => Err(ApiError::method_not_allowed(
            "the server does not allow this method on the requested resource",
        )),
    }
}

/// `<resource>/<name>/scale`: get, update and patch of the autoscaling/v1 Scale.
#[allow(clippy::too_many_arguments)]
async fn scale_request(
    cluster: &Arc<VirtualCluster>,
    req: Request<Incoming>,
    rt: &ResourceType,
    ns: &str,
    name: &str,
    verb: &str,
    query: &Query,
    table: Option<table::IncludeObject>,
    format: Format,
) -> Result<Response<Body>, ApiError> {
    let content_type = header_str(&req, header::CONTENT_TYPE).to_string();
    let user_agent = header_str(&req, header::USER_AGENT).to_string();
    let mut warnings = Vec::new();
    let (status, scale) = match verb {
        "get" => (200, cluster.get_scale(rt, ns, name)?),
        "update" | "patch" | "apply" => {
            let request = if verb == "update" {
                let body = read_body(req).await?;
                ScaleWrite::Replace(response::parse_body(&content_type, &body)?)
            } else {
                let kind = PatchKind::from_content_type(&content_type).ok_or_else(|| {
                    ApiError::unsupported_media_type(&content_type, PatchKind::CONTENT_TYPES)
                })?;
                let body = read_body(req).await?;
                ScaleWrite::Patch(kind, response::parse_body(&content_type, &body)?)
            };
            let kind = if verb == "update" {
                "UpdateOptions"
            } else {
                "PatchOptions"
            };
            let opts = write_options(query, &user_agent, kind)?;
            let scale = cluster.write_scale(rt, ns, name, request, &opts)?;
            warnings = opts.warnings.take();
            (200, scale)
        }
        _ => {
            return Err(ApiError::method_not_allowed(
                "the server does not allow this method on the requested resource",
            ));
        }
    };
    if let Some(include) = table {
        let mut scale_type = rt.clone();
        scale_type.group = "autoscaling".into();
        scale_type.version = "v1".into();
        scale_type.kind = "Scale".into();
        scale_type.crd = None;
        let mut t = table::to_table(&scale_type, &[&scale], include, super::object::now_unix());
        t["metadata"]["resourceVersion"] = scale
            .pointer("/metadata/resourceVersion")
            .cloned()
            .unwrap_or(json!(""));
        return Ok(response::json(status, &t));
    }
    Ok(response::with_warnings(
        response::encoded(
            status,
            serde_json::to_vec(&scale).unwrap_or_default(),
            format,
        ),
        &warnings,
    ))
}

/// The name a list or watch selects with `fieldSelector=metadata.name=<name>` (RequestInfo's
/// `RequiresExactMatch`, kept only when it is a valid path segment name).
fn selected_name(query: &Query) -> Option<String> {
    let fields = super::selector::parse_fields(query.get("fieldSelector")?).ok()?;
    let name = fields.requires_exact_match("metadata.name")?;
    let valid = !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '%']);
    valid.then(|| name.to_string())
}

fn delete_options(query: &Query, body: &[u8]) -> Result<DeleteOptions, ApiError> {
    let mut opts = if body.iter().all(u8::is_ascii_whitespace) {
        DeleteOptions::default()
    } else {
        let v: Value = serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("couldn't decode DeleteOptions: {e}")))?;
        DeleteOptions::from_body(&v)?
    };
    if let Some(p) = query.get("propagationPolicy") {
        opts.propagation = delete::parse_propagation(p)?;
    }
    if query.dry_run() {
        opts.dry_run = true;
    }
    Ok(opts)
}
