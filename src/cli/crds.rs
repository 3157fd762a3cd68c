//! `flotilla crds`: the CRDs generated from the Rust types.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use crate::api::crds;

#[derive(Debug, Args)]
pub struct CrdsArgs {
    /// Write one file per CRD into DIR (as committed under `crds/`) instead of printing.
    #[arg(long, value_name = "DIR")]
    pub output_dir: Option<PathBuf>,
}

pub fn run(args: &CrdsArgs) -> anyhow::Result<()> {
    match &args.output_dir {
        None => {
            print!("{}", crds::all_yaml()?);
            Ok(())
        }
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            for (file, crd) in crds::all() {
                let path = dir.join(file);
                std::fs::write(&path, crds::to_yaml(&crd)?)
                    .with_context(|| format!("writing {}", path.display()))?;
                println!("wrote {}", path.display());
            }
            Ok(())
        }
    }
}
