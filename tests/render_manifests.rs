//! Rendering with the real kustomize (`kustomize build` or `kubectl kustomize`): overlays of a
//! base, kustomize options, the static refusal of references outside the repository, the load
//! restrictor, kustomize's own errors, and the render cache.

use std::sync::Mutex;

use serde_json::{Value, json};

use flotilla::api::application::ApplicationSource;
use flotilla::git::tree::{MemoryTree, Tree};
use flotilla::render::{KustomizeCommand, RenderCache, RenderError, RenderKey, Renderer, render};

/// Tests that count temporary directories must not overlap with other renders.
static KUSTOMIZE: Mutex<()> = Mutex::new(());

fn lock() -> std::sync::MutexGuard<'static, ()> {
    KUSTOMIZE.lock().unwrap_or_else(|p| p.into_inner())
}

fn tree(sha: &str, files: &[(&str, &str)]) -> MemoryTree {
    MemoryTree::new(
        sha.into(),
        files
            .iter()
            .map(|(p, c)| (p.to_string(), c.as_bytes().to_vec())),
    )
}

fn source(path: &str) -> ApplicationSource {
    ApplicationSource {
        repo_url: "https://git.example/platform.git".into(),
        path: Some(path.into()),
        ..Default::default()
    }
}

const BASE_KUSTOMIZATION: &str = "\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - deployment.yaml
  - service.yaml
";

const DEPLOYMENT: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: nginx:1.0
          envFrom:
            - configMapRef: {name: web-config}
          volumeMounts:
            - {name: scripts, mountPath: /scripts}
      volumes:
        - name: scripts
          configMap: {name: web-config, defaultMode: 0755}
";

const SERVICE: &str = "\
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports:
    - port: 80
";

fn overlay(env: &str, replicas: u32, tag: &str) -> String {
    format!(
        "\
resources:
  - ../../base
namePrefix: {env}-
images:
  - name: nginx
    newTag: \"{tag}\"
configMapGenerator:
  - name: web-config
    literals:
      - ENV={env}
    files:
      - settings.conf
patches:
  - target: {{kind: Deployment, name: web}}
    patch: |-
      - op: replace
        path: /spec/replicas
        value: {replicas}
"
    )
}

fn repo(sha: &str) -> MemoryTree {
    let dev = overlay("dev", 1, "1.25");
    let prod = overlay("prod", 5, "1.26");
    tree(
        sha,
        &[
            ("apps/web/base/kustomization.yaml", BASE_KUSTOMIZATION),
            ("apps/web/base/deployment.yaml", DEPLOYMENT),
            ("apps/web/base/service.yaml", SERVICE),
            ("apps/web/overlays/dev/kustomization.yaml", &dev),
            ("apps/web/overlays/dev/settings.conf", "log=debug\n"),
            ("apps/web/overlays/prod/kustomization.yaml", &prod),
            ("apps/web/overlays/prod/settings.conf", "log=warn\n"),
            ("README.md", "# platform\n"),
        ],
    )
}

fn find<'a>(objects: &'a [Value], kind: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in {objects:#?}"))
}

#[test]
fn overlays_of_one_base_render_differently() {
    let _guard = lock();
    let t = repo("1111111111111111111111111111111111111111");
    let dev = render(&t, &source("apps/web/overlays/dev")).unwrap();
    let prod = render(&t, &source("apps/web/overlays/prod")).unwrap();
    assert_eq!(dev.len(), 3, "{dev:#?}");
    assert_eq!(prod.len(), 3, "{prod:#?}");

    for (objects, env, replicas, image, log) in [
        (&dev, "dev", 1, "nginx:1.25", "log=debug\n"),
        (&prod, "prod", 5, "nginx:1.26", "log=warn\n"),
    ] {
        let deployment = find(objects, "Deployment");
        let config = find(objects, "ConfigMap");
        assert_eq!(deployment["metadata"]["name"], format!("{env}-web"));
        assert_eq!(
            find(objects, "Service")["metadata"]["name"],
            format!("{env}-web")
        );
        assert_eq!(deployment["spec"]["replicas"], replicas);
        let container = &deployment["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(container["image"], image);
        let config_name = config["metadata"]["name"].as_str().unwrap();
        assert!(
            config_name.starts_with(&format!("{env}-web-config-")),
            "{config_name}"
        );
        assert_eq!(config["data"]["ENV"], env);
        assert_eq!(config["data"]["settings.conf"], log);
        // kustomize rewrote the references to the generated (hashed) name.
        assert_eq!(container["envFrom"][0]["configMapRef"]["name"], config_name);
        let volume = &deployment["spec"]["template"]["spec"]["volumes"][0];
        assert_eq!(volume["configMap"]["name"], config_name);
        // An octal file mode reaches us as kubectl reads it.
        assert_eq!(volume["configMap"]["defaultMode"], 493);
    }
    assert_ne!(
        find(&dev, "ConfigMap")["metadata"]["name"],
        find(&prod, "ConfigMap")["metadata"]["name"]
    );
}

#[test]
fn kustomize_options_edit_the_application_kustomization() {
    let _guard = lock();
    let t = repo("2222222222222222222222222222222222222222");
    let mut s = source("apps/web/overlays/prod");
    s.kustomize = Some(Box::new(json!({
        "namePrefix": "eu-",
        "nameSuffix": "-v2",
        "namespace": "web-eu",
        "images": ["nginx=registry.local/nginx:1.27"],
        "commonLabels": {"region": "eu"},
        "commonAnnotations": {"owner": "platform"},
    })));
    let objects = render(&t, &s).unwrap();
    let deployment = find(&objects, "Deployment");
    assert_eq!(
        deployment["metadata"]["name"], "eu-web-v2",
        "namePrefix replaces the overlay's prefix, as `kustomize edit set nameprefix` does"
    );
    assert_eq!(deployment["metadata"]["namespace"], "web-eu");
    assert_eq!(deployment["metadata"]["labels"]["region"], "eu");
    assert_eq!(deployment["metadata"]["annotations"]["owner"], "platform");
    assert_eq!(
        deployment["spec"]["template"]["spec"]["containers"][0]["image"],
        "registry.local/nginx:1.27"
    );
    for object in &objects {
        assert_eq!(object["metadata"]["namespace"], "web-eu", "{object}");
    }
    let mut unknown = source("apps/web/overlays/prod");
    unknown.kustomize = Some(Box::new(json!({"namePrefx": "x-"})));
    let e = render(&t, &unknown).unwrap_err().to_string();
    assert!(
        e.starts_with("apps/web/overlays/prod: kustomize options: unknown option \"namePrefx\""),
        "{e}"
    );
}

/// A renderer whose kustomize cannot start: an error of the static check proves kustomize
/// was never asked.
fn never_runs() -> Renderer {
    Renderer::new(KustomizeCommand::standalone("/nonexistent/kustomize"))
}

#[test]
fn references_outside_the_repository_are_refused_before_kustomize_runs() {
    let cases = [
        (
            "resources:\n  - ../../../../../etc\n",
            "resources: \"../../../../../etc\" leaves the repository",
        ),
        (
            "resources:\n  - https://github.com/kubernetes-sigs/kustomize//examples/helloWorld?ref=v5.5.0\n",
            "is a remote reference",
        ),
        (
            "resources:\n  - github.com/kubernetes-sigs/kustomize/examples/helloWorld\n",
            "is a remote reference",
        ),
        (
            "configMapGenerator:\n  - name: x\n    files: [/etc/passwd]\n",
            "is an absolute path",
        ),
        (
            "helmCharts:\n  - name: redis\n    repo: https://charts.example\n",
            "kustomize would run helm",
        ),
    ];
    for (body, expected) in cases {
        let t = tree(
            "3333333333333333333333333333333333333333",
            &[
                ("apps/web/kustomization.yaml", body),
                ("apps/web/cm.yaml", "x: 1\n"),
            ],
        );
        let e = never_runs().render(&t, &source("apps/web")).unwrap_err();
        assert!(
            matches!(e, RenderError::Kustomization { .. }),
            "{body}: {e:?}"
        );
        let message = e.to_string();
        assert!(
            message.starts_with("apps/web: kustomization.yaml: ") && message.contains(expected),
            "{message}"
        );
    }
    // The same refusal through a base the overlay references.
    let t = tree(
        "3333333333333333333333333333333333333333",
        &[
            (
                "apps/web/overlay/kustomization.yaml",
                "resources: [../base]\n",
            ),
            (
                "apps/web/base/kustomization.yaml",
                "resources: [/etc/passwd]\n",
            ),
        ],
    );
    let e = never_runs()
        .render(&t, &source("apps/web/overlay"))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "apps/web/base: kustomization.yaml: resources: \"/etc/passwd\" is an absolute path; only paths inside the repository are allowed"
    );
    // And a kustomization that passes the check does reach kustomize.
    let ok = tree(
        "3333333333333333333333333333333333333333",
        &[("app/kustomization.yaml", "resources: []\n")],
    );
    let e = never_runs().render(&ok, &source("app")).unwrap_err();
    assert!(matches!(e, RenderError::KustomizeSpawn { .. }), "{e:?}");
}

#[test]
fn files_outside_the_kustomization_root_meet_the_load_restrictor() {
    let _guard = lock();
    let t = tree(
        "4444444444444444444444444444444444444444",
        &[
            (
                "apps/web/kustomization.yaml",
                "configMapGenerator:\n  - name: c\n    files: [../../shared/settings.conf]\n",
            ),
            ("shared/settings.conf", "a=b\n"),
        ],
    );
    let e = render(&t, &source("apps/web")).unwrap_err();
    let RenderError::KustomizeFailed { stderr, .. } = &e else {
        panic!("{e:?}");
    };
    assert!(stderr.contains("is not in or below"), "{stderr}");
    println!("{e}");
    assert!(
        !stderr.contains("flotilla-render-"),
        "temp paths are stripped: {stderr}"
    );
    assert!(
        e.to_string().starts_with("apps/web: kustomize failed: "),
        "{e}"
    );
}

#[test]
fn kustomize_errors_are_surfaced() {
    let _guard = lock();
    let t = tree(
        "5555555555555555555555555555555555555555",
        &[
            (
                "apps/web/kustomization.yaml",
                "resources: [cm.yaml]\nreplicaz: 3\n",
            ),
            (
                "apps/web/cm.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n",
            ),
        ],
    );
    let e = render(&t, &source("apps/web")).unwrap_err();
    assert!(matches!(e, RenderError::KustomizeFailed { .. }), "{e:?}");
    let message = e.to_string();
    assert!(
        message.starts_with("apps/web: kustomize failed: "),
        "{message}"
    );
    assert!(message.contains("replicaz"), "{message}");
    println!("{message}");

    let broken_patch = tree(
        "5555555555555555555555555555555555555555",
        &[
            (
                "apps/web/kustomization.yaml",
                "resources: [cm.yaml]\npatches:\n  - target: {kind: Deployment, name: nope}\n    patch: |-\n      - op: replace\n        path: /spec/replicas\n        value: 3\n",
            ),
            (
                "apps/web/cm.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n",
            ),
        ],
    );
    // kustomize accepts a patch that matches nothing: the ConfigMap renders unchanged.
    let objects = render(&broken_patch, &source("apps/web")).unwrap();
    assert_eq!(
        objects,
        [json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}})]
    );
}

#[test]
fn the_temporary_copy_is_removed() {
    let _guard = lock();
    let count = || {
        std::fs::read_dir(std::env::temp_dir())
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with("flotilla-render-")
            })
            .count()
    };
    let before = count();
    let t = repo("6666666666666666666666666666666666666666");
    render(&t, &source("apps/web/overlays/dev")).unwrap();
    let bad = tree(
        "6666666666666666666666666666666666666666",
        &[("a/kustomization.yaml", "bogus: 1\n")],
    );
    render(&bad, &source("a")).unwrap_err();
    assert_eq!(count(), before);
}

#[test]
fn the_cache_renders_once_per_commit() {
    let _guard = lock();
    let cache = RenderCache::default();
    let renderer = Renderer::shared();
    let first = repo("7777777777777777777777777777777777777777");
    let prod = source("apps/web/overlays/prod");
    let mut names = Vec::new();
    for _ in 0..100 {
        let manifests = cache.render(renderer, &first, &prod).unwrap();
        names.push(find(&manifests.objects(), "Deployment")["metadata"]["name"].clone());
    }
    assert_eq!(cache.renders(), 1);
    assert_eq!(cache.hits(), 99);
    assert!(names.iter().all(|n| n == "prod-web"));

    let second = repo("8888888888888888888888888888888888888888");
    let manifests = cache.render(renderer, &second, &prod).unwrap();
    assert_eq!(cache.renders(), 2);
    assert_eq!(manifests.len(), 3);

    // A broken commit stays broken without rendering again.
    let broken = tree(
        "9999999999999999999999999999999999999999",
        &[(
            "apps/web/overlays/prod/kustomization.yaml",
            "resources: [/etc]\n",
        )],
    );
    for _ in 0..10 {
        assert!(cache.render(renderer, &broken, &prod).is_err());
    }
    assert_eq!(cache.renders(), 3);
    let key = RenderKey::new(&prod, broken.commit_sha());
    assert!(cache.get_or_render(key, || panic!("cached")).is_err());
}
