//! `flotilla app list | get | diff | sync | history | rollback | wait`: the Applications of the
//! hub, as `argocd app ...` shows and drives them, through the kubeconfig (the flags of
//! `flotilla cluster`). The work is in `app/`: `session` (the hub), `show` (tables and
//! summaries), `diff`, `operation` (sync, rollback), `wait`; `error` holds the errors and exit
//! codes.

mod diff;
mod error;
mod operation;
mod session;
mod show;
mod table;
mod wait;

use std::time::Duration;

use clap::{Args, Subcommand};

use super::GitCacheArgs;
use super::cluster::HubArgs;
use super::sim::parse_duration;
pub use error::{AppError, Exit};
use operation::{SyncRequest, WaitFor};
use session::Session;

#[derive(Debug, Subcommand)]
pub enum AppCommand {
    /// List the Applications: cluster, source, sync and health status, revision.
    List(ListArgs),
    /// Show an Application: source, destination, policy, status, conditions, last operation
    /// and its resources.
    Get(NameArgs),
    /// Show what a sync would change: desired (Git at the target revision) against live, as a
    /// unified diff per resource. Exit code 1 when something differs, 0 when not, 2 on errors.
    Diff(DiffArgs),
    /// Sync an Application (to its target revision, or --revision) and wait for the result.
    Sync(SyncArgs),
    /// List the deployed revisions (status.history).
    History(NameArgs),
    /// Sync to the revision of a history entry; refused while automated sync is on.
    Rollback(RollbackArgs),
    /// Wait until an Application is Synced and/or Healthy, with no operation in progress.
    Wait(WaitArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub hub: HubArgs,
}

#[derive(Debug, Args)]
pub struct NameArgs {
    /// The Application.
    #[arg(value_name = "NAME")]
    pub name: String,
    #[command(flatten)]
    pub hub: HubArgs,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The Application.
    #[arg(value_name = "NAME")]
    pub name: String,
    /// How long listing one resource type in the destination cluster may take.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// The hub's --installation-id: which live objects are the Application's (to show what a
    /// prune would delete).
    #[arg(long, env = "FLOTILLA_INSTALLATION_ID", default_value = "", value_name = "ID", value_parser = super::hub::parse_installation_id)]
    pub installation_id: String,
    #[command(flatten)]
    pub git: GitCacheArgs,
    #[command(flatten)]
    pub hub: HubArgs,
}

/// Waiting for an operation.
#[derive(Debug, Clone, Args)]
pub struct OperationWait {
    /// Request the operation and return without waiting for it.
    #[arg(long = "async")]
    pub no_wait: bool,
    /// How long to wait for the operation to finish.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub timeout: Duration,
}

impl OperationWait {
    fn wait_for(&self) -> WaitFor {
        WaitFor {
            wait: !self.no_wait,
            timeout: self.timeout,
        }
    }
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// The Application.
    #[arg(value_name = "NAME")]
    pub name: String,
    /// Sync to this revision (branch, tag or commit) instead of the target revision.
    #[arg(long, value_name = "REVISION")]
    pub revision: Option<String>,
    /// Delete the resources Git no longer has.
    #[arg(long)]
    pub prune: bool,
    #[command(flatten)]
    pub wait: OperationWait,
    #[command(flatten)]
    pub hub: HubArgs,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The Application.
    #[arg(value_name = "NAME")]
    pub name: String,
    /// The history entry (`flotilla app history NAME`).
    #[arg(value_name = "ID")]
    pub id: i64,
    /// Delete the resources that revision does not have.
    #[arg(long)]
    pub prune: bool,
    #[command(flatten)]
    pub wait: OperationWait,
    #[command(flatten)]
    pub hub: HubArgs,
}

#[derive(Debug, Args)]
pub struct WaitArgs {
    /// The Application.
    #[arg(value_name = "NAME")]
    pub name: String,
    /// Wait until Synced.
    #[arg(long)]
    pub sync: bool,
    /// Wait until Healthy.
    #[arg(long)]
    pub health: bool,
    /// How long to wait.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub timeout: Duration,
    #[command(flatten)]
    pub hub: HubArgs,
}

/// Runs an `app` command; `app diff` ends in an [`Exit`] (1: differences, 2: error).
pub fn run(command: &AppCommand) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| AppError::Runtime(e.to_string()))?;
    runtime.block_on(async {
        if let AppCommand::Diff(args) = command {
            return match diff(args).await {
                Ok(false) => Ok(()),
                Ok(true) => Err(Exit::differs().into()),
                Err(e) => Err(Exit::with_code(2, e).into()),
            };
        }
        Ok(other(command).await?)
    })
}

async fn other(command: &AppCommand) -> Result<(), AppError> {
    match command {
        AppCommand::List(args) => {
            let apps = Session::connect(&args.hub).await?.apps().await?;
            print!("{}", show::list(&apps));
        }
        AppCommand::Get(args) => print!(
            "{}",
            show::get(&Session::connect(&args.hub).await?.app(&args.name).await?)
        ),
        AppCommand::History(args) => print!(
            "{}",
            show::history(&Session::connect(&args.hub).await?.app(&args.name).await?)
        ),
        AppCommand::Sync(args) => {
            let req = SyncRequest {
                revision: args.revision.clone(),
                prune: args.prune,
                ..Default::default()
            };
            operation::sync(
                &Session::connect(&args.hub).await?,
                &args.name,
                &req,
                args.wait.wait_for(),
            )
            .await?;
        }
        AppCommand::Rollback(args) => {
            operation::rollback(
                &Session::connect(&args.hub).await?,
                &args.name,
                args.id,
                args.prune,
                args.wait.wait_for(),
            )
            .await?
        }
        AppCommand::Wait(args) => {
            let until = wait::Until {
                sync: args.sync,
                health: args.health,
            };
            wait::wait(
                &Session::connect(&args.hub).await?,
                &args.name,
                until,
                args.timeout,
            )
            .await?;
        }
        AppCommand::Diff(_) => {}
    }
    Ok(())
}

/// Prints the differences; whether there are any.
async fn diff(args: &DiffArgs) -> Result<bool, AppError> {
    let session = Session::connect(&args.hub).await?;
    let opts = diff::DiffOptions {
        git_cache: args.git.dir(),
        timeout: args.timeout,
        installation_id: args.installation_id.clone(),
    };
    let diffs = diff::diff(&session, &args.name, &opts).await?;
    print!("{}", diff::render_text(&diffs));
    Ok(!diffs.is_empty())
}
