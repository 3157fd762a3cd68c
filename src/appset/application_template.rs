//! From a template and one parameter set to an Application: Argo CD's generator-template merge,
//! the rendering of every string, and the metadata rules of generated Applications.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use serde::Deserialize;
use serde_json::Value;

use super::error::GenerateError;
use crate::api::Application;
use crate::api::application_set::{ApplicationSet, ApplicationSetTemplate};

/// Label on every generated Application naming its ApplicationSet.
pub const APPLICATION_SET_LABEL: &str = "flotilla.dev/application-set";
/// Finalizer that makes deleting an Application delete its resources first.
pub const RESOURCES_FINALIZER: &str = "flotilla.dev/resources-finalizer";
/// Argo CD's resources finalizer (and its `/foreground`, `/background` variants), translated.
const ARGO_RESOURCES_FINALIZER: &str = "resources-finalizer.argocd.argoproj.io";

/// Argo CD's generator-template merge (`mergo.Merge(dest=generator, src=spec)`): non-empty
/// fields of the generator's template win, empty ones (absent, null, "", 0, false, [] or {})
/// are filled from `spec.template`; objects merge key by key; non-empty lists are kept whole.
pub fn merged_template(
    spec: &ApplicationSetTemplate,
    generator: Option<&ApplicationSetTemplate>,
) -> Value {
    let base = serde_json::to_value(spec).unwrap_or(Value::Null);
    match generator.and_then(|g| serde_json::to_value(g).ok()) {
        Some(mut dest) => {
            merge_into(&mut dest, &base);
            dest
        }
        None => base,
    }
}

fn merge_into(dest: &mut Value, src: &Value) {
    match (dest, src) {
        (Value::Object(d), Value::Object(s)) => {
            for (k, sv) in s {
                match d.get_mut(k) {
                    Some(dv) if dv.is_object() && sv.is_object() => merge_into(dv, sv),
                    Some(dv) if !is_empty(dv) => {}
                    _ => {
                        d.insert(k.clone(), sv.clone());
                    }
                }
            }
        }
        (dest, src) if is_empty(dest) => *dest = src.clone(),
        _ => {}
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

/// Builds the Application from a rendered template (`index` numbers it in error messages).
pub fn build_application(
    appset: &ApplicationSet,
    rendered: &Value,
    index: usize,
) -> Result<Application, GenerateError> {
    let invalid = |reason: String| GenerateError::InvalidApplication { index, reason };
    let template = ApplicationSetTemplate::deserialize(rendered).map_err(|e| {
        invalid(format!(
            "the rendered template is not a valid Application: {e}"
        ))
    })?;
    let meta = template.metadata;
    validate_name(&meta.name).map_err(invalid)?;
    let preserve = appset
        .spec
        .sync_policy
        .as_ref()
        .is_some_and(|p| p.preserve_resources_on_deletion);
    let mut finalizers: Vec<String> = meta
        .finalizers
        .iter()
        .map(|f| translate_finalizer(f))
        .collect();
    finalizers.dedup();
    if !preserve
        && !finalizers
            .iter()
            .any(|f| f.starts_with(RESOURCES_FINALIZER))
    {
        finalizers.push(RESOURCES_FINALIZER.to_string());
    }
    let mut labels = meta.labels;
    labels.insert(
        APPLICATION_SET_LABEL.to_string(),
        label_value(appset.metadata.name.as_deref().unwrap_or_default()),
    );
    let owner = appset.metadata.uid.as_ref().map(|uid| OwnerReference {
        api_version: "flotilla.dev/v1alpha1".into(),
        kind: "ApplicationSet".into(),
        name: appset.metadata.name.clone().unwrap_or_default(),
        uid: uid.clone(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    });
    Ok(Application {
        metadata: ObjectMeta {
            name: Some(meta.name),
            namespace: appset.metadata.namespace.clone(),
            labels: Some(labels),
            annotations: (!meta.annotations.is_empty()).then_some(meta.annotations),
            finalizers: (!finalizers.is_empty()).then_some(finalizers),
            owner_references: owner.map(|o| vec![o]),
            ..Default::default()
        },
        spec: template.spec,
        operation: None,
        status: None,
    })
}

/// Argo CD's `resources-finalizer.argocd.argoproj.io[/variant]` becomes Flotilla's, so a ported
/// manifest never leaves a finalizer that nothing removes.
fn translate_finalizer(f: &str) -> String {
    match f.strip_prefix(ARGO_RESOURCES_FINALIZER) {
        Some(variant) => format!("{RESOURCES_FINALIZER}{variant}"),
        None => f.to_string(),
    }
}

/// A Kubernetes object name: a DNS-1123 subdomain.
fn validate_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("metadata.name is empty".into());
    }
    let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.';
    let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if name.len() > 253
        || !name.chars().all(ok_char)
        || !alnum(name.chars().next())
        || !alnum(name.chars().last())
    {
        return Err(format!(
            "metadata.name {name:?} is not a valid Kubernetes name (lowercase letters, digits, '-' and '.', at most 253, starting and ending alphanumeric)"
        ));
    }
    Ok(())
}

/// A label value naming `name`: the name itself when it fits 63 characters, otherwise a prefix
/// and a hash of the whole name.
pub fn label_value(name: &str) -> String {
    if name.len() <= 63 {
        return name.to_string();
    }
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    });
    let prefix: String = name.chars().take(46).collect();
    format!("{}-{:016x}", prefix.trim_end_matches(['-', '.']), hash)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn generator_template_fills_from_spec_template() {
        let spec: ApplicationSetTemplate = serde_json::from_value(json!({
            "metadata": {"name": "{{name}}", "labels": {"a": "1"}},
            "spec": {"project": "default", "source": {"repoURL": "https://git/r", "path": "base"},
                     "destination": {"server": "{{server}}"}, "syncPolicy": {"automated": {"prune": true}}}
        }))
        .unwrap();
        let generator: ApplicationSetTemplate = serde_json::from_value(json!({
            "metadata": {"labels": {"b": "2"}},
            "spec": {"project": "", "source": {"repoURL": "", "path": "override"}, "destination": {}}
        }))
        .unwrap();
        let merged = merged_template(&spec, Some(&generator));
        assert_eq!(merged["metadata"]["name"], "{{name}}");
        assert_eq!(merged["metadata"]["labels"], json!({"a": "1", "b": "2"}));
        assert_eq!(merged["spec"]["project"], "default");
        assert_eq!(merged["spec"]["source"]["path"], "override");
        assert_eq!(merged["spec"]["source"]["repoURL"], "https://git/r");
        assert_eq!(merged["spec"]["destination"]["server"], "{{server}}");
        assert_eq!(merged["spec"]["syncPolicy"]["automated"]["prune"], true);
    }

    #[test]
    fn names_and_labels() {
        assert!(validate_name("guestbook-dev").is_ok());
        assert!(validate_name("a.b").is_ok());
        assert!(validate_name("").is_err());
        assert!(validate_name("{{name}}-x").is_err());
        assert!(validate_name("Upper").is_err());
        assert!(validate_name("-x").is_err());
        assert_eq!(label_value("short"), "short");
        let long = "a".repeat(100);
        let v = label_value(&long);
        assert!(v.len() <= 63, "{v}");
        assert_ne!(label_value(&"a".repeat(101)), v);
    }

    #[test]
    fn argo_finalizers_are_translated() {
        assert_eq!(
            translate_finalizer("resources-finalizer.argocd.argoproj.io"),
            RESOURCES_FINALIZER
        );
        assert_eq!(
            translate_finalizer("resources-finalizer.argocd.argoproj.io/background"),
            format!("{RESOURCES_FINALIZER}/background")
        );
        assert_eq!(
            translate_finalizer("example.com/other"),
            "example.com/other"
        );
    }
}
