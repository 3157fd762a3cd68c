//! The `flotilla` binary: parse the command line, run, print one line per error.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use flotilla::cli::{Cli, Exit, run};
use flotilla::git::GitCache;

fn main() -> ExitCode {
    // SAFETY: called once, first thing, before any thread exists or libgit2 is used.
    unsafe { GitCache::set_network_timeouts(Duration::from_secs(15), Duration::from_secs(60)) };
    // Each commit's tree is walked once and indexed ([`flotilla::git::tree_git`]), then files
    // are read by blob id: libgit2's object cache would only keep every parsed tree alive with
    // the snapshot (10 MiB for a commit of 10,000 directories).
    git2::opts::enable_caching(false);
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let (code, print) = Exit::of(&error);
            if print {
                eprintln!("error: {error:#}");
            }
            ExitCode::from(code)
        }
    }
}
