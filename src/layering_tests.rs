//! Keeps the module tiers of `lib.rs` (and ARCHITECTURE.md) true: a module
//! may use only modules of lower tiers. Every `crate::x` path in every source
//! file is checked, tests included, so no import cycle can come back.

use std::path::{Path, PathBuf};

/// Tier of each top-level module.
const TIERS: &[(&str, u8)] = &[
    ("base", 0),
    ("auth", 1),
    ("db", 1),
    ("storage", 1),
    ("http", 1),
    ("files", 2),
    ("state", 2),
    ("access", 2),
    ("generation", 3),
    ("worker", 3),
    ("tools", 3),
    ("web", 4),
    ("app", 5),
];

fn tier(module: &str) -> Option<u8> {
    TIERS.iter().find(|(m, _)| *m == module).map(|(_, t)| *t)
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The modules a file names as `crate::x`, including `use crate::{x, y}`.
fn used_modules(text: &str) -> Vec<String> {
    let mut used = Vec::new();
    for (at, _) in text.match_indices("crate::") {
        let rest = &text[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let name: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                used.push(name);
            }
        } else {
            used.push(
                rest.chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect(),
            );
        }
    }
    used
}

#[test]
fn every_module_uses_only_lower_tiers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut faults = Vec::new();
    for file in files {
        let relative = file.strip_prefix(&src).unwrap();
        let own = relative
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        if matches!(own.as_str(), "lib" | "main" | "layering_tests") {
            continue;
        }
        let own_tier = tier(&own).unwrap_or_else(|| panic!("{own} has no tier in TIERS"));
        let text = std::fs::read_to_string(&file).unwrap();
        for used in used_modules(&text) {
            if used == own {
                continue;
            }
            let used_tier = tier(&used).unwrap_or_else(|| panic!("{used} has no tier in TIERS"));
            if used_tier >= own_tier {
                faults.push(format!(
                    "{} (tier {own_tier}) uses {used} (tier {used_tier})",
                    relative.display()
                ));
            }
        }
    }
    assert!(faults.is_empty(), "layering broken:\n{}", faults.join("\n"));
}

#[test]
fn grouped_and_plain_paths_are_both_seen() {
    assert_eq!(
        used_modules("use crate::{db, files::spec};\nlet x = crate::base::ids::JobId(1);"),
        ["db", "files", "base"]
    );
}
