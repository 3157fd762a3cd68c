//! Simulated clusters for integration tests: an in-process simulator, kube clients for its
//! virtual clusters, and the real `kubectl` pointed at them.

use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;

use flotilla::sim::{ClusterHandle, ClusterSettings, SimConfig, Simulator};
use kube::config::{KubeConfigOptions, Kubeconfig};
use tempfile::TempDir;

/// A running simulator and a scratch directory with its kubeconfigs.
pub struct SimEnv {
    pub sim: Simulator,
    pub dir: TempDir,
}

/// Settings for tests: workloads get ready fast, bookmarks come often.
pub fn test_settings() -> ClusterSettings {
    let mut s = ClusterSettings::default();
    s.workload.ready_after = Duration::from_millis(300);
    s.bookmark_interval = Duration::from_millis(500);
    s
}

pub async fn start(clusters: &[&str]) -> SimEnv {
    start_with(clusters, test_settings()).await
}

pub async fn start_with(clusters: &[&str], settings: ClusterSettings) -> SimEnv {
    let sim = Simulator::start(SimConfig {
        clusters: clusters.iter().map(|c| c.to_string()).collect(),
        port: 0,
        settings,
    })
    .await
    .expect("simulator starts");
    let dir = tempfile::tempdir().unwrap();
    sim.write_kubeconfigs(dir.path()).unwrap();
    SimEnv { sim, dir }
}

impl SimEnv {
    pub fn handle(&self, name: &str) -> ClusterHandle {
        self.sim.cluster(name).expect("cluster exists")
    }

    pub fn kubeconfig_path(&self, name: &str) -> PathBuf {
        self.dir.path().join(format!("{name}.yaml"))
    }

    /// An admin kube client for a virtual cluster.
    pub async fn client(&self, name: &str) -> kube::Client {
        client_for(&self.handle(name).kubeconfig()).await
    }

    /// An admin kube client without kube-rs's automatic retries of 429, 503 and 504, to see
    /// those answers.
    pub async fn client_without_retry(&self, name: &str) -> kube::Client {
        let kc = Kubeconfig::from_yaml(&self.handle(name).kubeconfig()).unwrap();
        let mut config = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
            .await
            .unwrap();
        config.default_retry = false;
        kube::Client::try_from(config).unwrap()
    }

    /// Runs the real kubectl against a virtual cluster, with its own discovery cache.
    pub async fn kubectl(&self, name: &str, args: &[&str]) -> Output {
        self.kubectl_stdin(name, args, None).await
    }

    pub async fn kubectl_stdin(&self, name: &str, args: &[&str], stdin: Option<&str>) -> Output {
        kubectl_with(
            &self.kubeconfig_path(name),
            &self.dir.path().join("kube-cache"),
            args,
            stdin,
        )
        .await
    }
}

/// A kube client from kubeconfig YAML.
pub async fn client_for(kubeconfig_yaml: &str) -> kube::Client {
    let kc = Kubeconfig::from_yaml(kubeconfig_yaml).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .unwrap();
    kube::Client::try_from(config).unwrap()
}

/// Runs kubectl with `KUBECONFIG` and a private cache directory; fails the test on a timeout.
pub async fn kubectl_with(
    kubeconfig: &std::path::Path,
    cache: &std::path::Path,
    args: &[&str],
    stdin: Option<&str>,
) -> Output {
    use tokio::io::AsyncWriteExt;
    let mut cmd = tokio::process::Command::new("kubectl");
    cmd.args(args)
        .arg(format!("--cache-dir={}", cache.display()))
        .env("KUBECONFIG", kubeconfig)
        .env("HOME", cache)
        .stdin(if stdin.is_some() {
            std::process::Stdio::piped()
        } else {
            std::process::Stdio::null()
        })
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().expect("kubectl runs");
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        pipe.write_all(input.as_bytes()).await.unwrap();
        drop(pipe);
    }
    tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("kubectl {args:?} did not finish within 60 s"))
        .unwrap()
}

/// stdout of a kubectl run that must succeed.
pub fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "kubectl failed ({}): {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// stderr of a kubectl run that must fail.
pub fn fails(out: &Output) -> String {
    assert!(
        !out.status.success(),
        "kubectl should have failed: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Polls `f` until it returns Some, or panics after `limit`.
pub async fn eventually<T, F, Fut>(limit: Duration, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = std::time::Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A ConfigMap `name` with `labels` and one data key `k: v`.
pub fn labelled_cm(name: &str, labels: &[(&str, &str)]) -> k8s_openapi::api::core::v1::ConfigMap {
    k8s_openapi::api::core::v1::ConfigMap {
        metadata: kube::api::ObjectMeta {
            name: Some(name.into()),
            labels: Some(
                labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            ..Default::default()
        },
        data: Some([("k".to_string(), "v".to_string())].into()),
        ..Default::default()
    }
}
