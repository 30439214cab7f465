//! A module's source files as the model sees them, and their fingerprints.
//!
//! Each module has two files in its common source set: `Api.kt` (its public declarations; the
//! text changes when the module's ABI version does) and `Impl.kt` (bodies; it changes with
//! every edit). The model fingerprints exactly these texts with the engine's
//! [`fingerprint`](crate::fingerprint::fingerprint), so a real tree written from them (the
//! kernel and the move-checkout test do) fingerprints the same way.

use crate::fingerprint::{ContentHasher, FileEntry, PathMode, fingerprint};

/// The source set's directory below the checkout root.
pub fn source_dir(module: &str) -> String {
    format!("{module}/src/commonMain/kotlin")
}

/// The files of `module` at versions `src` (every edit) and `abi` (ABI edits): relative path
/// and text.
pub fn source_files(module: &str, src: u64, abi: u64) -> [(String, String); 2] {
    let pkg = module.replace('-', "_");
    let api = format!(
        "package {pkg}\n\n// Public surface, version {abi}.\npublic fun api{abi}(input: Int): Int = impl(input)\n\npublic const val VERSION = {abi}\n"
    );
    let body = format!(
        "package {pkg}\n\n// Bodies only: no public declarations here.\ninternal fun impl(input: Int): Int {{\n    return input * 31 + {src}\n}}\n"
    );
    let dir = source_dir(module);
    [
        (format!("{dir}/Api.kt"), api),
        (format!("{dir}/Impl.kt"), body),
    ]
}

/// What a compile-classpath (ABI) normalizer keeps of a Kotlin-like text: package and public
/// declarations, without bodies, comments, or `internal`/`private` members; constants keep
/// their values (they are inlined into callers).
pub fn abi_view(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let l = line.trim();
        if l.is_empty()
            || l.starts_with("//")
            || l.starts_with("private ")
            || l.starts_with("internal ")
        {
            continue;
        }
        let decl = [
            "package ",
            "public ",
            "fun ",
            "class ",
            "interface ",
            "object ",
            "val ",
            "const val ",
        ];
        if !decl.iter().any(|d| l.starts_with(d)) {
            continue;
        }
        let keep = if l.contains("const val ") {
            l
        } else {
            let cut = l.find(['{', '=']).unwrap_or(l.len());
            l[..cut].trim_end()
        };
        out.push_str(keep);
        out.push('\n');
    }
    out
}

/// The fingerprint of `module`'s source set checked out at `root` (absolute, no trailing `/`),
/// under `mode`, with hash `H`.
pub fn source_fingerprint<H: ContentHasher>(
    root: &str,
    module: &str,
    src: u64,
    abi: u64,
    mode: PathMode,
) -> Vec<u8> {
    let set_root = format!("{root}/{}", source_dir(module));
    let entries: Vec<FileEntry> = source_files(module, src, abi)
        .iter()
        .map(|(rel, text)| FileEntry {
            path: format!("{root}/{rel}"),
            root: set_root.clone(),
            digest: H::digest(text.as_bytes()),
        })
        .collect();
    fingerprint::<H>(&entries, mode)
}
