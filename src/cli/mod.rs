//! The command line: clap definitions and dispatch. Each command lives in its own file.

mod app;
mod appset_generate;
mod cluster;
mod crds;
mod documents;
mod hub;
mod sim;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub use app::{AppCommand, Exit};
pub use appset_generate::GenerateArgs;
pub use cluster::ClusterCommand;

/// Flotilla: a multi-cluster GitOps hub, Argo CD compatible.
#[derive(Debug, Parser)]
#[command(name = "flotilla", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Work with the hub's Applications (like `argocd app`): list, get, diff, sync, history,
    /// rollback, wait.
    #[command(subcommand)]
    App(AppCommand),
    /// Work with ApplicationSets offline.
    #[command(subcommand)]
    Appset(AppsetCommand),
    /// Register target clusters with the hub (like `argocd cluster add`), list, remove and
    /// rotate their credentials.
    #[command(subcommand)]
    Cluster(ClusterCommand),
    /// Print the CustomResourceDefinitions (or write them as files).
    Crds(crds::CrdsArgs),
    /// Run the hub (cluster registry, ApplicationSet controller) against a hub cluster until stopped.
    Hub(hub::HubArgs),
    /// Run the Kubernetes API simulator (virtual clusters for tests and demos) until stopped.
    Sim(sim::SimArgs),
}

#[derive(Debug, Subcommand)]
pub enum AppsetCommand {
    /// Expand ApplicationSets into Applications, as the controller would, and print them.
    Generate(GenerateArgs),
}

/// Output format of generated objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// A multi-document YAML stream.
    Yaml,
    /// A JSON array.
    Json,
}

/// Where Git repositories are cached: `--git-cache`, `$FLOTILLA_GIT_CACHE`, or
/// `$XDG_CACHE_HOME/flotilla/git` (`~/.cache/flotilla/git`).
#[derive(Debug, Clone, Args)]
pub struct GitCacheArgs {
    #[arg(long, env = "FLOTILLA_GIT_CACHE", value_name = "DIR")]
    pub git_cache: Option<PathBuf>,
}

impl GitCacheArgs {
    pub fn dir(&self) -> PathBuf {
        if let Some(dir) = &self.git_cache {
            return dir.clone();
        }
        let base = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
            .unwrap_or_else(std::env::temp_dir);
        base.join("flotilla").join("git")
    }
}

/// Runs a command; the error is the one line to print.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::App(command) => app::run(&command),
        Command::Appset(AppsetCommand::Generate(args)) => appset_generate::run(&args),
        Command::Cluster(command) => cluster::run(&command),
        Command::Crds(args) => crds::run(&args),
        Command::Hub(args) => hub::run(&args),
        Command::Sim(args) => sim::run(&args),
    }
}

/// Logs to stderr, filtered by `RUST_LOG` (default `info`, without kube's request traces).
pub fn init_logging() {
    // kube's own request tracing repeats, at ERROR, every failure the hub reports itself.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("info,kube_client::client::builder=off")
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
