//! The `flotilla` binary: parse the command line, run, print one line per error.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use flotilla::cli::{Cli, Exit, run};
use flotilla::git::GitCache;

fn main() -> ExitCode {
    // SAFETY: called once, first thing, before any thread exists or libgit2 is used.
    unsafe { GitCache::set_network_timeouts(Duration::from_secs(15), Duration::from_secs(60)) };
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
