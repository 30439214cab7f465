//! Content fingerprints of file collections, the way content-addressed build caches compute
//! them: each file's content digest, paired with its path normalized by a [`PathMode`], sorted,
//! and fed to one hasher; a cache key is then one hash over named parts ([`KeyBuilder`]).
//!
//! The hash function is a parameter ([`ContentHasher`]). Models use [`Mix128`], a fast
//! non-cryptographic 128-bit hash (they compare keys, they never need collision resistance
//! against an adversary); real kernels plug in MD5 or SHA-256 and get the same structure, so a
//! model's key and a kernel's fingerprint of the same tree change under the same edits.
//!
//! This module knows nothing of any build tool's task model or of file systems: callers give it
//! `(absolute path, root, content digest)` entries.

/// A hash function a fingerprint is computed with.
pub trait ContentHasher {
    /// A fresh hasher.
    fn new() -> Self;
    /// Feeds bytes.
    fn update(&mut self, bytes: &[u8]);
    /// The digest.
    fn finish(self) -> Vec<u8>;

    /// The digest of `bytes` in one call.
    fn digest(bytes: &[u8]) -> Vec<u8>
    where
        Self: Sized,
    {
        let mut h = Self::new();
        h.update(bytes);
        h.finish()
    }
}

/// A fast, deterministic, non-cryptographic 128-bit hash for models: two 64-bit lanes fed eight
/// bytes at a time, each finished with the SplitMix64 mixer. Same bytes, same digest, on every
/// platform.
#[derive(Clone, Debug)]
pub struct Mix128 {
    a: u64,
    b: u64,
    len: u64,
    tail: [u8; 8],
    tail_len: usize,
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Mix128 {
    #[inline]
    fn word(&mut self, w: u64) {
        self.a = (self.a ^ w)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .rotate_left(29);
        self.b = (self.b ^ w.rotate_left(17))
            .wrapping_mul(0xC2B2_AE3D_27D4_EB4F)
            .rotate_left(31)
            .wrapping_add(self.a);
    }

    /// The digest as a `u128` (models keep keys as numbers).
    pub fn finish_u128(mut self) -> u128 {
        let mut last = [0u8; 8];
        last[..self.tail_len].copy_from_slice(&self.tail[..self.tail_len]);
        self.word(u64::from_le_bytes(last));
        self.word(self.len);
        let hi = splitmix(self.a ^ splitmix(self.b));
        let lo = splitmix(self.b ^ hi);
        (u128::from(hi) << 64) | u128::from(lo)
    }
}

impl ContentHasher for Mix128 {
    fn new() -> Self {
        Mix128 {
            a: 0x243F_6A88_85A3_08D3,
            b: 0x1319_8A2E_0370_7344,
            len: 0,
            tail: [0; 8],
            tail_len: 0,
        }
    }

    fn update(&mut self, mut bytes: &[u8]) {
        self.len += bytes.len() as u64;
        if self.tail_len > 0 {
            let take = (8 - self.tail_len).min(bytes.len());
            self.tail[self.tail_len..self.tail_len + take].copy_from_slice(&bytes[..take]);
            self.tail_len += take;
            bytes = &bytes[take..];
            if self.tail_len < 8 {
                return;
            }
            let w = u64::from_le_bytes(self.tail);
            self.word(w);
            self.tail_len = 0;
        }
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.word(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        self.tail[..rest.len()].copy_from_slice(rest);
        self.tail_len = rest.len();
    }

    fn finish(self) -> Vec<u8> {
        self.finish_u128().to_be_bytes().to_vec()
    }
}

/// How much of a file's path goes into its fingerprint (Gradle's `PathSensitivity`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum PathMode {
    /// The full absolute path: a checkout at another path gives another fingerprint.
    Absolute,
    /// The path relative to the root of the file collection (a file that is itself a root
    /// counts by its name): relocatable.
    Relative,
    /// The file name only.
    NameOnly,
    /// Content only; the order and names of the files do not count.
    None,
}

impl PathMode {
    /// Every mode, in the order reports list them.
    pub const ALL: [PathMode; 4] = [
        PathMode::Absolute,
        PathMode::Relative,
        PathMode::NameOnly,
        PathMode::None,
    ];

    /// The mode's name in reports (`absolute`, `relative`, `name_only`, `none`).
    pub fn name(self) -> &'static str {
        match self {
            PathMode::Absolute => "absolute",
            PathMode::Relative => "relative",
            PathMode::NameOnly => "name_only",
            PathMode::None => "none",
        }
    }
}

/// One file of a collection: where it is, the root of the collection it belongs to, and the
/// digest of its (possibly normalized) content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileEntry {
    /// Absolute path, `/`-separated.
    pub path: String,
    /// The collection's root directory (or the file itself), absolute, `/`-separated.
    pub root: String,
    /// The content digest.
    pub digest: Vec<u8>,
}

/// The path a [`PathMode`] keeps of `entry`.
pub fn normalized_path(entry: &FileEntry, mode: PathMode) -> &str {
    let name = entry.path.rsplit('/').next().unwrap_or(&entry.path);
    match mode {
        PathMode::Absolute => &entry.path,
        PathMode::Relative => entry
            .path
            .strip_prefix(entry.root.as_str())
            .and_then(|rest| rest.strip_prefix('/'))
            .unwrap_or(name),
        PathMode::NameOnly => name,
        PathMode::None => "",
    }
}

/// The fingerprint of a file collection under `mode`: the (normalized path, digest) pairs,
/// sorted so that the order the files were listed in does not count, fed length-prefixed to one
/// hasher. With [`PathMode::None`] only the sorted digests remain.
pub fn fingerprint<H: ContentHasher>(entries: &[FileEntry], mode: PathMode) -> Vec<u8> {
    let mut pairs: Vec<(&str, &[u8])> = entries
        .iter()
        .map(|e| (normalized_path(e, mode), e.digest.as_slice()))
        .collect();
    pairs.sort_unstable();
    let mut h = H::new();
    for (path, digest) in pairs {
        h.update(&(path.len() as u64).to_le_bytes());
        h.update(path.as_bytes());
        h.update(digest);
    }
    h.finish()
}

/// The fingerprint of a classpath: its roots in order (order matters on a classpath), each root
/// by the sorted relative paths and digests of its files, never by where the root lies. Callers
/// pass already-normalized digests (full bytes for a runtime classpath, an ABI view for a
/// compile classpath).
pub fn classpath_fingerprint<H: ContentHasher>(roots: &[Vec<FileEntry>]) -> Vec<u8> {
    let mut h = H::new();
    for root in roots {
        let fp = fingerprint::<H>(root, PathMode::Relative);
        h.update(&fp);
    }
    h.finish()
}

/// One hash over a task's named inputs: implementation, value inputs and file-input
/// fingerprints, each group sorted by name (the order they were declared in does not count),
/// then output names. Mirrors the structure of Gradle's build-cache key.
#[derive(Clone, Debug, Default)]
pub struct KeyBuilder {
    implementation: Vec<String>,
    values: Vec<(String, Vec<u8>)>,
    files: Vec<(String, Vec<u8>)>,
    outputs: Vec<String>,
}

impl KeyBuilder {
    /// An empty key.
    pub fn new() -> KeyBuilder {
        KeyBuilder::default()
    }

    /// The task's implementation (class and classloader) or one of its actions.
    pub fn implementation(&mut self, id: &str) -> &mut Self {
        self.implementation.push(id.to_string());
        self
    }

    /// A value input, by property name.
    pub fn value(&mut self, name: &str, value: &[u8]) -> &mut Self {
        self.values.push((name.to_string(), value.to_vec()));
        self
    }

    /// A file input's fingerprint, by property name.
    pub fn files(&mut self, name: &str, fingerprint: &[u8]) -> &mut Self {
        self.files.push((name.to_string(), fingerprint.to_vec()));
        self
    }

    /// An output property's name (its contents are not part of the key).
    pub fn output(&mut self, name: &str) -> &mut Self {
        self.outputs.push(name.to_string());
        self
    }

    /// The key.
    pub fn finish<H: ContentHasher>(&self) -> Vec<u8> {
        let mut values = self.values.clone();
        values.sort();
        let mut files = self.files.clone();
        files.sort();
        let mut outputs = self.outputs.clone();
        outputs.sort();
        let mut h = H::new();
        let mut put = |b: &[u8]| {
            h.update(&(b.len() as u64).to_le_bytes());
            h.update(b);
        };
        for i in &self.implementation {
            put(i.as_bytes());
        }
        for (n, v) in values.iter().chain(files.iter()) {
            put(n.as_bytes());
            put(v);
        }
        for o in &outputs {
            put(o.as_bytes());
        }
        h.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str, root: &str, content: &str) -> FileEntry {
        FileEntry {
            path: path.into(),
            root: root.into(),
            digest: Mix128::digest(content.as_bytes()),
        }
    }

    fn tree(root: &str) -> Vec<FileEntry> {
        vec![
            entry(&format!("{root}/src/a/A.kt"), root, "class A"),
            entry(&format!("{root}/src/b/B.kt"), root, "class B"),
        ]
    }

    #[test]
    fn mix128_is_byte_exact_whatever_the_chunking() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 % 251) as u8).collect();
        let whole = Mix128::digest(&data);
        let mut h = Mix128::new();
        for c in data.chunks(13) {
            h.update(c);
        }
        assert_eq!(h.finish(), whole);
        assert_ne!(Mix128::digest(b"a"), Mix128::digest(b"a\0"));
        assert_ne!(Mix128::digest(b""), Mix128::digest(b"\0"));
    }

    #[test]
    fn only_absolute_changes_when_the_checkout_moves() {
        let a = tree("/home/runner/work/app");
        let b = tree("/Users/alice/dev/app");
        for mode in PathMode::ALL {
            let same = fingerprint::<Mix128>(&a, mode) == fingerprint::<Mix128>(&b, mode);
            assert_eq!(same, mode != PathMode::Absolute, "{mode:?}");
        }
    }

    #[test]
    fn renames_and_reorders_count_as_each_mode_says() {
        let root = "/w";
        let a = tree(root);
        let mut reordered = a.clone();
        reordered.reverse();
        let moved = vec![
            entry("/w/src/other/A.kt", root, "class A"),
            entry("/w/src/b/B.kt", root, "class B"),
        ];
        let renamed = vec![
            entry("/w/src/a/A2.kt", root, "class A"),
            entry("/w/src/b/B.kt", root, "class B"),
        ];
        let fp = |t: &[FileEntry], m| fingerprint::<Mix128>(t, m);
        for mode in PathMode::ALL {
            assert_eq!(fp(&a, mode), fp(&reordered, mode), "order never counts");
        }
        assert_ne!(fp(&a, PathMode::Relative), fp(&moved, PathMode::Relative));
        assert_eq!(fp(&a, PathMode::NameOnly), fp(&moved, PathMode::NameOnly));
        assert_ne!(fp(&a, PathMode::NameOnly), fp(&renamed, PathMode::NameOnly));
        assert_eq!(fp(&a, PathMode::None), fp(&renamed, PathMode::None));
        let edited = vec![
            entry("/w/src/a/A.kt", root, "class A2"),
            entry("/w/src/b/B.kt", root, "class B"),
        ];
        for mode in PathMode::ALL {
            assert_ne!(fp(&a, mode), fp(&edited, mode), "content always counts");
        }
    }

    #[test]
    fn key_ignores_declaration_order_but_not_values() {
        let k1 = KeyBuilder::new()
            .implementation("Compile")
            .value("args", b"-O")
            .value("target", b"17")
            .files("src", b"x")
            .finish::<Mix128>();
        let k2 = KeyBuilder::new()
            .implementation("Compile")
            .value("target", b"17")
            .value("args", b"-O")
            .files("src", b"x")
            .finish::<Mix128>();
        assert_eq!(k1, k2);
        let k3 = KeyBuilder::new()
            .implementation("Compile")
            .value("args", b"-O -Xuse-k2=true")
            .value("target", b"17")
            .files("src", b"x")
            .finish::<Mix128>();
        assert_ne!(k1, k3);
    }
}
