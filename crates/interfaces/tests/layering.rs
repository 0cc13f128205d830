//! The five levels may only depend on lower levels. This test reads the workspace's real
//! dependency graph (`cargo metadata`) and fails if any crate imports its own level or a
//! higher one.

use std::process::Command;

const LEVELS: [&str; 5] = [
    "tapio-domain",
    "tapio-collectors",
    "tapio-intelligence",
    "tapio-integrations",
    "tapio-interfaces",
];

fn level(name: &str) -> Option<usize> {
    LEVELS.iter().position(|l| *l == name)
}

#[test]
fn each_level_depends_only_on_lower_levels() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let packages = meta["packages"].as_array().unwrap();
    let mut seen = 0;
    let mut violations = Vec::new();
    for p in packages {
        let name = p["name"].as_str().unwrap();
        let Some(own) = level(name) else { continue };
        seen += 1;
        for d in p["dependencies"].as_array().unwrap() {
            let dep = d["name"].as_str().unwrap();
            let is_normal = d["kind"].is_null();
            if let Some(theirs) = level(dep) {
                if is_normal && theirs >= own {
                    violations.push(format!("{name} (L{own}) -> {dep} (L{theirs})"));
                }
            }
        }
    }
    assert_eq!(seen, LEVELS.len(), "every level is a workspace crate");
    assert!(violations.is_empty(), "layering broken: {violations:?}");
}
