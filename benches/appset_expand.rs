//! Benchmark: a matrix of a cluster generator over 1,000 cluster Secrets and a list of 10
//! elements (10,000 Applications). Target: under 1 s of CPU and under 200 MiB peak RSS.
//!
//! `cargo bench --bench appset_expand` runs each measurement in a fresh child process (so peak
//! RSS is that measurement's own) and prints:
//! - `expand`: `flotilla::appset::expand` alone, in-process, several runs (CPU time of the thread,
//!   CLOCK_THREAD_CPUTIME_ID; min and median);
//! - `cli`: the whole `flotilla appset generate` path on files (parse 1,000 Secrets, expand, print
//!   10,000 Applications as YAML), CPU time of the process and peak RSS (VmHWM).

use std::fmt::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use flotilla::api::{ApplicationSet, ClusterSecret, secrets_from_yaml};
use flotilla::appset::{Inputs, expand};
use flotilla::git::MemorySource;

const CLUSTERS: usize = 1_000;
const ELEMENTS: usize = 10;
const RUNS: usize = 7;

fn cluster_secrets_yaml() -> String {
    let mut out = String::new();
    for i in 0..CLUSTERS {
        let env = ["dev", "staging", "prod"][i % 3];
        let _ = write!(
            out,
            "---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: cluster-{i:04}\n  namespace: flotilla\n  labels:\n    argocd.argoproj.io/secret-type: cluster\n    env: {env}\n    region: region-{r}\n    fleet: bench\n  annotations:\n    team: team-{t}\nstringData:\n  name: cluster-{i:04}\n  server: https://cluster-{i:04}.k8s.example.com\n  config: '{{\"bearerToken\": \"token-{i}\", \"tlsClientConfig\": {{\"insecure\": false}}}}'\n",
            r = i % 7,
            t = i % 13
        );
    }
    out
}

fn appset_yaml() -> String {
    let elements: String = (0..ELEMENTS)
        .map(|i| {
            format!(
                "          - {{app: app-{i}, path: apps/app-{i}, tier: tier-{}}}\n",
                i % 3
            )
        })
        .collect();
    format!(
        r#"apiVersion: flotilla.dev/v1alpha1
kind: ApplicationSet
metadata: {{name: fleet, namespace: flotilla}}
spec:
  generators:
  - matrix:
      generators:
      - clusters:
          selector: {{matchLabels: {{fleet: bench}}}}
          values: {{overlay: '{{{{metadata.labels.env}}}}'}}
      - list:
          elements:
{elements}  template:
    metadata:
      name: '{{{{app}}}}-{{{{name}}}}'
      labels: {{app: '{{{{app}}}}', env: '{{{{metadata.labels.env}}}}', region: '{{{{metadata.labels.region}}}}', tier: '{{{{tier}}}}'}}
      annotations: {{team: '{{{{metadata.annotations.team}}}}'}}
    spec:
      project: '{{{{metadata.labels.env}}}}'
      source:
        repoURL: https://git.example.com/platform/gitops.git
        targetRevision: HEAD
        path: '{{{{path}}}}/overlays/{{{{values.overlay}}}}'
      destination: {{server: '{{{{server}}}}', namespace: '{{{{app}}}}'}}
      syncPolicy:
        automated: {{prune: true, selfHeal: true}}
        syncOptions: [CreateNamespace=true]
"#
    )
}

fn cpu_clock(clock: libc::clockid_t) -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// CPU time (user + system) of the calling thread.
fn thread_cpu() -> Duration {
    cpu_clock(libc::CLOCK_THREAD_CPUTIME_ID)
}

/// CPU time (user + system) of the whole process, all threads.
fn process_cpu() -> Duration {
    cpu_clock(libc::CLOCK_PROCESS_CPUTIME_ID)
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

fn child_expand() {
    let clusters: Vec<ClusterSecret> = secrets_from_yaml(&cluster_secrets_yaml(), "bench")
        .expect("secrets")
        .iter()
        .map(|s| ClusterSecret::from_secret(s).expect("cluster"))
        .collect();
    let appset: ApplicationSet = serde_yaml::from_str(&appset_yaml()).expect("appset");
    let git = MemorySource::new();
    let inputs = Inputs {
        clusters: &clusters,
        invalid_clusters: &[],
        in_cluster: false,
        git: &git,
    };
    let mut cpu = Vec::new();
    let mut wall = Vec::new();
    for _ in 0..RUNS {
        let (c0, w0) = (thread_cpu(), Instant::now());
        let expansion = expand(&appset, &inputs).expect("expand");
        let (c1, w1) = (thread_cpu(), w0.elapsed());
        assert_eq!(expansion.applications.len(), CLUSTERS * ELEMENTS);
        drop(expansion);
        cpu.push(c1 - c0);
        wall.push(w1);
    }
    cpu.sort();
    wall.sort();
    println!(
        "expand: {} Applications, CPU min {:.0} ms, median {:.0} ms (wall median {:.0} ms) over {RUNS} runs; peak RSS {:.1} MiB",
        CLUSTERS * ELEMENTS,
        cpu[0].as_secs_f64() * 1e3,
        cpu[RUNS / 2].as_secs_f64() * 1e3,
        wall[RUNS / 2].as_secs_f64() * 1e3,
        peak_rss_mib()
    );
}

fn child_cli(dir: &str) {
    let before = process_cpu();
    let wall = Instant::now();
    let cli = <flotilla::cli::Cli as clap::Parser>::parse_from([
        "flotilla",
        "appset",
        "generate",
        &format!("{dir}/appset.yaml"),
        "--clusters",
        &format!("{dir}/clusters.yaml"),
    ]);
    flotilla::cli::run(cli).expect("cli");
    eprintln!(
        "cli: appset generate (parse 1,000 Secrets, expand, print 10,000 Applications as YAML): CPU {:.0} ms, wall {:.0} ms, peak RSS {:.1} MiB",
        (process_cpu() - before).as_secs_f64() * 1e3,
        wall.elapsed().as_secs_f64() * 1e3,
        peak_rss_mib()
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("--child-expand") => return child_expand(),
        Some("--child-cli") => return child_cli(&args[2]),
        _ => {}
    }
    let me = std::env::current_exe().expect("current exe");
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("clusters.yaml"), cluster_secrets_yaml()).expect("write");
    std::fs::write(dir.path().join("appset.yaml"), appset_yaml()).expect("write");
    let status = Command::new(&me)
        .arg("--child-expand")
        .status()
        .expect("child");
    assert!(status.success());
    let out = Command::new(&me)
        .arg("--child-cli")
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .status()
        .expect("child");
    assert!(out.success());
}
