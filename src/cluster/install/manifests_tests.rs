use super::*;
use crate::cluster::install::names::cluster_secret_name;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

const TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2VjcmV0LXNpZ25hdHVyZQ";

fn target(auth: TargetAuth) -> TargetCluster {
    TargetCluster {
        context: "dev".into(),
        server: "https://127.0.0.1:6443/clusters/dev".into(),
        ca_data: Some(b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n".to_vec()),
        server_name: None,
        insecure: false,
        auth,
    }
}

fn registration() -> Registration {
    Registration {
        name: "dev".into(),
        target: target(TargetAuth::Other),
        token: Sensitive::new(TOKEN.into()),
        namespaces: vec![],
        labels: [("env".to_string(), "dev".to_string())].into(),
        annotations: BTreeMap::new(),
    }
}

fn parsed(secret: &Secret) -> ClusterSecret {
    ClusterSecret::from_secret(&SecretData::from_k8s(secret)).unwrap()
}

#[test]
fn rbac_objects() {
    let cr = cluster_role();
    let rules = cr.rules.unwrap();
    assert_eq!(rules.len(), 2);
    assert_eq!(rules[0].api_groups, all());
    assert_eq!(rules[0].resources, all());
    assert_eq!(rules[1].non_resource_urls, all());
    assert_eq!(rules[1].verbs, ["*"]);
    let crb = cluster_role_binding("kube-system");
    assert_eq!(
        (crb.role_ref.kind.as_str(), crb.role_ref.name.as_str()),
        ("ClusterRole", MANAGER_ROLE)
    );
    let s = &crb.subjects.unwrap()[0];
    assert_eq!(
        (s.name.as_str(), s.namespace.as_deref()),
        (MANAGER_SERVICE_ACCOUNT, Some("kube-system"))
    );
    let r = role("apps");
    assert_eq!(r.metadata.namespace.as_deref(), Some("apps"));
    assert_eq!(
        r.rules.unwrap().len(),
        1,
        "a Role cannot grant non-resource URLs"
    );
    assert_eq!(role_binding("apps", "kube-system").role_ref.kind, "Role");
}

#[test]
fn token_secrets() {
    let s = token_secret("kube-system");
    assert_eq!(s.metadata.name.as_deref(), Some(LONG_LIVED_TOKEN_SECRET));
    assert_eq!(s.type_.as_deref(), Some(SA_TOKEN_TYPE));
    assert_eq!(
        s.metadata.annotations.as_ref().unwrap()[SA_NAME_ANNOTATION],
        MANAGER_SERVICE_ACCOUNT
    );
    let r = rotated_token_secret("kube-system", MANAGER_SERVICE_ACCOUNT);
    assert_eq!(
        (
            r.metadata.name.as_deref(),
            r.metadata.generate_name.as_deref()
        ),
        (None, Some(ROTATED_TOKEN_PREFIX))
    );
    assert!(is_token_secret_of(&r, MANAGER_SERVICE_ACCOUNT));
    assert!(!is_token_secret_of(&r, "other"));
    let argo = rotated_token_secret("kube-system", "argocd-manager");
    assert_eq!(
        argo.metadata.generate_name.as_deref(),
        Some("argocd-manager-token-")
    );
    assert!(is_token_secret_of(&argo, "argocd-manager"));
    assert_eq!(
        token_of(&s).map(|t| t.expose().clone()),
        None,
        "not filled yet"
    );
}

fn filled(name: &str, token: &str, created: i64) -> Secret {
    let mut s = token_secret("kube-system");
    s.metadata.name = Some(name.into());
    s.metadata.creation_timestamp = Some(Time(jiff::Timestamp::from_second(created).unwrap()));
    s.data = Some([("token".to_string(), ByteString(token.as_bytes().to_vec()))].into());
    s
}

#[test]
fn which_token_secret_is_reused_and_which_holds_a_token() {
    let rotated = filled("flotilla-manager-token-abcde", "t2", 20);
    let older = filled("flotilla-manager-token-zzzzz", "t1", 10);
    let long = filled(LONG_LIVED_TOKEN_SECRET, "t0", 5);
    let mut other = filled("robot-token", "t3", 30);
    other.metadata.annotations =
        Some([(SA_NAME_ANNOTATION.to_string(), "robot".to_string())].into());
    let name = |s: Option<&Secret>| s.and_then(|s| s.metadata.name.clone());
    assert_eq!(
        name(pick_token_secret(&[
            rotated.clone(),
            long.clone(),
            other.clone()
        ]))
        .as_deref(),
        Some(LONG_LIVED_TOKEN_SECRET)
    );
    let all = [older.clone(), rotated.clone(), other.clone()];
    assert_eq!(
        name(pick_token_secret(&all)).as_deref(),
        Some("flotilla-manager-token-abcde"),
        "the newest"
    );
    assert_eq!(pick_token_secret(&[other]).map(|_| ()), None);
    let t1 = Sensitive::new("t1".to_string());
    assert_eq!(
        secret_holding(&all, MANAGER_SERVICE_ACCOUNT, &t1, "x"),
        Some("flotilla-manager-token-zzzzz")
    );
    assert_eq!(
        secret_holding(
            &all,
            MANAGER_SERVICE_ACCOUNT,
            &t1,
            "flotilla-manager-token-zzzzz"
        ),
        None
    );
    assert_eq!(
        secret_holding(
            &all,
            MANAGER_SERVICE_ACCOUNT,
            &Sensitive::new("t3".into()),
            "x"
        ),
        None,
        "not flotilla-manager's"
    );
}

#[test]
fn hub_secret_with_a_token() {
    let r = registration();
    let name = cluster_secret_name(&r.target.server);
    let s = r.secret("flotilla", &name).unwrap();
    let labels = s.metadata.labels.as_ref().unwrap();
    assert_eq!(labels[FLOTILLA_SECRET_TYPE_LABEL], "cluster");
    assert_eq!(labels["env"], "dev");
    assert_eq!(
        s.metadata.annotations.as_ref().unwrap()[MANAGED_BY_ANNOTATION],
        MANAGED_BY_FLOTILLA
    );
    let c = parsed(&s);
    assert_eq!(
        (c.name.as_str(), c.server.as_str()),
        ("dev", "https://127.0.0.1:6443/clusters/dev")
    );
    assert_eq!(c.config.bearer_token.unwrap().expose(), TOKEN);
    assert_eq!(c.config.tls.ca_data, r.target.ca_data);
    assert!(c.namespaces.is_empty());
    assert!(!s.data.as_ref().unwrap().contains_key("namespaces"));
}

#[test]
fn hub_secret_with_a_client_certificate_and_namespaces() {
    let cert = b"-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n".to_vec();
    let key = b"-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n".to_vec();
    let mut r = registration();
    r.target = target(TargetAuth::ClientCertificate {
        cert: cert.clone(),
        key: Sensitive::new(key.clone()),
    });
    r.target.server_name = Some("api".into());
    r.namespaces = vec!["apps".into(), "tools".into()];
    let c = parsed(&r.secret("flotilla", "x").unwrap());
    assert_eq!(
        c.config.bearer_token, None,
        "a client certificate is used instead of the token"
    );
    assert_eq!(c.config.tls.cert_data, Some(cert));
    assert_eq!(c.config.tls.key_data.unwrap().expose(), &key);
    assert_eq!(c.config.tls.server_name.as_deref(), Some("api"));
    assert_eq!(c.namespaces, ["apps", "tools"]);
}

#[test]
fn an_invalid_server_is_refused_before_writing() {
    let mut r = registration();
    r.target.server = "k8s.example.com".into();
    let e = r.secret("flotilla", "x").unwrap_err();
    assert_eq!(
        e.to_string(),
        "Secret flotilla/x: server is not an absolute http(s) URL"
    );
}

#[test]
fn hub_secret_updates_only_what_differs() {
    let r = registration();
    let desired = r.secret("flotilla", "x").unwrap();
    let mut existing = desired.clone();
    existing.metadata.resource_version = Some("7".into());
    assert!(matches!(
        hub_secret_update(&existing, &desired),
        Update::Unchanged
    ));
    // Reformatted config JSON, extra keys, labels and annotations are no change.
    let data = existing.data.as_mut().unwrap();
    let pretty = serde_json::to_vec_pretty(&r.config()).unwrap();
    data.insert("config".into(), ByteString(pretty));
    data.insert("project".into(), ByteString(b"platform".to_vec()));
    existing
        .metadata
        .labels
        .as_mut()
        .unwrap()
        .insert(ARGOCD_SECRET_TYPE_LABEL.into(), "cluster".into());
    assert!(matches!(
        hub_secret_update(&existing, &desired),
        Update::Unchanged
    ));
    // A new token is.
    let mut r2 = registration();
    r2.token = Sensitive::new("other-token".into());
    let Update::Replace(updated) =
        hub_secret_update(&existing, &r2.secret("flotilla", "x").unwrap())
    else {
        panic!("a changed token must update");
    };
    assert_eq!(updated.metadata.resource_version.as_deref(), Some("7"));
    assert_eq!(updated.data.as_ref().unwrap()["project"].0, b"platform");
    assert_eq!(
        updated.metadata.labels.as_ref().unwrap()[ARGOCD_SECRET_TYPE_LABEL],
        "cluster"
    );
    assert_eq!(
        parsed(&updated).config.bearer_token.unwrap().expose(),
        "other-token"
    );
    // Namespaces dropped from the command line are dropped from the Secret.
    let mut with_ns = existing.clone();
    with_ns
        .data
        .as_mut()
        .unwrap()
        .insert("namespaces".into(), ByteString(b"apps".to_vec()));
    let Update::Replace(u) = hub_secret_update(&with_ns, &desired) else {
        panic!("namespaces must go")
    };
    assert!(!u.data.unwrap().contains_key("namespaces"));
}

#[test]
fn bearer_token_switch_keeps_the_rest_of_config() {
    let mut s = registration().secret("flotilla", "x").unwrap();
    let mut config = registration().config();
    config["proxyUrl"] = json!("");
    s.data
        .as_mut()
        .unwrap()
        .insert("config".into(), ByteString(config.to_string().into_bytes()));
    let new = with_bearer_token(&s, &Sensitive::new("new-token".into())).unwrap();
    let v: Value = serde_json::from_slice(&new.data.as_ref().unwrap()["config"].0).unwrap();
    assert_eq!(v["bearerToken"], "new-token");
    assert_eq!(v["proxyUrl"], "");
    assert_eq!(v["tlsClientConfig"], config["tlsClientConfig"]);
    s.data.as_mut().unwrap().insert(
        "config".into(),
        ByteString(format!("[\"{TOKEN}\"]").into_bytes()),
    );
    let e = with_bearer_token(&s, &Sensitive::new("n".into()))
        .unwrap_err()
        .to_string();
    assert_eq!(e, "Secret flotilla/x: config is not a JSON object");
}

#[test]
fn bindings_gain_our_subject_and_refuse_another_role() {
    let desired = cluster_role_binding("kube-system");
    assert!(matches!(
        cluster_role_binding_update(&desired, &desired),
        Ok(Update::Unchanged)
    ));
    // As the API server stores it: apiGroup "" on the ServiceAccount subject.
    let mut stored = desired.clone();
    stored.subjects.as_mut().unwrap()[0].api_group = Some(String::new());
    assert!(matches!(
        cluster_role_binding_update(&stored, &desired),
        Ok(Update::Unchanged)
    ));
    let mut other = desired.clone();
    other.subjects = Some(vec![Subject {
        kind: "User".into(),
        name: "jane".into(),
        ..Default::default()
    }]);
    let Ok(Update::Replace(u)) = cluster_role_binding_update(&other, &desired) else {
        panic!("our subject is missing")
    };
    assert_eq!(u.subjects.unwrap().len(), 2);
    let mut wrong = desired.clone();
    wrong.role_ref.name = "view".into();
    let e = cluster_role_binding_update(&wrong, &desired).err().unwrap();
    assert!(e.contains("binds ClusterRole \"view\""), "{e}");
    let mut narrow = cluster_role();
    narrow.rules.as_mut().unwrap().pop();
    assert!(matches!(
        cluster_role_update(&narrow, &cluster_role()),
        Update::Replace(_)
    ));
    assert!(matches!(
        cluster_role_update(&cluster_role(), &cluster_role()),
        Update::Unchanged
    ));
}

#[test]
fn managed_and_cluster_labels() {
    let s = registration().secret("flotilla", "x").unwrap();
    assert!(is_cli_managed(&s) && is_cluster_secret(&s));
    let mut argo = s.clone();
    argo.metadata.annotations =
        Some([("managed-by".to_string(), "argocd.argoproj.io".to_string())].into());
    argo.metadata.labels =
        Some([(ARGOCD_SECRET_TYPE_LABEL.to_string(), "cluster".to_string())].into());
    assert!(is_cli_managed(&argo) && is_cluster_secret(&argo));
    let mut plain = s;
    plain.metadata.annotations = None;
    plain.metadata.labels = Some(
        [(
            FLOTILLA_SECRET_TYPE_LABEL.to_string(),
            "repository".to_string(),
        )]
        .into(),
    );
    assert!(!is_cli_managed(&plain) && !is_cluster_secret(&plain));
}
