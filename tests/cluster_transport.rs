//! The hub's cluster clients speak HTTP/2 to a server that offers it: every request and watch to
//! one cluster shares one TLS connection; kube's own HTTP/1.1 clients still work beside them.

mod support;

use std::time::Duration;

use flotilla::cluster::ClientOptions;
use flotilla::cluster::client;
use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, PostParams, WatchEvent, WatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::json;
use support::sim::start;

async fn hub_client(kubeconfig_yaml: &str, options: &ClientOptions) -> kube::Client {
    let kc = Kubeconfig::from_yaml(kubeconfig_yaml).unwrap();
    let mut config = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .unwrap();
    client::apply_timeouts(&mut config, options);
    client::build(config, options, "dev").unwrap()
}

#[tokio::test]
async fn requests_and_watches_to_one_cluster_share_one_connection() {
    let env = start(&["dev"]).await;
    let dev = env.handle("dev");
    let options = ClientOptions {
        max_in_flight: 16,
        ..Default::default()
    };
    let c = hub_client(&dev.kubeconfig(), &options).await;
    let cms: Api<ConfigMap> = Api::namespaced(c.clone(), "default");
    let mut watch = cms
        .watch(&WatchParams::default().timeout(30), "0")
        .await
        .unwrap()
        .boxed();
    let creates = (0..40).map(|i| {
        let cms = cms.clone();
        async move {
            let cm: ConfigMap = serde_json::from_value(
                json!({"metadata": {"name": format!("cm{i}"), "labels": {"t": "1"}}}),
            )
            .unwrap();
            cms.create(&PostParams::default(), &cm).await.unwrap();
            cms.list(&ListParams::default()).await.unwrap();
        }
    });
    futures::future::join_all(creates).await;
    let mut added = 0;
    while added < 40 {
        match tokio::time::timeout(Duration::from_secs(10), watch.next()).await {
            Ok(Some(Ok(WatchEvent::Added(_)))) => added += 1,
            Ok(Some(Ok(_))) => {}
            other => panic!("watch ended early: {other:?}"),
        }
    }
    assert_eq!(dev.request_count("create", "configmaps"), 40);
    assert_eq!(dev.request_count("list", "configmaps"), 40);
    assert_eq!(
        dev.connections(),
        1,
        "40 creates, 40 lists and a watch over one HTTP/2 connection"
    );

    // kube's default client (HTTP/1.1, a connection per request in flight) is served too.
    let plain = env.client("dev").await;
    let cms: Api<ConfigMap> = Api::namespaced(plain, "default");
    let lp = ListParams::default().labels("t=1");
    let lists = (0..8).map(|_| cms.list(&lp));
    for list in futures::future::join_all(lists).await {
        assert_eq!(list.unwrap().items.len(), 40);
    }
    assert!(dev.connections() > 1);
}
