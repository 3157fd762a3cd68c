//! `flotilla hub`: run the hub controller against a hub cluster until stopped.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use kube::config::{KubeConfigOptions, Kubeconfig};

use super::GitCacheArgs;
use super::sim::parse_duration;
use crate::appset::plan::Policy;
use crate::cluster::{ClientOptions, client};
use crate::hub::{Hub, HubConfig};
use crate::sync::tracking;

/// Run the hub: cluster registry, ApplicationSet controller, sync engine, /metrics, webhook.
#[derive(Debug, Args)]
pub struct HubArgs {
    /// Kubeconfig of the hub cluster (default: $KUBECONFIG, ~/.kube/config, or in-cluster config).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context of the hub cluster (default: the current context).
    #[arg(long)]
    pub context: Option<String>,
    /// Namespace of cluster Secrets, ApplicationSets and Applications.
    #[arg(long, short = 'n', default_value = "flotilla")]
    pub namespace: String,
    /// Register the hub's own cluster as `in-cluster` (https://kubernetes.default.svc), as Argo CD does.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub in_cluster: bool,
    /// What the ApplicationSet controller may do to Applications: sync, create-update, create-delete, create-only.
    #[arg(long, default_value = "sync", value_parser = parse_policy)]
    pub policy: Policy,
    /// Honour spec.syncPolicy.applicationsSync of each ApplicationSet.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub policy_override: bool,
    /// ApplicationSets reconciled at once.
    #[arg(long, default_value_t = 10)]
    pub appset_concurrency: u16,
    /// Application writes in flight per ApplicationSet pass.
    #[arg(long, default_value_t = 50)]
    pub write_concurrency: usize,
    /// Entries of an ApplicationSet's status.resources at most (status.resourcesCount has the true count).
    #[arg(long, default_value_t = 5000)]
    pub max_resources_status: usize,
    /// Requests per second to each registered cluster (0: unlimited).
    #[arg(long, default_value_t = 50.0)]
    pub qps: f64,
    /// Requests at once above --qps, per registered cluster.
    #[arg(long, default_value_t = 100)]
    pub burst: u32,
    /// Requests per second to the hub cluster's API (0: unlimited).
    #[arg(long, default_value_t = 500.0)]
    pub hub_qps: f64,
    /// Requests at once above --hub-qps.
    #[arg(long, default_value_t = 1000)]
    pub hub_burst: u32,
    /// Requests in flight at once to each registered cluster, watches aside (0: no cap). They
    /// share one HTTP/2 connection; to a server without HTTP/2 each is one HTTP/1.1 connection.
    #[arg(long, default_value_t = 4)]
    pub max_in_flight: usize,
    /// Requests in flight at once to the hub cluster's API, watches aside (0: no cap).
    #[arg(long, default_value_t = 32)]
    pub hub_max_in_flight: usize,
    /// Time to connect to a cluster's API.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub connect_timeout: Duration,
    /// Time for a cluster's API to answer one request.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub request_timeout: Duration,
    /// How often each cluster's API is probed (/version).
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub probe_interval: Duration,
    /// Reconcile workers per registered cluster.
    #[arg(long, default_value_t = 4)]
    pub sync_workers: usize,
    /// Periodic resync of every Application (plus up to --resync-jitter); 0 disables it.
    #[arg(long, default_value = "120s", value_parser = parse_duration)]
    pub resync: Duration,
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub resync_jitter: Duration,
    /// How long the first list of a resource type in a cluster may take before the
    /// Applications that use the type report it (the cluster is not failed for it).
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub list_timeout: Duration,
    /// The hub Secret with the webhook secrets (keys github.secret, gitlab.secret).
    #[arg(long, default_value = "flotilla-webhook")]
    pub webhook_secret: String,
    /// Where to serve /metrics, /healthz, /readyz and POST /api/webhook.
    #[arg(long, default_value = "0.0.0.0:8080")]
    pub listen: SocketAddr,
    /// This hub's id, for hubs sharing target clusters: written as the annotation
    /// flotilla.dev/installation-id on everything the hub applies, and only objects carrying it
    /// are the hub's (pruned, counted, deleted with their Application). Empty: objects without
    /// one, as before.
    #[arg(long, env = "FLOTILLA_INSTALLATION_ID", default_value = "", value_name = "ID", value_parser = parse_installation_id)]
    pub installation_id: String,
    #[command(flatten)]
    pub git: GitCacheArgs,
}

fn parse_policy(s: &str) -> Result<Policy, String> {
    Policy::parse(s)
}

/// `--installation-id`: empty, or at most 63 letters, digits, `-`, `_`, `.`.
pub fn parse_installation_id(s: &str) -> Result<String, String> {
    tracking::validate_installation_id(s)
        .map(|()| s.to_string())
        .map_err(|e| e.to_string())
}

/// The hub cluster's kube config: the kubeconfig named or found, else the in-cluster one.
pub async fn hub_config(
    kubeconfig: Option<&PathBuf>,
    context: Option<&str>,
) -> anyhow::Result<kube::Config> {
    let options = KubeConfigOptions {
        context: context.map(String::from),
        ..Default::default()
    };
    match kubeconfig {
        Some(path) => {
            let kc = Kubeconfig::read_from(path)
                .with_context(|| format!("reading kubeconfig {}", path.display()))?;
            kube::Config::from_custom_kubeconfig(kc, &options)
                .await
                .with_context(|| format!("kubeconfig {}", path.display()))
        }
        None if context.is_some() => kube::Config::from_kubeconfig(&options)
            .await
            .context("reading the kubeconfig"),
        None => kube::Config::infer()
            .await
            .context("no kubeconfig and no in-cluster configuration"),
    }
}

pub fn run(args: &HubArgs) -> anyhow::Result<()> {
    super::init_logging();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let mut config = hub_config(args.kubeconfig.as_ref(), args.context.as_deref()).await?;
        let hub_options = ClientOptions {
            qps: args.hub_qps,
            burst: args.hub_burst,
            connect_timeout: args.connect_timeout,
            request_timeout: args.request_timeout,
            max_in_flight: args.hub_max_in_flight,
        };
        client::apply_timeouts(&mut config, &hub_options);
        let hub_client = client::build(config, &hub_options, "the hub cluster")?;
        let mut hub_config = HubConfig::new(&args.namespace, args.git.dir());
        hub_config.in_cluster = args.in_cluster;
        hub_config.cluster_client = ClientOptions {
            qps: args.qps,
            burst: args.burst,
            connect_timeout: args.connect_timeout,
            request_timeout: args.request_timeout,
            max_in_flight: args.max_in_flight,
        };
        hub_config.probe_interval = args.probe_interval;
        hub_config.listen = Some(args.listen);
        hub_config.controller.policy = args.policy;
        hub_config.controller.policy_override = args.policy_override;
        hub_config.controller.concurrency = args.appset_concurrency;
        hub_config.controller.write_concurrency = args.write_concurrency;
        hub_config.controller.max_resources_status = args.max_resources_status;
        hub_config.sync.workers = args.sync_workers;
        hub_config.sync.resync = args.resync;
        hub_config.sync.resync_jitter = args.resync_jitter;
        hub_config.sync.list_timeout = args.list_timeout;
        hub_config.sync.installation_id = args.installation_id.clone();
        hub_config.webhook_secret = args.webhook_secret.clone();
        let mut hub = Hub::start(hub_client, hub_config).await?;
        super::sim::shutdown_signal().await;
        hub.shutdown();
        tracing::info!("hub stopped");
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::super::{Cli, Command};

    fn hub(args: &[&str]) -> Result<super::HubArgs, String> {
        let argv = [&["flotilla", "hub"][..], args].concat();
        match Cli::try_parse_from(argv)
            .map_err(|e| e.to_string())?
            .command
        {
            Command::Hub(h) => Ok(h),
            other => Err(format!("not the hub command: {other:?}")),
        }
    }

    #[test]
    fn the_installation_id_is_a_checked_flag() {
        if std::env::var_os("FLOTILLA_INSTALLATION_ID").is_none() {
            assert_eq!(hub(&[]).unwrap().installation_id, "", "none by default");
        }
        assert_eq!(
            hub(&["--installation-id", "hub-eu.1"])
                .unwrap()
                .installation_id,
            "hub-eu.1"
        );
        let err = hub(&["--installation-id", "eu 1"]).unwrap_err();
        assert!(
            err.contains("invalid installation id \"eu 1\": it contains other characters"),
            "{err}"
        );
    }
}
