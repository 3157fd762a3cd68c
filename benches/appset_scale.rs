//! Benchmark: one ApplicationSet generating 10,000 Applications over 500 registered clusters.
//! Targets: `ResourcesUpToDate` in under 60 s against the simulator, and a re-evaluation with
//! nothing changed makes zero write calls to the hub API.
//!
//! `cargo bench --bench appset_scale` starts two release binaries as child processes, all on
//! this machine's 2 cores: `flotilla sim` (a `hub` virtual cluster and 500 targets) and
//! `flotilla hub` (defaults, but for `--in-cluster=false`). From this process it installs the
//! CRDs, registers the 500 clusters by Secret, creates the ApplicationSet (a matrix of the
//! clusters generator and a 20-element list), and measures:
//! 1. the wall time from creating the ApplicationSet until its `ResourcesUpToDate` is True with
//!    `status.resourcesCount` = 10,000 (and the Applications, counted by a list);
//! 2. the hub's write calls (create, update, patch, apply, delete on Applications and
//!    ApplicationSets, from the simulator's request counters) during a re-evaluation triggered
//!    by a cluster Secret annotation that changes no generated Application; the pass is seen
//!    through the hub's `flotilla_appset_reconcile_count` metric;
//! 3. the hub's CPU time and peak RSS.
//!
//! Environment: `BENCH_CLUSTERS` (500), `BENCH_ELEMENTS` (20) override the sizes.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Namespace, Secret};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

mod common;
use common::{Proc, client, cpu_seconds, env_usize, proc_kib};

/// Write calls on Applications and ApplicationSets served by the hub virtual cluster.
fn hub_writes(dir: &Path) -> std::collections::BTreeMap<String, u64> {
    let counts = common::admin(dir, "GET", "/clusters/hub/requests", None);
    counts["requests"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| {
            let verb = r["verb"].as_str().unwrap_or("");
            let res = r["resource"].as_str().unwrap_or("");
            [
                "create",
                "update",
                "patch",
                "apply",
                "delete",
                "deletecollection",
            ]
            .contains(&verb)
                && (res.starts_with("applications.flotilla.dev")
                    || res.starts_with("applicationsets.flotilla.dev"))
        })
        .map(|r| {
            let key = format!(
                "{} {}",
                r["verb"].as_str().unwrap_or(""),
                r["resource"].as_str().unwrap_or("")
            );
            (key, r["count"].as_u64().unwrap_or(0))
        })
        .fold(Default::default(), |mut m, (k, n)| {
            *m.entry(k).or_default() += n;
            m
        })
}

/// The write calls made between two [`hub_writes`] readings: total and "verb resource: n".
fn writes_since(
    before: &std::collections::BTreeMap<String, u64>,
    after: &std::collections::BTreeMap<String, u64>,
) -> (u64, String) {
    let mut total = 0;
    let mut which = Vec::new();
    for (k, n) in after {
        let d = n - before.get(k).copied().unwrap_or(0);
        if d > 0 {
            total += d;
            which.push(format!("{k}: {d}"));
        }
    }
    (total, which.join(", "))
}

/// `flotilla_appset_reconcile_count` from the hub's /metrics.
fn reconciles(port: u16) -> u64 {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return 0;
    };
    let _ = s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out.lines()
        .filter(|l| l.starts_with("flotilla_appset_reconcile_count"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

fn main() {
    let clusters = env_usize("BENCH_CLUSTERS", 500);
    let elements = env_usize("BENCH_ELEMENTS", 20);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut names = vec!["hub".to_string()];
    names.extend((0..clusters).map(|i| format!("c{i}")));
    let sim = Proc(
        Command::new(env!("CARGO_BIN_EXE_flotilla"))
            .args(["sim", "--clusters", &names.join(","), "--kubeconfig-dir"])
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("flotilla sim starts"),
    );
    let start = Instant::now();
    while !dir.path().join("admin.json").exists() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "simulator not ready"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let read = |n: &str| std::fs::read_to_string(dir.path().join(format!("{n}.yaml"))).expect("kubeconfig");
        let hub = client(&read("hub")).await;
        let crds: Api<CustomResourceDefinition> = Api::all(hub.clone());
        for f in ["applications", "applicationsets", "appprojects"] {
            let text = std::fs::read_to_string(format!("{}/crds/{f}.yaml", env!("CARGO_MANIFEST_DIR"))).expect("crd");
            crds.create(&PostParams::default(), &serde_yaml::from_str(&text).expect("crd yaml")).await.expect("create crd");
        }
        let ns: Api<Namespace> = Api::all(hub.clone());
        ns.create(&PostParams::default(), &serde_json::from_value(json!({"metadata": {"name": "flotilla"}})).unwrap()).await.expect("namespace");
        let secrets: Api<Secret> = Api::namespaced(hub.clone(), "flotilla");
        let t0 = Instant::now();
        for i in 0..clusters {
            let kc: Value = serde_yaml::from_str(&read(&format!("c{i}"))).expect("kubeconfig yaml");
            let server = kc["clusters"][0]["cluster"]["server"].as_str().unwrap().to_string();
            let ca = kc["clusters"][0]["cluster"]["certificate-authority-data"].as_str().unwrap().to_string();
            let token = kc["users"][0]["user"]["token"].as_str().unwrap().to_string();
            let env = ["dev", "staging", "prod"][i % 3];
            let s: Secret = serde_json::from_value(json!({
                "metadata": {"name": format!("cluster-c{i}"), "labels": {"flotilla.dev/secret-type": "cluster", "fleet": "bench", "env": env}},
                "stringData": {"name": format!("c{i}"), "server": server, "config": json!({"bearerToken": token, "tlsClientConfig": {"caData": ca}}).to_string()}
            }))
            .unwrap();
            secrets.create(&PostParams::default(), &s).await.expect("cluster secret");
        }
        println!("appset_scale: {clusters} clusters registered in {:.1} s", t0.elapsed().as_secs_f64());

        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let cache = tempfile::tempdir().expect("cache");
        let hub_proc = Proc(
            Command::new(env!("CARGO_BIN_EXE_flotilla"))
                .args(["hub", "--in-cluster=false", "--listen", &format!("127.0.0.1:{port}"), "--kubeconfig"])
                .arg(dir.path().join("hub.yaml"))
                .arg("--git-cache")
                .arg(cache.path())
                .env("RUST_LOG", "warn")
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("flotilla hub starts"),
        );
        let pid = hub_proc.0.id();
        // Ready: the registry has listed the 500 Secrets.
        let ready = Instant::now();
        loop {
            if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
                let _ = s.write_all(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
                let mut out = String::new();
                let _ = s.read_to_string(&mut out);
                if out.starts_with("HTTP/1.1 200") {
                    break;
                }
            }
            assert!(ready.elapsed() < Duration::from_secs(60), "hub not ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        println!("hub ready with {clusters} clusters in {:.1} s: RSS {} MiB", ready.elapsed().as_secs_f64(), proc_kib(pid, "VmRSS:") / 1024);
        let elems: Vec<Value> = (0..elements).map(|i| json!({"app": format!("app{i:02}")})).collect();
        let appset: Value = json!({
            "apiVersion": "flotilla.dev/v1alpha1", "kind": "ApplicationSet",
            "metadata": {"name": "fleet", "namespace": "flotilla"},
            "spec": {
                "generators": [{"matrix": {"generators": [
                    {"clusters": {"selector": {"matchLabels": {"fleet": "bench"}}}},
                    {"list": {"elements": elems}}
                ]}}],
                "template": {
                    "metadata": {"name": "{{app}}-{{name}}", "labels": {"env": "{{metadata.labels.env}}"}},
                    "spec": {"project": "default", "source": {"repoURL": "https://git.example.com/fleet.git", "targetRevision": "main", "path": "apps/{{app}}"},
                             "destination": {"server": "{{server}}", "namespace": "{{app}}"}}
                }
            }
        });
        let appsets: Api<flotilla::api::ApplicationSet> = Api::namespaced(hub.clone(), "flotilla");
        let expected = (clusters * elements) as i64;
        let cpu0 = cpu_seconds(pid);
        let t0 = Instant::now();
        appsets.create(&PostParams::default(), &serde_json::from_value(appset).unwrap()).await.expect("appset");
        loop {
            if let Ok(a) = appsets.get("fleet").await {
                let st = a.status.unwrap_or_default();
                let ok = st.conditions.iter().any(|c| c.type_ == "ResourcesUpToDate" && c.status == "True");
                if ok && st.resources_count == Some(expected) {
                    break;
                }
            }
            assert!(t0.elapsed() < Duration::from_secs(300), "not up to date after 300 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let secs = t0.elapsed().as_secs_f64();
        let cpu = cpu_seconds(pid) - cpu0;
        let apps: Api<flotilla::api::Application> = Api::namespaced(hub.clone(), "flotilla");
        let listed = apps.list_metadata(&ListParams::default()).await.expect("list").items.len();
        println!(
            "generate: {expected} Applications over {clusters} clusters up to date in {secs:.1} s ({:.0} apps/s; hub CPU {cpu:.1} s; listed {listed})  [target < 60 s]",
            expected as f64 / secs
        );
        // Two re-evaluations, each triggered by an annotation on a cluster Secret the
        // generator selects. The first may write the ApplicationSet's status once: its
        // `status.resources` carries each Application's sync and health, which the sync engine
        // has changed since the last pass (here: ComparisonError, the bench's repository does
        // not exist), and a status write of an Application triggers no pass (as in Argo CD).
        // The second finds nothing changed: the target is 0 write calls.
        for (round, target) in [("first", "status only"), ("second", "0")] {
            // Let the passes triggered by the hub's own writes settle.
            let mut last = reconciles(port);
            loop {
                tokio::time::sleep(Duration::from_secs(2)).await;
                let now = reconciles(port);
                if now == last {
                    break;
                }
                last = now;
            }
            let writes0 = hub_writes(dir.path());
            let passes0 = reconciles(port);
            let patch = json!({"metadata": {"annotations": {"bench/touched": round}}});
            secrets.patch("cluster-c0", &PatchParams::default(), &Patch::Merge(&patch)).await.expect("touch");
            let t1 = Instant::now();
            while reconciles(port) == passes0 {
                assert!(t1.elapsed() < Duration::from_secs(60), "no re-evaluation after the cluster change");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let pass_secs = t1.elapsed().as_secs_f64();
            tokio::time::sleep(Duration::from_secs(2)).await;
            let (writes, which) = writes_since(&writes0, &hub_writes(dir.path()));
            println!("re-evaluate ({round}): pass seen {pass_secs:.2} s after the cluster change; hub write calls on Applications/ApplicationSets: {writes} [{which}]  [target {target}]");
        }
        println!("hub: RSS {} MiB, peak {} MiB", proc_kib(pid, "VmRSS:") / 1024, proc_kib(pid, "VmHWM:") / 1024);
        drop(hub_proc);
    });
    drop(sim);
}
