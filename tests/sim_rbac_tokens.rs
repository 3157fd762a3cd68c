//! Simulator conformance: service-account tokens (token Secrets, TokenRequest, kubectl create
//! token), client certificates, and RBAC decisions with kube-apiserver's wording.

mod support;

use std::time::Duration;

use base64::Engine;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret, ServiceAccount};
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use serde_json::json;
use support::sim::{SimEnv, client_for, eventually, fails, kubectl_with, ok, start};

const ROBOT: &str = "system:serviceaccount:default:robot";

fn api_error(e: kube::Error) -> (u16, String, String) {
    match e {
        kube::Error::Api(s) => (s.code, s.reason.clone(), s.message.clone()),
        other => panic!("expected an API error, got {other:?}"),
    }
}

/// The cluster's kubeconfig with the admin token replaced by `token`.
fn kubeconfig_with_token(env: &SimEnv, token: &str) -> String {
    let h = env.handle("dev");
    let kc = h.kubeconfig();
    assert!(kc.contains(h.token()));
    kc.replace(h.token(), token)
}

async fn token_client(env: &SimEnv, token: &str) -> kube::Client {
    client_for(&kubeconfig_with_token(env, token)).await
}

/// Runs kubectl with a kubeconfig carrying `token`.
async fn kubectl_as(env: &SimEnv, token: &str, args: &[&str]) -> std::process::Output {
    let path = env
        .dir
        .path()
        .join(format!("as-{}.yaml", &token[token.len() - 12..]));
    std::fs::write(&path, kubeconfig_with_token(env, token)).unwrap();
    kubectl_with(&path, &env.dir.path().join("kube-cache"), args, None).await
}

/// kube-apiserver's 403 message for the robot and configmaps.
fn forbidden(verb: &str, scope: &str) -> String {
    format!(
        "configmaps is forbidden: User \"{ROBOT}\" cannot {verb} resource \"configmaps\" in API group \"\" {scope}"
    )
}

const SETUP: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: other}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: robot, namespace: default}
---
apiVersion: v1
kind: Secret
metadata:
  name: robot-token
  namespace: default
  annotations: {kubernetes.io/service-account.name: robot}
type: kubernetes.io/service-account-token
---
apiVersion: v1
kind: Secret
metadata: {name: allowed, namespace: default}
stringData: {k: v}
---
apiVersion: v1
kind: Secret
metadata: {name: denied, namespace: default}
stringData: {k: v}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: cm-reader, namespace: default}
rules:
- apiGroups: [""]
  resources: [configmaps]
  verbs: [get, list]
- apiGroups: [""]
  resources: [secrets]
  resourceNames: [allowed]
  verbs: [get, list]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: robot-reads, namespace: default}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: cm-reader}
subjects:
- {kind: ServiceAccount, name: robot, namespace: default}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: deployer}
rules:
- apiGroups: [apps]
  resources: [deployments]
  verbs: ["*"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: robot-deploys}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: deployer}
subjects:
- {kind: ServiceAccount, name: robot, namespace: default}
"#;

async fn setup(env: &SimEnv) -> String {
    ok(&env
        .kubectl_stdin("dev", &["apply", "-f", "-"], Some(SETUP))
        .await);
    let secrets: Api<Secret> = Api::namespaced(env.client("dev").await, "default");
    let secret = eventually(
        Duration::from_secs(5),
        "the token controller to fill robot-token",
        || async {
            secrets
                .get("robot-token")
                .await
                .ok()
                .filter(|s| s.data.as_ref().is_some_and(|d| d.contains_key("token")))
        },
    )
    .await;
    let data = secret.data.unwrap();
    assert_eq!(
        String::from_utf8(data["ca.crt"].0.clone()).unwrap(),
        env.handle("dev").ca_pem()
    );
    assert_eq!(data["namespace"].0, b"default");
    String::from_utf8(data["token"].0.clone()).unwrap()
}

fn deployment(name: &str) -> Deployment {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}}
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_secret_authenticates_as_the_service_account() {
    let env = start(&["dev"]).await;
    let token = setup(&env).await;
    let admin = env.client("dev").await;
    let sa: ServiceAccount = Api::namespaced(admin.clone(), "default")
        .get("robot")
        .await
        .unwrap();
    let secret: Secret = Api::namespaced(admin.clone(), "default")
        .get("robot-token")
        .await
        .unwrap();
    let annotations = secret.metadata.annotations.unwrap();
    assert_eq!(
        annotations.get("kubernetes.io/service-account.uid"),
        sa.metadata.uid.as_ref()
    );
    assert_eq!(
        secret.type_.as_deref(),
        Some("kubernetes.io/service-account-token")
    );
    // A legacy token is a JWT with the legacy claims.
    let payload = token.split('.').nth(1).unwrap();
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["sub"], ROBOT);
    assert_eq!(claims["iss"], "kubernetes/serviceaccount");

    let robot = token_client(&env, &token).await;
    // Discovery and /version are open to every authenticated user.
    let version = robot.apiserver_version().await.unwrap();
    assert_eq!(version.major, "1");
    robot.list_core_api_versions().await.unwrap();
    robot.list_api_groups().await.unwrap();

    // Allowed by the Role in default.
    let cms: Api<ConfigMap> = Api::namespaced(robot.clone(), "default");
    let names: Vec<String> = cms
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|c| c.metadata.name)
        .collect();
    assert!(names.contains(&"kube-root-ca.crt".to_string()), "{names:?}");
    cms.get("kube-root-ca.crt").await.unwrap();
    // Not granted: create; nor anything in another namespace.
    let (code, reason, message) = api_error(
        cms.create(&PostParams::default(), &ConfigMap::default())
            .await
            .unwrap_err(),
    );
    assert_eq!((code, reason.as_str()), (403, "Forbidden"));
    assert_eq!(message, forbidden("create", "in the namespace \"default\""));
    let elsewhere: Api<ConfigMap> = Api::namespaced(robot.clone(), "other");
    let (code, _, message) = api_error(elsewhere.list(&ListParams::default()).await.unwrap_err());
    assert_eq!(code, 403);
    assert_eq!(
        message,
        "configmaps is forbidden: User \"system:serviceaccount:default:robot\" cannot list resource \"configmaps\" in API group \"\" in the namespace \"other\""
    );
    let everywhere: Api<ConfigMap> = Api::all(robot.clone());
    let (code, _, message) = api_error(everywhere.list(&ListParams::default()).await.unwrap_err());
    assert_eq!(
        (code, message),
        (403, forbidden("list", "at the cluster scope"))
    );
    let namespaces: Api<Namespace> = Api::all(robot.clone());
    let (code, _, message) = api_error(namespaces.get("default").await.unwrap_err());
    assert_eq!(code, 403);
    assert_eq!(
        message,
        format!(
            "namespaces \"default\" is forbidden: User \"{ROBOT}\" cannot get resource \"namespaces\" in API group \"\" in the namespace \"default\""
        )
    );

    // resourceNames: only the named Secret, and never an unfiltered list.
    let secrets: Api<Secret> = Api::namespaced(robot.clone(), "default");
    secrets.get("allowed").await.unwrap();
    let (code, _, message) = api_error(secrets.get("denied").await.unwrap_err());
    assert_eq!(code, 403);
    assert_eq!(
        message,
        format!(
            "secrets \"denied\" is forbidden: User \"{ROBOT}\" cannot get resource \"secrets\" in API group \"\" in the namespace \"default\""
        )
    );
    assert_eq!(
        api_error(secrets.list(&ListParams::default()).await.unwrap_err()).0,
        403
    );
    // A list selecting one name by field is a request for that name (RequestInfo).
    let one = secrets
        .list(&ListParams::default().fields("metadata.name=allowed"))
        .await
        .unwrap();
    assert_eq!(one.items.len(), 1);
    let (code, _, message) = api_error(
        secrets
            .list(&ListParams::default().fields("metadata.name=denied"))
            .await
            .unwrap_err(),
    );
    assert_eq!(code, 403);
    assert_eq!(
        message,
        format!(
            "secrets \"denied\" is forbidden: User \"{ROBOT}\" cannot list resource \"secrets\" in API group \"\" in the namespace \"default\""
        )
    );

    // verbs ["*"] on deployments.apps through a ClusterRoleBinding: in any namespace.
    let deployments: Api<Deployment> = Api::namespaced(robot.clone(), "other");
    deployments
        .create(&PostParams::default(), &deployment("web"))
        .await
        .unwrap();
    deployments.get("web").await.unwrap();
    deployments
        .delete("web", &DeleteParams::default())
        .await
        .unwrap();
    Api::<Deployment>::all(robot.clone())
        .list(&ListParams::default())
        .await
        .unwrap();
    let sts: Api<StatefulSet> = Api::namespaced(robot.clone(), "other");
    let (code, _, message) = api_error(sts.list(&ListParams::default()).await.unwrap_err());
    assert_eq!(code, 403);
    assert_eq!(
        message,
        format!(
            "statefulsets.apps is forbidden: User \"{ROBOT}\" cannot list resource \"statefulsets\" in API group \"apps\" in the namespace \"other\""
        )
    );

    // kubectl with the token sees the same decisions.
    let out = ok(&kubectl_as(
        &env,
        &token,
        &["get", "configmaps", "-n", "default", "-o", "name"],
    )
    .await);
    assert!(out.contains("configmap/kube-root-ca.crt"), "{out}");
    let err = fails(&kubectl_as(&env, &token, &["get", "configmaps", "-n", "other"]).await);
    assert!(
        err.contains("Error from server (Forbidden): configmaps is forbidden: User \"system:serviceaccount:default:robot\" cannot list resource \"configmaps\" in API group \"\" in the namespace \"other\""),
        "{err}"
    );

    // A token that doesn't verify is 401.
    let bad = token_client(&env, &format!("{token}x")).await;
    let (code, reason, _) = api_error(bad.apiserver_version().await.unwrap_err());
    assert_eq!((code, reason.as_str()), (401, "Unauthorized"));

    // Deleting the Secret revokes its token.
    Api::<Secret>::namespaced(admin.clone(), "default")
        .delete("robot-token", &DeleteParams::default())
        .await
        .unwrap();
    let (code, reason, message) = api_error(cms.list(&ListParams::default()).await.unwrap_err());
    assert_eq!(
        (code, reason.as_str(), message.as_str()),
        (401, "Unauthorized", "Unauthorized")
    );
    let err = fails(&kubectl_as(&env, &token, &["get", "configmaps", "-n", "default"]).await);
    assert!(
        err.contains("Unauthorized") || err.contains("must be logged in"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_requests_issue_working_tokens() {
    let env = start(&["dev"]).await;
    let legacy = setup(&env).await;
    let admin = env.client("dev").await;
    let sas: Api<ServiceAccount> = Api::namespaced(admin.clone(), "default");
    let request = |seconds: Option<i64>| TokenRequest {
        spec: TokenRequestSpec {
            audiences: vec![],
            expiration_seconds: seconds,
            ..Default::default()
        },
        ..Default::default()
    };

    let tr = sas
        .create_token_request("robot", &PostParams::default(), &request(Some(3600)))
        .await
        .unwrap();
    let status = tr.status.unwrap();
    assert_eq!(tr.spec.expiration_seconds, Some(3600));
    assert_eq!(
        tr.spec.audiences,
        ["https://kubernetes.default.svc.cluster.local"]
    );
    let lifetime = status.expiration_timestamp.0.as_second() - now_unix();
    assert!((3590..=3600).contains(&lifetime), "{lifetime}");
    let bound = status.token;
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(bound.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["sub"], ROBOT);
    assert_eq!(claims["kubernetes.io"]["serviceaccount"]["name"], "robot");
    let robot = token_client(&env, &bound).await;
    let cms: Api<ConfigMap> = Api::namespaced(robot.clone(), "default");
    cms.list(&ListParams::default()).await.unwrap();
    assert_eq!(
        api_error(
            Api::<ConfigMap>::namespaced(robot.clone(), "other")
                .list(&ListParams::default())
                .await
                .unwrap_err()
        )
        .0,
        403
    );

    // The server's default lifetime is one hour.
    let tr = sas
        .create_token_request("robot", &PostParams::default(), &request(None))
        .await
        .unwrap();
    assert_eq!(tr.spec.expiration_seconds, Some(3600));

    // Under ten minutes is invalid.
    let (code, reason, message) = api_error(
        sas.create_token_request("robot", &PostParams::default(), &request(Some(599)))
            .await
            .unwrap_err(),
    );
    assert_eq!((code, reason.as_str()), (422, "Invalid"));
    assert_eq!(
        message,
        "TokenRequest.authentication.k8s.io \"robot\" is invalid: spec.expirationSeconds: Invalid value: 599: may not specify a duration less than 10 minutes"
    );
    // Of a ServiceAccount that doesn't exist: 404.
    let (code, _, message) = api_error(
        sas.create_token_request("ghost", &PostParams::default(), &request(None))
            .await
            .unwrap_err(),
    );
    assert_eq!(
        (code, message.as_str()),
        (404, "serviceaccounts \"ghost\" not found")
    );
    // The robot itself may not ask for tokens.
    let own: Api<ServiceAccount> = Api::namespaced(robot.clone(), "default");
    let (code, _, message) = api_error(
        own.create_token_request("robot", &PostParams::default(), &request(None))
            .await
            .unwrap_err(),
    );
    assert_eq!(code, 403);
    assert_eq!(
        message,
        format!(
            "serviceaccounts \"robot\" is forbidden: User \"{ROBOT}\" cannot create resource \"serviceaccounts/token\" in API group \"\" in the namespace \"default\""
        )
    );

    // Deleting the ServiceAccount revokes all its tokens.
    sas.delete("robot", &DeleteParams::default()).await.unwrap();
    for token in [&bound, &legacy] {
        let client = token_client(&env, token).await;
        let (code, reason, _) = api_error(client.apiserver_version().await.unwrap_err());
        assert_eq!((code, reason.as_str()), (401, "Unauthorized"));
    }
    // A new ServiceAccount of the same name is another identity: the old tokens stay revoked.
    sas.create(
        &PostParams::default(),
        &serde_json::from_value(json!({"metadata": {"name": "robot"}})).unwrap(),
    )
    .await
    .unwrap();
    let (code, _, _) = api_error(cms.list(&ListParams::default()).await.unwrap_err());
    assert_eq!(code, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_create_token_issues_a_working_token() {
    let env = start(&["dev"]).await;
    setup(&env).await;
    // kubectl create token.
    let kubectl_token = ok(&env.kubectl("dev", &["create", "token", "robot"]).await);
    assert!(
        !kubectl_token.contains('\n') && kubectl_token.split('.').count() == 3,
        "{kubectl_token}"
    );
    let via_kubectl = token_client(&env, &kubectl_token).await;
    Api::<ConfigMap>::namespaced(via_kubectl.clone(), "default")
        .get("kube-root-ca.crt")
        .await
        .unwrap();
    let out = ok(&env
        .kubectl(
            "dev",
            &[
                "create",
                "token",
                "robot",
                "--duration=20m",
                "-o",
                "jsonpath={.spec.expirationSeconds}",
            ],
        )
        .await);
    assert_eq!(out, "1200");
    let err = fails(
        &env.kubectl("dev", &["create", "token", "robot", "--duration=5m"])
            .await,
    );
    assert!(
        err.contains("failed to create token: TokenRequest.authentication.k8s.io \"robot\" is invalid: spec.expirationSeconds: Invalid value: 300: may not specify a duration less than 10 minutes"),
        "{err}"
    );
    let err = fails(&env.kubectl("dev", &["create", "token", "ghost"]).await);
    assert!(err.contains("serviceaccounts \"ghost\" not found"), "{err}");

    // The token dies with its ServiceAccount.
    let sas: Api<ServiceAccount> = Api::namespaced(env.client("dev").await, "default");
    sas.delete("robot", &DeleteParams::default()).await.unwrap();
    let (code, _, _) = api_error(via_kubectl.apiserver_version().await.unwrap_err());
    assert_eq!(code, 401);
}

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificates_authenticate_users_and_groups() {
    let env = start(&["dev"]).await;
    let dev = env.handle("dev");
    ok(&env
        .kubectl_stdin(
            "dev",
            &["apply", "-f", "-"],
            Some(
                r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: devs-view, namespace: default}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: Group, name: devs}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: jane-edit}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: edit}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: jane}
"#,
            ),
        )
        .await);
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let cert_kubeconfig = |user: &str, group: Option<&str>| {
        let cert = dev.client_cert(user, group).unwrap();
        let mut kc: serde_json::Value = serde_yaml::from_str(&dev.kubeconfig()).unwrap();
        kc["users"][0]["user"] = json!({"client-certificate-data": b64(&cert.cert_pem), "client-key-data": b64(&cert.key_pem)});
        serde_yaml::to_string(&kc).unwrap()
    };

    // bob in devs: the view role in default, through his group.
    let bob_kc = cert_kubeconfig("bob", Some("devs"));
    let bob = client_for(&bob_kc).await;
    Api::<ConfigMap>::namespaced(bob.clone(), "default")
        .list(&ListParams::default())
        .await
        .unwrap();
    let (code, _, message) = api_error(
        Api::<Secret>::namespaced(bob.clone(), "default")
            .list(&ListParams::default())
            .await
            .unwrap_err(),
    );
    assert_eq!(code, 403);
    assert_eq!(
        message,
        "secrets is forbidden: User \"bob\" cannot list resource \"secrets\" in API group \"\" in the namespace \"default\""
    );
    let (code, _, message) = api_error(
        Api::<ConfigMap>::namespaced(bob.clone(), "kube-system")
            .list(&ListParams::default())
            .await
            .unwrap_err(),
    );
    assert_eq!(
        (code, message.as_str()),
        (
            403,
            "configmaps is forbidden: User \"bob\" cannot list resource \"configmaps\" in API group \"\" in the namespace \"kube-system\""
        )
    );
    bob.apiserver_version().await.unwrap();

    // bob without the group: nothing but discovery.
    let lone = client_for(&cert_kubeconfig("bob", None)).await;
    lone.apiserver_version().await.unwrap();
    assert_eq!(
        api_error(
            Api::<ConfigMap>::namespaced(lone, "default")
                .list(&ListParams::default())
                .await
                .unwrap_err()
        )
        .0,
        403
    );

    // jane: edit everywhere, as a user.
    let jane = client_for(&cert_kubeconfig("jane", None)).await;
    let secrets: Api<Secret> = Api::namespaced(jane.clone(), "kube-system");
    secrets
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "s"}, "stringData": {"a": "b"}}))
                .unwrap(),
        )
        .await
        .unwrap();
    let (code, _, message) = api_error(
        Api::<Namespace>::all(jane.clone())
            .create(
                &PostParams::default(),
                &serde_json::from_value(json!({"metadata": {"name": "x"}})).unwrap(),
            )
            .await
            .unwrap_err(),
    );
    assert_eq!(
        (code, message.as_str()),
        (
            403,
            "namespaces is forbidden: User \"jane\" cannot create resource \"namespaces\" in API group \"\" at the cluster scope"
        )
    );

    // kubectl with a client certificate.
    let path = env.dir.path().join("bob.yaml");
    std::fs::write(&path, &bob_kc).unwrap();
    let out = ok(&kubectl_with(
        &path,
        &env.dir.path().join("kube-cache"),
        &["get", "configmaps", "-o", "name"],
        None,
    )
    .await);
    assert!(out.contains("configmap/kube-root-ca.crt"), "{out}");
    let err = fails(
        &kubectl_with(
            &path,
            &env.dir.path().join("kube-cache"),
            &["get", "secrets"],
            None,
        )
        .await,
    );
    assert!(
        err.contains("secrets is forbidden: User \"bob\" cannot list resource \"secrets\""),
        "{err}"
    );

    // A client certificate wins over a bearer token (x509 comes first in the chain), even a bad one.
    let cert = dev.client_cert("jane", None).unwrap();
    let mut kc: serde_json::Value = serde_yaml::from_str(&dev.kubeconfig()).unwrap();
    kc["users"][0]["user"] = json!({"token": "not-a-token", "client-certificate-data": b64(&cert.cert_pem), "client-key-data": b64(&cert.key_pem)});
    let both = client_for(&serde_yaml::to_string(&kc).unwrap()).await;
    // jane may read namespaces (edit aggregates view), the bad token is never looked at.
    let listed = Api::<Namespace>::all(both)
        .list(&ListParams::default())
        .await
        .unwrap();
    assert!(listed.items.len() >= 4);

    // No credentials at all: anonymous only on the public-info paths (/version, /healthz,
    // /livez, /readyz, which system:public-info-viewer opens to everyone), 401 elsewhere.
    kc["users"][0]["user"] = json!({});
    let nobody = client_for(&serde_yaml::to_string(&kc).unwrap()).await;
    nobody.apiserver_version().await.unwrap();
    let (code, reason, message) = api_error(nobody.list_core_api_versions().await.unwrap_err());
    assert_eq!(
        (code, reason.as_str(), message.as_str()),
        (401, "Unauthorized", "Unauthorized")
    );
    let (code, reason, _) = api_error(
        Api::<ConfigMap>::namespaced(nobody, "default")
            .list(&ListParams::default())
            .await
            .unwrap_err(),
    );
    assert_eq!((code, reason.as_str()), (401, "Unauthorized"));
    // A bad token is 401, not anonymous.
    kc["users"][0]["user"] = json!({"token": "not-a-token"});
    let bad = client_for(&serde_yaml::to_string(&kc).unwrap()).await;
    let (code, reason, _) = api_error(bad.apiserver_version().await.unwrap_err());
    assert_eq!((code, reason.as_str()), (401, "Unauthorized"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_auth_can_i_and_whoami() {
    let env = start(&["dev"]).await;
    // The admin: system:masters may do anything (no RBAC reason, as the privileged-group
    // authorizer answers first).
    assert_eq!(
        ok(&env.kubectl("dev", &["auth", "can-i", "get", "pods"]).await).trim(),
        "yes"
    );
    assert_eq!(
        ok(&env
            .kubectl(
                "dev",
                &[
                    "auth",
                    "can-i",
                    "delete",
                    "deployments.apps",
                    "-n",
                    "kube-system"
                ]
            )
            .await)
        .trim(),
        "yes"
    );
    let whoami = ok(&env.kubectl("dev", &["auth", "whoami", "-o", "json"]).await);
    let whoami: serde_json::Value = serde_json::from_str(&whoami).unwrap();
    assert_eq!(
        whoami["status"]["userInfo"],
        json!({"username": "kubernetes-admin", "groups": ["system:masters", "system:authenticated"]})
    );
    let list = ok(&env.kubectl("dev", &["auth", "can-i", "--list"]).await);
    let rows: Vec<Vec<&str>> = list
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows[0],
        [
            "Resources",
            "Non-Resource",
            "URLs",
            "Resource",
            "Names",
            "Verbs"
        ]
    );
    assert!(rows.contains(&vec!["*.*", "[]", "[]", "[*]"]), "{list}");
    assert!(rows.contains(&vec!["[*]", "[]", "[*]"]), "{list}");

    // A ServiceAccount: its Role's rules in its namespace, nothing elsewhere.
    ok(&env
        .kubectl("dev", &["create", "serviceaccount", "robot"])
        .await);
    ok(&env
        .kubectl(
            "dev",
            &[
                "create",
                "role",
                "cm-reader",
                "--verb=get,list",
                "--resource=configmaps",
            ],
        )
        .await);
    ok(&env
        .kubectl(
            "dev",
            &[
                "create",
                "rolebinding",
                "robot-cm",
                "--role=cm-reader",
                "--serviceaccount=default:robot",
            ],
        )
        .await);
    let token = ok(&env.kubectl("dev", &["create", "token", "robot"]).await);
    let token = token.trim();
    let can = |args: &'static [&'static str]| {
        let env = &env;
        async move {
            let mut all = vec!["auth", "can-i"];
            all.extend_from_slice(args);
            let out = kubectl_as(env, token, &all).await;
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        }
    };
    assert_eq!(can(&["get", "configmaps"]).await, "yes");
    assert_eq!(can(&["list", "configmaps", "-n", "default"]).await, "yes");
    assert_eq!(can(&["get", "configmaps", "-n", "kube-system"]).await, "no");
    assert_eq!(can(&["get", "secrets"]).await, "no");
    assert_eq!(
        can(&["create", "selfsubjectaccessreviews.authorization.k8s.io"]).await,
        "yes"
    );
    let list = ok(&kubectl_as(&env, token, &["auth", "can-i", "--list"]).await);
    assert!(
        list.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>()
                == ["configmaps", "[]", "[]", "[get", "list]"]),
        "{list}"
    );
    assert!(!list.contains("*.*"), "{list}");
    let whoami = ok(&kubectl_as(&env, token, &["auth", "whoami", "-o", "json"]).await);
    let whoami: serde_json::Value = serde_json::from_str(&whoami).unwrap();
    let sa: ServiceAccount = Api::namespaced(env.client("dev").await, "default")
        .get("robot")
        .await
        .unwrap();
    assert_eq!(
        whoami["status"]["userInfo"],
        json!({"username": "system:serviceaccount:default:robot", "uid": sa.metadata.uid.unwrap(),
            "groups": ["system:serviceaccounts", "system:serviceaccounts:default", "system:authenticated"]})
    );

    // kube-rs: the RBAC reason of an allowed SubjectAccessReview, TokenReview, and the
    // review resources in discovery (create only).
    let client = env.client("dev").await;
    let sar = json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
        "spec": {"user": "system:serviceaccount:default:robot", "groups": ["system:serviceaccounts"],
            "resourceAttributes": {"namespace": "default", "verb": "list", "resource": "configmaps"}}});
    let req = http::Request::post("/apis/authorization.k8s.io/v1/subjectaccessreviews")
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&sar).unwrap())
        .unwrap();
    let answer: serde_json::Value = client.request(req).await.unwrap();
    assert_eq!(
        answer["status"],
        json!({"allowed": true, "reason": "RBAC: allowed by RoleBinding \"robot-cm/default\" of Role \"cm-reader\" to ServiceAccount \"robot/default\""})
    );
    let tr = json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}});
    let req = http::Request::post("/apis/authentication.k8s.io/v1/tokenreviews")
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&tr).unwrap())
        .unwrap();
    let answer: serde_json::Value = client.request(req).await.unwrap();
    assert_eq!(answer["status"]["authenticated"], true);
    assert_eq!(
        answer["status"]["user"]["username"],
        "system:serviceaccount:default:robot"
    );
    let empty = json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview", "spec": {}});
    let req = http::Request::post("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews")
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&empty).unwrap())
        .unwrap();
    let (code, reason, _) = api_error(client.request::<serde_json::Value>(req).await.unwrap_err());
    assert_eq!((code, reason.as_str()), (422, "Invalid"));
    let resources = client
        .list_api_group_resources("authorization.k8s.io/v1")
        .await
        .unwrap();
    let ssar = resources
        .resources
        .iter()
        .find(|r| r.name == "selfsubjectaccessreviews")
        .unwrap();
    assert_eq!(ssar.verbs, ["create"]);
    assert!(!ssar.namespaced);
    let err = fails(
        &env.kubectl("dev", &["get", "selfsubjectaccessreviews"])
            .await,
    );
    assert!(
        err.contains("MethodNotAllowed") || err.contains("does not allow"),
        "{err}"
    );
}
