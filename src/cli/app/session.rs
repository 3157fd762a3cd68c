//! The hub as `flotilla app` sees it: its Applications, their operation requests, and the
//! cluster and repository Secrets in the hub namespace.

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams};
use serde_json::json;

use super::super::cluster::{self as cluster_cli, HubArgs};
use super::error::AppError;
use crate::api::operation::Operation;
use crate::api::secret::{ARGOCD_SECRET_TYPE_LABEL, FLOTILLA_SECRET_TYPE_LABEL};
use crate::api::{Application, ClusterSecret, RepositorySecret, SecretData, SecretType};
use crate::cluster::install::list::application_resource;
use crate::cluster::install::{Connection, hub as install_hub, status_code};
use crate::sync::operation::phase;

/// A connection to the hub and its namespace.
pub struct Session {
    pub hub: Connection,
    pub namespace: String,
}

impl Session {
    /// Connects as `flotilla cluster` does (kubeconfig, `--hub-context`).
    pub async fn connect(args: &HubArgs) -> Result<Session, AppError> {
        let (_, hub) = cluster_cli::hub(args)
            .await
            .map_err(|e| AppError::Connect(format!("{e:#}")))?;
        Ok(Session {
            hub,
            namespace: args.hub_namespace.clone(),
        })
    }

    fn api(&self) -> Api<Application> {
        Api::namespaced(self.hub.client.clone(), &self.namespace)
    }

    fn object(&self, name: &str) -> String {
        format!("application {}/{name}", self.namespace)
    }

    /// The Application `name`.
    pub async fn app(&self, name: &str) -> Result<Application, AppError> {
        match self.api().get_opt(name).await {
            Ok(Some(app)) => Ok(app),
            Ok(None) => Err(self.not_found(name)),
            // No Application CRD: no Application either.
            Err(e) if status_code(&e) == Some(404) => Err(self.not_found(name)),
            Err(e) => Err(AppError::hub("reading", self.object(name), &e)),
        }
    }

    fn not_found(&self, name: &str) -> AppError {
        AppError::NotFound {
            name: name.to_string(),
            namespace: self.namespace.clone(),
        }
    }

    /// The Applications of the namespace, by name; one that does not parse is reported on
    /// stderr and left out (it must not hide the others).
    pub async fn apps(&self) -> Result<Vec<Application>, AppError> {
        let api: Api<DynamicObject> = Api::namespaced_with(
            self.hub.client.clone(),
            &self.namespace,
            &application_resource(),
        );
        let list = match api.list(&ListParams::default()).await {
            Ok(l) => l,
            Err(e) if status_code(&e) == Some(404) => return Ok(Vec::new()),
            Err(e) => {
                return Err(AppError::hub(
                    "listing",
                    format!("applications in namespace {}", self.namespace),
                    &e,
                ));
            }
        };
        let mut apps = Vec::new();
        for item in list.items {
            let name = item.metadata.name.clone().unwrap_or_default();
            match serde_json::to_value(&item).and_then(serde_json::from_value::<Application>) {
                Ok(app) => apps.push(app),
                Err(e) => eprintln!(
                    "warning: application {}/{name} cannot be read: {e}",
                    self.namespace
                ),
            }
        }
        apps.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
        Ok(apps)
    }

    /// Writes `operation` into Application `name` unless an operation is in progress or
    /// `check` refuses the Application; returns the Application as it was just before. The
    /// write is conditional on the resourceVersion read, so no concurrent request slips in
    /// between the check and the write.
    pub async fn request(
        &self,
        name: &str,
        operation: &Operation,
        check: impl Fn(&Application) -> Result<(), AppError>,
    ) -> Result<Application, AppError> {
        let op = serde_json::to_value(operation).map_err(|e| AppError::Hub {
            action: "encoding",
            object: format!("the operation of {}", self.object(name)),
            cause: e.to_string(),
        })?;
        let mut attempts = 0;
        loop {
            let app = self.app(name).await?;
            if let Some(what) = in_progress(&app) {
                return Err(AppError::InProgress {
                    name: name.to_string(),
                    what,
                });
            }
            check(&app)?;
            let patch = json!({"metadata": {"resourceVersion": app.metadata.resource_version}, "operation": op});
            match self
                .api()
                .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                Ok(_) => return Ok(app),
                Err(e) if status_code(&e) == Some(409) && attempts < 3 => attempts += 1,
                Err(e) if status_code(&e) == Some(404) => return Err(self.not_found(name)),
                Err(e) => {
                    return Err(AppError::hub(
                        "requesting an operation on",
                        self.object(name),
                        &e,
                    ));
                }
            }
        }
    }

    /// The parsed cluster Secrets of the namespace (those that do not parse are left out).
    pub async fn clusters(&self) -> Result<Vec<ClusterSecret>, AppError> {
        let secrets = install_hub::cluster_secrets(&self.hub, &self.namespace)
            .await
            .map_err(|e| AppError::ClusterSecrets(e.to_string()))?;
        Ok(secrets
            .iter()
            .filter_map(|s| ClusterSecret::from_secret(&SecretData::from_k8s(s)).ok())
            .collect())
    }

    /// The repository and repo-creds Secrets of the namespace: credentials for Git. None when
    /// they cannot be listed (a public repository needs none).
    pub async fn repositories(&self) -> Vec<RepositorySecret> {
        let api: Api<Secret> = Api::namespaced(self.hub.client.clone(), &self.namespace);
        let mut out = Vec::new();
        for label in [FLOTILLA_SECRET_TYPE_LABEL, ARGOCD_SECRET_TYPE_LABEL] {
            let lp = ListParams::default().labels(&format!("{label} in (repository,repo-creds)"));
            for s in api.list(&lp).await.map(|l| l.items).unwrap_or_default() {
                let data = SecretData::from_k8s(&s);
                let repo = matches!(
                    data.secret_type(),
                    Some(SecretType::Repository | SecretType::RepoCreds)
                );
                if let Some(parsed) = repo
                    .then(|| RepositorySecret::from_secret(&data).ok())
                    .flatten()
                    && !out.contains(&parsed)
                {
                    out.push(parsed);
                }
            }
        }
        out
    }
}

/// Why a new operation must wait: one is requested (`operation` is set) or running.
pub fn in_progress(app: &Application) -> Option<String> {
    if app.operation.is_some() {
        return Some("an operation is requested and not started yet".into());
    }
    let state = app.status.as_ref()?.operation_state.as_ref()?;
    (state.phase == phase::RUNNING).then(|| match &state.started_at {
        Some(t) => format!("an operation started at {} is Running", t.0),
        None => "an operation is Running".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::application::OperationState;

    #[test]
    fn operations_in_progress() {
        let mut app = Application::default();
        assert_eq!(in_progress(&app), None);
        app.status = Some(Default::default());
        app.status.as_mut().unwrap().operation_state = Some(OperationState {
            phase: "Succeeded".into(),
            ..Default::default()
        });
        assert_eq!(in_progress(&app), None);
        app.status
            .as_mut()
            .unwrap()
            .operation_state
            .as_mut()
            .unwrap()
            .phase = "Running".into();
        assert_eq!(
            in_progress(&app).as_deref(),
            Some("an operation is Running")
        );
        app.operation = Some(Box::default());
        assert!(in_progress(&app).unwrap().contains("requested"));
    }
}
