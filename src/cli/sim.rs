//! `flotilla sim`: run the Kubernetes API simulator until stopped.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;

use crate::sim::{ClusterSettings, SimConfig, Simulator};

/// Serve simulated Kubernetes clusters over HTTPS on 127.0.0.1.
#[derive(Debug, Args)]
pub struct SimArgs {
    /// Virtual clusters to serve, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "hub,dev,staging,prod")]
    pub clusters: Vec<String>,
    /// Serve N numbered clusters (`<prefix>0` .. `<prefix>N-1`) instead of --clusters.
    #[arg(long, value_name = "N")]
    pub count: Option<usize>,
    /// Name prefix of numbered clusters.
    #[arg(long, default_value = "cluster-")]
    pub prefix: String,
    /// Main port (every cluster at /clusters/<name>, and the admin API); 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Write `<cluster>.yaml` kubeconfigs, `all.yaml` (every context) and `admin.json` (admin API URL and token) here.
    #[arg(long, value_name = "DIR")]
    pub kubeconfig_dir: Option<PathBuf>,
    /// How long workloads take to become ready (e.g. 1s, 250ms).
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub ready_after: Duration,
    /// Watch events kept per resource type of each cluster; older resourceVersions get 410 Gone.
    #[arg(long, default_value_t = 2000)]
    pub watch_history: usize,
    /// Interval of watch bookmarks.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub bookmark_interval: Duration,
}

/// `250ms`, `5s`, `2m`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit())
        .map(|i| s.split_at(i))
        .unwrap_or((s, "s"));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("invalid duration {s:?}: expected e.g. 500ms, 5s, 2m"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        _ => Err(format!(
            "invalid duration {s:?}: expected e.g. 500ms, 5s, 2m"
        )),
    }
}

pub fn run(args: &SimArgs) -> anyhow::Result<()> {
    let clusters: Vec<String> = match args.count {
        Some(n) => (0..n).map(|i| format!("{}{i}", args.prefix)).collect(),
        None => args
            .clusters
            .iter()
            .map(|c| c.trim().to_string())
            .filter(|c| !c.is_empty())
            .collect(),
    };
    if clusters.is_empty() {
        bail!("no virtual clusters to serve: give --clusters or --count");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let mut settings = ClusterSettings { watch_history: args.watch_history, bookmark_interval: args.bookmark_interval, ..Default::default() };
        settings.workload.ready_after = args.ready_after;
        let sim = Simulator::start(SimConfig { clusters, port: args.port, settings }).await?;
        println!("flotilla sim: serving {} virtual clusters; main port {}", sim.clusters().len(), sim.url());
        for h in sim.clusters() {
            println!("  {:<12} {}", h.name(), h.server());
        }
        if let Some(dir) = &args.kubeconfig_dir {
            let written = sim.write_kubeconfigs(dir)?;
            let admin = dir.join("admin.json");
            sim.write_admin_file(&admin)?;
            println!("kubeconfigs: {} files in {} (contexts named after the clusters; all.yaml has every context)", written.len(), dir.display());
            println!("admin API: {}/admin (URL and token in {})", sim.url(), admin.display());
        } else {
            println!("no --kubeconfig-dir: kubeconfigs and the admin token are not written");
        }
        shutdown_signal().await;
        sim.shutdown();
        println!("flotilla sim: stopped");
        Ok(())
    })
}

pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(t) => t,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("5").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert!(parse_duration("x").is_err());
    }
}
