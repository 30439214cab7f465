//! The kernel with the `hashing` feature: real trees, real MD5 and SHA-256, a real HTTP cache.

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::RealParams;
use super::remote;
use crate::build_cache::sources::{abi_view, source_files, source_fingerprint};
use crate::fingerprint::{
    ContentHasher, FileEntry, Mix128, PathMode, classpath_fingerprint, fingerprint,
};
use crate::real::{KernelContext, KernelReport};

/// MD5, the build tool's key hash.
pub(super) struct Md5(md5::Md5);

impl ContentHasher for Md5 {
    fn new() -> Self {
        Md5(<md5::Md5 as md5::Digest>::new())
    }
    fn update(&mut self, bytes: &[u8]) {
        md5::Digest::update(&mut self.0, bytes);
    }
    fn finish(self) -> Vec<u8> {
        md5::Digest::finalize(self.0).to_vec()
    }
}

/// SHA-256, the article's.
struct Sha256(sha2::Sha256);

impl ContentHasher for Sha256 {
    fn new() -> Self {
        Sha256(<sha2::Sha256 as sha2::Digest>::new())
    }
    fn update(&mut self, bytes: &[u8]) {
        sha2::Digest::update(&mut self.0, bytes);
    }
    fn finish(self) -> Vec<u8> {
        sha2::Digest::finalize(self.0).to_vec()
    }
}

pub(super) fn available() -> Result<String, String> {
    Ok("built in (MD5, SHA-256, a loopback HTTP cache)".to_string())
}

/// A scratch directory, removed when dropped.
pub(super) struct Scratch(pub(super) PathBuf);

impl Scratch {
    pub(super) fn new(tag: &str) -> std::io::Result<Scratch> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!(
            "claimlab-build-cache-{}-{tag}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir)?;
        Ok(Scratch(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn module_name(i: usize) -> String {
    format!("lib-{i:04}")
}

/// Writes `modules` modules' source files below `root`.
pub(super) fn write_sources(
    root: &Path,
    names: &[String],
    versions: &[(u64, u64)],
) -> std::io::Result<()> {
    for (name, &(src, abi)) in names.iter().zip(versions) {
        for (rel, text) in source_files(name, src, abi) {
            let path = root.join(rel);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(path, text)?;
        }
    }
    Ok(())
}

/// Every file below `dir`, sorted: (absolute `/`-path, bytes).
fn read_tree(dir: &Path) -> std::io::Result<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d)? {
            let e = e?;
            let path = e.path();
            if e.file_type()?.is_dir() {
                stack.push(path);
            } else {
                let bytes = std::fs::read(&path)?;
                out.push((path.to_string_lossy().replace('\\', "/"), bytes));
            }
        }
    }
    out.sort();
    Ok(out)
}

const MODES: [&str; 6] = [
    "absolute",
    "relative",
    "name_only",
    "none",
    "runtime_classpath",
    "compile_classpath",
];

/// The tree's fingerprint under each of [`MODES`], with hash `H`.
fn fingerprints<H: ContentHasher>(root: &Path) -> std::io::Result<Vec<Vec<u8>>> {
    let files = read_tree(root)?;
    let root_s = root.to_string_lossy().replace('\\', "/");
    let entries: Vec<FileEntry> = files
        .iter()
        .map(|(p, b)| FileEntry {
            path: p.clone(),
            root: root_s.clone(),
            digest: H::digest(b),
        })
        .collect();
    let mut fps: Vec<Vec<u8>> = PathMode::ALL
        .iter()
        .map(|&m| fingerprint::<H>(&entries, m))
        .collect();
    // Classpaths: each source directory is one classpath root, in path order.
    let mut roots: std::collections::BTreeMap<String, (Vec<FileEntry>, Vec<FileEntry>)> =
        std::collections::BTreeMap::new();
    for (p, b) in &files {
        let dir = p.rsplit_once('/').map_or("", |x| x.0).to_string();
        let rel = p.strip_prefix(&root_s).unwrap_or(p).to_string();
        let dir_rel = dir.strip_prefix(&root_s).unwrap_or(&dir).to_string();
        let r = roots.entry(dir_rel).or_default();
        r.0.push(FileEntry {
            path: p.clone(),
            root: dir.clone(),
            digest: H::digest(b),
        });
        let text = String::from_utf8_lossy(b);
        r.1.push(FileEntry {
            path: p.clone(),
            root: dir.clone(),
            digest: H::digest(abi_view(&text).as_bytes()),
        });
        let _ = rel;
    }
    let (runtime, compile): (Vec<_>, Vec<_>) = roots.into_values().unzip();
    fps.push(classpath_fingerprint::<H>(&runtime));
    fps.push(classpath_fingerprint::<H>(&compile));
    Ok(fps)
}

fn same(a: &[Vec<u8>], b: &[Vec<u8>]) -> Vec<bool> {
    a.iter().zip(b).map(|(x, y)| x == y).collect()
}

/// One trial of the fingerprint experiments.
fn fingerprint_trial(p: &RealParams, trial: u32, r: &mut KernelReport) -> std::io::Result<()> {
    let scratch = Scratch::new(&format!("fp{trial}"))?;
    let a = scratch.0.join("home/runner/work/app");
    let b = scratch.0.join("Users/alice/dev/elsewhere/app");
    let n = (p.tree_files as usize / 2).max(2);
    let names: Vec<String> = (0..n).map(module_name).collect();
    let versions: Vec<(u64, u64)> = (0..n as u64).map(|i| (i + 1, i + 1)).collect();
    write_sources(&a, &names, &versions)?;
    let bytes: usize = read_tree(&a)?.iter().map(|f| f.1.len()).sum();

    let t = Instant::now();
    let md5_a = fingerprints::<Md5>(&a)?;
    r.set(
        "tree_fingerprint_ms_md5",
        t.elapsed().as_secs_f64() * 1e3,
        "ms",
    );
    let t = Instant::now();
    let sha_a = fingerprints::<Sha256>(&a)?;
    r.set(
        "tree_fingerprint_ms_sha256",
        t.elapsed().as_secs_f64() * 1e3,
        "ms",
    );
    r.set("tree_mb", bytes as f64 / 1e6, "MB");

    // The model's source fingerprints against the same files read back from disk, here and
    // after the move.
    let mut agree = true;
    let check = |root: &Path, agree: &mut bool| -> std::io::Result<()> {
        let root_s = root.to_string_lossy().replace('\\', "/");
        for (name, &(src, abi)) in names.iter().zip(&versions).take(5) {
            let set_root = format!("{root_s}/{}", crate::build_cache::source_dir(name));
            let files = read_tree(Path::new(&set_root))?;
            for mode in PathMode::ALL {
                let disk_mix: Vec<FileEntry> = files
                    .iter()
                    .map(|(p, b)| FileEntry {
                        path: p.clone(),
                        root: set_root.clone(),
                        digest: Mix128::digest(b),
                    })
                    .collect();
                let disk_md5: Vec<FileEntry> = files
                    .iter()
                    .map(|(p, b)| FileEntry {
                        path: p.clone(),
                        root: set_root.clone(),
                        digest: Md5::digest(b),
                    })
                    .collect();
                *agree &= fingerprint::<Mix128>(&disk_mix, mode)
                    == source_fingerprint::<Mix128>(&root_s, name, src, abi, mode);
                *agree &= fingerprint::<Md5>(&disk_md5, mode)
                    == source_fingerprint::<Md5>(&root_s, name, src, abi, mode);
            }
        }
        Ok(())
    };
    check(&a, &mut agree)?;

    // Move the checkout.
    std::fs::create_dir_all(b.parent().unwrap_or(&b))?;
    std::fs::rename(&a, &b)?;
    check(&b, &mut agree)?;
    r.set_exact(
        "model_fingerprints_agree",
        f64::from(u8::from(agree)),
        "bool",
    );
    let md5_b = fingerprints::<Md5>(&b)?;
    let sha_b = fingerprints::<Sha256>(&b)?;
    let moved = same(&md5_a, &md5_b);
    let hashes_agree = moved == same(&sha_a, &sha_b);
    r.set_exact(
        "md5_sha256_agree",
        f64::from(u8::from(hashes_agree)),
        "bool",
    );
    for (mode, s) in MODES.iter().zip(&moved) {
        r.set_exact(
            format!("{mode}_survives_move"),
            f64::from(u8::from(*s)),
            "bool",
        );
    }
    let list = |keep: bool| -> String {
        let v: Vec<&str> = MODES
            .iter()
            .zip(&moved)
            .filter(|(_, s)| **s == keep)
            .map(|(m, _)| *m)
            .collect();
        if v.is_empty() {
            "none of them".into()
        } else {
            v.join(", ")
        }
    };
    r.findings.push(format!(
        "Checkout moved from {} to {}: the fingerprint stayed the same under {} and changed under {} (MD5; SHA-256 {}).",
        a.display(),
        b.display(),
        list(true),
        list(false),
        if hashes_agree { "agrees" } else { "disagrees" }
    ));
    r.set_exact("md5_key_hex_chars", (md5_a[0].len() * 2) as f64, "chars");
    r.set_exact("sha256_key_hex_chars", (sha_a[0].len() * 2) as f64, "chars");

    // Edit a body, then a signature, of module 0.
    let victim = &names[0];
    let edit = |src: u64, abi: u64| write_sources(&b, std::slice::from_ref(victim), &[(src, abi)]);
    edit(1000, 1)?;
    let body = same(&md5_b, &fingerprints::<Md5>(&b)?);
    r.set_exact(
        "compile_classpath_survives_body_edit",
        f64::from(u8::from(body[5])),
        "bool",
    );
    r.set_exact(
        "runtime_classpath_survives_body_edit",
        f64::from(u8::from(body[4])),
        "bool",
    );
    r.set_exact(
        "relative_survives_body_edit",
        f64::from(u8::from(body[1])),
        "bool",
    );
    edit(1000, 1000)?;
    let sig = same(&md5_b, &fingerprints::<Md5>(&b)?);
    r.set_exact(
        "compile_classpath_survives_signature_edit",
        f64::from(u8::from(sig[5])),
        "bool",
    );
    edit(1, 1)?;
    // Rename a file in place, then move it to another directory under its own name.
    let dir = b.join(crate::build_cache::source_dir(victim));
    std::fs::rename(dir.join("Impl.kt"), dir.join("Impl2.kt"))?;
    let renamed = same(&md5_b, &fingerprints::<Md5>(&b)?);
    r.set_exact(
        "none_survives_rename",
        f64::from(u8::from(renamed[3])),
        "bool",
    );
    r.set_exact(
        "name_only_survives_rename",
        f64::from(u8::from(renamed[2])),
        "bool",
    );
    std::fs::create_dir_all(b.join("moved"))?;
    std::fs::rename(dir.join("Impl2.kt"), b.join("moved/Impl.kt"))?;
    let relocated = same(&md5_b, &fingerprints::<Md5>(&b)?);
    r.set_exact(
        "name_only_survives_dir_change",
        f64::from(u8::from(relocated[2])),
        "bool",
    );
    r.set_exact(
        "relative_survives_dir_change",
        f64::from(u8::from(relocated[1])),
        "bool",
    );

    // Throughput: hashing a buffer against copying it.
    let len = (p.hash_buffer_mb * 1e6) as usize;
    let mut rng = crate::des::RngStreams::new(u64::from(trial), 0, 0).stream("buffer");
    let buf: Vec<u8> = (0..len.div_ceil(8))
        .flat_map(|_| rand::Rng::next_u64(&mut rng).to_le_bytes())
        .take(len)
        .collect();
    let rate = |f: &dyn Fn()| {
        let t = Instant::now();
        f();
        len as f64 / 1e6 / t.elapsed().as_secs_f64().max(1e-9)
    };
    let md5_rate = rate(&|| {
        std::hint::black_box(Md5::digest(&buf));
    });
    let sha_rate = rate(&|| {
        std::hint::black_box(Sha256::digest(&buf));
    });
    let mut dst = vec![0u8; len];
    let copies = 4;
    let t = Instant::now();
    for _ in 0..copies {
        dst.copy_from_slice(std::hint::black_box(&buf));
        std::hint::black_box(&dst);
    }
    let copy_rate = copies as f64 * len as f64 / 1e6 / t.elapsed().as_secs_f64().max(1e-9);
    r.set("md5_mb_per_s", md5_rate, "MB/s");
    r.set("sha256_mb_per_s", sha_rate, "MB/s");
    r.set("memcpy_mb_per_s", copy_rate, "MB/s");
    r.set(
        "md5_share_of_memory_bandwidth",
        md5_rate / copy_rate,
        "fraction",
    );
    r.set(
        "sha256_share_of_memory_bandwidth",
        sha_rate / copy_rate,
        "fraction",
    );
    r.calibration
        .insert("hash_mb_per_s".into(), toml::Value::Float(md5_rate));
    Ok(())
}

pub(super) fn run(p: &RealParams, ctx: &KernelContext) -> KernelReport {
    let mut trials = Vec::new();
    for trial in 0..p.trials {
        (ctx.progress)(&format!(
            "build cache kernel: trial {}/{}",
            trial + 1,
            p.trials
        ));
        let mut r = KernelReport::default();
        if let Err(e) = fingerprint_trial(p, trial, &mut r) {
            return KernelReport::not_run(format!("fingerprint trial failed: {e}"));
        }
        if let Err(e) = remote::trial(p, ctx.seed, trial, &mut r) {
            return KernelReport::not_run(format!("remote-cache trial failed: {e}"));
        }
        trials.push(r);
    }
    let mut report = KernelReport::default();
    report.absorb_trials(trials, |name| {
        if name.ends_with("fraction") || name.contains("share") {
            (0.0, 1.0)
        } else {
            (0.0, f64::INFINITY)
        }
    });
    report.environment.insert(
        "threads".into(),
        std::thread::available_parallelism()
            .map(|n| n.get().to_string())
            .unwrap_or_default(),
    );
    report
}
