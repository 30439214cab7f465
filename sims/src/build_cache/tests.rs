//! The mechanisms, checked in isolation with fixed seeds: graph shapes, the scheduler against
//! exact cases, hit rates in streams whose answer is known, each killer's reach, and the
//! model's keys against fingerprints of a real checkout that is moved.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::graph::{Kind, read_edges};
use super::model::keys_at;
use super::world::World;
use super::*;
use crate::des::RngStreams;
use crate::fingerprint::{ContentHasher, FileEntry, Mix128, PathMode, fingerprint};
use crate::room::testing::replicate;

fn params(extra: &str) -> BuildCacheParams {
    let t: toml::Table = extra.parse().expect("valid TOML");
    crate::room::parse_params::<BuildCache>(&t).expect("valid params")
}

fn once(extra: &str, seed: u64) -> BTreeMap<String, f64> {
    let p = params(extra);
    run_replication(&p, &RunContext::for_replication(seed, 0)).metrics
}

const SMALL: &str = "modules = 16\ndays = 4\ncommits_per_day = 8\ndevelopers = 3\n";

#[test]
fn generated_graphs_have_the_measured_shape() {
    let p = params("");
    let mut fan_out = 0.0;
    let mut hub = 0.0;
    let reps = 20;
    for r in 0..reps {
        let w = World::new(&p, None, &RngStreams::new(7, 0, r));
        let g = &w.graph;
        let n = g.names.len();
        assert_eq!(n, 48);
        for (m, ds) in g.deps.iter().enumerate() {
            assert!(ds.iter().all(|&d| d < m), "dependencies come first");
        }
        fan_out += g.deps.iter().map(Vec::len).sum::<usize>() as f64 / n as f64;
        hub += g.deps.iter().filter(|d| d.contains(&0)).count() as f64 / n as f64;
        assert!(
            g.deps[g.app].len() as f64 >= 0.4 * n as f64,
            "the app aggregates"
        );
        // Tasks come after what they need.
        for (t, task) in g.tasks.iter().enumerate() {
            assert!(task.after.iter().all(|&a| a < t));
        }
    }
    let (fan_out, hub) = (fan_out / reps as f64, hub / reps as f64);
    assert!((fan_out - 3.7).abs() < 0.6, "mean fan-out {fan_out}");
    assert!((hub - 0.65).abs() < 0.08, "hub fan-in share {hub}");
}

#[test]
fn an_exported_graph_is_read_in_dependency_order_and_cycles_are_refused() {
    let text = "# consumer dependency\napp feature\nfeature core\napp core\nlonely\n";
    let (names, deps) = read_edges(text, "g.txt").unwrap();
    assert_eq!(
        names,
        ["core", "feature", "app", "lonely"]
            .map(String::from)
            .to_vec()
    );
    assert_eq!(deps, vec![vec![], vec![0], vec![0, 1], vec![]]);
    let e = read_edges("a b\nb c\nc a\n", "g.txt").unwrap_err();
    assert!(e.to_string().contains("cycle"), "{e}");
    let e = read_edges("a b c\n", "g.txt").unwrap_err();
    assert!(e.to_string().contains("g.txt:1"), "{e}");
    // The room takes the file through `prepare`, and names a missing one.
    let t: toml::Table = "module_graph_file = \"/nonexistent/graph.txt\""
        .parse()
        .unwrap();
    let e = crate::room::parse_params::<BuildCache>(&t).unwrap_err();
    assert_eq!(e.path(), "module_graph_file");
}

#[test]
fn the_scheduler_is_exact_at_one_worker_and_at_unlimited_workers() {
    let p = params(
        "modules = 12\noverhead_s = 0\nremote_rtt_ms = 0\nhttp_overhead_ms = 0\ninput_mb_per_task = 0",
    );
    let w = World::new(&p, None, &RngStreams::new(3, 0, 0));
    let tasks = &w.graph.tasks;
    let total: f64 = tasks.iter().map(|t| t.duration_s).sum();
    // The longest path through the task graph.
    let mut finish = vec![0.0f64; tasks.len()];
    for (t, task) in tasks.iter().enumerate() {
        let start = task.after.iter().map(|&a| finish[a]).fold(0.0, f64::max);
        finish[t] = start + task.duration_s;
    }
    let critical = finish.iter().copied().fold(0.0, f64::max);
    let cold = |workers: u32| {
        let q = BuildCacheParams {
            workers,
            remote_cache: false,
            ..p.clone()
        };
        let w = World::new(&q, None, &RngStreams::new(3, 0, 0));
        model::run(&q, &w, RngStreams::new(3, 0, 0).stream("outputs")).cold_s
    };
    assert!(
        (cold(1) - total).abs() < 1e-6 * total,
        "{} vs {total}",
        cold(1)
    );
    assert!(
        (cold(256) - critical).abs() < 1e-6 * critical,
        "{} vs {critical}",
        cold(256)
    );
    assert!(cold(4) >= total / 4.0 && cold(4) >= critical);
}

#[test]
fn a_stream_that_changes_nothing_hits_everything_and_a_toolchain_bump_nothing() {
    let fixed = "fixes_applied = 4\n";
    let docs = once(
        &format!(
            "{SMALL}{fixed}mix_source = 0\nmix_dep_bump = 0\nmix_build_logic = 0\ndev_edit_prob = 0"
        ),
        1,
    );
    assert_eq!(docs["hit_rate_ci"], 1.0);
    // Developers pulling unchanged main find every task up to date: nothing loaded or run.
    assert_eq!(docs["hit_rate_local"], 0.0);
    assert!(docs["build_time_local_s"] < docs["build_time_clean_s"]);
    let bumps = once(
        &format!(
            "{SMALL}{fixed}mix_source = 0\nmix_dep_bump = 1\nmix_build_logic = 0\ntoolchain_bump_fraction = 1"
        ),
        1,
    );
    assert_eq!(bumps["hit_rate_ci"], 0.0);
    assert!(bumps["build_time_clean_s"] > 3.0 * docs["build_time_clean_s"]);
}

#[test]
fn nondeterminism_only_amplifies_other_misses() {
    // Nothing changes: a nondeterministic generator never re-executes, so nothing misses.
    let docs = "mix_source = 0\nmix_dep_bump = 0\nmix_build_logic = 0\n";
    let only_nd = "ide_flag_drift = false\nbuildconfig_timestamp = false\nabsolute_paths = false\nnondeterminism_prob = 1\ngenerated_fraction = 0.6\n";
    let m = once(&format!("{SMALL}{docs}{only_nd}"), 2);
    assert_eq!(m["hit_rate_ci"], 1.0);
    // With edits it costs hits.
    let nd = replicate::<BuildCache>(&format!("{SMALL}{only_nd}"), 4, 2);
    let det = replicate::<BuildCache>(
        &format!("{SMALL}{only_nd}nondeterministic_codegen = false"),
        4,
        2,
    );
    assert!(nd["hit_rate_ci"].mean <= det["hit_rate_ci"].mean);
}

#[test]
fn each_killer_reaches_what_its_mechanism_reaches() {
    let m = once(&format!("{SMALL}attribution = true"), 5);
    let all = m["hit_rate_ci_all_killers"];
    // Path leaks and IDE flags differ between machines, not between CI builds.
    assert_eq!(m["hit_rate_ci_fix_alone_absolute_paths"], all);
    assert_eq!(m["hit_rate_ci_fix_alone_ide_flags"], all);
    // The hub's timestamp invalidates nearly everything on every build.
    assert!(m["hit_rate_ci_fix_alone_timestamp"] > all + 0.2, "{m:?}");
    // In the app (a leaf) it costs far less than in the hub.
    let hub = replicate::<BuildCache>(&format!("{SMALL}buildconfig_module_rank = 0"), 3, 5);
    let leaf = replicate::<BuildCache>(&format!("{SMALL}buildconfig_module_rank = 1"), 3, 5);
    assert!(leaf["hit_rate_ci"].mean > hub["hit_rate_ci"].mean + 0.2);
}

#[test]
fn absolute_is_the_undeclared_default_that_breaks_relocation() {
    let abs = once(&format!("{SMALL}absolute_path_task_fraction = 0.5"), 3);
    assert!(abs["key_survives_move_fraction"] < 0.9);
    let rel = once(
        &format!(
            "{SMALL}absolute_path_task_fraction = 0.5\nundeclared_path_sensitivity = \"relative\""
        ),
        3,
    );
    assert_eq!(rel["key_survives_move_fraction"], 1.0);
}

#[test]
fn developers_pushing_does_not_lower_ci_hits() {
    let ci_only = replicate::<BuildCache>(&format!("{SMALL}fixes_applied = 4"), 3, 9);
    let everyone =
        replicate::<BuildCache>(&format!("{SMALL}fixes_applied = 4\ndev_push = true"), 3, 9);
    assert!(everyone["hit_rate_ci"].mean >= ci_only["hit_rate_ci"].mean);
    assert!(everyone["cache_storage_gb"].mean > ci_only["cache_storage_gb"].mean);
}

#[test]
fn replications_are_deterministic() {
    let a = once(&format!("{SMALL}attribution = true"), 11);
    let b = once(&format!("{SMALL}attribution = true"), 11);
    assert_eq!(a, b);
}

/// A scratch directory for the move-checkout test, removed at the end.
struct Tmp(PathBuf);

impl Drop for Tmp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn disk_fingerprint(set_root: &Path, mode: PathMode) -> Vec<u8> {
    let root_s = set_root.to_string_lossy().to_string();
    let mut entries = Vec::new();
    for e in std::fs::read_dir(set_root).unwrap() {
        let path = e.unwrap().path();
        entries.push(FileEntry {
            path: path.to_string_lossy().to_string(),
            root: root_s.clone(),
            digest: Mix128::digest(&std::fs::read(&path).unwrap()),
        });
    }
    fingerprint::<Mix128>(&entries, mode)
}

/// Done-when check of the room: a real checkout written from the model's sources, moved to
/// another path. The model's source fingerprints equal those of the files on disk, byte for
/// byte, at both paths; and a task's model key survives the move exactly when the disk
/// fingerprint under that task's normalization does.
#[test]
#[allow(clippy::needless_range_loop)]
fn model_keys_agree_with_fingerprints_of_a_moved_checkout() {
    let tmp = Tmp(std::env::temp_dir().join(format!("claimlab-bc-move-{}", std::process::id())));
    let a = tmp.0.join("home/runner/work/app");
    let b = tmp.0.join("Users/alice/dev/app");
    let p = params("modules = 12\nabsolute_path_task_fraction = 0.4");
    let w = World::new(&p, None, &RngStreams::new(21, 0, 0));
    let g = &w.graph;
    for name in &g.names {
        for (rel, text) in source_files(name, 1, 1) {
            let path = a.join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
    }
    let root = |r: &Path| r.to_string_lossy().to_string();
    let disk = |r: &Path, m: usize, mode| disk_fingerprint(&r.join(source_dir(&g.names[m])), mode);
    let before: Vec<Vec<Vec<u8>>> = (0..g.names.len())
        .map(|m| {
            PathMode::ALL
                .iter()
                .map(|&mode| disk(&a, m, mode))
                .collect()
        })
        .collect();
    for m in 0..g.names.len() {
        for (i, &mode) in PathMode::ALL.iter().enumerate() {
            assert_eq!(
                before[m][i],
                source_fingerprint::<Mix128>(&root(&a), &g.names[m], 1, 1, mode)
            );
        }
    }
    let keys_a = keys_at(&p, &w, &root(&a));
    std::fs::create_dir_all(b.parent().unwrap()).unwrap();
    std::fs::rename(&a, &b).unwrap();
    let keys_b = keys_at(&p, &w, &root(&b));
    let mut checked = 0;
    for (t, task) in g.tasks.iter().enumerate() {
        let m = task.module;
        for mode in PathMode::ALL {
            assert_eq!(
                disk(&b, m, mode),
                source_fingerprint::<Mix128>(&root(&b), &g.names[m], 1, 1, mode)
            );
        }
        // Tasks reading their module's sources: the key follows the sources' fingerprint
        // under the task's mode (undeclared: ABSOLUTE), and their own upstream keys survive.
        if matches!(task.kind, Kind::Gen | Kind::Compile(_) | Kind::Test(_)) {
            let mode = if task.undeclared { 0 } else { 1 };
            let disk_survives = before[m][mode] == disk(&b, m, PathMode::ALL[mode]);
            assert_eq!(
                keys_a[&t] == keys_b[&t],
                disk_survives,
                "task {t} ({:?})",
                task.kind
            );
            checked += 1;
        }
    }
    assert!(checked > 50);
    assert!(g.tasks.iter().any(|t| t.undeclared) && g.tasks.iter().any(|t| !t.undeclared));
}
