//! The HTTP transport of a kube client: HTTP/2 when the server offers it in the TLS handshake
//! (kube-apiserver does), as client-go uses it, HTTP/1.1 otherwise. Over HTTP/2 every request and
//! watch to one cluster shares one TLS connection, where kube's own transport (HTTP/1.1 only)
//! opens a connection per request in flight and keeps it idle for 90 s: at a hundred clusters
//! that is hundreds of sockets with their TLS and HTTP buffers.
//!
//! The rest is kube's stack, from kube's own parts ([`ConfigExt`]): base URI, authentication
//! (token, token file, client certificate), extra headers, and its retry of 429/503/504.

use std::time::Duration;

use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_rustls::{FixedServerNameResolver, HttpsConnectorBuilder};
use hyper_timeout::TimeoutConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use kube::client::retry::RetryPolicy;
use kube::client::{Body, ClientBuilder, ConfigExt, DynBody};
use tower::retry::RetryLayer;
use tower::util::BoxService;
use tower::{BoxError, ServiceBuilder, ServiceExt};

/// Sends an HTTP/2 ping after this long without a frame from the server, and gives the
/// connection up when the answer takes longer than [`PING_TIMEOUT`] (client-go's
/// ReadIdleTimeout and PingTimeout): a dead connection fails its requests and watches at once
/// instead of at their timeouts.
const PING_INTERVAL: Duration = Duration::from_secs(30);
const PING_TIMEOUT: Duration = Duration::from_secs(15);

/// The service under a kube client (kube's own `GenericService`).
pub type Transport = BoxService<http::Request<Body>, http::Response<Box<DynBody>>, BoxError>;

/// A kube client builder for `config`: TLS as the config says, HTTP/2 or HTTP/1.1 as the server
/// offers, the connect, read and write timeouts of the config. A config with an exec credential
/// plugin or a proxy keeps kube's own transport (it renews exec client certificates, and speaks
/// to proxies).
pub fn builder(config: &kube::Config) -> Result<ClientBuilder<Transport>, kube::Error> {
    if config.auth_info.exec.is_some() || config.proxy_url.is_some() {
        return ClientBuilder::try_from(config.clone());
    }
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    // As Go (client-go) does: small HTTP/2 frames go out at once, not after the peer's ACK.
    http.set_nodelay(true);
    let mut tls = HttpsConnectorBuilder::new()
        .with_tls_config(config.rustls_client_config()?)
        .https_or_http();
    if let Some(name) = &config.tls_server_name {
        let name = name
            .clone()
            .try_into()
            .map_err(kube::client::RustlsTlsError::InvalidServerName)
            .map_err(kube::Error::RustlsTls)?;
        tls = tls.with_server_name_resolver(FixedServerNameResolver::new(name));
    }
    let tls = tls.enable_all_versions().wrap_connector(http);
    let mut connector = TimeoutConnector::new(tls);
    connector.set_connect_timeout(config.connect_timeout);
    connector.set_read_timeout(config.read_timeout);
    connector.set_write_timeout(config.write_timeout);
    let client: Client<_, Body> = Client::builder(TokioExecutor::new())
        .timer(TokioTimer::new())
        .pool_timer(TokioTimer::new())
        .http2_keep_alive_interval(PING_INTERVAL)
        .http2_keep_alive_timeout(PING_TIMEOUT)
        .http2_keep_alive_while_idle(true)
        .build(connector);
    let service = ServiceBuilder::new()
        .layer(config.base_uri_layer())
        .option_layer(
            config
                .default_retry
                .then(|| RetryLayer::new(RetryPolicy::server_retry())),
        )
        .option_layer(config.auth_layer()?)
        .layer(config.extra_headers_layer()?)
        .map_err(BoxError::from)
        .service(client)
        .map_response(|response: http::Response<Incoming>| {
            response.map(|body| Box::new(body.map_err(BoxError::from)) as Box<DynBody>)
        });
    Ok(ClientBuilder::new(
        BoxService::new(service),
        config.default_namespace.clone(),
    ))
}
