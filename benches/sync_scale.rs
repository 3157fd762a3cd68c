//! Benchmark: the sync engine at fleet scale, against the simulator, on this machine's 2 cores.
//!
//! `cargo bench --bench sync_scale` starts `flotilla sim` (a `hub` virtual cluster and 100
//! targets) and `flotilla hub` (defaults: resync 120 s + up to 60 s jitter; only
//! `--in-cluster=false`) as child processes, serves a Git
//! repository of 10,000 directories (one ConfigMap each) with `git daemon`, and measures:
//! 1. **first sync**: 10,000 automated Applications (100 per cluster) from the first create to
//!    all Synced and Healthy, in Applications per second (target ≥ 300/s);
//! 2. **steady state**: for 200 s after that (every Application resyncs at least once), the write calls
//!    and per-object GETs the hub sends to the 100 target clusters (target 0), from the
//!    simulator's request counters; and the hub's RSS (target ≤ 150 MiB);
//! 3. **webhook**: a commit changing the 1,000 Applications of 10 clusters, announced by a signed
//!    GitHub push: time until all 1,000 are Synced at the new revision (target < 5 s);
//! 4. **isolation**: the same with one of those 10 clusters blackholed: the time until the
//!    Applications of the 9 others are synced, against the same 9 in step 3 (target ≤ +20%).
//!
//! `BENCH_CLUSTERS`, `BENCH_APPS`, `BENCH_STEADY_SECONDS` override the sizes; `BENCH_PERF=FILE`
//! records a CPU profile of the hub during the first sync; `BENCH_HEAPTRACK=FILE` runs the hub
//! under heaptrack.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use flotilla::api::Application;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Namespace, Secret};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, PostParams};
use kube::runtime::watcher;
use serde_json::{Value, json};

mod common;
use common::{Proc, admin, client, cpu_seconds, env_usize, proc_kib, sockets};

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "bench")
        .env("GIT_AUTHOR_EMAIL", "bench@example.com")
        .env("GIT_COMMITTER_NAME", "bench")
        .env("GIT_COMMITTER_EMAIL", "bench@example.com")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn cm(i: usize, color: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-{i:05}\ndata:\n  color: {color}\n  index: \"{i}\"\n"
    )
}

/// (writes, per-object GETs) served by the target clusters since their counters were reset.
fn target_calls(dir: &Path, clusters: usize) -> (u64, u64) {
    let (mut writes, mut gets) = (0, 0);
    for i in 0..clusters {
        let counts = admin(dir, "GET", &format!("/clusters/c{i}/requests"), None);
        for r in counts["requests"].as_array().into_iter().flatten() {
            let verb = r["verb"].as_str().unwrap_or("");
            let resource = r["resource"].as_str().unwrap_or("");
            let n = r["count"].as_u64().unwrap_or(0);
            if [
                "create",
                "update",
                "patch",
                "apply",
                "delete",
                "deletecollection",
            ]
            .contains(&verb)
            {
                writes += n;
            }
            // Non-resource paths (`/version`, `/api` of the probes) start with `/`.
            if verb == "get" && !resource.starts_with('/') {
                gets += n;
            }
        }
    }
    (writes, gets)
}

fn http(port: u16, request: &str) -> String {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return String::new();
    };
    let _ = s.write_all(request.as_bytes());
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

/// Application name → (sync status, revision, health), kept current by a watch.
type States = Arc<Mutex<HashMap<String, (String, String, String)>>>;

fn watch_apps(hub: kube::Client) -> States {
    let states: States = Arc::default();
    let s = states.clone();
    tokio::spawn(async move {
        let api: Api<Application> = Api::namespaced(hub, "flotilla");
        let mut stream = watcher::watcher(api, watcher::Config::default()).boxed();
        while let Ok(Some(ev)) = stream.try_next().await {
            if let watcher::Event::Apply(a) | watcher::Event::InitApply(a) = ev {
                let st = a.status.clone().unwrap_or_default();
                let sync = st.sync.clone().unwrap_or_default();
                let health = st.health.map(|h| h.status).unwrap_or_default();
                s.lock().unwrap().insert(
                    a.metadata.name.clone().unwrap_or_default(),
                    (sync.status, sync.revision.unwrap_or_default(), health),
                );
            }
        }
    });
    states
}

/// Waits until every name in `names` satisfies `f`; returns the elapsed time.
async fn wait_all(
    states: &States,
    names: &[String],
    limit: Duration,
    f: impl Fn(&(String, String, String)) -> bool,
) -> Duration {
    let t0 = Instant::now();
    loop {
        let done = {
            let s = states.lock().unwrap();
            names.iter().filter(|n| s.get(*n).is_some_and(&f)).count()
        };
        if done == names.len() {
            return t0.elapsed();
        }
        assert!(
            t0.elapsed() < limit,
            "{done}/{} after {limit:?}",
            names.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn main() {
    let clusters = env_usize("BENCH_CLUSTERS", 100);
    let apps = env_usize("BENCH_APPS", 10_000);
    let dir = tempfile::tempdir().expect("tempdir");
    // The Git repository: one directory per Application.
    let work = dir.path().join("work");
    let served = dir.path().join("served");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::create_dir_all(&served).unwrap();
    git(&served, &["init", "-q", "--bare", "-b", "main", "repo.git"]);
    git(&work, &["init", "-q", "-b", "main"]);
    for i in 0..apps {
        let d = work.join(format!("apps/a{i:05}"));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("cm.yaml"), cm(i, "blue")).unwrap();
    }
    git(&work, &["add", "-A"]);
    git(&work, &["commit", "-q", "-m", "initial"]);
    git(&work, &["remote", "add", "origin", "../served/repo.git"]);
    git(&work, &["push", "-q", "origin", "main"]);
    let git_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let exec = git(dir.path(), &["--exec-path"]);
    let _daemon = Proc(
        Command::new(format!("{exec}/git-daemon"))
            .args([
                "--reuseaddr",
                "--export-all",
                "--listen=127.0.0.1",
                &format!("--port={git_port}"),
                &format!("--base-path={}", served.display()),
            ])
            .arg(&served)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("git daemon"),
    );
    let repo_url = format!("git://127.0.0.1:{git_port}/repo.git");

    let kdir = dir.path().join("kube");
    let mut names = vec!["hub".to_string()];
    names.extend((0..clusters).map(|i| format!("c{i}")));
    let sim = Proc(
        Command::new(env!("CARGO_BIN_EXE_flotilla"))
            .args([
                "sim",
                "--ready-after",
                "200ms",
                "--clusters",
                &names.join(","),
                "--kubeconfig-dir",
            ])
            .arg(&kdir)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("flotilla sim"),
    );
    let t = Instant::now();
    while !kdir.join("admin.json").exists() {
        assert!(t.elapsed() < Duration::from_secs(60), "simulator not ready");
        std::thread::sleep(Duration::from_millis(50));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let read = |n: &str| std::fs::read_to_string(kdir.join(format!("{n}.yaml"))).expect("kubeconfig");
        let hub = client(&read("hub")).await;
        let crds: Api<CustomResourceDefinition> = Api::all(hub.clone());
        for f in ["applications", "applicationsets", "appprojects"] {
            let text = std::fs::read_to_string(format!("{}/crds/{f}.yaml", env!("CARGO_MANIFEST_DIR"))).unwrap();
            crds.create(&PostParams::default(), &serde_yaml::from_str(&text).unwrap()).await.expect("crd");
        }
        let ns: Api<Namespace> = Api::all(hub.clone());
        ns.create(&PostParams::default(), &serde_json::from_value(json!({"metadata": {"name": "flotilla"}})).unwrap()).await.unwrap();
        let secrets: Api<Secret> = Api::namespaced(hub.clone(), "flotilla");
        let hook: Secret = serde_json::from_value(json!({"metadata": {"name": "flotilla-webhook"}, "stringData": {"github.secret": "bench-secret"}})).unwrap();
        secrets.create(&PostParams::default(), &hook).await.unwrap();
        for i in 0..clusters {
            let kc: Value = serde_yaml::from_str(&read(&format!("c{i}"))).unwrap();
            let c = &kc["clusters"][0]["cluster"];
            let s: Secret = serde_json::from_value(json!({
                "metadata": {"name": format!("cluster-c{i}"), "labels": {"flotilla.dev/secret-type": "cluster"}},
                "stringData": {"name": format!("c{i}"), "server": c["server"], "config": json!({"bearerToken": kc["users"][0]["user"]["token"], "tlsClientConfig": {"caData": c["certificate-authority-data"]}}).to_string()}
            }))
            .unwrap();
            secrets.create(&PostParams::default(), &s).await.unwrap();
            let target = client(&read(&format!("c{i}"))).await;
            let tns: Api<Namespace> = Api::all(target);
            tns.create(&PostParams::default(), &serde_json::from_value(json!({"metadata": {"name": "apps"}})).unwrap()).await.unwrap();
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let cache = tempfile::tempdir().unwrap();
        // BENCH_HEAPTRACK=FILE: the hub runs under heaptrack (allocations by call site).
        let mut hub_cmd = match std::env::var("BENCH_HEAPTRACK") {
            Ok(out) => {
                let mut c = Command::new("heaptrack");
                c.args(["-o", &out, env!("CARGO_BIN_EXE_flotilla")]);
                c
            }
            Err(_) => Command::new(env!("CARGO_BIN_EXE_flotilla")),
        };
        let hub_proc = Proc(
            hub_cmd
                .args(["hub", "--in-cluster=false", "--listen", &format!("127.0.0.1:{port}"), "--kubeconfig"])
                .arg(kdir.join("hub.yaml"))
                .arg("--git-cache")
                .arg(cache.path())
                .env("RUST_LOG", "warn,kube_client::client::builder=off")
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("flotilla hub"),
        );
        let pid = hub_proc.0.id();
        let t = Instant::now();
        while !http(port, "GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").starts_with("HTTP/1.1 200") {
            assert!(t.elapsed() < Duration::from_secs(60), "hub not ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let states = watch_apps(hub.clone());
        println!("sync_scale: {clusters} clusters, {apps} Applications; hub ready, RSS {} MiB", proc_kib(pid, "VmRSS:") / 1024);

        // 1. First sync.
        let app_api: Api<Application> = Api::namespaced(hub.clone(), "flotilla");
        let all: Vec<String> = (0..apps).map(|i| format!("a{i:05}")).collect();
        let sim_pid = sim.0.id();
        // BENCH_PERF=FILE: a CPU profile of the hub during the first sync (perf record).
        let perf = std::env::var("BENCH_PERF").ok().map(|out| {
            Proc(Command::new("perf").args(["record", "-e", "cpu-clock", "-F", "499", "-g", "-o", &out, "-p", &pid.to_string()]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("perf"))
        });
        let (hub_cpu0, sim_cpu0, me_cpu0) = (cpu_seconds(pid), cpu_seconds(sim_pid), cpu_seconds(std::process::id()));
        let t0 = Instant::now();
        let creates: Vec<_> = (0..apps)
            .map(|i| {
                let api = app_api.clone();
                let repo_url = repo_url.clone();
                async move {
                    let app: Application = serde_json::from_value(json!({
                        "apiVersion": "flotilla.dev/v1alpha1", "kind": "Application",
                        "metadata": {"name": format!("a{i:05}"), "annotations": {"argocd.argoproj.io/manifest-generate-paths": "."}},
                        "spec": {"project": "default", "source": {"repoURL": repo_url, "targetRevision": "main", "path": format!("apps/a{i:05}")},
                                 "destination": {"name": format!("c{}", i % clusters), "namespace": "apps"}, "syncPolicy": {"automated": {"prune": true}}}
                    }))
                    .unwrap();
                    api.create(&PostParams::default(), &app).await.expect("create Application");
                }
            })
            .collect();
        futures::stream::iter(creates).buffer_unordered(32).collect::<Vec<()>>().await;
        let created = t0.elapsed();
        wait_all(&states, &all, Duration::from_secs(600), |(s, _, h)| s == "Synced" && h == "Healthy").await;
        let secs = t0.elapsed().as_secs_f64();
        println!("first sync: {apps} Applications Synced+Healthy in {secs:.1} s (created in {:.1} s) = {:.0} apps/s  [target >= 300]", created.as_secs_f64(), apps as f64 / secs);
        println!(
            "  CPU during it: hub {:.1} s, simulator {:.1} s, bench (clients, watch) {:.1} s",
            cpu_seconds(pid) - hub_cpu0,
            cpu_seconds(sim_pid) - sim_cpu0,
            cpu_seconds(std::process::id()) - me_cpu0
        );
        if let Some(mut p) = perf {
            unsafe { libc::kill(p.0.id() as i32, libc::SIGINT) };
            let _ = p.0.wait();
        }
        println!("hub after first sync: RSS {} MiB", proc_kib(pid, "VmRSS:") / 1024);

        // 2. Steady state: a full resync period (120 s + 60 s jitter) and a margin.
        let reconciles = || {
            let metrics = http(port, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            metrics.lines().filter(|l| l.starts_with("flotilla_app_reconcile_count")).filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok()).sum::<f64>()
        };
        let status_writes = || {
            let metrics = http(port, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            metrics.lines().find(|l| l.starts_with("flotilla_app_status_writes_total")).and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok()).unwrap_or(0.0)
        };
        println!("status writes so far: {:.0}", status_writes());
        tokio::time::sleep(Duration::from_secs(5)).await;
        for i in 0..clusters {
            admin(&kdir, "DELETE", &format!("/clusters/c{i}/requests"), None);
        }
        let (r0, w0) = (reconciles(), status_writes());
        let window = env_usize("BENCH_STEADY_SECONDS", 200) as u64;
        tokio::time::sleep(Duration::from_secs(window)).await;
        let (writes, gets) = target_calls(&kdir, clusters);
        println!(
            "steady state ({window} s, {:.0} reconciles, {:.0} hub status writes): {writes} writes, {gets} per-object GETs to target clusters  [target 0, 0]",
            reconciles() - r0,
            status_writes() - w0
        );
        println!(
            "hub at {apps} Applications: RSS {} MiB (anonymous {} MiB, file {} MiB), peak {} MiB  [target <= 150]",
            proc_kib(pid, "VmRSS:") / 1024,
            proc_kib(pid, "RssAnon:") / 1024,
            proc_kib(pid, "RssFile:") / 1024,
            proc_kib(pid, "VmHWM:") / 1024
        );
        println!("hub sockets (connections and listeners): {}", sockets(pid));

        // 3. Webhook: a commit touching the Applications of 10 clusters.
        let push = |touched: &[usize], color: &str| {
            for &i in touched {
                std::fs::write(work.join(format!("apps/a{i:05}/cm.yaml")), cm(i, color)).unwrap();
            }
            git(&work, &["commit", "-q", "-am", color]);
            git(&work, &["push", "-q", "origin", "main"]);
            let sha = git(&work, &["rev-parse", "HEAD"]);
            let files: Vec<String> = touched.iter().map(|i| format!("apps/a{i:05}/cm.yaml")).collect();
            let body = json!({"ref": "refs/heads/main", "after": sha, "repository": {"clone_url": repo_url, "default_branch": "main"}, "commits": [{"added": [], "modified": files, "removed": []}]}).to_string();
            let sig = flotilla::observe::webhook::github_signature("bench-secret", body.as_bytes());
            (sha, body, sig)
        };
        let in_clusters = |cs: std::ops::Range<usize>| -> Vec<usize> { (0..apps).filter(|i| cs.contains(&(i % clusters))).collect() };
        let names = |idx: &[usize]| -> Vec<String> { idx.iter().map(|i| format!("a{i:05}")).collect() };
        let touched = in_clusters(0..10.min(clusters));
        let nine: Vec<String> = names(&touched.iter().copied().filter(|i| i % clusters != 0).collect::<Vec<_>>());
        let (sha, body, sig) = push(&touched, "green");
        let request = format!("POST /api/webhook HTTP/1.1\r\nHost: x\r\nX-GitHub-Event: push\r\nX-Hub-Signature-256: {sig}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
        let t3 = Instant::now();
        let answer = http(port, &request);
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        let sha2 = sha.clone();
        let nine_time = {
            let states = states.clone();
            let nine = nine.clone();
            tokio::spawn(async move { wait_all(&states, &nine, Duration::from_secs(120), |(s, r, _)| s == "Synced" && *r == sha2).await })
        };
        let all_time = wait_all(&states, &names(&touched), Duration::from_secs(120), |(s, r, _)| s == "Synced" && *r == sha).await;
        let nine_healthy = nine_time.await.unwrap();
        let _ = t3;
        println!("webhook: {} Applications on 10 clusters synced {:.2} s after the push (the 9 clusters but c0: {:.2} s)  [target < 5 s]", touched.len(), all_time.as_secs_f64(), nine_healthy.as_secs_f64());

        // 4. The same with c0 blackholed.
        admin(&kdir, "PUT", "/clusters/c0/faults", Some(r#"{"mode": "blackhole"}"#));
        let (sha, body, sig) = push(&touched, "red");
        let request = format!("POST /api/webhook HTTP/1.1\r\nHost: x\r\nX-GitHub-Event: push\r\nX-Hub-Signature-256: {sig}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
        let answer = http(port, &request);
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        let nine_black = wait_all(&states, &nine, Duration::from_secs(120), |(s, r, _)| s == "Synced" && *r == sha).await;
        println!(
            "isolation: with c0 blackholed, the {} Applications of the other 9 clusters synced in {:.2} s vs {:.2} s all healthy ({:+.0}%)  [target <= +20%]",
            nine.len(),
            nine_black.as_secs_f64(),
            nine_healthy.as_secs_f64(),
            (nine_black.as_secs_f64() / nine_healthy.as_secs_f64() - 1.0) * 100.0
        );
        admin(&kdir, "PUT", "/clusters/c0/faults", Some(r#"{"mode": "normal"}"#));
        println!("hub final: RSS {} MiB, peak {} MiB", proc_kib(pid, "VmRSS:") / 1024, proc_kib(pid, "VmHWM:") / 1024);
        drop(hub_proc);
    });
}
