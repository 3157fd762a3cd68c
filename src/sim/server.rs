//! Listening: one main port for every virtual cluster (and the admin API), plus one port per
//! virtual cluster so that a cluster can be made unreachable on its own (down, blackhole).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use hyper::body::Incoming;
use hyper::server::conn::{http1, http2};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use super::admin;
use super::cluster::{ClusterSettings, VirtualCluster};
use super::error::ApiError;
use super::faults::{FaultConfig, Mode};
use super::handler::{self, Caller};
use super::response::{self, Body};
use super::tls::{self, Authority};

/// A virtual cluster and its listener.
pub struct Entry {
    pub cluster: Arc<VirtualCluster>,
    pub port: u16,
    pub tasks: Mutex<Vec<JoinHandle<()>>>,
    /// The cluster's own port; `None` while it is down (closed).
    pub listener: Mutex<Option<TcpListener>>,
    /// Connections accepted on the cluster's own port.
    pub connections: AtomicU64,
}

impl Entry {
    pub fn new(cluster: Arc<VirtualCluster>, listener: TcpListener, port: u16) -> Self {
        Self {
            cluster,
            port,
            tasks: Mutex::new(Vec::new()),
            listener: Mutex::new(Some(listener)),
            connections: AtomicU64::new(0),
        }
    }

    /// Sets the cluster's faults. The port is closed before this returns when the cluster goes
    /// down, and reopened (if the port can be bound again at once) when it comes back, so that
    /// the next connection sees the new mode.
    pub fn set_faults(&self, faults: FaultConfig) {
        let mut listener = self.listener.lock().unwrap_or_else(|e| e.into_inner());
        if faults.mode == Mode::Down {
            // Dropping the listener closes the port.
            *listener = None;
        } else if listener.is_none() {
            *listener = rebind(self.port);
        }
        // Under the lock, so the accept loop never reopens a port being closed.
        self.cluster.faults.set(faults);
    }
}

/// Binds the cluster's port again, synchronously (None outside a Tokio runtime or when the
/// port is busy; the accept loop then keeps trying).
fn rebind(port: u16) -> Option<TcpListener> {
    tokio::runtime::Handle::try_current().ok()?;
    let l = std::net::TcpListener::bind(("127.0.0.1", port)).ok()?;
    l.set_nonblocking(true).ok()?;
    TcpListener::from_std(l).ok()
}

/// Accepts on the cluster's port if it is open; pending while it is closed.
fn accept(
    entry: &Entry,
) -> impl std::future::Future<Output = std::io::Result<(TcpStream, SocketAddr)>> + '_ {
    std::future::poll_fn(move |cx| {
        match entry
            .listener
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            Some(l) => l.poll_accept(cx),
            None => std::task::Poll::Pending,
        }
    })
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
        self.clusters
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
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

/// Accepts on a cluster's own port (closed while the cluster is down, see
/// [`Entry::set_faults`]) and holds connections unanswered while it is blackholed.
pub async fn serve_cluster(shared: Arc<Shared>, entry: Arc<Entry>) {
    let mut faults = entry.cluster.faults.watch();
    loop {
        let closed = entry
            .listener
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_none();
        if closed && faults.borrow().mode != Mode::Down {
            // Back from down, but the port couldn't be bound at once: keep trying.
            match TcpListener::bind(("127.0.0.1", entry.port)).await {
                Ok(l) => {
                    let mut listener = entry.listener.lock().unwrap_or_else(|e| e.into_inner());
                    if listener.is_none() && entry.cluster.faults.mode() != Mode::Down {
                        *listener = Some(l);
                    }
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
            continue;
        }
        tokio::select! {
            acc = accept(&entry) => {
                let Ok((stream, _)) = acc else { continue };
                entry.connections.fetch_add(1, Ordering::Relaxed);
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
                // Down set on the cluster's faults directly rather than through the entry.
                if faults.borrow().mode == Mode::Down {
                    entry.listener.lock().unwrap_or_else(|e| e.into_inner()).take();
                }
            }
        }
    }
}

async fn connection(shared: Arc<Shared>, stream: TcpStream, own: Option<Arc<Entry>>) {
    let _ = stream.set_nodelay(true);
    let server_address = stream
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let Ok(tls) = shared.tls.accept(stream).await else {
        return;
    };
    let cert = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .and_then(tls::cert_identity);
    let caller = Caller {
        cert,
        server_address,
    };
    // HTTP/2 when the client offers it (kubectl and Flotilla do), as kube-apiserver serves.
    let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
    // A request that hits a blackholed cluster ends its connection, whichever the protocol.
    let dropped = Arc::new(Notify::new());
    let on_dropped = dropped.clone();
    let svc = service_fn(move |req: Request<Incoming>| {
        let shared = shared.clone();
        let caller = caller.clone();
        let on_dropped = on_dropped.clone();
        let own = own.clone();
        async move {
            let answer = route(shared, req, caller, own).await;
            if answer.is_err() {
                on_dropped.notify_one();
            }
            answer
        }
    });
    let io = TokioIo::new(tls);
    if h2 {
        let conn = http2::Builder::new(TokioExecutor::new())
            // kube-apiserver's --http2-max-streams-per-connection default.
            .max_concurrent_streams(1000)
            .serve_connection(io, svc);
        tokio::select! {
            _ = conn => {}
            _ = dropped.notified() => {}
        }
    } else {
        let _ = http1::Builder::new()
            .keep_alive(true)
            .serve_connection(io, svc)
            .await;
    }
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

/// `/clusters/<name>/...` reaches that virtual cluster on any port; on a cluster's own port
/// every other path is that cluster's, as on a kube-apiserver at the root of its URL (kubectl
/// `get --raw /readyz` ignores the kubeconfig's path prefix).
async fn route(
    shared: Arc<Shared>,
    req: Request<Incoming>,
    caller: Caller,
    own: Option<Arc<Entry>>,
) -> Result<Response<Body>, Dropped> {
    let path = req.uri().path().to_string();
    let (entry, below) = match (path.strip_prefix("/clusters/"), own) {
        (Some(rest), _) => {
            let (name, below) = match rest.find('/') {
                Some(i) => (&rest[..i], rest[i..].to_string()),
                None => (rest, "/".to_string()),
            };
            let Some(entry) = shared.cluster(name) else {
                return Ok(response::error(&ApiError::path_not_found()));
            };
            (entry, below)
        }
        (None, Some(own)) => (own, path),
        (None, None) => {
            if let Some(rest) = path.strip_prefix("/admin") {
                return Ok(admin::handle(&shared, req, rest.to_string()).await);
            }
            return Ok(response::error(&ApiError::path_not_found()));
        }
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
