//! `app wait`: polls the Application (every 500 ms) until it is Synced and/or Healthy with no
//! operation in progress. On a terminal, stderr shows one progress line updated in place;
//! otherwise stderr gets a line per change.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use super::error::AppError;
use super::session::{Session, in_progress};
use crate::api::Application;

const POLL: Duration = Duration::from_millis(500);

/// What to wait for (both when neither is asked).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Until {
    pub sync: bool,
    pub health: bool,
}

/// `sync=… health=… operation=…` of an Application.
pub fn summary(app: &Application) -> String {
    let s = app.status.as_ref();
    let sync = s
        .and_then(|s| s.sync.as_ref())
        .map(|x| x.status.as_str())
        .unwrap_or("Unknown");
    let health = s
        .and_then(|s| s.health.as_ref())
        .map(|h| h.status.as_str())
        .unwrap_or("Unknown");
    let op = if app.operation.is_some() {
        "Requested"
    } else {
        s.and_then(|s| s.operation_state.as_ref())
            .map(|o| o.phase.as_str())
            .unwrap_or("none")
    };
    format!("sync={sync} health={health} operation={op}")
}

/// Whether the Application is where `until` wants it.
pub fn reached(app: &Application, until: Until) -> bool {
    let s = app.status.as_ref();
    let synced = s
        .and_then(|s| s.sync.as_ref())
        .is_some_and(|x| x.status == "Synced");
    let healthy = s
        .and_then(|s| s.health.as_ref())
        .is_some_and(|h| h.status == "Healthy");
    let (sync, health) = if until.sync || until.health {
        (until.sync, until.health)
    } else {
        (true, true)
    };
    in_progress(app).is_none() && (!sync || synced) && (!health || healthy)
}

/// Waits; prints the final status on stdout.
pub async fn wait(
    session: &Session,
    name: &str,
    until: Until,
    timeout: Duration,
) -> Result<(), AppError> {
    let terminal = std::io::stderr().is_terminal();
    let start = Instant::now();
    let mut last = String::new();
    let result = loop {
        let app = session.app(name).await?;
        let now = summary(&app);
        if now != last {
            progress(terminal, name, &now, start.elapsed());
            last = now.clone();
        } else if terminal {
            progress(terminal, name, &now, start.elapsed());
        }
        if reached(&app, until) {
            break Ok(now);
        }
        if start.elapsed() >= timeout {
            break Err(AppError::Timeout {
                name: name.to_string(),
                what: describe(until),
                waited: format!("{timeout:?}"),
                status: now,
            });
        }
        tokio::time::sleep(
            POLL.min(timeout.saturating_sub(start.elapsed()))
                .max(Duration::from_millis(10)),
        )
        .await;
    };
    if terminal {
        eprintln!();
    }
    let status = result?;
    println!("application {name}: {status}");
    Ok(())
}

fn describe(until: Until) -> String {
    match (until.sync, until.health) {
        (true, false) => "Synced".into(),
        (false, true) => "Healthy".into(),
        _ => "Synced and Healthy".into(),
    }
}

fn progress(terminal: bool, name: &str, status: &str, elapsed: Duration) {
    let mut err = std::io::stderr();
    if terminal {
        // Carriage return, then clear the line: the progress updates in place.
        let _ = write!(err, "\r\x1b[2K{name}: {status} ({}s)", elapsed.as_secs());
        let _ = err.flush();
    } else {
        let _ = writeln!(err, "{name}: {status}");
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn app(sync: &str, health: &str, phase: &str) -> Application {
        serde_json::from_value(json!({"metadata": {"name": "web"}, "status": {"sync": {"status": sync}, "health": {"status": health}, "operationState": {"phase": phase}}})).unwrap()
    }

    #[test]
    fn what_counts_as_reached() {
        let both = Until {
            sync: false,
            health: false,
        };
        assert!(reached(&app("Synced", "Healthy", "Succeeded"), both));
        assert!(!reached(&app("Synced", "Progressing", "Succeeded"), both));
        assert!(reached(
            &app("Synced", "Progressing", "Succeeded"),
            Until {
                sync: true,
                health: false
            }
        ));
        assert!(reached(
            &app("OutOfSync", "Healthy", "Succeeded"),
            Until {
                sync: false,
                health: true
            }
        ));
        assert!(
            !reached(&app("Synced", "Healthy", "Running"), both),
            "an operation in progress is not done"
        );
        assert!(!reached(
            &Application::default(),
            Until {
                sync: true,
                health: false
            }
        ));
        assert_eq!(
            summary(&app("Synced", "Healthy", "Succeeded")),
            "sync=Synced health=Healthy operation=Succeeded"
        );
    }
}
