//! `flotilla app list | get | diff | sync | history | rollback | wait` as a user runs them: the
//! real binary against the hub and targets of the end-to-end environment (the in-process
//! simulator by default), with every effect read back from the clusters.

mod support;

use std::time::Duration;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;
use support::e2e::E2e;

/// One run of the binary.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn ok(&self) -> &Self {
        assert_eq!(
            self.code,
            Some(0),
            "flotilla failed:\n{}\n{}",
            self.stderr,
            self.stdout
        );
        self
    }

    /// The line of stdout starting with `prefix`.
    fn line(&self, prefix: &str) -> &str {
        self.stdout
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no line {prefix:?} in:\n{}", self.stdout))
    }

    /// The rows of the per-resource results table of `app sync` / `app rollback` (after its
    /// GROUP header), as words.
    fn results(&self) -> Vec<Vec<&str>> {
        let mut lines = self.stdout.lines().skip_while(|l| !l.starts_with("GROUP"));
        if let Some(header) = lines.next() {
            assert_eq!(
                header.split_whitespace().collect::<Vec<_>>(),
                ["GROUP", "KIND", "NAMESPACE", "NAME", "STATUS", "MESSAGE"]
            );
        }
        lines.map(|l| l.split_whitespace().collect()).collect()
    }

    /// The words of the stdout line starting with `prefix`.
    fn words(&self, prefix: &str) -> Vec<&str> {
        self.line(prefix).split_whitespace().collect()
    }
}

/// Runs `flotilla app ARGS` against the environment's hub, with a Git cache of its own.
async fn app(e: &E2e, git_cache: &std::path::Path, args: &[&str]) -> Run {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_flotilla"));
    cmd.arg("app")
        .args(args)
        .args([
            "--hub-context",
            "hub",
            "--hub-namespace",
            &e.ns,
            "--kubeconfig",
        ])
        .arg(&e.kubeconfig)
        .env("HOME", home.path())
        .env("FLOTILLA_GIT_CACHE", git_cache)
        .env("FLOTILLA_INSTALLATION_ID", &e.installation_id)
        .env_remove("KUBECONFIG")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(60), cmd.output())
        .await
        .unwrap_or_else(|_| panic!("flotilla app {args:?} did not finish within 60 s"))
        .unwrap();
    Run {
        code: out.status.code(),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

fn cm(name: &str, color: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  color: {color}\n")
}

async fn color(cms: &Api<ConfigMap>, name: &str) -> Option<String> {
    cms.get_opt(name)
        .await
        .unwrap()?
        .data?
        .get("color")
        .cloned()
}

/// A manual Application through its life: sync, list, get, diff (in sync, then a new commit),
/// sync --prune, history, rollback; then rollback refused once automated sync is on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_list_get_diff_history_rollback() {
    let e = E2e::start(&[("apps/web/cm.yaml", &cm("settings", "blue"))], |_| {}).await;
    let cache = tempfile::tempdir().unwrap();
    let ns = e.target_ns("dev", "cli-app");
    let cms: Api<ConfigMap> = Api::namespaced(e.target("dev").await, &ns);
    e.create_app(
        "web",
        "apps/web",
        "dev",
        &ns,
        json!({"syncOptions": ["CreateNamespace=true"]}),
    )
    .await;

    // Not synced yet: the diff is the whole object, added.
    e.wait_app("web", "compared", |a| {
        a.status
            .as_ref()
            .and_then(|s| s.sync.as_ref())
            .is_some_and(|s| s.status == "OutOfSync")
    })
    .await;
    let d = app(&e, cache.path(), &["diff", "web"]).await;
    assert_eq!(
        d.code,
        Some(1),
        "a missing object is a difference:\n{}\n{}",
        d.stderr,
        d.stdout
    );
    assert!(
        d.stdout
            .contains(&format!("===== ConfigMap/{ns}/settings ======"))
            && d.stdout.contains("+  color: blue\n"),
        "{}",
        d.stdout
    );

    let s = app(&e, cache.path(), &["sync", "web"]).await;
    s.ok();
    assert_eq!(s.words("Phase:"), ["Phase:", "Succeeded"], "{}", s.stdout);
    // Each operation runs once: its table lists what it applied.
    assert_eq!(
        s.results(),
        [vec![
            "-",
            "ConfigMap",
            &ns,
            "settings",
            "Synced",
            "configmap",
            "serverside-applied"
        ]],
        "{}",
        s.stdout
    );
    assert_eq!(color(&cms, "settings").await.as_deref(), Some("blue"));
    let v1 = e.wait_synced("web", Some("Healthy")).await.status.unwrap();
    let v1_sha = v1.sync.unwrap().revision.unwrap();

    let l = app(&e, cache.path(), &["list"]).await;
    l.ok();
    assert_eq!(
        l.words("NAME"),
        [
            "NAME",
            "CLUSTER",
            "NAMESPACE",
            "REPO",
            "PATH",
            "TARGET",
            "SYNC",
            "HEALTH",
            "REVISION"
        ]
    );
    assert_eq!(
        l.words("web "),
        [
            "web",
            "dev",
            &ns,
            &e.repo.url(),
            "apps/web",
            "main",
            "Synced",
            "Healthy",
            &v1_sha[..7]
        ],
        "{}",
        l.stdout
    );

    let g = app(&e, cache.path(), &["get", "web"]).await;
    g.ok();
    assert_eq!(
        g.line("Sync Status:"),
        format!("Sync Status:        Synced to main ({})", &v1_sha[..7])
    );
    assert_eq!(g.words("Health Status:"), ["Health", "Status:", "Healthy"]);
    assert_eq!(
        g.words("Sync Policy:"),
        ["Sync", "Policy:", "Manual", "[CreateNamespace=true]"]
    );
    assert!(
        g.line("Last Operation:").contains("Succeeded"),
        "{}",
        g.stdout
    );
    assert_eq!(
        g.words("GROUP"),
        ["GROUP", "KIND", "NAMESPACE", "NAME", "STATUS", "HEALTH"]
    );
    assert_eq!(
        g.words("-  "),
        ["-", "ConfigMap", &ns, "settings", "Synced", "-"],
        "a ConfigMap has no health: {}",
        g.stdout
    );

    let d = app(&e, cache.path(), &["diff", "web"]).await;
    assert_eq!(
        (d.code, d.stdout.as_str()),
        (Some(0), ""),
        "in sync: {}",
        d.stderr
    );

    // A new commit: the diff shows it before any refresh; sync --prune applies it.
    let extra = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n";
    let v2_sha = e.repo.commit(
        &[
            ("apps/web/cm.yaml", &cm("settings", "green")),
            ("apps/web/extra.yaml", extra),
        ],
        "green",
    );
    let d = app(&e, cache.path(), &["diff", "web"]).await;
    assert_eq!(d.code, Some(1), "{}\n{}", d.stderr, d.stdout);
    assert!(
        d.stdout.contains("-  color: blue\n+  color: green\n"),
        "{}",
        d.stdout
    );
    assert!(
        d.stdout
            .contains(&format!("===== ConfigMap/{ns}/extra ======")),
        "{}",
        d.stdout
    );
    let s = app(&e, cache.path(), &["sync", "web", "--prune"]).await;
    s.ok();
    assert_eq!(s.words("Phase:"), ["Phase:", "Succeeded"], "{}", s.stdout);
    assert_eq!(s.words("Revision:"), ["Revision:", &v2_sha], "{}", s.stdout);
    let mut results = s.results();
    results.sort();
    let synced = |name: &'static str| {
        vec![
            "-",
            "ConfigMap",
            ns.as_str(),
            name,
            "Synced",
            "configmap",
            "serverside-applied",
        ]
    };
    assert_eq!(
        results,
        [synced("extra"), synced("settings")],
        "{}",
        s.stdout
    );
    assert_eq!(color(&cms, "settings").await.as_deref(), Some("green"));
    assert!(cms.get_opt("extra").await.unwrap().is_some());

    // The table is status.history, row for row: one entry per sync.
    let history = e.apps().get("web").await.unwrap().status.unwrap().history;
    let h = app(&e, cache.path(), &["history", "web"]).await;
    h.ok();
    let rows: Vec<Vec<&str>> = h
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows[0], ["ID", "DATE", "REVISION"]);
    assert_eq!(rows.len(), history.len() + 1, "{}", h.stdout);
    for (row, entry) in rows[1..].iter().zip(&history) {
        assert_eq!(
            (row[0], row[1], row[2]),
            (
                entry.id.to_string().as_str(),
                entry.deployed_at.as_ref().unwrap().0.to_string().as_str(),
                entry.revision.as_str()
            )
        );
        assert!(
            row[1].starts_with("20") && row[1].ends_with('Z'),
            "a date: {}",
            row[1]
        );
    }
    let deployed: Vec<&str> = rows[1..].iter().map(|r| r[2]).collect();
    assert_eq!(deployed, [v1_sha.as_str(), v2_sha.as_str()], "{}", h.stdout);
    assert_eq!(
        history.iter().map(|h| h.id).collect::<Vec<_>>(),
        [0, 1],
        "{history:?}"
    );

    // Rollback: an unknown ID lists the valid ones; v1's ID brings v1 back and prunes `extra`.
    let r = app(&e, cache.path(), &["rollback", "web", "99"]).await;
    assert_eq!(r.code, Some(1));
    let valid = history
        .iter()
        .map(|h| h.id.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    assert!(
        r.stderr
            .contains(&format!("no history entry with ID 99; valid IDs: {valid}")),
        "{}",
        r.stderr
    );
    let v1_id = history
        .iter()
        .find(|h| h.revision == v1_sha)
        .unwrap()
        .id
        .to_string();
    let r = app(&e, cache.path(), &["rollback", "web", &v1_id, "--prune"]).await;
    r.ok();
    assert_eq!(r.words("Phase:"), ["Phase:", "Succeeded"], "{}", r.stdout);
    assert_eq!(r.words("Revision:"), ["Revision:", &v1_sha], "{}", r.stdout);
    let row = |name: &'static str, status: &'static str, message: &'static [&'static str]| {
        [&["-", "ConfigMap", ns.as_str(), name, status][..], message].concat()
    };
    assert_eq!(
        r.results(),
        [
            // In gitops-engine's order: a wave's prunes before its applies.
            row("extra", "Pruned", &["pruned"]),
            row("settings", "Synced", &["configmap", "serverside-applied"])
        ],
        "{}",
        r.stdout
    );
    let after = e.apps().get("web").await.unwrap().status.unwrap().history;
    assert_eq!(
        after
            .iter()
            .map(|h| h.revision.as_str())
            .collect::<Vec<_>>(),
        [v1_sha.as_str(), v2_sha.as_str(), v1_sha.as_str()],
        "the rollback is recorded once: {after:?}"
    );
    assert_eq!(color(&cms, "settings").await.as_deref(), Some("blue"));
    support::sim::eventually(support::hub::LIMIT, "extra pruned", || async {
        cms.get_opt("extra").await.ok()?.is_none().then_some(())
    })
    .await;

    // With automated sync on, a rollback is refused and nothing is requested.
    let patch = json!({"spec": {"syncPolicy": {"automated": {"prune": true}}}});
    e.apps()
        .patch("web", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    let r = app(&e, cache.path(), &["rollback", "web", &v1_id]).await;
    assert_eq!(r.code, Some(1));
    assert!(
        r.stderr.contains(
            "application \"web\": rollback cannot be initiated when auto-sync is enabled"
        ),
        "{}",
        r.stderr
    );
    assert!(r.stdout.is_empty(), "{}", r.stdout);

    let missing = app(&e, cache.path(), &["get", "nope"]).await;
    assert_eq!(missing.code, Some(1));
    assert_eq!(
        missing.stderr.trim(),
        format!(
            "error: application \"nope\" not found in namespace \"{}\"",
            e.ns
        )
    );
    e.cleanup().await;
}

/// Drift made out of band (no self-heal) shows in `app diff` as the changed field only;
/// `app wait` returns once Synced and Healthy, and times out while the drift stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diff_shows_drift_and_wait_times_out() {
    let e = E2e::start(&[("apps/drift/cm.yaml", &cm("settings", "blue"))], |_| {}).await;
    let cache = tempfile::tempdir().unwrap();
    let ns = e.target_ns("dev", "cli-drift");
    e.create_app(
        "drift",
        "apps/drift",
        "dev",
        &ns,
        json!({"automated": {"prune": true}, "syncOptions": ["CreateNamespace=true"]}),
    )
    .await;
    let w = app(
        &e,
        cache.path(),
        &["wait", "drift", "--sync", "--health", "--timeout", "30s"],
    )
    .await;
    w.ok();
    assert!(
        w.stdout
            .contains("application drift: sync=Synced health=Healthy"),
        "{}",
        w.stdout
    );
    let d = app(&e, cache.path(), &["diff", "drift"]).await;
    assert_eq!(
        (d.code, d.stdout.as_str()),
        (Some(0), ""),
        "in sync: {}",
        d.stderr
    );

    let cms: Api<ConfigMap> = Api::namespaced(e.target("dev").await, &ns);
    cms.patch(
        "settings",
        &PatchParams::default(),
        &Patch::Merge(&json!({"data": {"color": "red"}})),
    )
    .await
    .unwrap();
    e.wait_app("drift", "drift seen", |a| {
        a.status
            .as_ref()
            .and_then(|s| s.sync.as_ref())
            .is_some_and(|s| s.status == "OutOfSync")
    })
    .await;
    let d = app(&e, cache.path(), &["diff", "drift"]).await;
    assert_eq!(d.code, Some(1), "{}\n{}", d.stderr, d.stdout);
    assert!(d.stdout.contains(&format!("===== ConfigMap/{ns}/settings ======\n--- live/ConfigMap/{ns}/settings\n+++ desired/ConfigMap/{ns}/settings\n")), "{}", d.stdout);
    assert!(
        d.stdout.contains("-  color: red\n+  color: blue\n"),
        "{}",
        d.stdout
    );
    for server_set in [
        "resourceVersion",
        "uid",
        "managedFields",
        "creationTimestamp",
    ] {
        assert!(
            !d.stdout.contains(server_set),
            "{server_set} is no drift:\n{}",
            d.stdout
        );
    }

    let started = std::time::Instant::now();
    let w = app(
        &e,
        cache.path(),
        &["wait", "drift", "--sync", "--timeout", "1500ms"],
    )
    .await;
    assert_eq!(w.code, Some(1), "{}\n{}", w.stderr, w.stdout);
    assert!(w.stderr.contains("application \"drift\": timed out after 1.5s waiting for Synced; last status: sync=OutOfSync"), "{}", w.stderr);
    assert!(
        w.stderr.contains("drift: sync=OutOfSync"),
        "a progress line: {}",
        w.stderr
    );
    assert!(started.elapsed() < Duration::from_secs(20));

    // The diff of an unknown Application is an error (exit code 2), not a difference.
    let d = app(&e, cache.path(), &["diff", "nope"]).await;
    assert_eq!(d.code, Some(2));
    assert!(
        d.stderr.contains("application \"nope\" not found"),
        "{}",
        d.stderr
    );
    e.cleanup().await;
}
