//! `spec.source.kustomize` in Argo CD's shape, applied to the application's kustomization the
//! way Argo CD applies it: Argo CD runs `kustomize edit set nameprefix|namesuffix|namespace|
//! image` and `kustomize edit add label|annotation` on the kustomization (in its own checkout)
//! before building. We do the same edits on the parsed kustomization in the private temporary
//! copy: a prefix *replaces* the kustomization's own `namePrefix`, an image entry of the same
//! name is updated, and a label or annotation the kustomization already sets is an error unless
//! `forceCommonLabels` / `forceCommonAnnotations`.
//!
//! Options Flotilla cannot apply faithfully are refused, never ignored.

use serde_json::{Map, Value};

/// The supported options, validated.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KustomizeOptions {
    pub name_prefix: Option<String>,
    pub name_suffix: Option<String>,
    pub namespace: Option<String>,
    pub common_labels: Vec<(String, String)>,
    pub common_annotations: Vec<(String, String)>,
    pub force_common_labels: bool,
    pub force_common_annotations: bool,
    pub images: Vec<ImageOverride>,
}

/// One `images` entry: `[name=]newName[:tag|@digest]` or `name:tag`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageOverride {
    pub name: String,
    pub new_name: Option<String>,
    pub new_tag: Option<String>,
    pub digest: Option<String>,
}

/// Argo CD options Flotilla knows but does not apply.
const UNSUPPORTED: &[&str] = &[
    "version",
    "replicas",
    "patches",
    "components",
    "commonAnnotationsEnvsubst",
    "labelWithoutSelector",
    "labelIncludeTemplates",
    "kubeVersion",
    "apiVersions",
    "ignoreMissingComponents",
];

const SUPPORTED: &str = "namePrefix, nameSuffix, namespace, commonLabels, commonAnnotations, \
                         forceCommonLabels, forceCommonAnnotations, images";

impl KustomizeOptions {
    /// Validates `spec.source.kustomize`; `None`/`null`/`{}` (and empty values) are no options.
    pub fn parse(value: Option<&Value>) -> Result<Self, String> {
        let mut options = KustomizeOptions::default();
        let map = match value {
            None | Some(Value::Null) => return Ok(options),
            Some(Value::Object(map)) => map,
            Some(_) => return Err("must be a mapping".into()),
        };
        for (key, value) in map {
            if is_zero(value) {
                continue;
            }
            match key.as_str() {
                "namePrefix" => options.name_prefix = Some(string(key, value)?),
                "nameSuffix" => options.name_suffix = Some(string(key, value)?),
                "namespace" => options.namespace = Some(string(key, value)?),
                "commonLabels" => options.common_labels = string_map(key, value)?,
                "commonAnnotations" => options.common_annotations = string_map(key, value)?,
                "forceCommonLabels" => options.force_common_labels = boolean(key, value)?,
                "forceCommonAnnotations" => options.force_common_annotations = boolean(key, value)?,
                "images" => {
                    let Value::Array(items) = value else {
                        return Err("images must be a list of strings".into());
                    };
                    for item in items {
                        let text = item.as_str().ok_or("images must be a list of strings")?;
                        options.images.push(ImageOverride::parse(text)?);
                    }
                }
                k if UNSUPPORTED.contains(&k) => {
                    return Err(format!(
                        "{k} is not supported by Flotilla (supported: {SUPPORTED})"
                    ));
                }
                k => return Err(format!("unknown option {k:?} (supported: {SUPPORTED})")),
            }
        }
        Ok(options)
    }

    pub fn is_empty(&self) -> bool {
        self.name_prefix.is_none()
            && self.name_suffix.is_none()
            && self.namespace.is_none()
            && self.common_labels.is_empty()
            && self.common_annotations.is_empty()
            && self.images.is_empty()
    }

    /// Edits the kustomization (a mapping) as the `kustomize edit` commands would.
    pub fn apply(&self, kustomization: &mut Map<String, Value>) -> Result<(), String> {
        let scalars = [
            ("namePrefix", &self.name_prefix),
            ("nameSuffix", &self.name_suffix),
            ("namespace", &self.namespace),
        ];
        for (field, value) in scalars {
            if let Some(value) = value {
                kustomization.insert(field.into(), Value::String(value.clone()));
            }
        }
        let maps = [
            (
                "commonLabels",
                "label",
                &self.common_labels,
                self.force_common_labels,
            ),
            (
                "commonAnnotations",
                "annotation",
                &self.common_annotations,
                self.force_common_annotations,
            ),
        ];
        for (field, what, entries, force) in maps {
            if entries.is_empty() {
                continue;
            }
            let target = mapping_field(kustomization, field)?;
            for (key, value) in entries {
                if target.contains_key(key) && !force {
                    return Err(format!(
                        "{field}: the kustomization already sets the {what} {key:?} (set force{}{} to override it)",
                        &field[..1].to_uppercase(),
                        &field[1..]
                    ));
                }
                target.insert(key.clone(), Value::String(value.clone()));
            }
        }
        if !self.images.is_empty() {
            let mut images = match kustomization.remove("images") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(images)) => images,
                Some(_) => return Err("images: the kustomization's images is not a list".into()),
            };
            for image in &self.images {
                image.merge_into(&mut images);
            }
            kustomization.insert("images".into(), Value::Array(images));
        }
        Ok(())
    }
}

impl ImageOverride {
    /// `nginx:1.2`, `nginx@sha256:…`, `nginx=registry/nginx:1.2`, `nginx=registry/nginx`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let invalid = || format!("images: invalid image {text:?}");
        let (name, image) = match text.split_once('=') {
            Some((name, image)) => (Some(name.trim()), image.trim()),
            None => (None, text.trim()),
        };
        let (image_name, new_tag, digest) = if let Some((n, d)) = image.split_once('@') {
            (n, None, Some(d))
        } else {
            match image.rsplit_once(':') {
                Some((n, tag)) if !tag.contains('/') => (n, Some(tag), None),
                _ => (image, None, None),
            }
        };
        let non_empty = |s: &str| !s.is_empty();
        if image_name.is_empty()
            || name.is_some_and(|n| n.is_empty())
            || new_tag.is_some_and(|t| t.is_empty())
            || digest.is_some_and(|d| d.is_empty())
        {
            return Err(invalid());
        }
        let (name, new_name) = match name {
            Some(name) => (
                name.to_string(),
                Some(image_name.to_string()).filter(|n| n != name),
            ),
            None => (image_name.to_string(), None),
        };
        Ok(ImageOverride {
            name,
            new_name: new_name.filter(|n| non_empty(n)),
            new_tag: new_tag.map(str::to_string),
            digest: digest.map(str::to_string),
        })
    }

    /// `kustomize edit set image`: update the entry of the same name, or append one.
    fn merge_into(&self, images: &mut Vec<Value>) {
        let existing = images
            .iter_mut()
            .filter_map(Value::as_object_mut)
            .find(|entry| entry.get("name").and_then(Value::as_str) == Some(self.name.as_str()));
        let entry = match existing {
            Some(entry) => entry,
            None => {
                let mut entry = Map::new();
                entry.insert("name".into(), Value::String(self.name.clone()));
                images.push(Value::Object(entry));
                images
                    .last_mut()
                    .and_then(Value::as_object_mut)
                    .expect("just pushed a mapping")
            }
        };
        if let Some(new_name) = &self.new_name {
            entry.insert("newName".into(), Value::String(new_name.clone()));
        }
        if let Some(tag) = &self.new_tag {
            entry.insert("newTag".into(), Value::String(tag.clone()));
            entry.remove("digest");
        }
        if let Some(digest) = &self.digest {
            entry.insert("digest".into(), Value::String(digest.clone()));
            entry.remove("newTag");
        }
    }
}

/// Argo CD's `IsZero`: absent, null, `""`, `false`, `[]`, `{}`.
fn is_zero(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::Number(_) => false,
    }
}

fn string(key: &str, value: &Value) -> Result<String, String> {
    value
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("{key} must be a string"))
}

fn boolean(key: &str, value: &Value) -> Result<bool, String> {
    value
        .as_bool()
        .ok_or_else(|| format!("{key} must be true or false"))
}

fn string_map(key: &str, value: &Value) -> Result<Vec<(String, String)>, String> {
    let Value::Object(map) = value else {
        return Err(format!("{key} must be a mapping of strings"));
    };
    map.iter()
        .map(|(k, v)| {
            v.as_str()
                .map(|v| (k.clone(), v.to_string()))
                .ok_or_else(|| format!("{key}.{k} must be a string"))
        })
        .collect()
}

fn mapping_field<'m>(
    kustomization: &'m mut Map<String, Value>,
    field: &str,
) -> Result<&'m mut Map<String, Value>, String> {
    let slot = kustomization
        .entry(field)
        .or_insert_with(|| Value::Object(Map::new()));
    if slot.is_null() {
        *slot = Value::Object(Map::new());
    }
    slot.as_object_mut()
        .ok_or_else(|| format!("{field}: the kustomization's {field} is not a mapping"))
}
