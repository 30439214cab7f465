//! Source trees in memory: the repository on disk, or a generated Node.js-like project; which
//! of their files each `COPY` selects; and the edits a commit of each class makes.

use std::path::{Path, PathBuf};

use crate::des::{RngStreams, Stream, uniform};

/// One file: its path relative to the tree, its mode, its modification time and its bytes.
#[derive(Clone, Debug)]
pub(super) struct File {
    pub(super) path: String,
    pub(super) mode: u32,
    pub(super) mtime: u64,
    pub(super) data: Vec<u8>,
}

/// A tree and what its Dockerfile names.
#[derive(Clone, Debug)]
pub(super) struct Tree {
    pub(super) name: &'static str,
    /// Sorted by path.
    pub(super) files: Vec<File>,
    /// What `COPY package.json package-lock.json ./` stands for: the dependency manifests.
    pub(super) manifests: Vec<String>,
    /// The lockfile a dependency commit edits.
    pub(super) lockfile: String,
    /// The source file a one-line edit changes.
    pub(super) source_file: String,
    /// The doc a docs commit edits.
    pub(super) doc_file: String,
    /// Directory prefixes `.dockerignore` drops (besides `.git` and build output).
    pub(super) ignored_dirs: Vec<String>,
    /// What `npm ci` writes (the generated tree's `node_modules`); not in the context.
    pub(super) deps_prefix: Option<String>,
}

/// Directories never read from a repository: version control, build output, run output.
const SKIP_DIRS: &[&str] = &[".git", "target", "node_modules", "runs", "generated"];
/// Files larger than this are left out (none of a source tree's should be).
const MAX_FILE: u64 = 64 << 20;

/// The git repository containing `start` (the nearest ancestor with `.git`).
pub(super) fn find_repository(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .find(|d| d.join(".git").exists())
        .map(Path::to_path_buf)
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<File>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let ft = e.file_type()?;
        let path = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if ft.is_dir() {
            if !SKIP_DIRS.contains(&name.as_str()) {
                walk(root, &path, out)?;
            }
        } else if ft.is_file() && name != ".git" {
            let meta = e.metadata()?;
            if meta.len() > MAX_FILE {
                continue;
            }
            #[cfg(unix)]
            let mode = std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o7777;
            #[cfg(not(unix))]
            let mode = 0o644;
            let mtime = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_secs());
            let rel = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .to_string_lossy()
                .replace('\\', "/");
            out.push(File {
                path: rel,
                mode,
                mtime,
                data: std::fs::read(&path)?,
            });
        }
    }
    Ok(())
}

/// Reads a repository's files (without `.git`, `target` and run output).
pub(super) fn read_repository(root: &Path) -> Result<Tree, String> {
    let mut files = Vec::new();
    walk(root, root, &mut files).map_err(|e| format!("reading {}: {e}", root.display()))?;
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let has = |p: &str| files.iter().any(|f| f.path == p);
    let pick = |want: &[&str], ext: &str| -> Option<String> {
        want.iter()
            .find(|p| has(p))
            .map(|p| p.to_string())
            .or_else(|| {
                files
                    .iter()
                    .find(|f| f.path.ends_with(ext))
                    .map(|f| f.path.clone())
            })
    };
    let manifests: Vec<String> = files
        .iter()
        .filter(|f| {
            let n = f.path.rsplit('/').next().unwrap_or_default();
            matches!(
                n,
                "Cargo.toml" | "Cargo.lock" | "package.json" | "package-lock.json"
            )
        })
        .map(|f| f.path.clone())
        .collect();
    let lockfile = pick(&["Cargo.lock", "package-lock.json"], ".lock");
    let source_file = pick(&["sims/src/lib.rs", "src/lib.rs", "src/main.rs"], ".rs");
    let doc_file = pick(&["README.md"], ".md");
    match (lockfile, source_file, doc_file) {
        (Some(lockfile), Some(source_file), Some(doc_file)) if !manifests.is_empty() => Ok(Tree {
            name: "repository",
            files,
            manifests,
            lockfile,
            source_file,
            doc_file,
            ignored_dirs: vec![],
            deps_prefix: None,
        }),
        _ => Err(format!(
            "{} has no Cargo or npm manifest, lockfile, Rust source or Markdown file to edit",
            root.display()
        )),
    }
}

/// Words source and docs are made of: text compresses like text.
const WORDS: &[&str] = &[
    "const",
    "function",
    "return",
    "import",
    "export",
    "from",
    "await",
    "async",
    "this",
    "value",
    "module",
    "require",
    "props",
    "state",
    "render",
    "=>",
    "{",
    "}",
    "(",
    ");",
    "if",
    "else",
    "let",
    "new",
    "Error",
    "options",
    "config",
    "index",
    "length",
    "push",
    "map",
    "filter",
    "true",
    "false",
    "null",
    "undefined",
    "string",
    "number",
    "type",
    "interface",
];

fn text(rng: &mut Stream, bytes: usize) -> Vec<u8> {
    let mut s = Vec::with_capacity(bytes + 16);
    let mut col = 0;
    while s.len() < bytes {
        let w = WORDS[(uniform(rng) * WORDS.len() as f64) as usize % WORDS.len()];
        s.extend_from_slice(w.as_bytes());
        // Identifiers with numbers, as minified and generated code has.
        if uniform(rng) < 0.15 {
            s.extend_from_slice(format!("{}", (uniform(rng) * 10_000.0) as u32).as_bytes());
        }
        col += w.len() + 1;
        if col > 70 {
            s.push(b'\n');
            col = 0;
        } else {
            s.push(b' ');
        }
    }
    s.truncate(bytes);
    s
}

fn binary(rng: &mut Stream, bytes: usize) -> Vec<u8> {
    let mut s = Vec::with_capacity(bytes + 8);
    while s.len() < bytes {
        s.extend_from_slice(&rand::Rng::next_u64(rng).to_le_bytes());
    }
    s.truncate(bytes);
    s
}

/// A generated Node.js-like project of about `mb` MB: manifests, `src/`, `docs/` and a
/// `node_modules` (`1 - context_fraction` of the bytes), `binary_fraction` of it incompressible.
pub(super) fn generate(mb: f64, context_fraction: f64, binary_fraction: f64, seed: u64) -> Tree {
    let mut rng = RngStreams::new(seed, 0, 0).stream("generated_tree");
    let total = (mb * 1e6) as usize;
    let context = (total as f64 * context_fraction) as usize;
    let mut files = Vec::new();
    let mut add = |path: String, data: Vec<u8>| {
        files.push(File {
            path,
            mode: 0o644,
            mtime: 1_700_000_000,
            data,
        })
    };
    add(
        "package.json".into(),
        br#"{"name":"app","version":"1.0.0","scripts":{"build":"tsc -p ."}}"#.to_vec(),
    );
    add(
        "package-lock.json".into(),
        text(&mut rng, 200_000.min(total / 50)),
    );
    add("README.md".into(), text(&mut rng, 8_000));
    add("docs/guide.md".into(), text(&mut rng, 20_000));
    let mut used = 228_000.min(total);
    let mut i = 0;
    while used < context {
        let size = ((uniform(&mut rng) * 2.0 + 0.2) * 8_000.0) as usize;
        add(format!("src/module{i:05}.js"), text(&mut rng, size));
        used += size;
        i += 1;
    }
    add("src/index.js".into(), text(&mut rng, 4_000));
    let mut pkg = 0;
    while used < total {
        let size = ((uniform(&mut rng) * 2.0 + 0.1) * 12_000.0) as usize;
        let data = if uniform(&mut rng) < binary_fraction {
            binary(&mut rng, size)
        } else {
            text(&mut rng, size)
        };
        add(
            format!("node_modules/pkg{:04}/lib/file{i:06}.js", pkg % 997),
            data,
        );
        used += size;
        i += 1;
        pkg += 1;
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Tree {
        name: "generated",
        files,
        manifests: vec!["package-lock.json".into(), "package.json".into()],
        lockfile: "package-lock.json".into(),
        source_file: "src/index.js".into(),
        doc_file: "README.md".into(),
        ignored_dirs: vec!["node_modules/".into()],
        deps_prefix: Some("node_modules/".into()),
    }
}

impl Tree {
    /// The files `COPY . .` sends: everything but `.dockerignore`'s directories (and, when
    /// `ignore_docs`, Markdown files).
    pub(super) fn context(&self, ignore_docs: bool) -> Vec<&File> {
        self.files
            .iter()
            .filter(|f| {
                !self
                    .ignored_dirs
                    .iter()
                    .any(|d| f.path.starts_with(d.as_str()))
            })
            .filter(|f| !(ignore_docs && f.path.ends_with(".md")))
            .collect()
    }

    /// The files of the manifests `COPY`.
    pub(super) fn manifest_files(&self) -> Vec<&File> {
        self.files
            .iter()
            .filter(|f| self.manifests.contains(&f.path))
            .collect()
    }

    /// What `npm ci` writes (the generated tree's `node_modules`).
    pub(super) fn deps_files(&self) -> Vec<&File> {
        match &self.deps_prefix {
            Some(d) => self
                .files
                .iter()
                .filter(|f| f.path.starts_with(d.as_str()))
                .collect(),
            None => Vec::new(),
        }
    }

    /// Appends one line to `path` (or creates it).
    pub(super) fn append_line(&mut self, path: &str, line: &str) {
        match self.files.iter_mut().find(|f| f.path == path) {
            Some(f) => {
                f.data.extend_from_slice(line.as_bytes());
                f.data.push(b'\n');
            }
            None => {
                self.files.push(File {
                    path: path.to_string(),
                    mode: 0o644,
                    mtime: 0,
                    data: format!("{line}\n").into_bytes(),
                });
                self.files.sort_by(|a, b| a.path.cmp(&b.path));
            }
        }
    }

    /// Sets `path`'s content (creating it).
    pub(super) fn write(&mut self, path: &str, data: Vec<u8>) {
        match self.files.iter_mut().find(|f| f.path == path) {
            Some(f) => f.data = data,
            None => {
                self.files.push(File {
                    path: path.to_string(),
                    mode: 0o644,
                    mtime: 0,
                    data,
                });
                self.files.sort_by(|a, b| a.path.cmp(&b.path));
            }
        }
    }

    /// Changes `path`'s modification time only.
    pub(super) fn touch(&mut self, path: &str) {
        if let Some(f) = self.files.iter_mut().find(|f| f.path == path) {
            f.mtime += 3600;
        }
    }

    /// Total bytes of `files`, MB.
    pub(super) fn mb(files: &[&File]) -> f64 {
        files.iter().map(|f| f.data.len() as f64).sum::<f64>() / 1e6
    }
}
