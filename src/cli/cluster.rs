//! `flotilla cluster add | list | rm | rotate`: register target clusters with the hub, as
//! `argocd cluster add` does. The work is in [`crate::cluster::install`]; this file reads the
//! kubeconfig, connects, and prints.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Subcommand, ValueEnum};
use kube::config::Kubeconfig;

use super::sim::parse_duration;
use crate::cluster::ClientOptions;
use crate::cluster::install::kubeconfig::{client_for_context, current_context, has_context};
use crate::cluster::install::{
    self, AddOptions, Change, ClusterRow, Connection, DEFAULT_HUB_NAMESPACE, DEFAULT_SA_NAMESPACE,
    KubeconfigFiles, RemoveOptions, RemoveTarget, RotateOptions, TargetCluster,
};

#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Register the cluster of a kubeconfig context: create the ServiceAccount flotilla-manager
    /// with its RBAC and a token there, and the cluster Secret in the hub.
    Add(AddArgs),
    /// List the hub's cluster Secrets with each cluster's version, connection state and
    /// number of Applications.
    List(ListArgs),
    /// Remove a cluster: its hub Secret and, given a context, flotilla-manager in the cluster.
    Rm(RmArgs),
    /// Issue a new token for a cluster, switch the hub Secret to it, then delete the old one.
    Rotate(RotateArgs),
}

/// Where the hub is.
#[derive(Debug, Clone, Args)]
pub struct HubArgs {
    /// Kubeconfig file (default: $KUBECONFIG, a `:`-separated list merged in order, else
    /// ~/.kube/config).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context of the hub cluster (default: the current context).
    #[arg(long, value_name = "CONTEXT")]
    pub hub_context: Option<String>,
    /// Namespace of the cluster Secrets in the hub.
    #[arg(long, value_name = "NS", default_value = DEFAULT_HUB_NAMESPACE)]
    pub hub_namespace: String,
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// Kubeconfig context of the cluster to register.
    #[arg(value_name = "CONTEXT")]
    pub context: String,
    /// Name of the cluster in the hub (the Secret's `name` key; default: the context name).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Label of the cluster Secret (what ApplicationSet cluster generators select on); repeatable.
    #[arg(long = "label", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub labels: Vec<(String, String)>,
    /// Annotation of the cluster Secret; repeatable.
    #[arg(long = "annotation", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub annotations: Vec<(String, String)>,
    /// Manage only this namespace (a Role per namespace instead of a ClusterRole); repeatable
    /// or comma-separated. The namespaces must exist.
    #[arg(long = "namespace", value_name = "NS", value_delimiter = ',')]
    pub namespaces: Vec<String>,
    /// Namespace of the ServiceAccount flotilla-manager and its token in the cluster.
    #[arg(long, value_name = "NS", default_value = DEFAULT_SA_NAMESPACE)]
    pub service_account_namespace: String,
    /// How long to wait for the cluster's token controller to fill the token Secret.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub token_timeout: Duration,
    #[command(flatten)]
    pub hub: HubArgs,
}

/// Output format of `cluster list`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    /// Aligned columns.
    Table,
    /// A JSON array.
    Json,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Output format.
    #[arg(short = 'o', long = "output", value_name = "FORMAT", value_enum, default_value_t = ListFormat::Table)]
    pub output: ListFormat,
    /// How long each cluster has to answer /version.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    pub timeout: Duration,
    #[command(flatten)]
    pub hub: HubArgs,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    /// The cluster: its `name` or its Secret's name.
    #[arg(value_name = "NAME")]
    pub name: String,
    /// Kubeconfig context of the cluster, to remove flotilla-manager there too (default: a
    /// context named NAME, if there is one).
    #[arg(long, value_name = "CONTEXT")]
    pub context: Option<String>,
    /// Namespace of the ServiceAccount flotilla-manager in the cluster.
    #[arg(long, value_name = "NS", default_value = DEFAULT_SA_NAMESPACE)]
    pub service_account_namespace: String,
    #[command(flatten)]
    pub hub: HubArgs,
}

#[derive(Debug, Args)]
pub struct RotateArgs {
    /// The cluster: its `name` or its Secret's name.
    #[arg(value_name = "NAME")]
    pub name: String,
    /// Kubeconfig context of the cluster (default: a context named NAME, else the credentials
    /// in the hub Secret).
    #[arg(long, value_name = "CONTEXT")]
    pub context: Option<String>,
    /// How long to wait for the cluster's token controller to fill the new token Secret.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub token_timeout: Duration,
    /// How long to wait for the running hub to confirm (an Event ClusterCredentialsLoaded on the
    /// Secret) that it loaded the new token, before the old one is revoked. Without an answer
    /// (no hub running) the old token is revoked anyway.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub hub_ack_timeout: Duration,
    #[command(flatten)]
    pub hub: HubArgs,
}

/// `KEY=VALUE` with a non-empty key.
fn parse_key_value(arg: &str) -> Result<(String, String), String> {
    match arg.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!("expected KEY=VALUE, got {arg:?}")),
    }
}

pub fn run(command: &ClusterCommand) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        match command {
            ClusterCommand::Add(args) => add(args).await,
            ClusterCommand::List(args) => list(args).await,
            ClusterCommand::Rm(args) => rm(args).await,
            ClusterCommand::Rotate(args) => rotate(args).await,
        }
    })
}

fn print(change: Change) {
    println!("{change}");
}

/// The merged kubeconfig and a connection to the hub.
pub(super) async fn hub(args: &HubArgs) -> anyhow::Result<(Kubeconfig, Connection)> {
    let files = KubeconfigFiles::from_env(args.kubeconfig.as_deref())?;
    let kc = files.load()?;
    let context = match &args.hub_context {
        Some(c) => c.clone(),
        None => current_context(&kc, &files)?,
    };
    let client = client_for_context(&kc, &context, &ClientOptions::default()).await?;
    Ok((
        kc,
        Connection {
            client,
            place: format!("hub context {context}"),
        },
    ))
}

async fn target(kc: &Kubeconfig, context: &str) -> anyhow::Result<Connection> {
    let client = client_for_context(kc, context, &ClientOptions::default()).await?;
    Ok(Connection {
        client,
        place: format!("context {context}"),
    })
}

async fn add(args: &AddArgs) -> anyhow::Result<()> {
    let (kc, hub) = hub(&args.hub).await?;
    let cluster = TargetCluster::from_kubeconfig(&kc, &args.context)?;
    let target = target(&kc, &args.context).await?;
    let opts = AddOptions {
        name: args.name.clone(),
        labels: args.labels.iter().cloned().collect(),
        annotations: args.annotations.iter().cloned().collect(),
        namespaces: dedup(&args.namespaces),
        hub_namespace: args.hub.hub_namespace.clone(),
        sa_namespace: args.service_account_namespace.clone(),
        token_timeout: args.token_timeout,
    };
    Ok(install::add(&target, &cluster, &hub, &opts, &mut print).await?)
}

fn dedup(namespaces: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for ns in namespaces
        .iter()
        .map(|n| n.trim())
        .filter(|n| !n.is_empty())
    {
        if !out.iter().any(|o| o == ns) {
            out.push(ns.to_string());
        }
    }
    out
}

async fn list(args: &ListArgs) -> anyhow::Result<()> {
    let (_, hub) = hub(&args.hub).await?;
    let rows = install::list_clusters(&hub, &args.hub.hub_namespace, args.timeout).await?;
    match args.output {
        ListFormat::Json => println!("{}", serde_json::to_string_pretty(&rows)?),
        ListFormat::Table => print!("{}", table(&rows)),
    }
    Ok(())
}

async fn rm(args: &RmArgs) -> anyhow::Result<()> {
    let (kc, hub) = hub(&args.hub).await?;
    let opts = RemoveOptions {
        hub_namespace: args.hub.hub_namespace.clone(),
        sa_namespace: args.service_account_namespace.clone(),
    };
    let (context, implicit) = match &args.context {
        Some(c) => (Some(c.clone()), false),
        None if has_context(&kc, &args.name) => (Some(args.name.clone()), true),
        None => (None, false),
    };
    let Some(context) = context else {
        install::remove(&hub, &args.name, None, &opts, &mut print).await?;
        eprintln!(
            "note: no kubeconfig context {:?} (give --context): flotilla-manager, if any, is left in the cluster",
            args.name
        );
        return Ok(());
    };
    let server = implicit
        .then(|| TargetCluster::from_kubeconfig(&kc, &context))
        .transpose()?
        .map(|t| t.server);
    let connection = target(&kc, &context).await?;
    let t = RemoveTarget {
        connection: &connection,
        implicit_server: server.as_deref(),
    };
    Ok(install::remove(&hub, &args.name, Some(t), &opts, &mut print).await?)
}

async fn rotate(args: &RotateArgs) -> anyhow::Result<()> {
    let (kc, hub) = hub(&args.hub).await?;
    let context = match &args.context {
        Some(c) => Some(c.clone()),
        None => has_context(&kc, &args.name).then(|| args.name.clone()),
    };
    let target = match &context {
        Some(c) => Some(target(&kc, c).await?),
        None => None,
    };
    let opts = RotateOptions {
        hub_namespace: args.hub.hub_namespace.clone(),
        token_timeout: args.token_timeout,
        hub_ack_timeout: args.hub_ack_timeout,
        client: ClientOptions::default(),
    };
    Ok(install::rotate(&hub, &args.name, target, &opts, &mut print).await?)
}

/// NAME SERVER LABELS VERSION STATUS APPS, aligned; `-` for an empty cell.
pub fn table(rows: &[ClusterRow]) -> String {
    let header = ["NAME", "SERVER", "LABELS", "VERSION", "STATUS", "APPS"].map(String::from);
    let cells: Vec<[String; 6]> = rows
        .iter()
        .map(|r| {
            let labels = r
                .labels
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",");
            [
                r.name.clone(),
                r.server.clone(),
                labels,
                r.version.clone().unwrap_or_default(),
                r.status.replace(['\n', '\r'], " "),
                r.apps.map_or("?".to_string(), |n| n.to_string()),
            ]
            .map(|c| if c.is_empty() { "-".to_string() } else { c })
        })
        .collect();
    let mut widths = header.clone().map(|h| h.len());
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&cells) {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(line.join("   ").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn key_values() {
        assert_eq!(
            parse_key_value("env=dev").unwrap(),
            ("env".into(), "dev".into())
        );
        assert_eq!(
            parse_key_value("a=b=c").unwrap(),
            ("a".into(), "b=c".into())
        );
        assert_eq!(
            parse_key_value("empty=").unwrap(),
            ("empty".into(), "".into())
        );
        assert!(parse_key_value("=x").is_err() && parse_key_value("novalue").is_err());
    }

    #[test]
    fn namespaces_deduplicated_in_order() {
        assert_eq!(
            dedup(&["b".into(), "a".into(), "b".into(), " ".into()]),
            ["b", "a"]
        );
    }

    #[test]
    fn table_columns() {
        let row = |name: &str, version: Option<&str>, status: &str, apps| ClusterRow {
            secret: format!("flotilla/{name}"),
            name: name.into(),
            server: format!("https://{name}.example.com"),
            labels: BTreeMap::from([("env".to_string(), name.to_string())]),
            namespaces: vec![],
            version: version.map(String::from),
            status: status.into(),
            apps,
        };
        let t = table(&[
            row("dev", Some("v1.33.0"), "Successful", Some(2)),
            row(
                "broken",
                None,
                "Secret flotilla/broken: config is\nbad",
                None,
            ),
        ]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(
            lines[0],
            "NAME     SERVER                       LABELS       VERSION   STATUS                                  APPS"
        );
        assert_eq!(
            lines[1],
            "dev      https://dev.example.com      env=dev      v1.33.0   Successful                              2"
        );
        assert_eq!(
            lines[2],
            "broken   https://broken.example.com   env=broken   -         Secret flotilla/broken: config is bad   ?"
        );
    }
}
