//! The render cache: once per key, errors cached (transient ones not), LRU bounds, single
//! flight across threads, and the size of what it keeps.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Value, json};

use super::directory_tests::source;
use super::*;

fn key(commit: &str) -> RenderKey {
    RenderKey::new(&source("apps/web"), commit)
}

fn objects(n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": format!("c{i}")}}))
        .collect()
}

#[test]
fn renders_once_per_key_and_again_for_a_new_commit() {
    let cache = RenderCache::default();
    for _ in 0..100 {
        let m = cache.get_or_render(key("a"), || Ok(objects(2))).unwrap();
        assert_eq!(m.objects(), objects(2));
    }
    assert_eq!((cache.renders(), cache.hits()), (1, 99));
    cache.get_or_render(key("b"), || Ok(objects(1))).unwrap();
    assert_eq!(cache.renders(), 2);
    let mut other_options = source("apps/web");
    other_options.directory = Some(Box::new(ApplicationSourceDirectory {
        recurse: true,
        ..Default::default()
    }));
    cache
        .get_or_render(RenderKey::new(&other_options, "a"), || Ok(objects(1)))
        .unwrap();
    assert_eq!(cache.renders(), 3);
    assert_eq!(RenderKey::new(&source("./apps/web/"), "a"), key("a"));
}

#[test]
fn errors_are_cached_but_transient_ones_are_retried() {
    let cache = RenderCache::default();
    let broken = || {
        Err(RenderError::NotUtf8 {
            file: "apps/web/a.yaml".into(),
        })
    };
    for _ in 0..5 {
        assert!(cache.get_or_render(key("a"), broken).is_err());
    }
    assert_eq!(cache.renders(), 1);
    let timeout = || {
        Err(RenderError::KustomizeTimeout {
            path: "apps/web".into(),
            seconds: 60,
        })
    };
    assert!(cache.get_or_render(key("b"), timeout).is_err());
    assert!(cache.get_or_render(key("b"), || Ok(objects(1))).is_ok());
    assert_eq!(cache.renders(), 3);
}

#[test]
fn least_recently_used_entries_are_evicted() {
    let cache = RenderCache::new(RenderCacheConfig {
        max_entries: 2,
        max_bytes: usize::MAX,
    });
    cache.get_or_render(key("a"), || Ok(objects(1))).unwrap();
    cache.get_or_render(key("b"), || Ok(objects(1))).unwrap();
    cache.get_or_render(key("a"), || Ok(objects(1))).unwrap(); // a is now the most recent
    cache.get_or_render(key("c"), || Ok(objects(1))).unwrap(); // evicts b
    assert_eq!((cache.len(), cache.renders()), (2, 3));
    cache.get_or_render(key("a"), || Ok(objects(1))).unwrap();
    assert_eq!(cache.renders(), 3);
    cache.get_or_render(key("b"), || Ok(objects(1))).unwrap();
    assert_eq!(cache.renders(), 4);

    let small = RenderCache::new(RenderCacheConfig {
        max_entries: 100,
        max_bytes: 4_000,
    });
    for i in 0..50 {
        small
            .get_or_render(key(&format!("{i}")), || Ok(objects(5)))
            .unwrap();
    }
    assert!(small.bytes() <= 4_000, "{}", small.bytes());
    assert!(small.len() < 50 && !small.is_empty());
}

#[test]
fn concurrent_lookups_of_one_key_render_once() {
    let cache = Arc::new(RenderCache::default());
    let calls = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (cache, calls) = (cache.clone(), calls.clone());
            std::thread::spawn(move || {
                cache
                    .get_or_render(key("a"), || {
                        calls.fetch_add(1, Ordering::SeqCst);
                        std::thread::sleep(std::time::Duration::from_millis(50));
                        Ok(objects(3))
                    })
                    .unwrap()
                    .len()
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), 3);
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(cache.renders(), 1);
}

/// 10,000 Applications × 3 typical objects must stay well under 50 MB.
#[test]
fn kept_renders_are_compact() {
    let deployment = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "web", "labels": {"app": "web", "team": "payments"}},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "registry.local/web:1.25.3",
                    "ports": [{"containerPort": 8080}],
                    "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}]}}}
    });
    let service = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}});
    let config = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web", "namespace": "web"},
        "data": {"LOG_LEVEL": "info", "FEATURE_X": "true"}});
    let cache = RenderCache::default();
    for i in 0..10_000 {
        let mut source = source(&format!("apps/web-{i}"));
        source.repo_url = "https://git.example/platform/deployments.git".into();
        let key = RenderKey::new(&source, "0123456789abcdef0123456789abcdef01234567");
        cache
            .get_or_render(key, || {
                Ok(vec![deployment.clone(), service.clone(), config.clone()])
            })
            .unwrap();
    }
    let per_object = Manifests::from_objects(std::slice::from_ref(&deployment)).heap_bytes();
    println!(
        "render cache: {} bytes for 10,000 entries x 3 objects; a Deployment takes {per_object} bytes",
        cache.bytes()
    );
    assert!(cache.bytes() < 20 << 20, "{}", cache.bytes());
    assert!(per_object < 600, "{per_object}");
}
