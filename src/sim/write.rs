//! Create, update and patch (incl. server-side apply) of one object, as kube-apiserver's
//! generic registry does them: validate, run the type's strategy, track managed fields, and
//! write atomically with optimistic concurrency.

use std::sync::{Arc, Mutex};

use serde_json::Value;

use super::apply::{self, Manager};
use super::cluster::VirtualCluster;
use super::decode::{self, FieldValidation};
use super::error::ApiError;
use super::object::{self, meta_mut};
use super::patch;
use super::prepare;
use super::resource::{ResourceType, StorageKey};
use super::schema::{self, Schema};
use super::store::{Change, Written};
use super::validation;

/// Options every write takes from its query.
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    pub dry_run: bool,
    /// `fieldManager`, or the user agent's product name.
    pub manager: String,
    /// `force` (server-side apply only).
    pub force: bool,
    /// `fieldManager` was given (server-side apply requires it).
    pub explicit_manager: bool,
    /// `fieldValidation`: what unknown fields do.
    pub field_validation: FieldValidation,
    /// What the request has to be warned about (the response's `Warning` headers).
    pub warnings: Warnings,
}

/// Warnings collected while a request is handled, for its response's `Warning` headers.
#[derive(Debug, Clone, Default)]
pub struct Warnings(Arc<Mutex<Vec<String>>>);

impl Warnings {
    pub fn push(&self, warning: String) {
        let mut all = self.0.lock().unwrap_or_else(|e| e.into_inner());
        // kube-apiserver's warning recorder drops repeats.
        if !all.contains(&warning) {
            all.push(warning);
        }
    }

    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// The four patch formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchKind {
    Json,
    Merge,
    Strategic,
    Apply,
}

impl PatchKind {
    pub fn from_content_type(ct: &str) -> Option<Self> {
        match ct.split(';').next().unwrap_or("").trim() {
            "application/json-patch+json" => Some(PatchKind::Json),
            "application/merge-patch+json" => Some(PatchKind::Merge),
            "application/strategic-merge-patch+json" => Some(PatchKind::Strategic),
            "application/apply-patch+yaml" => Some(PatchKind::Apply),
            _ => None,
        }
    }

    pub const CONTENT_TYPES: &'static [&'static str] = &[
        "application/json-patch+json",
        "application/merge-patch+json",
        "application/apply-patch+yaml",
        "application/strategic-merge-patch+json",
    ];
}

/// The merge schema of a resource type.
pub fn schema_of(rt: &ResourceType) -> Box<dyn Schema + '_> {
    match &rt.crd {
        Some(crd) => Box::new(schema::Crd {
            schema: crd.schema.as_ref(),
        }),
        None => Box::new(schema::Builtin {
            group: rt.group.clone(),
            kind: rt.kind.clone(),
        }),
    }
}

fn ns_key(rt: &ResourceType, ns: Option<&str>) -> String {
    if rt.namespaced {
        ns.unwrap_or("").to_string()
    } else {
        String::new()
    }
}

const NAMESPACES: fn() -> StorageKey = || StorageKey {
    group: String::new(),
    plural: "namespaces".into(),
};

impl VirtualCluster {
    fn manager<'a>(
        &self,
        api_version: &'a str,
        opts: &'a WriteOptions,
        now: &'a str,
        sub: Option<&'a str>,
    ) -> Manager<'a> {
        Manager {
            name: &opts.manager,
            api_version,
            subresource: sub,
            time: now,
        }
    }

    /// The namespace a namespaced object is written to must exist and not be terminating.
    fn check_namespace(&self, rt: &ResourceType, ns: &str, name: &str) -> Result<(), ApiError> {
        if !rt.namespaced {
            return Ok(());
        }
        if ns.is_empty() {
            return Err(ApiError::bad_request(
                "the server could not find the requested resource: a namespace is required",
            ));
        }
        match self.store.get(&NAMESPACES(), "", ns) {
            None => Err(ApiError::not_found_named("", "namespaces", ns)),
            Some(n) if object::is_deleting(&n) => {
                Err(ApiError::namespace_terminating(rt, name, ns))
            }
            Some(_) => Ok(()),
        }
    }

    /// POST: creates an object.
    pub fn create(
        &self,
        rt: &ResourceType,
        path_ns: Option<&str>,
        mut obj: Value,
        opts: &WriteOptions,
    ) -> Result<Arc<Value>, ApiError> {
        validation::check_type_meta(rt, &mut obj, &self.types())?;
        decode_body(rt, &mut obj, opts)?;
        let ns = self.settle_namespace(rt, path_ns, &mut obj)?;
        let now = object::now_rfc3339();
        let mut name = object::name(&obj).to_string();
        if name.is_empty() {
            let generate = object::meta_str(&obj, "generateName").to_string();
            if generate.is_empty() {
                return Err(ApiError::invalid(
                    rt,
                    "",
                    &[(
                        "metadata.name".into(),
                        "Required value: name or generateName is required".into(),
                    )],
                ));
            }
            name = format!("{generate}{}", object::random_suffix());
            meta_mut(&mut obj).insert("name".into(), Value::String(name.clone()));
        }
        self.admit_new(rt, &ns, &name, &mut obj, &now, opts, true)?;
        self.commit_create(rt, &ns, &name, obj, opts)
    }

    fn settle_namespace(
        &self,
        rt: &ResourceType,
        path_ns: Option<&str>,
        obj: &mut Value,
    ) -> Result<String, ApiError> {
        if !rt.namespaced {
            meta_mut(obj).remove("namespace");
            return Ok(String::new());
        }
        let body_ns = object::namespace(obj).to_string();
        let path_ns = path_ns.unwrap_or("");
        if !body_ns.is_empty() && !path_ns.is_empty() && body_ns != path_ns {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        let ns = if path_ns.is_empty() {
            body_ns
        } else {
            path_ns.to_string()
        };
        meta_mut(obj).insert("namespace".into(), Value::String(ns.clone()));
        Ok(ns)
    }

    /// Validation and strategy of a new object, decoded (`track`: records the creator in
    /// managedFields) or built by server-side apply (which has done so itself).
    #[allow(clippy::too_many_arguments)]
    fn admit_new(
        &self,
        rt: &ResourceType,
        ns: &str,
        name: &str,
        obj: &mut Value,
        now: &str,
        opts: &WriteOptions,
        track: bool,
    ) -> Result<(), ApiError> {
        super::defaults::apply_defaults(&rt.group, &rt.kind, obj);
        prepare::for_create(rt, obj, now)?;
        prepare::for_write(rt, obj)?;
        if !track {
            // A create by server-side apply: its object was not decoded as a request body is.
            default_custom(rt, obj);
        }
        let mut problems = validation::name_problems(rt, name);
        problems.extend(validation::metadata_problems(obj));
        problems.extend(validation::kind_problems(rt, obj));
        problems.extend(custom_problems(rt, obj));
        if !problems.is_empty() {
            return Err(ApiError::invalid(rt, name, &problems));
        }
        // The NamespaceLifecycle admission plugin validates after the strategy.
        self.check_namespace(rt, ns, name)?;
        if track {
            let schema = schema_of(rt);
            let api_version = rt.api_version();
            apply::record_update(
                None,
                obj,
                &self.manager(&api_version, opts, now, None),
                schema.as_ref(),
            );
        }
        Ok(())
    }

    fn commit_create(
        &self,
        rt: &ResourceType,
        ns: &str,
        name: &str,
        obj: Value,
        opts: &WriteOptions,
    ) -> Result<Arc<Value>, ApiError> {
        if opts.dry_run {
            if self.store.get(&rt.storage_key(), ns, name).is_some() {
                return Err(ApiError::already_exists(rt, name));
            }
            return Ok(Arc::new(obj));
        }
        let written = self
            .store
            .write(&rt.storage_key(), ns, name, |cur| match cur {
                Some(_) => Err(ApiError::already_exists(rt, name)),
                None => Ok(Change::Put(obj)),
            })?;
        self.after_write(rt);
        Ok(written.object().clone())
    }

    fn after_write(&self, rt: &ResourceType) {
        if rt.crd.is_none() && rt.group == "apiextensions.k8s.io" {
            self.refresh_types();
        }
    }

    /// PUT of the main resource or of `/status`. Returns the object and whether it was created.
    pub fn update(
        &self,
        rt: &ResourceType,
        path_ns: Option<&str>,
        name: &str,
        mut body: Value,
        sub: Option<&str>,
        opts: &WriteOptions,
    ) -> Result<(Arc<Value>, bool), ApiError> {
        validation::check_type_meta(rt, &mut body, &self.types())?;
        decode_body(rt, &mut body, opts)?;
        let body_name = object::name(&body);
        if body_name.is_empty() {
            meta_mut(&mut body).insert("name".into(), Value::String(name.to_string()));
        } else if body_name != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
        let ns = self.settle_namespace(rt, path_ns, &mut body)?;
        if rt.crd.is_some()
            && object::meta_str(&body, "resourceVersion").is_empty()
            && self.store.get(&rt.storage_key(), &ns, name).is_some()
        {
            return Err(ApiError::invalid(
                rt,
                name,
                &[(
                    "metadata.resourceVersion".into(),
                    "Invalid value: 0x0: must be specified for an update".into(),
                )],
            ));
        }
        if rt.create_on_update
            && sub.is_none()
            && self.store.get(&rt.storage_key(), &ns, name).is_none()
        {
            let now = object::now_rfc3339();
            meta_mut(&mut body).remove("resourceVersion");
            self.admit_new(rt, &ns, name, &mut body, &now, opts, true)?;
            return self
                .commit_create(rt, &ns, name, body, opts)
                .map(|o| (o, true));
        }
        self.modify(rt, &ns, name, sub, opts, false, move |_cur| Ok(body))
    }

    /// PATCH in any of the four formats.
    #[allow(clippy::too_many_arguments)]
    pub fn patch(
        &self,
        rt: &ResourceType,
        path_ns: Option<&str>,
        name: &str,
        kind: PatchKind,
        body: Value,
        sub: Option<&str>,
        opts: &WriteOptions,
    ) -> Result<(Arc<Value>, bool), ApiError> {
        let ns = ns_key(rt, path_ns);
        if rt.namespaced && ns.is_empty() {
            return Err(ApiError::path_not_found());
        }
        if kind == PatchKind::Strategic && rt.crd.is_some() {
            return Err(ApiError::unsupported_media_type(
                "application/strategic-merge-patch+json",
                &PatchKind::CONTENT_TYPES[..3],
            ));
        }
        if kind == PatchKind::Apply {
            return self.server_side_apply(rt, &ns, name, body, sub, opts);
        }
        let schema = schema_of(rt);
        self.modify(rt, &ns, name, sub, opts, false, |cur| {
            let cur = cur.ok_or_else(|| ApiError::not_found(rt, name))?;
            let mut patched = apply_patch(kind, cur, &body, schema.as_ref())?;
            decode_patched(rt, kind, &body, &mut patched, opts)?;
            Ok(patched)
        })
    }

    fn server_side_apply(
        &self,
        rt: &ResourceType,
        ns: &str,
        name: &str,
        mut applied: Value,
        sub: Option<&str>,
        opts: &WriteOptions,
    ) -> Result<(Arc<Value>, bool), ApiError> {
        if !opts.explicit_manager {
            return Err(apply_needs_a_manager());
        }
        validation::check_type_meta(rt, &mut applied, &self.types())?;
        let applied_name = object::name(&applied);
        if applied_name != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({applied_name}) does not match the name on the URL ({name})"
            )));
        }
        if rt.namespaced {
            let body_ns = object::namespace(&applied);
            if !body_ns.is_empty() && body_ns != ns {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            meta_mut(&mut applied).insert("namespace".into(), Value::String(ns.to_string()));
        }
        // The main resource ignores status, /status ignores everything but status.
        if rt.status_subresource
            && let Some(m) = applied.as_object_mut()
        {
            if sub == Some("status") {
                m.retain(|k, _| {
                    matches!(k.as_str(), "apiVersion" | "kind" | "metadata" | "status")
                });
                if let Some(meta) = m.get_mut("metadata").and_then(Value::as_object_mut) {
                    meta.retain(|k, _| {
                        matches!(k.as_str(), "name" | "namespace" | "resourceVersion")
                    });
                }
            } else {
                m.remove("status");
            }
        }
        let now = object::now_rfc3339();
        let schema = schema_of(rt);
        let api_version = rt.api_version();
        let manager = self.manager(&api_version, opts, &now, sub);
        if self.store.get(&rt.storage_key(), ns, name).is_none() {
            if sub.is_some() {
                return Err(ApiError::not_found(rt, name));
            }
            let mut obj = apply::apply(None, &applied, &manager, opts.force, schema.as_ref())
                .map_err(|e| e.to_api_error())?;
            self.admit_new(rt, ns, name, &mut obj, &now, opts, false)?;
            return match self.commit_create(rt, ns, name, obj, opts) {
                Ok(o) => Ok((o, true)),
                // Lost a race with another creator: apply onto what it made.
                Err(e) if e.reason == "AlreadyExists" => {
                    self.server_side_apply(rt, ns, name, applied, sub, opts)
                }
                Err(e) => Err(e),
            };
        }
        self.modify(rt, ns, name, sub, opts, true, |cur| {
            let cur = cur.ok_or_else(|| ApiError::not_found(rt, name))?;
            apply::apply(Some(cur), &applied, &manager, opts.force, schema.as_ref())
                .map_err(|e| e.to_api_error())
        })
    }

    /// The update pipeline shared by PUT and PATCH: `change` computes the requested object from
    /// the current one, under the store's lock.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn modify(
        &self,
        rt: &ResourceType,
        ns: &str,
        name: &str,
        sub: Option<&str>,
        opts: &WriteOptions,
        applied: bool,
        change: impl FnOnce(Option<&Value>) -> Result<Value, ApiError>,
    ) -> Result<(Arc<Value>, bool), ApiError> {
        let status_write = match sub {
            None => false,
            Some("status") if rt.status_subresource => true,
            // The scale storage hands the changed parent to the main resource's strategy.
            Some("scale") if rt.scale_subresource => false,
            Some(_) => return Err(ApiError::path_not_found()),
        };
        let now = object::now_rfc3339();
        let schema = schema_of(rt);
        let api_version = rt.api_version();
        let mut dry_result = None;
        let written = self.store.write(&rt.storage_key(), ns, name, |cur| {
            let cur = cur.ok_or_else(|| ApiError::not_found(rt, name))?;
            let mut new = change(Some(cur))?;
            validation::check_type_meta(rt, &mut new, &self.types())?;
            let requested_rv = object::meta_str(&new, "resourceVersion");
            if !requested_rv.is_empty() && requested_rv != object::meta_str(cur, "resourceVersion") {
                return Err(ApiError::modified(rt, name));
            }
            if object::name(&new) != name {
                return Err(ApiError::bad_request(format!("the name of the object ({}) does not match the name on the URL ({name})", object::name(&new))));
            }
            if rt.namespaced && object::namespace(&new) != ns {
                return Err(ApiError::bad_request("the namespace of the provided object does not match the namespace sent on the request"));
            }
            // kube-apiserver defaults (and prunes a custom resource) when it decodes the
            // request, so the strategy compares defaulted objects: an update that only drops
            // a defaulted field changes nothing.
            if !status_write {
                prepare::keep_allocations(rt, cur, &mut new);
            }
            super::defaults::apply_defaults(&rt.group, &rt.kind, &mut new);
            prepare::for_write(rt, &mut new)?;
            if applied {
                // Server-side apply and /scale build the object themselves; PUT and PATCH
                // bodies were decoded (a custom resource pruned and defaulted) already.
                default_custom(rt, &mut new);
            }
            let requested_uid = object::uid(&new).to_string();
            prepare::for_update(rt, cur, &mut new, status_write)?;
            let mut problems = validation::metadata_problems(&new);
            problems.extend(validation::update_problems(rt, cur, &requested_uid, &new));
            if !status_write {
                problems.extend(validation::kind_problems(rt, &new));
            }
            problems.extend(custom_problems(rt, &new));
            if !problems.is_empty() {
                return Err(ApiError::invalid(rt, name, &problems));
            }
            if !applied {
                apply::record_update(Some(cur), &mut new, &self.manager(&api_version, opts, &now, sub), schema.as_ref());
            }
            meta_mut(&mut new).insert("resourceVersion".into(), Value::String(object::meta_str(cur, "resourceVersion").to_string()));
            if prepare::is_noop(cur, &new) {
                return Ok(Change::Keep);
            }
            let gone = object::is_deleting(&new) && object::finalizers(&new).is_empty() && !is_namespace_pending(rt, &new);
            if opts.dry_run {
                dry_result = Some(new);
                return Ok(Change::Keep);
            }
            Ok(if gone { Change::Remove(new) } else { Change::Put(new) })
        })?;
        if let Some(obj) = dry_result {
            return Ok((Arc::new(obj), false));
        }
        if !matches!(written, Written::Unchanged(_)) {
            self.after_write(rt);
        }
        Ok((written.object().clone(), false))
    }
}

/// Reports the unknown fields a decode dropped, per `fieldValidation`: Strict fails with
/// `strict_error`, Warn adds a warning each.
pub(super) fn report_unknown(
    unknown: &[String],
    opts: &WriteOptions,
    strict_error: impl FnOnce(String) -> ApiError,
) -> Result<(), ApiError> {
    if unknown.is_empty() {
        return Ok(());
    }
    match opts.field_validation {
        FieldValidation::Strict => Err(strict_error(decode::strict_decoding_error(unknown))),
        FieldValidation::Warn => {
            for u in unknown {
                opts.warnings.push(decode::unknown_field(u));
            }
            Ok(())
        }
        FieldValidation::Ignore => Ok(()),
    }
}

/// A POST or PUT body decoded into `rt`'s type; a failure is worded as `transformDecodeError`
/// words it.
pub(super) fn decode_body(
    rt: &ResourceType,
    body: &mut Value,
    opts: &WriteOptions,
) -> Result<(), ApiError> {
    let cannot = |why: String| {
        ApiError::bad_request(format!(
            "{kind} in version \"{version}\" cannot be handled as a {kind}: {why}",
            kind = rt.kind,
            version = rt.version
        ))
    };
    let unknown = decode::decode(rt, body).map_err(cannot)?;
    report_unknown(&unknown, opts, cannot)
}

/// A patched object decoded as a request body is: a type error is the patch handler's 422
/// (quoting the patched object, or for a strategic merge patch the patch), strict errors are
/// worded bare.
fn decode_patched(
    rt: &ResourceType,
    kind: PatchKind,
    patch: &Value,
    patched: &mut Value,
    opts: &WriteOptions,
) -> Result<(), ApiError> {
    let unknown =
        decode::decode(rt, patched).map_err(|e| patch_type_error(kind, patch, patched, &e))?;
    report_unknown(&unknown, opts, ApiError::bad_request)
}

/// The patch handler's 422 for a patched object that does not decode.
pub(super) fn patch_type_error(
    kind: PatchKind,
    patch: &Value,
    patched: &Value,
    error: &str,
) -> ApiError {
    let value = match kind {
        PatchKind::Strategic => patch::gofmt::v(patch),
        _ => serde_json::to_string(patched).unwrap_or_default(),
    };
    ApiError::invalid_kind(
        "",
        "",
        "",
        &[(
            "patch".to_string(),
            format!("Invalid value: {value:?}: {error}"),
        )],
    )
}

/// A custom resource as its CRD version's structural schema shapes it when it is decoded:
/// defaulted, pruned of unknown fields, non-nullable nulls dropped.
fn default_custom(rt: &ResourceType, obj: &mut Value) {
    if let Some(schema) = rt.crd.as_ref().and_then(|c| c.schema.as_ref()) {
        schema::structural::coerce(obj, schema);
    }
}

/// The problems of a custom resource with its CRD version's structural schema.
fn custom_problems(rt: &ResourceType, obj: &Value) -> Vec<(String, String)> {
    match rt.crd.as_ref().and_then(|c| c.schema.as_ref()) {
        Some(schema) => schema::structural::validate(obj, schema),
        None => Vec::new(),
    }
}

/// A namespace stays until its spec.finalizers are gone too.
fn is_namespace_pending(rt: &ResourceType, obj: &Value) -> bool {
    rt.crd.is_none()
        && rt.plural == "namespaces"
        && obj
            .pointer("/spec/finalizers")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty())
}

/// ValidatePatchOptions runs before the user agent could stand in for the manager.
pub(super) fn apply_needs_a_manager() -> ApiError {
    ApiError::invalid_options(
        "PatchOptions",
        &[(
            "fieldManager".to_string(),
            "Required value: is required for apply patch".to_string(),
        )],
    )
}

/// `cur` patched by a JSON, merge or strategic merge patch.
pub(super) fn apply_patch(
    kind: PatchKind,
    cur: &Value,
    body: &Value,
    schema: &dyn Schema,
) -> Result<Value, ApiError> {
    match kind {
        PatchKind::Merge => {
            if !body.is_object() {
                return Err(ApiError::bad_request(
                    "the provided patch is not a JSON object",
                ));
            }
            Ok(patch::merge_patch(cur, body))
        }
        PatchKind::Json => patch::json_patch(cur, body).map_err(|e| patch_error(&e)),
        PatchKind::Strategic => {
            patch::strategic_merge_patch(cur, body, schema).map_err(|e| patch_error(&e))
        }
        PatchKind::Apply => Err(ApiError::internal("an apply patch is no plain patch")),
    }
}

/// A patch that could not be applied, answered as kube-apiserver's patch handler does.
fn patch_error(e: &patch::PatchError) -> ApiError {
    let text = e.to_string();
    match e.code() {
        400 => ApiError::bad_request(text),
        413 => ApiError::new(413, "RequestEntityTooLarge", text),
        422 => {
            let mut err = ApiError::new(
                422,
                "Invalid",
                "the server rejected our request due to an error in our request",
            );
            // errors.NewGenericServerResponse: the patch error is an UnexpectedServerResponse cause.
            err.details = Some(
                serde_json::json!({ "causes": [{ "reason": "UnexpectedServerResponse", "message": text }] }),
            );
            err
        }
        _ => ApiError::new(500, "Unknown", text),
    }
}
