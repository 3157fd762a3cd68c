//! Running kustomize: `kustomize build` when a standalone `kustomize` is on `PATH`, else
//! `kubectl kustomize`, always with `--load-restrictor=LoadRestrictionsRootOnly`, stdin closed,
//! a scrubbed environment (`PATH` only, `HOME` in the temporary directory, Git and HTTP pointed
//! nowhere), a timeout after which it is killed, and a cap on what it may print.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::RenderError;

/// How to invoke kustomize.
#[derive(Debug, Clone)]
pub struct KustomizeCommand {
    program: PathBuf,
    /// Arguments before the flags: `["build"]` or `["kustomize"]`.
    args: Vec<String>,
    timeout: Duration,
    max_output_bytes: usize,
}

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
const DEFAULT_MAX_OUTPUT: usize = 64 << 20;
/// How much of kustomize's stderr an error keeps.
const MAX_STDERR_IN_ERROR: usize = 4096;

impl KustomizeCommand {
    /// `kustomize build` if `kustomize` is on `PATH`, else `kubectl kustomize`.
    pub fn detect() -> Self {
        match find_on_path("kustomize") {
            Some(path) => Self::standalone(path),
            None => Self::kubectl(find_on_path("kubectl").unwrap_or_else(|| "kubectl".into())),
        }
    }

    pub fn standalone(program: impl Into<PathBuf>) -> Self {
        Self::custom(program, ["build"])
    }

    pub fn kubectl(program: impl Into<PathBuf>) -> Self {
        Self::custom(program, ["kustomize"])
    }

    /// `program args… --load-restrictor=LoadRestrictionsRootOnly DIR`.
    pub fn custom<S: Into<String>>(
        program: impl Into<PathBuf>,
        args: impl IntoIterator<Item = S>,
    ) -> Self {
        KustomizeCommand {
            program: program.into(),
            args: args.into_iter().map(Into::into).collect(),
            timeout: DEFAULT_TIMEOUT,
            max_output_bytes: DEFAULT_MAX_OUTPUT,
        }
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn with_max_output_bytes(mut self, limit: usize) -> Self {
        self.max_output_bytes = limit;
        self
    }

    pub fn program(&self) -> &Path {
        &self.program
    }

    /// Builds the kustomization in `dir` (inside `repo`, the temporary copy) and returns its
    /// stdout. `label` names the application directory in errors; `home` is the scratch HOME.
    pub fn build(
        &self,
        repo: &Path,
        dir: &Path,
        home: &Path,
        label: &str,
    ) -> Result<String, RenderError> {
        let mut command = Command::new(&self.program);
        command
            .args(&self.args)
            .arg("--load-restrictor=LoadRestrictionsRootOnly")
            .arg(dir)
            .current_dir(repo)
            .env_clear()
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group, so a timeout kills whatever it started too.
            .process_group(0);
        if let Some(path) = std::env::var_os("PATH") {
            command.env("PATH", path);
        }
        for (key, value) in scrubbed_env(home) {
            command.env(key, value);
        }
        let mut child = command.spawn().map_err(|e| RenderError::KustomizeSpawn {
            path: label.to_string(),
            program: self.program.display().to_string(),
            cause: e.to_string(),
        })?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        let limit = self.max_output_bytes;
        let out_reader = thread::spawn(move || read_capped(stdout, limit));
        let err_reader = thread::spawn(move || read_capped(stderr, 1 << 20));

        let deadline = Instant::now() + self.timeout;
        let mut pause = Duration::from_millis(2);
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if Instant::now() >= deadline => break None,
                Ok(None) => {
                    thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(50));
                }
                Err(_) => break None,
            }
        };
        let Some(status) = status else {
            kill_group(child.id());
            let _ = child.kill();
            let _ = child.wait();
            return Err(RenderError::KustomizeTimeout {
                path: label.to_string(),
                seconds: self.timeout.as_secs().max(1),
            });
        };
        let (stdout, overflow) = out_reader.join().unwrap_or_default();
        let (stderr, _) = err_reader.join().unwrap_or_default();
        if !status.success() {
            return Err(RenderError::KustomizeFailed {
                path: label.to_string(),
                stderr: clean_stderr(&String::from_utf8_lossy(&stderr), repo),
            });
        }
        if overflow {
            return Err(RenderError::KustomizeOutputTooLarge {
                path: label.to_string(),
                limit,
            });
        }
        String::from_utf8(stdout).map_err(|_| RenderError::KustomizeFailed {
            path: label.to_string(),
            stderr: "kustomize printed output that is not UTF-8".into(),
        })
    }
}

/// SIGKILL to the process group `pgid` (the child leads it and is not reaped yet, so the id
/// cannot have been reused).
fn kill_group(pgid: u32) {
    if let Ok(pgid) = i32::try_from(pgid) {
        // SAFETY: kill(2) takes plain integers and touches no memory of ours.
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
    }
}

/// Nothing from the hub's environment; Git may use no protocol and HTTP goes to a dead proxy,
/// a second fence behind the static check against remote references.
fn scrubbed_env(home: &Path) -> Vec<(&'static str, std::ffi::OsString)> {
    let home = home.as_os_str().to_owned();
    let dead_proxy: std::ffi::OsString = "http://127.0.0.1:9".into();
    vec![
        ("HOME", home.clone()),
        ("XDG_CONFIG_HOME", home.clone()),
        ("XDG_CACHE_HOME", home.clone()),
        ("TMPDIR", home.clone()),
        ("KUBECONFIG", PathBuf::from(&home).join("kubeconfig").into()),
        ("GIT_ALLOW_PROTOCOL", "none".into()),
        ("GIT_CONFIG_NOSYSTEM", "1".into()),
        ("GIT_CONFIG_GLOBAL", "/dev/null".into()),
        ("GIT_TERMINAL_PROMPT", "0".into()),
        ("HTTP_PROXY", dead_proxy.clone()),
        ("HTTPS_PROXY", dead_proxy.clone()),
        ("http_proxy", dead_proxy.clone()),
        ("https_proxy", dead_proxy),
        ("NO_PROXY", "".into()),
        ("no_proxy", "".into()),
    ]
}

/// Reads everything, keeping at most `limit` bytes; the flag says whether more came.
fn read_capped(mut source: impl Read, limit: usize) -> (Vec<u8>, bool) {
    let mut kept = Vec::new();
    let mut buf = [0u8; 64 * 1024];
    let mut overflow = false;
    loop {
        match source.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let room = limit.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
                overflow |= n > room;
            }
        }
    }
    (kept, overflow)
}

/// kustomize's message without the temporary directory, klog's prefix or excess length:
/// `E1202 13:47:13.733227 14666 run.go:72] "command failed" err="…"` becomes the `err` text.
fn clean_stderr(stderr: &str, repo: &Path) -> String {
    let mut text = stderr.trim().to_string();
    if let Some(at) = text.find(" err=\"")
        && text.starts_with(['E', 'W', 'I', 'F'])
        && text.ends_with('"')
    {
        let quoted = &text[at + 6..text.len() - 1];
        text = quoted
            .replace("\\\"", "\"")
            .replace("\\n", "\n")
            .replace("\\\\", "\\");
    }
    let root = format!("{}/", repo.display());
    text = text
        .replace(&root, "")
        .replace(&repo.display().to_string(), ".");
    if text.len() > MAX_STDERR_IN_ERROR {
        let mut cut = MAX_STDERR_IN_ERROR;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push_str(" […]");
    }
    if text.is_empty() {
        "kustomize exited with an error and printed nothing".into()
    } else {
        text
    }
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stderr_loses_klog_prefix_and_temp_paths() {
        let repo = Path::new("/tmp/flotilla-render-abc/repo");
        let raw = "E1202 13:47:13.733227   14666 run.go:72] \"command failed\" err=\"accumulating resources: accumulation err='accumulating resources from 'missing.yaml': evalsymlink failure on '/tmp/flotilla-render-abc/repo/apps/web/missing.yaml' : lstat /tmp/flotilla-render-abc/repo/apps/web/missing.yaml: no such file or directory'\"\n";
        let clean = clean_stderr(raw, repo);
        assert!(clean.starts_with("accumulating resources:"), "{clean}");
        assert!(clean.contains("'apps/web/missing.yaml'"), "{clean}");
        assert!(!clean.contains("/tmp/"), "{clean}");
        let long = "x".repeat(10_000);
        assert!(clean_stderr(&long, repo).len() < 5_000);
        assert!(!clean_stderr("  \n", repo).is_empty());
    }

    #[test]
    fn timeout_kills_the_process() {
        let dir = tempfile::tempdir().unwrap();
        let command = KustomizeCommand::custom("sh", ["-c", "exec sleep 30", "sh"])
            .with_timeout(Duration::from_millis(200));
        let start = Instant::now();
        let err = command
            .build(dir.path(), dir.path(), dir.path(), "apps/web")
            .unwrap_err();
        assert!(matches!(err, RenderError::KustomizeTimeout { .. }), "{err}");
        assert!(start.elapsed() < Duration::from_secs(10));
        assert!(err.is_transient());
    }

    #[test]
    fn environment_is_scrubbed_and_output_capped() {
        let dir = tempfile::tempdir().unwrap();
        let command = KustomizeCommand::custom("sh", ["-c", "env | sort", "sh"]);
        let out = command
            .build(dir.path(), dir.path(), dir.path(), "apps/web")
            .unwrap();
        let names: Vec<&str> = out.lines().filter_map(|l| l.split('=').next()).collect();
        assert!(names.contains(&"HOME") && names.contains(&"PATH"), "{out}");
        assert!(!names.contains(&"CARGO_PKG_NAME"), "{out}");
        assert!(out.contains("GIT_ALLOW_PROTOCOL=none"), "{out}");
        let capped = KustomizeCommand::custom("sh", ["-c", "yes | head -c 100000", "sh"])
            .with_max_output_bytes(1000);
        let err = capped
            .build(dir.path(), dir.path(), dir.path(), "apps/web")
            .unwrap_err();
        assert!(
            matches!(err, RenderError::KustomizeOutputTooLarge { .. }),
            "{err}"
        );
    }
}
