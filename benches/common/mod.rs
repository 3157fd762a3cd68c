//! What the scale benchmarks share: child processes, sizes from the environment, /proc
//! readings, clients from kubeconfigs, and the simulator's admin API.

#![allow(dead_code)]

use std::path::Path;
use std::process::{Child, Command};

use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::Value;

/// A child process, killed and reaped when dropped.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `name` from the environment as a number, or `default`.
pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A `/proc/PID/status` field in KiB (`VmRSS:`, `VmHWM:`).
pub fn proc_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Open sockets of process `pid` (its TCP connections and listeners).
pub fn sockets(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|dir| {
            dir.filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
                .filter(|target| target.to_string_lossy().starts_with("socket:"))
                .count()
        })
        .unwrap_or(0)
}

/// User + system CPU seconds of process `pid`.
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let t = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (t(11) + t(12)) / 100.0
}

/// A client from a kubeconfig's text.
pub async fn client(kubeconfig: &str) -> kube::Client {
    let kc = Kubeconfig::from_yaml(kubeconfig).expect("kubeconfig parses");
    let config = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .expect("config");
    kube::Client::try_from(config).expect("client")
}

/// A call to the simulator's admin API (`DIR/admin.json` names it), through curl: JSON back.
pub fn admin(dir: &Path, method: &str, path: &str, body: Option<&str>) -> Value {
    let info: Value =
        serde_json::from_slice(&std::fs::read(dir.join("admin.json")).expect("admin.json"))
            .expect("json");
    let url = info["url"].as_str().expect("url").to_string();
    let token = info["token"].as_str().expect("token").to_string();
    let mut cmd = Command::new("curl");
    cmd.args([
        "-sk",
        "-X",
        method,
        "-H",
        &format!("Authorization: Bearer {token}"),
        "-H",
        "Content-Type: application/json",
    ]);
    if let Some(b) = body {
        cmd.args(["--data", b]);
    }
    let out = cmd.arg(format!("{url}{path}")).output().expect("curl runs");
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}
