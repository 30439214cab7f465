//! The shape of the code, checked: no import cycle between modules, no room named in the
//! harness, one adapter from rooms to the harness's trait, and files small enough to read.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::util::root;

/// Largest file the harness or a room's code may have.
const MAX_LINES: usize = 600;

/// `(module path, file)` for every `.rs` file under a crate's `src/` (`a/mod.rs` and `a.rs`
/// are both module `a`; `lib.rs` and `main.rs` are the crate root).
fn modules(src: &Path) -> BTreeMap<Vec<String>, PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(src, &mut files);
    files
        .into_iter()
        .map(|f| {
            let rel = f.strip_prefix(src).unwrap().with_extension("");
            let mut path: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if matches!(
                path.last().map(String::as_str),
                Some("mod" | "lib" | "main")
            ) {
                path.pop();
            }
            (path, f)
        })
        .collect()
}

/// The code of a file without line comments and without its unit-test module.
fn code(file: &Path) -> String {
    let text = std::fs::read_to_string(file).unwrap();
    let text = text
        .split("#[cfg(test)]\nmod tests")
        .next()
        .unwrap_or_default();
    text.lines()
        .map(|l| l.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Paths (`crate::a::b`, `super::c`, and the items of `use crate::{a, b}` groups) each
/// module refers to, resolved to the longest existing module.
fn edges(mods: &BTreeMap<Vec<String>, PathBuf>) -> BTreeSet<(Vec<String>, Vec<String>)> {
    let resolve = |path: &[String]| -> Vec<String> {
        (0..=path.len())
            .rev()
            .map(|i| path[..i].to_vec())
            .find(|p| mods.contains_key(p))
            .unwrap_or_default()
    };
    let mut out = BTreeSet::new();
    for (m, file) in mods {
        if m.last().is_some_and(|l| l == "tests") {
            continue;
        }
        let text = code(file);
        let bytes = text.as_bytes();
        let is_ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
        for root_word in ["crate::", "super::"] {
            let mut from = 0;
            while let Some(pos) = text[from..].find(root_word) {
                let start = from + pos;
                from = start + root_word.len();
                if start > 0 && (is_ident(bytes[start - 1]) || bytes[start - 1] == b':') {
                    continue;
                }
                // The segments: `super::super::a::b` or a `{a, b::c}` group.
                let mut base: Vec<String> = if root_word == "crate::" {
                    Vec::new()
                } else {
                    m[..m.len().saturating_sub(1)].to_vec()
                };
                let mut rest = &text[from..];
                while let Some(r) = rest.strip_prefix("super::") {
                    base.pop();
                    rest = r;
                }
                let targets: Vec<String> = if let Some(group) = rest.strip_prefix('{') {
                    group
                        .split('}')
                        .next()
                        .unwrap_or_default()
                        .split(',')
                        .map(|s| s.trim().to_string())
                        .collect()
                } else {
                    vec![
                        rest.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                            .next()
                            .unwrap_or_default()
                            .to_string(),
                    ]
                };
                for t in targets {
                    let mut path = base.clone();
                    path.extend(
                        t.split("::")
                            .filter(|s| !s.is_empty() && *s != "self" && *s != "*")
                            .map(|s| s.split_whitespace().next().unwrap_or(s).to_string()),
                    );
                    let target = resolve(&path);
                    if &target != m {
                        out.insert((m.clone(), target));
                    }
                }
            }
        }
    }
    out
}

/// Cycles among sibling modules: an edge a → b where neither contains the other becomes an
/// edge between the children of their common ancestor that contain them.
fn sibling_cycles(src: &Path) -> Vec<String> {
    let mods = modules(src);
    let mut graph: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for (a, b) in edges(&mods) {
        if a.starts_with(&b) || b.starts_with(&a) {
            continue;
        }
        let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
        graph
            .entry(a[..=common].to_vec())
            .or_default()
            .insert(b[..=common].to_vec());
    }
    // A cycle exists when a node reaches itself.
    let reach = |from: &Vec<String>| -> BTreeSet<Vec<String>> {
        let mut seen = BTreeSet::new();
        let mut todo: Vec<Vec<String>> = graph.get(from).into_iter().flatten().cloned().collect();
        while let Some(n) = todo.pop() {
            if seen.insert(n.clone()) {
                todo.extend(graph.get(&n).into_iter().flatten().cloned());
            }
        }
        seen
    };
    graph
        .keys()
        .filter(|n| reach(n).contains(*n))
        .map(|n| {
            let back: Vec<String> = graph[n]
                .iter()
                .filter(|m| reach(m).contains(n))
                .map(|m| m.join("::"))
                .collect();
            format!("{} <-> {}", n.join("::"), back.join(", "))
        })
        .collect()
}

fn crates() -> Vec<PathBuf> {
    ["sims/src", "harness/src", "kernels/llama/src"]
        .iter()
        .map(|c| root().join(c))
        .collect()
}

#[test]
fn no_module_imports_a_sibling_that_imports_it_back() {
    for src in crates() {
        let cycles = sibling_cycles(&src);
        assert!(cycles.is_empty(), "{}: {cycles:#?}", src.display());
    }
}

#[test]
fn the_cycle_check_finds_a_planted_cycle() {
    let t = crate::util::tempdir();
    let src = t.path().join("src");
    std::fs::create_dir_all(src.join("a")).unwrap();
    std::fs::write(src.join("lib.rs"), "mod a;\nmod b;\n").unwrap();
    std::fs::write(src.join("a/mod.rs"), "mod x;\nuse crate::b::Thing;\n").unwrap();
    std::fs::write(src.join("a/x.rs"), "use super::super::b;\n").unwrap();
    std::fs::write(src.join("b.rs"), "use crate::{a::x, c};\n").unwrap();
    let cycles = sibling_cycles(&src);
    assert!(
        cycles.iter().any(|c| c.starts_with("a <-> b")),
        "{cycles:?}"
    );
    std::fs::write(src.join("b.rs"), "pub struct Thing;\n").unwrap();
    assert!(sibling_cycles(&src).is_empty());
}

#[test]
fn the_harness_never_names_a_room() {
    let mut names = Vec::new();
    for s in sims::registry::SIMULATIONS {
        names.push(s.name().to_string());
        names.push(s.name().replace('_', "-"));
        names.extend(s.tools().iter().map(|t| t.name.to_string()));
        names.extend(s.kernels().iter().map(|k| k.name().to_string()));
    }
    let mods = modules(&root().join("harness/src"));
    for (m, file) in &mods {
        let text = std::fs::read_to_string(file).unwrap();
        for n in &names {
            let quoted = [format!("\"{n}\""), format!("::{n}::"), format!("`{n}`")];
            for q in &quoted {
                assert!(
                    !text.contains(q.as_str()),
                    "harness/src/{} names room item {q}",
                    m.join("/")
                );
            }
        }
    }
}

#[test]
fn the_room_adapter_is_written_once() {
    let mut impls = Vec::new();
    for src in crates() {
        for file in modules(&src).values() {
            let text = std::fs::read_to_string(file).unwrap();
            impls.extend(
                text.matches("Simulation for ")
                    .map(|_| file.display().to_string()),
            );
        }
    }
    assert_eq!(impls.len(), 1, "impl Simulation in: {impls:?}");
    assert!(impls[0].ends_with("room.rs"), "{impls:?}");
}

#[test]
fn no_file_of_the_harness_or_a_room_is_too_long() {
    let mut long = Vec::new();
    let mut check = |dir: &Path| {
        for (m, file) in modules(dir) {
            if m.last().is_some_and(|l| l == "tests") {
                continue;
            }
            let n = std::fs::read_to_string(&file).unwrap().lines().count();
            if n > MAX_LINES {
                long.push(format!("{} ({n} lines)", file.display()));
            }
        }
    };
    check(&root().join("harness/src"));
    for s in sims::registry::SIMULATIONS {
        check(&root().join("sims/src").join(s.name()));
    }
    assert!(long.is_empty(), "over {MAX_LINES} lines: {long:#?}");
}
