//! The `Application` object itself: metadata, spec, the top-level `operation` (as Argo CD's
//! `Application.operation`, which kube's derive cannot express), and status. The CRD comes from
//! the derived `ApplicationCrd` with `operation` added to its schema.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, JSONSchemaProps,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::CustomResourceExt;
use serde::{Deserialize, Serialize};

use super::application::{ApplicationCrd, ApplicationSpec, ApplicationStatus};
use super::operation::Operation;

/// An Application: manifests from a Git source kept in sync on one destination cluster.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Application {
    pub metadata: ObjectMeta,
    pub spec: ApplicationSpec,
    /// A requested operation (a sync); the hub clears it when it starts it. Boxed: most
    /// Applications have none, and every cached one would carry its size.
    pub operation: Option<Box<Operation>>,
    pub status: Option<ApplicationStatus>,
}

impl Application {
    pub fn new(name: &str, spec: ApplicationSpec) -> Self {
        Self {
            metadata: ObjectMeta {
                name: Some(name.to_string()),
                ..Default::default()
            },
            spec,
            operation: None,
            status: None,
        }
    }

    /// The CRD: the derived one, plus `operation` in its schema (the schema kube derives for
    /// `status.operationState.operation`, which is the same type).
    pub fn crd() -> CustomResourceDefinition {
        let mut crd = ApplicationCrd::crd();
        if let Some(root) = crd
            .spec
            .versions
            .first_mut()
            .and_then(|v| v.schema.as_mut())
            .and_then(|s| s.open_api_v3_schema.as_mut())
        {
            let op: Option<JSONSchemaProps> = root
                .properties
                .as_ref()
                .and_then(|p| p.get("status"))
                .and_then(|s| {
                    s.properties
                        .as_ref()?
                        .get("operationState")?
                        .properties
                        .as_ref()?
                        .get("operation")
                        .cloned()
                });
            if let Some(mut op) = op {
                op.description = Some("A requested operation (a sync); the hub starts it, records it in status.operationState and clears this field.".into());
                root.properties
                    .get_or_insert_with(Default::default)
                    .insert("operation".into(), op);
            }
        }
        crd
    }
}

impl kube::Resource for Application {
    type DynamicType = ();
    type Scope = kube::core::NamespaceResourceScope;

    fn kind(_: &()) -> std::borrow::Cow<'_, str> {
        "Application".into()
    }

    fn group(_: &()) -> std::borrow::Cow<'_, str> {
        "flotilla.dev".into()
    }

    fn version(_: &()) -> std::borrow::Cow<'_, str> {
        "v1alpha1".into()
    }

    fn plural(_: &()) -> std::borrow::Cow<'_, str> {
        "applications".into()
    }

    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }

    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Repr<'a> {
    api_version: &'static str,
    kind: &'static str,
    metadata: &'a ObjectMeta,
    spec: &'a ApplicationSpec,
    #[serde(skip_serializing_if = "Option::is_none")]
    operation: &'a Option<Box<Operation>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: &'a Option<ApplicationStatus>,
}

impl Serialize for Application {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Repr {
            api_version: "flotilla.dev/v1alpha1",
            kind: "Application",
            metadata: &self.metadata,
            spec: &self.spec,
            operation: &self.operation,
            status: &self.status,
        }
        .serialize(s)
    }
}

#[derive(Deserialize)]
struct Owned {
    #[serde(default)]
    metadata: ObjectMeta,
    #[serde(default)]
    spec: ApplicationSpec,
    #[serde(default)]
    operation: Option<Box<Operation>>,
    #[serde(default)]
    status: Option<ApplicationStatus>,
}

impl<'de> Deserialize<'de> for Application {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let o = Owned::deserialize(d)?;
        Ok(Application {
            metadata: o.metadata,
            spec: o.spec,
            operation: o.operation,
            status: o.status,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trips_with_the_operation() {
        let v = json!({"apiVersion": "flotilla.dev/v1alpha1", "kind": "Application", "metadata": {"name": "a"},
            "spec": {"project": "default", "destination": {"name": "dev"}}, "operation": {"sync": {"revision": "abc", "prune": true}}});
        let a: Application = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(
            a.operation
                .as_ref()
                .unwrap()
                .sync
                .as_ref()
                .unwrap()
                .revision
                .as_deref(),
            Some("abc")
        );
        let back = serde_json::to_value(&a).unwrap();
        assert_eq!(back["operation"], v["operation"]);
        assert_eq!(back["kind"], "Application");
        assert!(back.get("status").is_none());
    }

    #[test]
    fn the_crd_schema_has_the_operation_without_refs() {
        let crd = Application::crd();
        let schema = serde_json::to_value(&crd.spec.versions[0].schema).unwrap();
        let op = &schema["openAPIV3Schema"]["properties"]["operation"];
        assert_eq!(
            op["properties"]["sync"]["properties"]["prune"]["type"], "boolean",
            "{op}"
        );
        // No `$ref` key (a description may mention `$ref/…`: a source's `ref`).
        assert!(!op.to_string().contains("\"$ref\":"), "{op}");
        assert_eq!(
            op["properties"]["sync"]["properties"]["sources"]["items"]["properties"]["repoURL"]["type"],
            "string"
        );
    }
}
