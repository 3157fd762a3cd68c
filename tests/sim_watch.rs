//! Simulator conformance: watches (raw, filtered, bookmarks, timeouts, 410 Expired), kube-rs's
//! watcher and reflector, streaming lists, and `kubectl get -w` / `kubectl wait --for=delete`.

mod support;

use std::time::{Duration, Instant};

use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{
    Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::runtime::reflector::{self, ObjectRef};
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::json;
use support::sim::{SimEnv, eventually, ok, start, start_with, test_settings};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::mpsc;

const LIMIT: Duration = Duration::from_secs(10);

fn cm(name: &str, labels: &[(&str, &str)]) -> ConfigMap {
    support::sim::labelled_cm(name, labels)
}

fn rv_of(c: &ConfigMap) -> u64 {
    c.metadata
        .resource_version
        .as_deref()
        .unwrap()
        .parse()
        .unwrap()
}

fn name_of(c: &ConfigMap) -> String {
    c.metadata.name.clone().unwrap()
}

/// The next event of a watch, or a failure after `LIMIT`.
async fn next<S: Stream<Item = kube::Result<WatchEvent<ConfigMap>>> + Unpin>(
    s: &mut S,
) -> WatchEvent<ConfigMap> {
    tokio::time::timeout(LIMIT, s.next())
        .await
        .expect("a watch event in time")
        .expect("the watch goes on")
        .expect("a decodable event")
}

/// The next event that is not a BOOKMARK.
async fn next_change<S: Stream<Item = kube::Result<WatchEvent<ConfigMap>>> + Unpin>(
    s: &mut S,
) -> (&'static str, ConfigMap) {
    loop {
        match next(s).await {
            WatchEvent::Added(c) => return ("ADDED", c),
            WatchEvent::Modified(c) => return ("MODIFIED", c),
            WatchEvent::Deleted(c) => return ("DELETED", c),
            WatchEvent::Bookmark(_) => continue,
            WatchEvent::Error(e) => panic!("unexpected error event: {e:?}"),
        }
    }
}

fn merge(v: serde_json::Value) -> Patch<serde_json::Value> {
    Patch::Merge(v)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_from_a_list_sees_changes_in_order() {
    let env = start(&["dev"]).await;
    let api: Api<ConfigMap> = Api::namespaced(env.client("dev").await, "default");
    api.create(&PostParams::default(), &cm("before", &[]))
        .await
        .unwrap();
    let list = api.list(&ListParams::default()).await.unwrap();
    let list_rv: u64 = list
        .metadata
        .resource_version
        .as_deref()
        .unwrap()
        .parse()
        .unwrap();
    let mut w = api
        .watch(&WatchParams::default(), &list_rv.to_string())
        .await
        .unwrap()
        .boxed();

    api.create(&PostParams::default(), &cm("w", &[]))
        .await
        .unwrap();
    api.patch(
        "w",
        &PatchParams::default(),
        &merge(json!({"data": {"k": "changed"}})),
    )
    .await
    .unwrap();
    api.patch(
        "before",
        &PatchParams::default(),
        &merge(json!({"data": {"k": "too"}})),
    )
    .await
    .unwrap();
    api.delete("w", &DeleteParams::default()).await.unwrap();
    // A change in another namespace is not seen by a namespaced watch.
    let system: Api<ConfigMap> = Api::namespaced(env.client("dev").await, "kube-system");
    system
        .create(&PostParams::default(), &cm("elsewhere", &[]))
        .await
        .unwrap();
    api.create(&PostParams::default(), &cm("last", &[]))
        .await
        .unwrap();

    let mut seen = Vec::new();
    for _ in 0..5 {
        let (kind, obj) = next_change(&mut w).await;
        seen.push((kind, name_of(&obj), rv_of(&obj), obj));
    }
    let summary: Vec<(&str, &str)> = seen.iter().map(|(k, n, _, _)| (*k, n.as_str())).collect();
    assert_eq!(
        summary,
        [
            ("ADDED", "w"),
            ("MODIFIED", "w"),
            ("MODIFIED", "before"),
            ("DELETED", "w"),
            ("ADDED", "last")
        ]
    );
    let rvs: Vec<u64> = seen.iter().map(|s| s.2).collect();
    assert!(
        rvs[0] > list_rv,
        "events come after the list: {rvs:?} vs {list_rv}"
    );
    assert!(
        rvs.windows(2).all(|p| p[0] < p[1]),
        "resourceVersions increase: {rvs:?}"
    );
    // The DELETED event carries the last state, at the deletion's resourceVersion.
    let deleted = &seen[3].3;
    assert_eq!(deleted.data.as_ref().unwrap()["k"], "changed");
    // MODIFIED carries the new state.
    assert_eq!(seen[2].3.data.as_ref().unwrap()["k"], "too");

    // A watch from the resourceVersion of an event resumes right after it.
    let resume_at = seen[2].2.to_string();
    let mut again = api
        .watch(&WatchParams::default(), &resume_at)
        .await
        .unwrap()
        .boxed();
    let (kind, obj) = next_change(&mut again).await;
    assert_eq!(
        (kind, name_of(&obj).as_str(), rv_of(&obj)),
        ("DELETED", "w", seen[3].2)
    );

    // A watch without a resourceVersion starts with the current objects as ADDED.
    let mut fresh = api
        .watch(&WatchParams::default(), "0")
        .await
        .unwrap()
        .boxed();
    let mut initial = Vec::new();
    for _ in 0..3 {
        let (kind, obj) = next_change(&mut fresh).await;
        assert_eq!(kind, "ADDED");
        initial.push(name_of(&obj));
    }
    initial.sort();
    assert_eq!(initial, ["before", "kube-root-ca.crt", "last"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn label_selector_watches_see_objects_enter_and_leave() {
    let env = start(&["dev"]).await;
    let api: Api<ConfigMap> = Api::namespaced(env.client("dev").await, "default");
    let rv = api
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let mut w = api
        .watch(&WatchParams::default().labels("app=shop"), &rv)
        .await
        .unwrap()
        .boxed();

    api.create(&PostParams::default(), &cm("in", &[("app", "shop")]))
        .await
        .unwrap();
    api.create(&PostParams::default(), &cm("out", &[("app", "other")]))
        .await
        .unwrap();
    api.patch(
        "out",
        &PatchParams::default(),
        &merge(json!({"data": {"k": "ignored"}})),
    )
    .await
    .unwrap();
    // "out" starts matching: ADDED.
    api.patch(
        "out",
        &PatchParams::default(),
        &merge(json!({"metadata": {"labels": {"app": "shop"}}})),
    )
    .await
    .unwrap();
    // "in" stops matching: DELETED, carrying the last matching state at the new resourceVersion.
    let moved = api
        .patch(
            "in",
            &PatchParams::default(),
            &merge(json!({"metadata": {"labels": {"app": "gone"}}})),
        )
        .await
        .unwrap();
    // Changes of an object that no longer matches are not seen.
    api.patch(
        "in",
        &PatchParams::default(),
        &merge(json!({"data": {"k": "ignored"}})),
    )
    .await
    .unwrap();
    api.delete("in", &DeleteParams::default()).await.unwrap();
    api.delete("out", &DeleteParams::default()).await.unwrap();
    api.create(&PostParams::default(), &cm("sentinel", &[("app", "shop")]))
        .await
        .unwrap();

    let mut seen = Vec::new();
    for _ in 0..5 {
        let (kind, obj) = next_change(&mut w).await;
        seen.push((kind, obj));
    }
    let summary: Vec<(&str, String)> = seen.iter().map(|(k, o)| (*k, name_of(o))).collect();
    let expected = [
        ("ADDED", "in"),
        ("ADDED", "out"),
        ("DELETED", "in"),
        ("DELETED", "out"),
        ("ADDED", "sentinel"),
    ];
    assert_eq!(summary, expected.map(|(k, n)| (k, n.to_string())));
    let left = &seen[2].1;
    assert_eq!(
        rv_of(left),
        rv_of(&moved),
        "the DELETED event has the resourceVersion of the change"
    );
    assert_eq!(
        left.metadata.labels.as_ref().unwrap()["app"],
        "shop",
        "and the object as it last matched"
    );
    let entered = &seen[1].1;
    assert_eq!(entered.metadata.labels.as_ref().unwrap()["app"], "shop");
    assert_eq!(entered.data.as_ref().unwrap()["k"], "ignored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bookmarks_and_timeouts() {
    let env = start(&["dev"]).await;
    let api: Api<ConfigMap> = Api::namespaced(env.client("dev").await, "default");
    let created = api
        .create(&PostParams::default(), &cm("b", &[]))
        .await
        .unwrap();

    // allowWatchBookmarks: BOOKMARKs (every 500 ms in tests) carry a current resourceVersion.
    let mut w = api
        .watch(&WatchParams::default(), &rv_of(&created).to_string())
        .await
        .unwrap()
        .boxed();
    let later = api
        .patch(
            "b",
            &PatchParams::default(),
            &merge(json!({"data": {"k": "2"}})),
        )
        .await
        .unwrap();
    let (kind, _) = next_change(&mut w).await;
    assert_eq!(kind, "MODIFIED");
    let bookmark = loop {
        if let WatchEvent::Bookmark(b) = next(&mut w).await {
            break b;
        }
    };
    assert_eq!(
        (
            bookmark.types.api_version.as_str(),
            bookmark.types.kind.as_str()
        ),
        ("v1", "ConfigMap")
    );
    let bookmark_rv: u64 = bookmark.metadata.resource_version.parse().unwrap();
    assert!(
        bookmark_rv >= rv_of(&later),
        "{bookmark_rv} < {}",
        rv_of(&later)
    );
    // A watch resumed from a bookmark sees only what came after it.
    api.create(&PostParams::default(), &cm("after-bookmark", &[]))
        .await
        .unwrap();
    let mut resumed = api
        .watch(&WatchParams::default(), &bookmark_rv.to_string())
        .await
        .unwrap()
        .boxed();
    let (kind, obj) = next_change(&mut resumed).await;
    assert_eq!((kind, name_of(&obj).as_str()), ("ADDED", "after-bookmark"));

    // timeoutSeconds=1 ends the stream, and without allowWatchBookmarks there are no BOOKMARKs.
    let start = Instant::now();
    let rv = rv_of(&obj).to_string();
    let quiet = api
        .watch(&WatchParams::default().disable_bookmarks().timeout(1), &rv)
        .await
        .unwrap();
    let events: Vec<_> = tokio::time::timeout(LIMIT, quiet.collect::<Vec<_>>())
        .await
        .expect("the watch ends by itself");
    let elapsed = start.elapsed();
    assert!(
        elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(5),
        "{elapsed:?}"
    );
    assert!(events.is_empty(), "{events:?}");

    // With bookmarks, a watch that times out still ends.
    let timed = api
        .watch(&WatchParams::default().timeout(1), &rv)
        .await
        .unwrap();
    let events: Vec<_> = tokio::time::timeout(LIMIT, timed.collect::<Vec<_>>())
        .await
        .expect("the watch ends by itself");
    assert!(
        events
            .iter()
            .all(|e| matches!(e, Ok(WatchEvent::Bookmark(_)))),
        "{events:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_negative_timeout_ends_the_watch_at_once() {
    let env = start(&["dev"]).await;
    let client = env.client("dev").await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    api.create(&PostParams::default(), &cm("n", &[]))
        .await
        .unwrap();
    // kube-apiserver's watch timer starts already expired: 200 and an empty stream, not the
    // default 30 to 60 minutes.
    let start = Instant::now();
    let req =
        http::Request::get("/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=-5")
            .body(Vec::new())
            .unwrap();
    let body = tokio::time::timeout(LIMIT, client.request_text(req))
        .await
        .expect("the watch ends by itself")
        .unwrap();
    assert_eq!(body, "");
    assert!(start.elapsed() < Duration::from_secs(5));
}

fn small_history(n: usize) -> flotilla::sim::ClusterSettings {
    let mut s = test_settings();
    s.watch_history = n;
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_resource_version_is_410_and_the_watcher_relists() {
    let env = start_with(&["dev"], small_history(5)).await;
    let api: Api<ConfigMap> = Api::namespaced(env.client("dev").await, "default");
    let first = api
        .create(&PostParams::default(), &cm("first", &[]))
        .await
        .unwrap();
    for i in 0..10 {
        api.create(&PostParams::default(), &cm(&format!("noise-{i}"), &[]))
            .await
            .unwrap();
    }
    let old = rv_of(&first);
    let mut w = api
        .watch(&WatchParams::default(), &old.to_string())
        .await
        .unwrap()
        .boxed();
    match next(&mut w).await {
        WatchEvent::Error(s) => {
            assert_eq!((s.code, s.reason.as_str()), (410, "Expired"), "{s:?}");
            assert!(
                s.message
                    .starts_with(&format!("too old resource version: {old} (")),
                "{}",
                s.message
            );
        }
        other => panic!("expected a 410 ERROR event, got {other:?}"),
    }
    assert!(
        tokio::time::timeout(LIMIT, w.next())
            .await
            .unwrap()
            .is_none(),
        "the watch ends after the error"
    );

    // kube-rs's watcher: a selector watch without bookmarks keeps the list's resourceVersion
    // while only other objects change; when it reconnects (every second) that version has
    // expired, and it must list again and go on.
    api.create(&PostParams::default(), &cm("w0", &[("app", "watched")]))
        .await
        .unwrap();
    let cfg = watcher::Config::default()
        .labels("app=watched")
        .timeout(1)
        .disable_bookmarks();
    let mut events = spawn_watcher(api.clone(), cfg);
    expect_event(&mut events, "init").await;
    expect_event(&mut events, "apply w0").await;
    expect_event(&mut events, "done").await;
    let lists = env.handle("dev").request_count("list", "configmaps");
    for i in 10..20 {
        api.create(&PostParams::default(), &cm(&format!("noise-{i}"), &[]))
            .await
            .unwrap();
    }
    expect_event(&mut events, "error 410").await;
    expect_event(&mut events, "init").await;
    expect_event(&mut events, "apply w0").await;
    expect_event(&mut events, "done").await;
    assert!(
        env.handle("dev").request_count("list", "configmaps") > lists,
        "the watcher listed again"
    );
    api.create(&PostParams::default(), &cm("w1", &[("app", "watched")]))
        .await
        .unwrap();
    expect_event(&mut events, "apply w1").await;
    api.delete("w0", &DeleteParams::default()).await.unwrap();
    expect_event(&mut events, "delete w0").await;
}

/// Runs a kube-rs watcher and reports its events as short strings.
fn spawn_watcher(api: Api<ConfigMap>, cfg: watcher::Config) -> mpsc::UnboundedReceiver<String> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut stream = std::pin::pin!(watcher(api, cfg));
        while let Some(item) = stream.next().await {
            let line = match item {
                Ok(watcher::Event::Init) => "init".to_string(),
                Ok(watcher::Event::InitApply(o) | watcher::Event::Apply(o)) => {
                    format!("apply {}", name_of(&o))
                }
                Ok(watcher::Event::InitDone) => "done".to_string(),
                Ok(watcher::Event::Delete(o)) => format!("delete {}", name_of(&o)),
                Err(watcher::Error::WatchError(s)) => format!("error {}", s.code),
                Err(e) => format!("failure {e}"),
            };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

/// The watcher's next event must be `want`.
async fn expect_event(rx: &mut mpsc::UnboundedReceiver<String>, want: &str) {
    let got = tokio::time::timeout(LIMIT, rx.recv())
        .await
        .unwrap_or_else(|_| panic!("no watcher event in time (wanted {want})"))
        .expect("the watcher runs");
    assert_eq!(got, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflector_follows_creates_updates_and_deletes() {
    let env = start(&["dev"]).await;
    let api: Api<ConfigMap> = Api::namespaced(env.client("dev").await, "default");
    api.create(&PostParams::default(), &cm("existing", &[]))
        .await
        .unwrap();
    let (reader, writer) = reflector::store::<ConfigMap>();
    let (tx, mut applied) = mpsc::unbounded_channel();
    let stream = reflector::reflector(writer, watcher(api.clone(), watcher::Config::default()))
        .applied_objects();
    tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        while let Some(item) = stream.next().await {
            if let Ok(o) = item {
                let data = o
                    .data
                    .clone()
                    .unwrap_or_default()
                    .get("k")
                    .cloned()
                    .unwrap_or_default();
                if tx.send(format!("{}={data}", name_of(&o))).is_err() {
                    return;
                }
            }
        }
    });
    let key = |n: &str| ObjectRef::<ConfigMap>::new(n).within("default");
    reader.wait_until_ready().await.unwrap();
    assert!(reader.get(&key("existing")).is_some());
    assert!(reader.get(&key("kube-root-ca.crt")).is_some());

    api.create(&PostParams::default(), &cm("new", &[]))
        .await
        .unwrap();
    api.patch(
        "new",
        &PatchParams::default(),
        &merge(json!({"data": {"k": "v2"}})),
    )
    .await
    .unwrap();
    let mut names = Vec::new();
    while !names.contains(&"new=v2".to_string()) {
        names.push(
            tokio::time::timeout(LIMIT, applied.recv())
                .await
                .expect("applied objects in time")
                .unwrap(),
        );
    }
    assert!(names.contains(&"new=v".to_string()), "{names:?}");
    eventually(LIMIT, "the store to have the update", || {
        let r = reader.get(&key("new"));
        async move {
            r.filter(|c| c.data.as_ref().unwrap()["k"] == "v2")
                .map(|_| ())
        }
    })
    .await;
    api.delete("existing", &DeleteParams::default())
        .await
        .unwrap();
    eventually(LIMIT, "the store to drop the deleted object", || {
        let gone = reader.get(&key("existing")).is_none();
        async move { gone.then_some(()) }
    })
    .await;
    let mut in_store: Vec<String> = reader.state().iter().map(|c| name_of(c)).collect();
    in_store.sort();
    assert_eq!(in_store, ["kube-root-ca.crt", "new"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_lists_send_initial_events_then_a_bookmark() {
    let env = start(&["dev"]).await;
    let api: Api<ConfigMap> = Api::namespaced(env.client("dev").await, "default");
    let made = api
        .create(&PostParams::default(), &cm("s1", &[("app", "s")]))
        .await
        .unwrap();
    api.create(&PostParams::default(), &cm("s2", &[("app", "s")]))
        .await
        .unwrap();

    // Raw: sendInitialEvents=true gives ADDED for each object, then a BOOKMARK annotated as the
    // end of the initial events, then live changes.
    let wp = WatchParams::default().labels("app=s").initial_events();
    let mut w = api.watch(&wp, "0").await.unwrap().boxed();
    let mut initial = Vec::new();
    let end = loop {
        match next(&mut w).await {
            WatchEvent::Added(c) => initial.push(name_of(&c)),
            WatchEvent::Bookmark(b) => break b,
            other => panic!("unexpected {other:?}"),
        }
    };
    initial.sort();
    assert_eq!(initial, ["s1", "s2"]);
    assert_eq!(
        end.metadata
            .annotations
            .get("k8s.io/initial-events-end")
            .map(String::as_str),
        Some("true")
    );
    assert!(end.metadata.resource_version.parse::<u64>().unwrap() > rv_of(&made));
    api.create(&PostParams::default(), &cm("s3", &[("app", "s")]))
        .await
        .unwrap();
    let (kind, obj) = next_change(&mut w).await;
    assert_eq!((kind, name_of(&obj).as_str()), ("ADDED", "s3"));

    // sendInitialEvents with a resourceVersion: the state at least as new as it.
    let wp = WatchParams::default().labels("app=s").initial_events();
    let mut w = api
        .watch(&wp, &rv_of(&made).to_string())
        .await
        .unwrap()
        .boxed();
    let mut initial = Vec::new();
    loop {
        match next(&mut w).await {
            WatchEvent::Added(c) => initial.push(name_of(&c)),
            WatchEvent::Bookmark(b) => {
                assert!(
                    b.metadata
                        .annotations
                        .contains_key("k8s.io/initial-events-end"),
                    "the first BOOKMARK ends the initial events"
                );
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    initial.sort();
    assert_eq!(initial, ["s1", "s2", "s3"]);

    // kube-rs's watcher with streaming lists.
    let mut events = spawn_watcher(
        api.clone(),
        watcher::Config::default().labels("app=s").streaming_lists(),
    );
    expect_event(&mut events, "init").await;
    let mut first = Vec::new();
    for _ in 0..3 {
        first.push(
            tokio::time::timeout(LIMIT, events.recv())
                .await
                .unwrap()
                .unwrap(),
        );
    }
    first.sort();
    assert_eq!(first, ["apply s1", "apply s2", "apply s3"]);
    expect_event(&mut events, "done").await;
    api.delete("s1", &DeleteParams::default()).await.unwrap();
    expect_event(&mut events, "delete s1").await;
    env.handle("dev").reset_requests();
    api.create(&PostParams::default(), &cm("s4", &[("app", "s")]))
        .await
        .unwrap();
    expect_event(&mut events, "apply s4").await;
    assert_eq!(
        env.handle("dev").request_count("list", "configmaps"),
        0,
        "a streaming watcher does not list"
    );
}

/// kubectl running in the background; its output lines (stderr ones prefixed) on a channel.
fn kubectl_background(
    env: &SimEnv,
    args: &[&str],
) -> (tokio::process::Child, mpsc::UnboundedReceiver<String>) {
    let cache = env.dir.path().join("kube-cache");
    let mut child = tokio::process::Command::new("kubectl")
        .args(args)
        .arg(format!("--cache-dir={}", cache.display()))
        .env("KUBECONFIG", env.kubeconfig_path("dev"))
        .env("HOME", &cache)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("kubectl runs");
    let (tx, rx) = mpsc::unbounded_channel();
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let err_tx = tx.clone();
    tokio::spawn(async move {
        let mut lines = BufReader::new(stdout).lines();
        while let Ok(Some(l)) = lines.next_line().await {
            let _ = tx.send(l);
        }
    });
    tokio::spawn(async move {
        let mut lines = BufReader::new(stderr).lines();
        while let Ok(Some(l)) = lines.next_line().await {
            let _ = err_tx.send(format!("stderr: {l}"));
        }
    });
    (child, rx)
}

/// The next line's whitespace-separated columns.
async fn next_row(rx: &mut mpsc::UnboundedReceiver<String>) -> Vec<String> {
    let line = tokio::time::timeout(LIMIT, rx.recv())
        .await
        .expect("kubectl prints a line in time")
        .expect("kubectl is running");
    assert!(!line.starts_with("stderr:"), "{line}");
    line.split_whitespace().map(str::to_string).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_get_watch_prints_objects_then_changes() {
    let env = start(&["dev"]).await;
    let api: Api<ConfigMap> = Api::namespaced(env.client("dev").await, "default");
    api.create(&PostParams::default(), &cm("a", &[]))
        .await
        .unwrap();
    // Warm kubectl's discovery cache so both watches start quickly.
    ok(&env.kubectl("dev", &["get", "configmaps"]).await);

    let (_plain, mut plain) = kubectl_background(&env, &["get", "configmaps", "-w"]);
    let (_events, mut events) = kubectl_background(
        &env,
        &["get", "configmaps", "--watch", "--output-watch-events"],
    );
    assert_eq!(next_row(&mut plain).await, ["NAME", "DATA", "AGE"]);
    assert_eq!(&next_row(&mut plain).await[..2], ["a", "1"]);
    assert_eq!(&next_row(&mut plain).await[..2], ["kube-root-ca.crt", "1"]);
    assert_eq!(
        next_row(&mut events).await,
        ["EVENT", "NAME", "DATA", "AGE"]
    );
    assert_eq!(&next_row(&mut events).await[..3], ["ADDED", "a", "1"]);
    assert_eq!(
        &next_row(&mut events).await[..3],
        ["ADDED", "kube-root-ca.crt", "1"]
    );

    // The watches have started when a change shows up; changes made before that would be seen
    // too (they watch from the list's resourceVersion), but then the rows could interleave.
    api.create(&PostParams::default(), &cm("b", &[]))
        .await
        .unwrap();
    assert_eq!(&next_row(&mut plain).await[..2], ["b", "1"]);
    assert_eq!(&next_row(&mut events).await[..3], ["ADDED", "b", "1"]);
    api.patch(
        "b",
        &PatchParams::default(),
        &merge(json!({"data": {"x": "y"}})),
    )
    .await
    .unwrap();
    assert_eq!(&next_row(&mut plain).await[..2], ["b", "2"]);
    assert_eq!(&next_row(&mut events).await[..3], ["MODIFIED", "b", "2"]);
    api.delete("a", &DeleteParams::default()).await.unwrap();
    assert_eq!(&next_row(&mut plain).await[..2], ["a", "1"]);
    assert_eq!(&next_row(&mut events).await[..3], ["DELETED", "a", "1"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_wait_for_delete() {
    let env = start(&["dev"]).await;
    let api: Api<ConfigMap> = Api::namespaced(env.client("dev").await, "default");
    let mut held = cm("held", &[]);
    held.metadata.finalizers = Some(vec!["example.com/hold".into()]);
    api.create(&PostParams::default(), &held).await.unwrap();
    api.delete("held", &DeleteParams::default()).await.unwrap();

    // Still there: a short wait times out.
    let out = env
        .kubectl(
            "dev",
            &["wait", "--for=delete", "configmap/held", "--timeout=1s"],
        )
        .await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success()
            && err.contains("timed out waiting for the condition on configmaps/held"),
        "{err}"
    );

    let handle = env.handle("dev");
    handle.reset_requests();
    let (child, mut lines) = kubectl_background(
        &env,
        &["wait", "--for=delete", "configmap/held", "--timeout=20s"],
    );
    eventually(LIMIT, "kubectl wait to watch", || {
        let watching = handle.request_count("watch", "configmaps") > 0;
        async move { watching.then_some(()) }
    })
    .await;
    api.patch(
        "held",
        &PatchParams::default(),
        &merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
    let output = tokio::time::timeout(LIMIT, child.wait_with_output())
        .await
        .expect("kubectl wait returns")
        .unwrap();
    // Everything kubectl printed: the channel closes once both pipes are read to the end.
    let mut printed = Vec::new();
    while let Ok(Some(l)) = tokio::time::timeout(LIMIT, lines.recv()).await {
        printed.push(l);
    }
    assert!(output.status.success(), "{printed:?} {output:?}");
    assert!(
        printed.iter().any(|l| l == "configmap/held condition met"),
        "{printed:?}"
    );

    // Waiting for an object that is already gone succeeds at once.
    ok(&env
        .kubectl(
            "dev",
            &["wait", "--for=delete", "configmap/held", "--timeout=5s"],
        )
        .await);
}
