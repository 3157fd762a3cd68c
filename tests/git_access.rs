//! GitCache against real Git servers on 127.0.0.1: `git daemon` (git://) and `git http-backend`
//! behind basic auth (http://), with fixture repositories built by the `git` CLI.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use flotilla::api::{RepositorySecret, RepositorySecretKind, Sensitive};
use flotilla::git::{GitCache, GitError, GitSource};
use support::git_servers::{GitDaemon, HttpGitServer};
use support::{git, within};
use tempfile::TempDir;

const LIMIT: Duration = Duration::from_secs(60);
const USER: &str = "alice";
const PASSWORD: &str = "pw-Zq8v3Kx7-never-print-me";

fn write(root: &Path, path: &str, content: &str) {
    let path = root.join(path);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, content).unwrap();
}

/// A work tree pushing to `served/repo.git`, and an empty cache directory.
///
/// History: `c1` (tagged `v1.0.0`, annotated) <- `c2` (`main`, tagged `light`); `feature` = `c1`
/// <- `c3`. The remote's HEAD is `main`.
struct Fixture {
    tmp: TempDir,
    c1: String,
    c2: String,
    c3: String,
}

impl Fixture {
    fn new() -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        let work = tmp.path().join("work");
        fs::create_dir_all(&work).unwrap();
        fs::create_dir_all(tmp.path().join("served")).unwrap();
        git(&work, &["init", "-q", "-b", "main"]);
        write(&work, "README.md", "hello\n");
        write(
            &work,
            "apps/guestbook/deployment.yaml",
            "kind: Deployment\n",
        );
        write(&work, "apps/guestbook/service.yaml", "kind: Service\n");
        write(&work, "apps/nested/deep/config.json", "{\"deep\": true}\n");
        write(&work, "apps/.config/hidden.yaml", "hidden: true\n");
        write(&work, "clusters/prod/values.yaml", "env: prod\n");
        write(&work, ".github/workflows/ci.yaml", "on: push\n");
        write(&work, ".hidden-file", "dot\n");
        write(&work, "scripts/run.sh", "#!/bin/sh\necho hi\n");
        git(
            &work,
            &["update-index", "--add", "--chmod=+x", "scripts/run.sh"],
        );
        std::os::unix::fs::symlink("/etc/passwd", work.join("leak")).unwrap();
        std::os::unix::fs::symlink("apps", work.join("linked-apps")).unwrap();
        git(&work, &["add", "-A"]);
        let gitlink = "160000,1111111111111111111111111111111111111111,vendor/lib";
        git(&work, &["update-index", "--add", "--cacheinfo", gitlink]);
        git(&work, &["commit", "-q", "-m", "c1"]);
        let c1 = git(&work, &["rev-parse", "HEAD"]);
        git(&work, &["tag", "-a", "v1.0.0", "-m", "release 1.0.0"]);
        // Not `add -A` from here on: it would drop the gitlink, which has no work tree.
        write(&work, "clusters/staging/values.yaml", "env: staging\n");
        git(&work, &["add", "clusters"]);
        git(&work, &["commit", "-q", "-m", "c2"]);
        let c2 = git(&work, &["rev-parse", "HEAD"]);
        git(&work, &["tag", "light"]);
        git(&work, &["checkout", "-q", "-b", "feature", &c1]);
        write(&work, "apps/feature.yaml", "feature: true\n");
        git(&work, &["add", "apps/feature.yaml"]);
        git(&work, &["commit", "-q", "-m", "c3"]);
        let c3 = git(&work, &["rev-parse", "HEAD"]);
        git(&work, &["checkout", "-q", "main"]);
        git(
            tmp.path(),
            &["clone", "-q", "--bare", "work", "served/repo.git"],
        );
        git(&work, &["remote", "add", "origin", "../served/repo.git"]);
        Fixture { tmp, c1, c2, c3 }
    }

    fn work(&self) -> PathBuf {
        self.tmp.path().join("work")
    }

    fn served(&self) -> PathBuf {
        self.tmp.path().join("served")
    }

    fn remote(&self) -> PathBuf {
        self.served().join("repo.git")
    }

    fn cache_dir(&self) -> PathBuf {
        self.tmp.path().join("cache")
    }

    fn cache(&self, secrets: Vec<RepositorySecret>) -> GitCache {
        GitCache::new(self.cache_dir(), secrets)
    }

    /// Commits a new file on `main` and pushes it; returns the new commit.
    fn push_commit(&self, path: &str) -> String {
        let work = self.work();
        write(&work, path, "new\n");
        git(&work, &["add", path]);
        git(&work, &["commit", "-q", "-m", path]);
        git(&work, &["push", "-q", "origin", "main"]);
        git(&work, &["rev-parse", "HEAD"])
    }
}

fn repo_secret(url: &str, password: &str) -> RepositorySecret {
    RepositorySecret {
        secret_name: "flotilla/repo".into(),
        kind: RepositorySecretKind::Repository,
        url: url.into(),
        name: None,
        project: None,
        repo_type: None,
        username: Some(USER.into()),
        password: Some(Sensitive::new(password.to_string())),
        ssh_private_key: None,
        tls_client_cert_data: None,
        tls_client_cert_key: None,
        insecure: false,
    }
}

fn sha(source: &dyn GitSource, url: &str, revision: &str) -> Result<String, GitError> {
    source
        .snapshot(url, revision)
        .map(|t| t.commit_sha().to_string())
}

/// Every revision form against `url`, which serves the fixture.
fn assert_resolves_every_revision_form(cache: &GitCache, url: &str, fx: &Fixture) {
    let tag_object = git(&fx.remote(), &["rev-parse", "v1.0.0"]);
    assert_ne!(tag_object, fx.c1);
    let cases = [
        ("", &fx.c2),
        ("HEAD", &fx.c2),
        ("main", &fx.c2),
        ("refs/heads/main", &fx.c2),
        ("feature", &fx.c3),
        ("refs/heads/feature", &fx.c3),
        ("v1.0.0", &fx.c1),
        ("refs/tags/v1.0.0", &fx.c1),
        ("light", &fx.c2),
        (fx.c1.as_str(), &fx.c1),
        (fx.c3.as_str(), &fx.c3),
        (&fx.c3[..8], &fx.c3),
        (&fx.c2[..12], &fx.c2),
        (tag_object.as_str(), &fx.c1),
    ];
    for (revision, expected) in cases {
        assert_eq!(
            sha(cache, url, revision).unwrap(),
            *expected,
            "revision {revision:?}"
        );
    }
    for revision in [
        "nope",
        "refs/heads/nope",
        "deadbeef",
        "abc",
        "a b",
        "main~1",
        &"0".repeat(40),
    ] {
        match sha(cache, url, revision) {
            Err(GitError::UnknownRevision { revision: r, .. }) => assert_eq!(r, revision),
            other => panic!("revision {revision:?}: {other:?}"),
        }
    }
}

#[test]
fn git_daemon_resolves_every_revision_form() {
    within(LIMIT, || {
        let fx = Fixture::new();
        let daemon = GitDaemon::start(&fx.served());
        let cache = fx.cache(vec![]);
        assert_resolves_every_revision_form(&cache, &daemon.url("repo.git"), &fx);
    });
}

#[test]
fn http_basic_auth_resolves_every_revision_form_with_one_fetch() {
    within(LIMIT, || {
        let fx = Fixture::new();
        let server = HttpGitServer::start(&fx.served(), USER, PASSWORD);
        let url = server.url("repo.git");
        let cache = fx.cache(vec![repo_secret(&url, PASSWORD)]);
        assert_eq!(sha(&cache, &url, "HEAD").unwrap(), fx.c2);
        let after_first_fetch = server.requests();
        assert!(after_first_fetch >= 2, "{after_first_fetch} requests");
        assert_resolves_every_revision_form(&cache, &url, &fx);
        assert_eq!(
            server.requests(),
            after_first_fetch,
            "fetched again within the round"
        );
    });
}

#[test]
fn file_url_works_too() {
    within(LIMIT, || {
        let fx = Fixture::new();
        let url = format!("file://{}", fx.remote().display());
        assert_eq!(sha(&fx.cache(vec![]), &url, "feature").unwrap(), fx.c3);
    });
}

#[test]
fn tree_lists_exact_directories_and_files() {
    within(LIMIT, || {
        let fx = Fixture::new();
        let daemon = GitDaemon::start(&fx.served());
        let tree = fx
            .cache(vec![])
            .snapshot(&daemon.url("repo.git"), "main")
            .unwrap();
        assert_eq!(tree.commit_sha(), fx.c2);
        let dirs = [
            "apps",
            "apps/guestbook",
            "apps/nested",
            "apps/nested/deep",
            "clusters",
            "clusters/prod",
            "clusters/staging",
            "scripts",
            "vendor",
        ];
        assert_eq!(tree.directories(), dirs);
        let files = [
            ".github/workflows/ci.yaml",
            ".hidden-file",
            "README.md",
            "apps/.config/hidden.yaml",
            "apps/guestbook/deployment.yaml",
            "apps/guestbook/service.yaml",
            "apps/nested/deep/config.json",
            "clusters/prod/values.yaml",
            "clusters/staging/values.yaml",
            "scripts/run.sh",
        ];
        assert_eq!(tree.files(), files);
    });
}

#[test]
fn read_file_reads_blobs_and_refuses_everything_else() {
    within(LIMIT, || {
        let fx = Fixture::new();
        let daemon = GitDaemon::start(&fx.served());
        let tree = fx
            .cache(vec![])
            .snapshot(&daemon.url("repo.git"), "HEAD")
            .unwrap();
        assert_eq!(
            tree.read_file("apps/nested/deep/config.json").unwrap(),
            b"{\"deep\": true}\n"
        );
        assert_eq!(
            tree.read_file(".github/workflows/ci.yaml").unwrap(),
            b"on: push\n"
        );
        assert_eq!(
            tree.read_file("scripts/run.sh").unwrap(),
            b"#!/bin/sh\necho hi\n"
        );
        let refused = [
            "leak",
            "linked-apps",
            "linked-apps/guestbook/service.yaml",
            "../x",
            "apps/../README.md",
            "./README.md",
            "/etc/passwd",
            "apps",
            "apps/",
            "vendor/lib",
            "missing.yaml",
            "",
        ];
        for path in refused {
            match tree.read_file(path) {
                Err(GitError::NotFound { path: p }) => assert_eq!(p, path),
                other => panic!("read_file({path:?}): {other:?}"),
            }
        }
    });
}

#[test]
fn wrong_password_fails_authentication_without_leaking_it() {
    within(LIMIT, || {
        let fx = Fixture::new();
        let server = HttpGitServer::start(&fx.served(), USER, "the-right-one");
        let url = server.url("repo.git");
        let started = Instant::now();
        let err = sha(&fx.cache(vec![repo_secret(&url, PASSWORD)]), &url, "HEAD").unwrap_err();
        assert!(
            matches!(err, GitError::AuthenticationFailed { .. }),
            "{err:?}"
        );
        // The password inside the URL is no better, and the URL in the error is redacted.
        let with_userinfo = url.replace("http://", &format!("http://{USER}:{PASSWORD}@"));
        let err2 = sha(&fx.cache(vec![]), &with_userinfo, "HEAD").unwrap_err();
        assert!(
            matches!(err2, GitError::AuthenticationFailed { ref url } if *url == server.url("repo.git")),
            "{err2:?}"
        );
        for text in [
            err.to_string(),
            format!("{err:?}"),
            err2.to_string(),
            format!("{err2:?}"),
        ] {
            assert!(!text.contains(PASSWORD), "{text}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
    });
}

#[test]
fn missing_credentials_fail_fast() {
    within(LIMIT, || {
        let fx = Fixture::new();
        let server = HttpGitServer::start(&fx.served(), USER, PASSWORD);
        let started = Instant::now();
        let err = sha(&fx.cache(vec![]), &server.url("repo.git"), "HEAD").unwrap_err();
        assert!(
            matches!(err, GitError::AuthenticationFailed { .. }),
            "{err:?}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
    });
}

#[test]
fn stopped_server_is_unreachable_but_pinned_commits_still_resolve() {
    within(LIMIT, || {
        let fx = Fixture::new();
        let mut daemon = GitDaemon::start(&fx.served());
        let url = daemon.url("repo.git");
        let cache = fx.cache(vec![]);
        assert_eq!(sha(&cache, &url, "HEAD").unwrap(), fx.c2);
        daemon.stop();
        cache.begin_round();
        let err = sha(&cache, &url, "HEAD").unwrap_err();
        assert!(matches!(err, GitError::Unreachable { .. }), "{err:?}");
        assert!(err.to_string().contains("127.0.0.1"), "{err}");
        // The failed fetch is not retried within the round; a full SHA needs no fetch.
        assert!(matches!(
            sha(&cache, &url, "main"),
            Err(GitError::Unreachable { .. })
        ));
        assert_eq!(sha(&cache, &url, &fx.c3).unwrap(), fx.c3);
    });
}

#[test]
fn new_commits_are_seen_after_begin_round_only() {
    within(LIMIT, || {
        let fx = Fixture::new();
        let server = HttpGitServer::start(&fx.served(), USER, PASSWORD);
        let url = server.url("repo.git");
        let cache = fx.cache(vec![repo_secret(&url, PASSWORD)]);
        assert_eq!(sha(&cache, &url, "main").unwrap(), fx.c2);
        let requests = server.requests();
        let c4 = fx.push_commit("apps/new.yaml");
        assert_eq!(
            sha(&cache, &url, "main").unwrap(),
            fx.c2,
            "fetched twice in one round"
        );
        assert_eq!(server.requests(), requests);
        cache.begin_round();
        let tree = cache.snapshot(&url, "main").unwrap();
        assert_eq!(tree.commit_sha(), c4);
        assert_eq!(tree.read_file("apps/new.yaml").unwrap(), b"new\n");
        assert_eq!(sha(&cache, &url, "HEAD").unwrap(), c4);
    });
}

#[test]
fn concurrent_snapshots_share_one_fetch() {
    within(LIMIT, || {
        let fx = Fixture::new();
        let server = HttpGitServer::start(&fx.served(), USER, PASSWORD);
        let url = server.url("repo.git");
        let secrets = vec![repo_secret(&url, PASSWORD)];
        let other_dir = fx.tmp.path().join("other-cache");
        assert_eq!(
            sha(&GitCache::new(other_dir, secrets.clone()), &url, "main").unwrap(),
            fx.c2
        );
        let one_fetch = server.requests();
        let cache = Arc::new(fx.cache(secrets));
        let threads: Vec<_> = ["main", "feature", "v1.0.0", "HEAD"]
            .into_iter()
            .map(|rev| {
                let (cache, url) = (cache.clone(), url.clone());
                std::thread::spawn(move || sha(&*cache, &url, rev).unwrap())
            })
            .collect();
        let shas: Vec<String> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        assert_eq!(shas, [fx.c2.as_str(), &fx.c3, &fx.c1, &fx.c2]);
        assert_eq!(server.requests(), 2 * one_fetch);
    });
}

fn pack_files(repo_dir: &Path) -> Vec<String> {
    let mut packs: Vec<String> = fs::read_dir(repo_dir.join("objects/pack"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    packs.sort();
    packs
}

#[test]
fn a_second_cache_reuses_the_bare_repository() {
    within(LIMIT, || {
        let fx = Fixture::new();
        let mut daemon = GitDaemon::start(&fx.served());
        let url = daemon.url("repo.git");
        let first = fx.cache(vec![]);
        assert_eq!(sha(&first, &url, "HEAD").unwrap(), fx.c2);
        let repo_dir = first.repo_dir(&url);
        assert!(repo_dir.join("HEAD").is_file() && repo_dir.join("objects").is_dir());
        assert!(!repo_dir.join(".git").exists(), "not bare");
        assert_eq!(fs::read_dir(fx.cache_dir()).unwrap().count(), 1);
        let packs = pack_files(&repo_dir);
        assert!(!packs.is_empty());
        drop(first);

        let second = fx.cache(vec![]);
        assert_eq!(second.repo_dir(&url), repo_dir);
        assert_eq!(sha(&second, &url, "feature").unwrap(), fx.c3);
        assert_eq!(
            pack_files(&repo_dir),
            packs,
            "objects were downloaded again"
        );
        assert_eq!(fs::read_dir(fx.cache_dir()).unwrap().count(), 1);

        daemon.stop();
        let third = fx.cache(vec![]);
        assert_eq!(sha(&third, &url, &fx.c1).unwrap(), fx.c1);
    });
}

#[test]
fn deleted_remote_branches_and_tags_are_pruned() {
    within(LIMIT, || {
        let fx = Fixture::new();
        let daemon = GitDaemon::start(&fx.served());
        let url = daemon.url("repo.git");
        let cache = fx.cache(vec![]);
        assert_eq!(sha(&cache, &url, "feature").unwrap(), fx.c3);
        assert_eq!(sha(&cache, &url, "light").unwrap(), fx.c2);
        git(&fx.remote(), &["branch", "-q", "-D", "feature"]);
        git(&fx.remote(), &["tag", "-d", "light"]);
        cache.begin_round();
        for revision in ["feature", "light"] {
            let err = sha(&cache, &url, revision).unwrap_err();
            assert!(
                matches!(err, GitError::UnknownRevision { .. }),
                "{revision}: {err:?}"
            );
        }
        let refs = git(
            &cache.repo_dir(&url),
            &["for-each-ref", "--format=%(refname)"],
        );
        assert_eq!(refs, "refs/heads/main\nrefs/tags/v1.0.0");
    });
}

#[test]
fn head_follows_the_remote_default_branch() {
    within(LIMIT, || {
        let fx = Fixture::new();
        let daemon = GitDaemon::start(&fx.served());
        let url = daemon.url("repo.git");
        let cache = fx.cache(vec![]);
        assert_eq!(sha(&cache, &url, "").unwrap(), fx.c2);
        git(
            &fx.remote(),
            &["symbolic-ref", "HEAD", "refs/heads/feature"],
        );
        cache.begin_round();
        assert_eq!(sha(&cache, &url, "").unwrap(), fx.c3);
        assert_eq!(sha(&cache, &url, "HEAD").unwrap(), fx.c3);
        assert_eq!(sha(&cache, &url, "main").unwrap(), fx.c2);
    });
}

/// Bytes that do not compress, so that a pack holding them stays large.
fn incompressible(len: usize) -> String {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from(b'!' + (x % 90) as u8)
        })
        .collect()
}

#[test]
fn a_large_push_through_the_http_server_is_fetched() {
    within(LIMIT, || {
        let fx = Fixture::new();
        let server = HttpGitServer::start(&fx.served(), USER, PASSWORD);
        let url = server.url("repo.git");
        let cache = fx.cache(vec![repo_secret(&url, PASSWORD)]);
        assert_eq!(sha(&cache, &url, "main").unwrap(), fx.c2);
        // git sends a pack larger than http.postBuffer with `Transfer-Encoding: chunked`.
        let work = fx.work();
        let big = incompressible(300_000);
        write(&work, "blobs/big.txt", &big);
        git(&work, &["add", "blobs"]);
        git(&work, &["commit", "-q", "-m", "big"]);
        let c4 = git(&work, &["rev-parse", "HEAD"]);
        let push_url = url.replace("http://", &format!("http://{USER}:{PASSWORD}@"));
        git(
            &work,
            &[
                "-c",
                "credential.helper=",
                "-c",
                "http.postBuffer=65536",
                "push",
                "-q",
                &push_url,
                "main",
            ],
        );
        assert!(server.chunked_requests() > 0, "the push was not chunked");
        cache.begin_round();
        let tree = cache.snapshot(&url, "main").unwrap();
        assert_eq!(tree.commit_sha(), c4);
        assert_eq!(tree.read_file("blobs/big.txt").unwrap(), big.as_bytes());
    });
}
