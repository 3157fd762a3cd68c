//! The simulator as a library: start it in-process, reach its virtual clusters, inject faults,
//! read request counters, write kubeconfigs.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use super::cluster::{ClusterSettings, VirtualCluster};
use super::controller;
use super::faults::{FaultConfig, RequestCount};
use super::kubeconfig::{self, KubeconfigEntry};
use super::server::{self, Entry, Shared};
use super::tls::{Authority, ClientCert, TlsError};

/// Starting the simulator failed.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("TLS setup: {0}")]
    Tls(#[from] TlsError),
    #[error("binding 127.0.0.1:{port}: {source}")]
    Bind { port: u16, source: std::io::Error },
    #[error("invalid virtual cluster name {0:?}: must be a DNS label")]
    BadName(String),
    #[error("virtual cluster {0:?} already exists")]
    Exists(String),
    #[error("writing {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// What to start.
#[derive(Debug, Clone, Default)]
pub struct SimConfig {
    pub clusters: Vec<String>,
    /// The main port (0: a free one).
    pub port: u16,
    pub settings: ClusterSettings,
}

/// A running simulator. Dropping it stops it.
pub struct Simulator {
    shared: Arc<Shared>,
    addr: SocketAddr,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Simulator {
    /// Starts serving on 127.0.0.1 (needs a Tokio runtime).
    pub async fn start(config: SimConfig) -> Result<Simulator, SimError> {
        let authority = Authority::new()?;
        let tls = TlsAcceptor::from(authority.server_config()?);
        let shared = Arc::new(Shared {
            clusters: RwLock::new(BTreeMap::new()),
            authority,
            tls,
            admin_token: super::object::random_token(32),
            settings: config.settings.clone(),
        });
        let (listener, addr) =
            server::bind(config.port)
                .await
                .map_err(|source| SimError::Bind {
                    port: config.port,
                    source,
                })?;
        let main = tokio::spawn(server::serve_main(shared.clone(), listener));
        let sim = Simulator {
            shared,
            addr,
            tasks: Mutex::new(vec![main]),
        };
        for name in &config.clusters {
            sim.add_cluster(name).await?;
        }
        Ok(sim)
    }

    /// Adds a virtual cluster with its own port, store and admin token.
    pub async fn add_cluster(&self, name: &str) -> Result<ClusterHandle, SimError> {
        if !super::validation::is_dns1123_label(name) {
            return Err(SimError::BadName(name.to_string()));
        }
        if self.shared.cluster(name).is_some() {
            return Err(SimError::Exists(name.to_string()));
        }
        let cluster = Arc::new(VirtualCluster::new(
            name,
            self.shared.settings.clone(),
            self.shared.authority.ca_pem().to_string(),
        ));
        controller::bootstrap(&cluster);
        let (listener, addr) = server::bind(0)
            .await
            .map_err(|source| SimError::Bind { port: 0, source })?;
        let entry = Arc::new(Entry::new(cluster.clone(), listener, addr.port()));
        let listen = tokio::spawn(server::serve_cluster(self.shared.clone(), entry.clone()));
        let control = controller::spawn(cluster);
        entry
            .tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend([listen, control]);
        self.shared
            .clusters
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_string(), entry.clone());
        Ok(self.handle(&entry))
    }

    fn handle(&self, entry: &Arc<Entry>) -> ClusterHandle {
        ClusterHandle {
            server: format!(
                "https://127.0.0.1:{}/clusters/{}",
                entry.port, entry.cluster.name
            ),
            shared_server: format!("https://{}/clusters/{}", self.addr, entry.cluster.name),
            entry: entry.clone(),
            shared: self.shared.clone(),
        }
    }

    /// `https://127.0.0.1:PORT`: the main port, serving every cluster at `/clusters/<name>` and the admin API at `/admin`.
    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The bearer token of the admin API.
    pub fn admin_token(&self) -> &str {
        &self.shared.admin_token
    }

    /// The CA that signed the serving certificate, PEM.
    pub fn ca_pem(&self) -> &str {
        self.shared.authority.ca_pem()
    }

    pub fn cluster(&self, name: &str) -> Option<ClusterHandle> {
        self.shared.cluster(name).map(|e| self.handle(&e))
    }

    pub fn clusters(&self) -> Vec<ClusterHandle> {
        let entries: Vec<Arc<Entry>> = self
            .shared
            .clusters
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect();
        entries.iter().map(|e| self.handle(e)).collect()
    }

    /// A kubeconfig with a context per cluster (the first one current).
    pub fn kubeconfig(&self) -> String {
        let handles = self.clusters();
        let entries: Vec<KubeconfigEntry<'_>> = handles.iter().map(ClusterHandle::entry).collect();
        kubeconfig::render(&entries)
    }

    /// Writes `<name>.yaml` per cluster and `all.yaml` with every context; returns the paths.
    pub fn write_kubeconfigs(&self, dir: &Path) -> Result<Vec<PathBuf>, SimError> {
        let write = |path: PathBuf, text: String| -> Result<PathBuf, SimError> {
            write_private(&path, &text).map_err(|source| SimError::Write {
                path: path.clone(),
                source,
            })?;
            Ok(path)
        };
        std::fs::create_dir_all(dir).map_err(|source| SimError::Write {
            path: dir.to_path_buf(),
            source,
        })?;
        let mut out = Vec::new();
        for h in self.clusters() {
            out.push(write(
                dir.join(format!("{}.yaml", h.name())),
                h.kubeconfig(),
            )?);
        }
        out.push(write(dir.join("all.yaml"), self.kubeconfig())?);
        Ok(out)
    }

    /// Writes the admin API's URL and token as JSON (`{"url": ..., "token": ...}`), readable by
    /// the owner only, like the kubeconfigs.
    pub fn write_admin_file(&self, path: &Path) -> Result<(), SimError> {
        let doc = serde_json::json!({ "url": format!("{}/admin", self.url()), "token": self.admin_token() });
        let text = serde_json::to_string_pretty(&doc).unwrap_or_default();
        write_private(path, &text).map_err(|source| SimError::Write {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Stops listening and all cluster tasks.
    pub fn shutdown(&self) {
        for t in self
            .tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
        {
            t.abort();
        }
        for e in self
            .shared
            .clusters
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
        {
            for t in e.tasks.lock().unwrap_or_else(|e| e.into_inner()).drain(..) {
                t.abort();
            }
            // Close the cluster's port now, even while handles keep the entry alive.
            e.listener.lock().unwrap_or_else(|e| e.into_inner()).take();
        }
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut file = opts.open(path)?;
    // `mode` applies only to a new file: an older one with wider permissions is narrowed.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    file.write_all(text.as_bytes())
}

/// One virtual cluster, as tests see it.
#[derive(Clone)]
pub struct ClusterHandle {
    entry: Arc<Entry>,
    shared: Arc<Shared>,
    server: String,
    shared_server: String,
}

impl std::fmt::Debug for ClusterHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterHandle")
            .field("name", &self.entry.cluster.name)
            .field("server", &self.server)
            .finish()
    }
}

impl ClusterHandle {
    pub fn name(&self) -> &str {
        &self.entry.cluster.name
    }

    /// `https://127.0.0.1:PORT/clusters/<name>` on the cluster's own port.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// The same cluster through the main port.
    pub fn shared_server(&self) -> &str {
        &self.shared_server
    }

    /// The admin bearer token (group system:masters).
    pub fn token(&self) -> &str {
        self.entry.cluster.admin_token()
    }

    pub fn ca_pem(&self) -> &str {
        self.shared.authority.ca_pem()
    }

    fn entry(&self) -> KubeconfigEntry<'_> {
        KubeconfigEntry {
            name: self.name(),
            server: &self.server,
            ca_pem: self.ca_pem(),
            token: self.token(),
        }
    }

    /// A kubeconfig whose only context is this cluster.
    pub fn kubeconfig(&self) -> String {
        kubeconfig::render(&[self.entry()])
    }

    /// Takes effect before it returns: a cluster set down refuses the next connection, one set
    /// back to normal accepts it.
    pub fn set_faults(&self, faults: FaultConfig) {
        self.entry.set_faults(faults);
    }

    pub fn faults(&self) -> FaultConfig {
        self.entry.cluster.faults.get()
    }

    /// Back to normal.
    pub fn clear_faults(&self) {
        self.set_faults(FaultConfig::default());
    }

    pub fn requests(&self) -> Vec<RequestCount> {
        self.entry.cluster.counters.snapshot()
    }

    /// Requests of `verb` on `resource` (`configmaps`, `deployments.apps`; "*" for any).
    pub fn request_count(&self, verb: &str, resource: &str) -> u64 {
        self.entry.cluster.counters.count(verb, resource)
    }

    /// TCP connections accepted on the cluster's own port ([`Self::server`]) since it started.
    pub fn connections(&self) -> u64 {
        self.entry
            .connections
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn reset_requests(&self) {
        self.entry.cluster.counters.reset();
    }

    /// A client certificate for `user` (in `group`) that this cluster accepts.
    pub fn client_cert(&self, user: &str, group: Option<&str>) -> Result<ClientCert, TlsError> {
        self.shared.authority.client_cert(user, group)
    }

    /// Number of stored objects.
    pub fn object_count(&self) -> usize {
        self.entry.cluster.store.len()
    }

    /// The cluster itself, for in-process inspection.
    pub fn cluster(&self) -> &Arc<VirtualCluster> {
        &self.entry.cluster
    }
}
