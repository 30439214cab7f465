//! The measurements (built with the `layers` feature): the trees, the timed layer work per
//! trial, and the real invalidation cascade against the model's.

mod layers;
mod tree;

use sha2::{Digest, Sha256};

use self::layers::{LayerTimes, content_checksum, measure, sha256, tar};
use self::tree::{Tree, find_repository, generate, read_repository};
use super::RealParams;
use crate::layer_cache::dockerfile::{Dockerfile, Op, Shape};
use crate::layer_cache::predicted_cascades;
use crate::real::{KernelContext, KernelReport};

fn repository(p: &RealParams) -> Result<std::path::PathBuf, String> {
    if !p.tree.is_empty() {
        let path = std::path::PathBuf::from(&p.tree);
        return if path.is_dir() {
            Ok(path)
        } else {
            Err(format!("real.tree `{}` is not a directory", p.tree))
        };
    }
    let here = std::env::current_dir().map_err(|e| format!("no current directory: {e}"))?;
    find_repository(&here).ok_or_else(|| {
        format!(
            "{} is not inside a git repository: set real.tree to a source tree",
            here.display()
        )
    })
}

/// Available when the source tree is there (everything else is built in).
pub(super) fn available(p: &RealParams) -> Result<String, String> {
    let root = repository(p)?;
    Ok(format!("source tree {}", root.display()))
}

/// The digest a `FROM` is keyed by, before and after a base-image bump.
const BASE: [&str; 2] = [
    "node:20-alpine@sha256:1a2b3c4d5e6f00000000000000000000000000000000000000000000000000aa",
    "node:20-alpine@sha256:1a2b3c4d5e6f00000000000000000000000000000000000000000000000000bb",
];

/// The real keys of the article's multi-stage Dockerfile over `tree`, with the instruction
/// `texts` (the Dockerfile file in the context is written from them).
fn real_keys(
    df: &Dockerfile,
    tree: &Tree,
    base: &str,
    texts: &[String],
    ignore_docs: bool,
) -> Vec<[u8; 32]> {
    let mut tree = tree.clone();
    tree.write("Dockerfile", texts.join("\n").into_bytes());
    let mut keys: Vec<[u8; 32]> = Vec::with_capacity(df.steps.len());
    for (i, s) in df.steps.iter().enumerate() {
        let mut h = Sha256::new();
        h.update(texts[i].as_bytes());
        if let Some(p) = s.parent {
            h.update(keys[p]);
        }
        match &s.op {
            Op::From => h.update(base.as_bytes()),
            Op::Meta | Op::Run { .. } => {}
            Op::CopyContext { all: true, .. } => {
                h.update(content_checksum(&tree.context(ignore_docs)))
            }
            Op::CopyContext { all: false, .. } => {
                h.update(content_checksum(&tree.manifest_files()))
            }
            // The copied files are the source step's output; the build does not run here, so
            // its key stands for them (a rebuilt step is taken to write different bytes).
            Op::CopyFrom { source } => h.update(keys[*source]),
        }
        keys.push(h.finalize().into());
    }
    keys
}

/// For each edit the kernel makes (named as the model's classes), the steps whose real key
/// changed; plus the mtime-only edit.
fn real_cascades(tree: &Tree) -> Vec<(&'static str, Vec<usize>)> {
    let df = Dockerfile::of(Shape::MultiStage);
    let texts: Vec<String> = df.steps.iter().map(|s| s.text.to_string()).collect();
    let build = (0..df.steps.len())
        .rev()
        .find(|&i| matches!(df.steps[i].op, Op::Run { cache_mount: false }))
        .unwrap_or(0);
    let before = real_keys(&df, tree, BASE[0], &texts, false);
    let before_ignored = real_keys(&df, tree, BASE[0], &texts, true);
    let changed = |a: &[[u8; 32]], b: &[[u8; 32]]| -> Vec<usize> {
        (0..a.len()).filter(|&i| a[i] != b[i]).collect()
    };
    let edited = |f: &dyn Fn(&mut Tree)| {
        let mut t = tree.clone();
        f(&mut t);
        t
    };
    let comment = if tree.source_file.ends_with(".rs") {
        "// one-line edit"
    } else {
        "// one-line edit;"
    };
    let src = edited(&|t| t.append_line(&tree.source_file.clone(), comment));
    let lock = edited(&|t| t.append_line(&tree.lockfile.clone(), "# one-line edit"));
    let doc = edited(&|t| t.append_line(&tree.doc_file.clone(), "One more line."));
    let touched = edited(&|t| t.touch(&tree.source_file.clone()));
    let mut texts2 = texts.clone();
    texts2[build] = format!("{} -- --production", texts[build]);
    vec![
        (
            "source",
            changed(&before, &real_keys(&df, &src, BASE[0], &texts, false)),
        ),
        (
            "deps",
            changed(&before, &real_keys(&df, &lock, BASE[0], &texts, false)),
        ),
        (
            "base",
            changed(&before, &real_keys(&df, tree, BASE[1], &texts, false)),
        ),
        (
            "dockerfile",
            changed(&before, &real_keys(&df, tree, BASE[0], &texts2, false)),
        ),
        (
            "docs",
            changed(&before, &real_keys(&df, &doc, BASE[0], &texts, false)),
        ),
        (
            "docs_ignored",
            changed(
                &before_ignored,
                &real_keys(&df, &doc, BASE[0], &texts, true),
            ),
        ),
        (
            "mtime",
            changed(&before, &real_keys(&df, &touched, BASE[0], &texts, false)),
        ),
    ]
}

fn steps_text(v: &[usize]) -> String {
    let df = Dockerfile::of(Shape::MultiStage);
    if v.is_empty() {
        return "none".into();
    }
    v.iter()
        .map(|&i| format!("{} `{}`", df.steps[i].stage, df.steps[i].text))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The cascade checks on one tree: per class, steps changed and mismatches with the model.
fn cascade_report(tree: &Tree, r: &mut KernelReport, first: bool) {
    let real = real_cascades(tree);
    let model = predicted_cascades();
    for (name, steps) in &real {
        if *name == "mtime" {
            let prev = r
                .metrics
                .get("cascade_mtime_steps")
                .map_or(0.0, |m| m.value);
            r.set_exact("cascade_mtime_steps", prev.max(steps.len() as f64), "steps");
            continue;
        }
        let predicted = model
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, s)| s.clone())
            .unwrap_or_default();
        let mismatches = steps.iter().filter(|s| !predicted.contains(s)).count()
            + predicted.iter().filter(|s| !steps.contains(s)).count();
        let key = format!("cascade_{name}_mismatches");
        let prev = r.metrics.get(&key).map_or(0.0, |m| m.value);
        r.set_exact(key, prev + mismatches as f64, "steps");
        if first {
            r.set_exact(format!("cascade_{name}_steps"), steps.len() as f64, "steps");
            r.findings.push(format!(
                "{} tree, {name} edit: keys changed for {}",
                tree.name,
                steps_text(steps)
            ));
        }
    }
}

fn rates(r: &mut KernelReport, prefix: &str, t: &LayerTimes) {
    let mb = t.bytes / 1e6;
    for (name, s) in [
        ("tar_mb_per_s", t.tar_s),
        ("checksum_mb_per_s", t.checksum_s),
        ("digest_mb_per_s", t.digest_s),
        ("gzip_mb_per_s", t.gzip_s),
        ("gunzip_mb_per_s", t.gunzip_s),
        ("zstd_mb_per_s", t.zstd_s),
        ("unzstd_mb_per_s", t.unzstd_s),
    ] {
        r.set(format!("{prefix}{name}"), mb / s.max(1e-9), "MB/s");
    }
    r.set(
        format!("{prefix}gzip_ratio"),
        t.bytes / t.gzip_bytes.max(1.0),
        "ratio",
    );
    r.set(
        format!("{prefix}zstd_ratio"),
        t.bytes / t.zstd_bytes.max(1.0),
        "ratio",
    );
}

/// One trial: every layer of both trees, timed.
fn trial(p: &RealParams, repo: &Tree, generated: &Tree) -> Result<KernelReport, String> {
    let mut r = KernelReport::default();
    let mut all = LayerTimes::default();
    for files in [
        generated.manifest_files(),
        generated.context(false),
        generated.deps_files(),
    ] {
        all.add(&measure(&files, p.gzip_level, p.zstd_level)?);
    }
    rates(&mut r, "", &all);
    let ctx = measure(&repo.context(false), p.gzip_level, p.zstd_level)?;
    rates(&mut r, "repo_", &ctx);
    r.set("repo_context_mb", ctx.bytes / 1e6, "MB");
    r.set(
        "repo_context_cpu_s",
        ctx.tar_s + ctx.checksum_s + ctx.gzip_s,
        "s",
    );
    r.set("generated_mb", all.bytes / 1e6, "MB");
    for name in [
        "tar_mb_per_s",
        "checksum_mb_per_s",
        "gzip_mb_per_s",
        "gunzip_mb_per_s",
        "gzip_ratio",
        "zstd_mb_per_s",
        "unzstd_mb_per_s",
        "zstd_ratio",
    ] {
        let v = r.metrics[name].value;
        r.calibration.insert(name.into(), toml::Value::Float(v));
    }
    r.calibration
        .insert("context_mb".into(), toml::Value::Float(ctx.bytes / 1e6));
    Ok(r)
}

/// Facts checked once: tars are deterministic; a time-only change leaves the checksum alone
/// but changes a naive tar's digest.
fn facts(tree: &Tree, r: &mut KernelReport) -> Result<(), String> {
    let files = tree.context(false);
    let mut reversed = files.clone();
    reversed.reverse();
    let same = sha256(&tar(&files, false)?) == sha256(&tar(&reversed, false)?);
    r.set_exact("tar_deterministic", f64::from(u8::from(same)), "bool");
    let mut touched = tree.clone();
    touched.touch(&tree.source_file);
    let t2 = touched.context(false);
    let naive = sha256(&tar(&files, true)?) != sha256(&tar(&t2, true)?);
    r.set_exact(
        "mtime_changes_naive_tar_digest",
        f64::from(u8::from(naive)),
        "bool",
    );
    let checksum = content_checksum(&files) != content_checksum(&t2);
    r.set_exact(
        "mtime_changes_copy_checksum",
        f64::from(u8::from(checksum)),
        "bool",
    );
    Ok(())
}

pub(super) fn run(p: &RealParams, ctx: &KernelContext) -> KernelReport {
    match measure_all(p, ctx) {
        Ok(r) => r,
        Err(e) => KernelReport::not_run(e),
    }
}

fn measure_all(p: &RealParams, ctx: &KernelContext) -> Result<KernelReport, String> {
    let root = repository(p)?;
    (ctx.progress)(&format!("reading {}", root.display()));
    let repo = read_repository(&root)?;
    (ctx.progress)(&format!("generating a {} MB tree", p.generated_mb));
    let generated = generate(
        p.generated_mb,
        p.context_fraction,
        p.binary_fraction,
        ctx.seed,
    );
    let mut r = KernelReport::default();
    r.environment.insert(
        "repository".into(),
        format!(
            "{} ({} files, {:.1} MB in the context)",
            root.display(),
            repo.files.len(),
            Tree::mb(&repo.context(false))
        ),
    );
    r.environment.insert(
        "generated".into(),
        format!(
            "{} files, {:.1} MB ({:.0}% node_modules, {:.0}% of its bytes incompressible)",
            generated.files.len(),
            Tree::mb(&generated.files.iter().collect::<Vec<_>>()),
            (1.0 - p.context_fraction) * 100.0,
            p.binary_fraction * 100.0
        ),
    );
    r.environment.insert(
        "codecs".into(),
        format!(
            "gzip level {} (flate2, miniz_oxide), zstd level {} (libzstd {})",
            p.gzip_level,
            p.zstd_level,
            zstd::zstd_safe::version_string()
        ),
    );
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    r.environment
        .insert("cpus".into(), format!("{cpus} (one thread used)"));
    cascade_report(&repo, &mut r, true);
    cascade_report(&generated, &mut r, false);
    facts(&repo, &mut r)?;
    let mut trials = Vec::new();
    for t in 0..p.trials {
        (ctx.progress)(&format!(
            "trial {}/{}: tar, checksum, gzip, zstd",
            t + 1,
            p.trials
        ));
        trials.push(trial(p, &repo, &generated)?);
    }
    r.absorb_trials(trials, |_| (0.0, f64::INFINITY));
    Ok(r)
}
