//! One authenticated kube client per registered cluster, built from its Secret: bearer token,
//! basic auth or client certificate; CA data, serverName and insecure as the Secret says; rustls;
//! connect and response timeouts and a client-side rate limit.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use kube::config::{
    AuthInfo, Cluster, Context, KubeConfigOptions, Kubeconfig, NamedAuthInfo, NamedCluster,
    NamedContext,
};

use super::bearer::BearerToken;
use super::in_flight::InFlightLayer;
use super::rate_limit::{LimitLayer, Limits};
use crate::api::{ClusterSecret, IN_CLUSTER_SERVER};

/// How clients talk to their clusters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClientOptions {
    /// Requests per second, sustained (client-go's QPS). 0 disables the limit.
    pub qps: f64,
    /// Requests allowed at once above the rate.
    pub burst: u32,
    pub connect_timeout: Duration,
    /// Time to the response headers of one request (a watch's body may stream far longer).
    pub request_timeout: Duration,
    /// Requests in flight at once, watches aside. 0: no cap.
    pub max_in_flight: usize,
}

impl Default for ClientOptions {
    /// Argo CD's 50 QPS / 100 burst; 10 s to connect, 30 s to answer; 4 requests in flight.
    fn default() -> Self {
        Self {
            qps: 50.0,
            burst: 100,
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            max_in_flight: 4,
        }
    }
}

/// A client could not be built from a cluster Secret. No variant carries a credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    #[error(
        "cluster Secret {secret}: config.{key} is not supported by flotilla; use a bearer token, basic auth or a client certificate"
    )]
    UnsupportedAuth { secret: String, key: String },
    #[error("cluster Secret {secret}: config.proxyUrl is not supported by flotilla")]
    Proxy { secret: String },
    #[error(
        "cluster Secret {secret}: config.tlsClientConfig.certData and keyData must be given together"
    )]
    HalfClientCert { secret: String },
    #[error("cluster Secret {secret}: {what}")]
    Config { secret: String, what: String },
}

/// Whether the cluster of `secret` is reached with the hub's own client: a Secret for the
/// in-cluster address (`https://kubernetes.default.svc`) with no username, password or bearer
/// token. Users create one to label the hub's cluster for selectors; as in Argo CD
/// (`Cluster.RawRestConfig`), it then stands for the hub's own configuration (its kubeconfig, or
/// its pod's ServiceAccount), not for an anonymous client of that address.
pub fn uses_hub_client(secret: &ClusterSecret) -> bool {
    let c = &secret.config;
    let empty = |v: Option<&str>| v.is_none_or(str::is_empty);
    secret.server == IN_CLUSTER_SERVER
        && empty(c.username.as_deref())
        && empty(c.password.as_ref().map(|p| p.expose().as_str()))
        && empty(c.bearer_token.as_ref().map(|t| t.expose().as_str()))
}

/// A kube `Config` for the cluster of `secret`, with the timeouts of `options` (no rate limit:
/// that is a layer, see [`build`]).
pub async fn config_for(
    secret: &ClusterSecret,
    options: &ClientOptions,
) -> Result<kube::Config, ClientError> {
    let name = display_name(secret).to_string();
    let c = &secret.config;
    if let Some(key) = &c.unsupported_auth {
        return Err(ClientError::UnsupportedAuth {
            secret: name,
            key: key.clone(),
        });
    }
    if c.proxy_url.as_deref().is_some_and(|p| !p.is_empty()) {
        return Err(ClientError::Proxy { secret: name });
    }
    let tls = &c.tls;
    if tls.cert_data.is_some() != tls.key_data.is_some() {
        return Err(ClientError::HalfClientCert { secret: name });
    }
    let cluster = Cluster {
        server: Some(secret.server.clone()),
        insecure_skip_tls_verify: Some(tls.insecure),
        certificate_authority_data: tls.ca_data.as_ref().map(|d| STANDARD.encode(d)),
        tls_server_name: tls.server_name.clone(),
        disable_compression: Some(c.disable_compression),
        ..Default::default()
    };
    let auth = AuthInfo {
        username: c.username.clone(),
        password: c.password.as_ref().map(|p| p.expose().clone().into()),
        token: c.bearer_token.as_ref().map(|t| t.expose().clone().into()),
        client_certificate_data: tls.cert_data.as_ref().map(|d| STANDARD.encode(d)),
        client_key_data: tls
            .key_data
            .as_ref()
            .map(|k| STANDARD.encode(k.expose()).into()),
        ..Default::default()
    };
    let kubeconfig = Kubeconfig {
        clusters: vec![NamedCluster {
            name: "c".into(),
            cluster: Some(cluster),
            other: Default::default(),
        }],
        auth_infos: vec![NamedAuthInfo {
            name: "u".into(),
            auth_info: Some(auth),
            other: Default::default(),
        }],
        contexts: vec![NamedContext {
            name: "c".into(),
            context: Some(Context {
                cluster: "c".into(),
                user: Some("u".into()),
                ..Default::default()
            }),
            other: Default::default(),
        }],
        current_context: Some("c".into()),
        ..Default::default()
    };
    let mut config =
        kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            // kube's kubeconfig errors name files, URLs and PEM problems, never the token or key.
            .map_err(|e| ClientError::Config {
                secret: name.clone(),
                what: e.to_string(),
            })?;
    apply_timeouts(&mut config, options);
    Ok(config)
}

/// Sets the connect timeout; reads may take as long as a watch does (kube's default 295 s),
/// the response timeout is the layer's.
pub fn apply_timeouts(config: &mut kube::Config, options: &ClientOptions) {
    config.connect_timeout = Some(options.connect_timeout);
    config.read_timeout = Some(Duration::from_secs(295));
}

/// A client for `config` with the rate limit, response timeout and in-flight cap of `options`.
pub fn build(
    config: kube::Config,
    options: &ClientOptions,
    secret: &str,
) -> Result<kube::Client, ClientError> {
    build_with(config, options, secret, None)
}

/// [`build`], authenticating with `bearer` when given (`config` then carries no token).
fn build_with(
    config: kube::Config,
    options: &ClientOptions,
    secret: &str,
    bearer: Option<&BearerToken>,
) -> Result<kube::Client, ClientError> {
    let layer = LimitLayer::new(Limits {
        qps: options.qps,
        burst: options.burst,
        timeout: options.request_timeout,
    });
    let builder = super::transport::builder(&config).map_err(|e| ClientError::Config {
        secret: secret.to_string(),
        what: e.to_string(),
    })?;
    let cap = InFlightLayer::new(options.max_in_flight);
    let builder = builder.with_layer(&tower::util::option_layer(bearer.map(BearerToken::layer)));
    // Outermost first: a request waits for its rate token, then for an in-flight permit.
    Ok(builder.with_layer(&cap).with_layer(&layer).build())
}

/// The client the registry keeps for a cluster: [`client_for`], except that a bearer token goes
/// through a [`BearerToken`] cell, returned with it, so that a rotated token can replace it in
/// place ([`crate::cluster::Registry::swap_token`]).
pub async fn registered_client(
    secret: &ClusterSecret,
    options: &ClientOptions,
) -> Result<(kube::Client, Option<BearerToken>), ClientError> {
    let token = secret
        .config
        .bearer_token
        .clone()
        .filter(|t| !t.expose().is_empty());
    let Some(token) = token else {
        return client_for(secret, options).await.map(|c| (c, None));
    };
    let mut without = secret.clone();
    without.config.bearer_token = None;
    let config = config_for(&without, options).await?;
    let cell = BearerToken::new(token);
    let client = build_with(config, options, display_name(secret), Some(&cell))?;
    Ok((client, Some(cell)))
}

/// How errors and metrics name the cluster of `secret`: its Secret's name, else its name.
fn display_name(secret: &ClusterSecret) -> &str {
    if secret.secret_name.is_empty() {
        &secret.name
    } else {
        &secret.secret_name
    }
}

/// [`config_for`] then [`build`].
pub async fn client_for(
    secret: &ClusterSecret,
    options: &ClientOptions,
) -> Result<kube::Client, ClientError> {
    let config = config_for(secret, options).await?;
    build(config, options, display_name(secret))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{ClusterConfig, Sensitive, TlsClientConfig};

    fn secret(config: ClusterConfig) -> ClusterSecret {
        let mut s = ClusterSecret::in_cluster();
        s.secret_name = "flotilla/dev".into();
        s.name = "dev".into();
        s.server = "https://127.0.0.1:6443/clusters/dev".into();
        s.config = config;
        s
    }

    #[tokio::test]
    async fn token_ca_and_server_name_reach_the_config() {
        let ca = rcgen::generate_simple_self_signed(vec!["x".into()])
            .unwrap()
            .cert
            .pem();
        let cfg = ClusterConfig {
            bearer_token: Some(Sensitive::new("t0k3n".into())),
            tls: TlsClientConfig {
                server_name: Some("api.dev".into()),
                ca_data: Some(ca.into_bytes()),
                ..Default::default()
            },
            ..Default::default()
        };
        let config = config_for(&secret(cfg), &ClientOptions::default())
            .await
            .unwrap();
        assert_eq!(
            config.cluster_url.to_string(),
            "https://127.0.0.1:6443/clusters/dev"
        );
        assert_eq!(config.tls_server_name.as_deref(), Some("api.dev"));
        assert_eq!(config.root_cert.as_ref().map(Vec::len), Some(1));
        assert!(!config.accept_invalid_certs);
        assert_eq!(config.connect_timeout, Some(Duration::from_secs(10)));
        assert!(!format!("{:?}", config.auth_info).contains("t0k3n"));
    }

    #[test]
    fn only_a_credential_less_in_cluster_secret_uses_the_hubs_client() {
        let mut s = secret(ClusterConfig::default());
        assert!(!uses_hub_client(&s), "another server");
        s.server = IN_CLUSTER_SERVER.into();
        assert!(uses_hub_client(&s));
        s.config.tls.insecure = true;
        assert!(uses_hub_client(&s), "TLS settings are not credentials");
        s.config.bearer_token = Some(Sensitive::new(String::new()));
        assert!(uses_hub_client(&s), "an empty token is none");
        s.config.bearer_token = Some(Sensitive::new("t".into()));
        assert!(!uses_hub_client(&s));
        s.config.bearer_token = None;
        s.config.username = Some("admin".into());
        assert!(!uses_hub_client(&s));
    }

    #[tokio::test]
    async fn unsupported_and_inconsistent_settings_are_errors_naming_the_secret() {
        let aws = ClusterConfig {
            unsupported_auth: Some("awsAuthConfig".into()),
            ..Default::default()
        };
        let e = config_for(&secret(aws), &ClientOptions::default())
            .await
            .unwrap_err();
        assert!(
            e.to_string().contains("flotilla/dev") && e.to_string().contains("awsAuthConfig"),
            "{e}"
        );
        let half = ClusterConfig {
            tls: TlsClientConfig {
                cert_data: Some(b"x".to_vec()),
                ..Default::default()
            },
            ..Default::default()
        };
        assert!(matches!(
            config_for(&secret(half), &ClientOptions::default()).await,
            Err(ClientError::HalfClientCert { .. })
        ));
        let bad_ca = ClusterConfig {
            password: Some(Sensitive::new("hunter2".into())),
            username: Some("admin".into()),
            tls: TlsClientConfig {
                ca_data: Some(
                    b"-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n"
                        .to_vec(),
                ),
                ..Default::default()
            },
            ..Default::default()
        };
        let e = config_for(&secret(bad_ca), &ClientOptions::default())
            .await
            .unwrap_err();
        assert!(e.to_string().contains("flotilla/dev"), "{e}");
        assert!(!e.to_string().contains("hunter2"));
    }
}
