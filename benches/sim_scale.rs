//! Benchmark: one `flotilla sim` process serving 200 virtual clusters that hold 100,000 objects
//! in total. Targets: under 1 GiB RSS, and at least 5,000 simple writes/s from concurrent clients
//! on a 2-core machine.
//!
//! `cargo bench --bench sim_scale` starts the release binary (`flotilla sim --count 200`) as a
//! child process, then from this process (sharing the same 2 cores):
//! 1. creates 100,000 ConfigMaps (500 per cluster) with `CONCURRENCY` concurrent kube-rs
//!    clients over HTTPS, and reports creates/s;
//! 2. updates (JSON merge patch) objects for `UPDATE_SECONDS` and reports patches/s;
//! 3. reads the simulator's RSS (VmRSS) and peak RSS (VmHWM) from /proc.
//!
//! Environment: `SIM_CLUSTERS`, `SIM_OBJECTS`, `SIM_CONCURRENCY` override the sizes.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;

mod common;
use common::{Proc, cpu_seconds, env_usize, proc_kib};

const UPDATE_SECONDS: u64 = 10;

async fn client(dir: &Path, name: &str) -> kube::Client {
    let yaml =
        std::fs::read_to_string(dir.join(format!("{name}.yaml"))).expect("kubeconfig written");
    common::client(&yaml).await
}

fn main() {
    let clusters = env_usize("SIM_CLUSTERS", 200);
    let objects = env_usize("SIM_OBJECTS", 100_000);
    let concurrency = env_usize("SIM_CONCURRENCY", 64);
    let dir = tempfile::tempdir().expect("temp dir");
    let child = Command::new(env!("CARGO_BIN_EXE_flotilla"))
        .args([
            "sim",
            "--count",
            &clusters.to_string(),
            "--prefix",
            "c",
            "--kubeconfig-dir",
        ])
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("flotilla sim starts");
    let sim = Proc(child);
    let pid = sim.0.id();
    let start = Instant::now();
    while !dir.path().join("admin.json").exists() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "simulator not ready after 60 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    println!(
        "sim_scale: {clusters} virtual clusters up in {:.2} s; idle RSS {} MiB",
        start.elapsed().as_secs_f64(),
        proc_kib(pid, "VmRSS:") / 1024
    );

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let mut apis = Vec::new();
        for i in 0..clusters {
            apis.push(Api::<ConfigMap>::namespaced(client(dir.path(), &format!("c{i}")).await, "default"));
        }
        let apis = Arc::new(apis);
        let per_cluster = objects.div_ceil(clusters);

        // 1. creates
        let next = Arc::new(AtomicUsize::new(0));
        let cpu0 = cpu_seconds(pid);
        let t0 = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..concurrency {
            let (apis, next) = (apis.clone(), next.clone());
            tasks.push(tokio::spawn(async move {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= objects {
                        break;
                    }
                    let api = &apis[n % apis.len()];
                    let cm: ConfigMap = serde_json::from_value(json!({
                        "metadata": {"name": format!("cm-{}", n / apis.len()), "labels": {"app": "bench", "shard": format!("s{}", n % 10)}},
                        "data": {"key": "value", "n": n.to_string()}
                    }))
                    .expect("configmap");
                    api.create(&PostParams::default(), &cm).await.expect("create");
                }
            }));
        }
        for t in tasks {
            t.await.expect("writer");
        }
        let secs = t0.elapsed().as_secs_f64();
        let cpu = cpu_seconds(pid) - cpu0;
        println!(
            "create: {objects} ConfigMaps in {secs:.2} s = {:.0} writes/s ({concurrency} concurrent clients; simulator CPU {cpu:.1} s = {:.0} µs/write)",
            objects as f64 / secs,
            cpu * 1e6 / objects as f64
        );
        println!("after create: RSS {} MiB, peak {} MiB", proc_kib(pid, "VmRSS:") / 1024, proc_kib(pid, "VmHWM:") / 1024);

        // 2. updates for a fixed time
        let done = Arc::new(AtomicUsize::new(0));
        let deadline = Instant::now() + Duration::from_secs(UPDATE_SECONDS);
        let t0 = Instant::now();
        let mut tasks = Vec::new();
        for w in 0..concurrency {
            let (apis, done) = (apis.clone(), done.clone());
            tasks.push(tokio::spawn(async move {
                let mut i = w;
                while Instant::now() < deadline {
                    let api = &apis[i % apis.len()];
                    let name = format!("cm-{}", (i / apis.len()) % per_cluster);
                    let patch = json!({"data": {"n": i.to_string()}});
                    api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await.expect("patch");
                    done.fetch_add(1, Ordering::Relaxed);
                    i += concurrency;
                }
            }));
        }
        for t in tasks {
            t.await.expect("updater");
        }
        let secs = t0.elapsed().as_secs_f64();
        let n = done.load(Ordering::Relaxed);
        println!("update: {n} merge patches in {secs:.2} s = {:.0} writes/s", n as f64 / secs);
    });
    let rss = proc_kib(pid, "VmRSS:") / 1024;
    let hwm = proc_kib(pid, "VmHWM:") / 1024;
    println!("final: RSS {rss} MiB, peak {hwm} MiB (target < 1024 MiB)");
}
