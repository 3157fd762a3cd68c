//! Every example ApplicationSet expands exactly as documented: `examples/expected/<name>.yaml`
//! (the README lists the same Applications).

use std::path::Path;
use std::process::Command;

const EXAMPLES: &[&str] = &[
    "list",
    "cluster",
    "git-directories",
    "git-files",
    "matrix",
    "merge",
];

fn generate(name: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(env!("CARGO_BIN_EXE_flotilla"))
        .current_dir(root)
        .args([
            "appset",
            "generate",
            &format!("examples/appsets/{name}.yaml"),
        ])
        .args(["--clusters", "examples/clusters.yaml"])
        .args([
            "--local-repo",
            "https://git.example.com/platform/gitops.git=examples/gitops-repo",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn examples_expand_as_documented() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for name in EXAMPLES {
        let expected =
            std::fs::read_to_string(root.join(format!("examples/expected/{name}.yaml"))).unwrap();
        assert_eq!(
            generate(name),
            expected,
            "examples/appsets/{name}.yaml no longer expands as documented"
        );
    }
}

#[test]
fn readme_lists_the_generated_applications() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    for name in EXAMPLES {
        let yaml = generate(name);
        for line in yaml.lines().filter(|l| l.starts_with("  name: ")) {
            let app = line.trim_start_matches("  name: ");
            assert!(
                readme.contains(&format!("`{app}`")),
                "README does not document `{app}` of {name}.yaml"
            );
        }
    }
}
