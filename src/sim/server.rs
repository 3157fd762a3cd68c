//! Listening: one main port for every virtual cluster (and the admin API), plus one port per
//! virtual cluster so that a cluster can be made unreachable on its own (down, blackhole).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use super::admin;
use super::cluster::{ClusterSettings, VirtualCluster};
use super::faults::Mode;
use super::handler::{self, Caller};
use super::response::{self, Body};
use super::tls::{self, Authority};
use super::error::ApiError;

/// A virtual cluster and its listener.
pub struct Entry {
    pub cluster: Arc<VirtualCluster>,
    pub port: u16,
    pub tasks: Mutex<Vec<JoinHandle<()>>>,
}

/// State shared by every connection.
pub struct Shared {
    pub clusters: RwLock<BTreeMap<String, Arc<Entry>>>,
    pub authority: Authority,
    pub tls: TlsAcceptor,
    pub admin_token: String,
    pub settings: ClusterSettings,
}

impl Shared {
    pub fn cluster(&self, name: &str) -> Option<Arc<Entry>> {
        self.clusters.read().unwrap_or_else(|e| e.into_inner()).get(name).cloned()
    }
}

/// Accepts on the main port until the task is aborted.
pub async fn serve_main(shared: Arc<Shared>, listener: TcpListener) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let shared = shared.clone();
        tokio::spawn(async move { connection(shared, stream, None).await });
    }
}

/// Accepts on a cluster's own port; closes it while the cluster is down and holds
/// connections unanswered while it is blackholed.
pub async fn serve_cluster(shared: Arc<Shared>, entry: Arc<Entry>, first: TcpListener) {
    let mut faults = entry.cluster.faults.watch();
    let mut listener = Some(first);
    loop {
        if faults.borrow().mode == Mode::Down {
            listener = None;
            if faults.changed().await.is_err() {
                return;
            }
            continue;
        }
        let l = match listener.take() {
            Some(l) => l,
            None => match TcpListener::bind(("127.0.0.1", entry.port)).await {
                Ok(l) => l,
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        loop {
            tokio::select! {
                acc = l.accept() => {
                    let Ok((stream, _)) = acc else { continue };
                    let (shared, entry) = (shared.clone(), entry.clone());
                    tokio::spawn(async move {
                        let mut watch = entry.cluster.faults.watch();
                        if watch.borrow().mode == Mode::Blackhole {
                            // Never answer; let go once the blackhole ends.
                            let _ = watch.wait_for(|f| f.mode != Mode::Blackhole).await;
                            drop(stream);
                            return;
                        }
                        tokio::select! {
                            _ = connection(shared, stream, Some(entry.clone())) => {}
                            _ = watch.wait_for(|f| f.mode == Mode::Down) => {}
                        }
                    });
                }
                changed = faults.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    if faults.borrow().mode == Mode::Down {
                        break;
                    }
                }
            }
        }
        // Dropping `l` closes the port.
    }
}

async fn connection(shared: Arc<Shared>, stream: TcpStream, _own: Option<Arc<Entry>>) {
    let _ = stream.set_nodelay(true);
    let server_address = stream.local_addr().map(|a| a.to_string()).unwrap_or_default();
    let Ok(tls) = shared.tls.accept(stream).await else { return };
    let cert = tls.get_ref().1.peer_certificates().and_then(|c| c.first()).and_then(tls::cert_identity);
    let caller = Caller { cert, server_address };
    let svc = service_fn(move |req: Request<Incoming>| {
        let shared = shared.clone();
        let caller = caller.clone();
        async move { route(shared, req, caller).await }
    });
    let _ = http1::Builder::new().keep_alive(true).serve_connection(TokioIo::new(tls), svc).await;
}

/// The connection is closed (never answered) when a request hits a blackholed cluster.
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by fault injection")
    }
}

impl std::error::Error for Dropped {}

async fn route(shared: Arc<Shared>, req: Request<Incoming>, caller: Caller) -> Result<Response<Body>, Dropped> {
    let path = req.uri().path().to_string();
    if let Some(rest) = path.strip_prefix("/admin") {
        return Ok(admin::handle(&shared, req, rest.to_string()).await);
    }
    let Some(rest) = path.strip_prefix("/clusters/") else {
        return Ok(response::error(&ApiError::path_not_found()));
    };
    let (name, below) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].to_string()),
        None => (rest, "/".to_string()),
    };
    let Some(entry) = shared.cluster(name) else {
        return Ok(response::error(&ApiError::path_not_found()));
    };
    let cluster = entry.cluster.clone();
    if cluster.faults.mode() == Mode::Down {
        return Err(Dropped);
    }
    match handler::handle(cluster.clone(), req, below, caller).await {
        Some(r) => Ok(r),
        None => {
            let mut watch = cluster.faults.watch();
            let _ = watch.wait_for(|f| f.mode == Mode::Normal).await;
            Err(Dropped)
        }
    }
}

/// Binds 127.0.0.1 on `port` (0: any free port).
pub async fn bind(port: u16) -> std::io::Result<(TcpListener, SocketAddr)> {
    let l = TcpListener::bind(("127.0.0.1", port)).await?;
    let a = l.local_addr()?;
    Ok((l, a))
}
