//! The CustomResourceDefinitions, generated from the Rust types. `crds/*.yaml` are these, printed
//! by `flotilla crds`; a test fails when the committed files drift from the types.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

use super::{AppProject, Application, ApplicationSet};

/// `(file name, CRD)` for every CRD of Flotilla, in a stable order.
pub fn all() -> Vec<(&'static str, CustomResourceDefinition)> {
    vec![
        ("applications.yaml", Application::crd()),
        ("applicationsets.yaml", ApplicationSet::crd()),
        ("appprojects.yaml", AppProject::crd()),
    ]
}

/// One CRD as the YAML document committed under `crds/`.
pub fn to_yaml(crd: &CustomResourceDefinition) -> Result<String, serde_yaml::Error> {
    serde_yaml::to_string(crd)
}

/// All CRDs as one multi-document YAML stream.
pub fn all_yaml() -> Result<String, serde_yaml::Error> {
    let mut out = String::new();
    for (_, crd) in all() {
        out.push_str("---\n");
        out.push_str(&to_yaml(&crd)?);
    }
    Ok(out)
}
