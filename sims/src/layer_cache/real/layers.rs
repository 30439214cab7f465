//! The real work on one layer's files: a deterministic tar, a builder's content checksum, the
//! layer digest, and gzip and zstd round trips, each timed.

use std::io::{Read, Write};
use std::time::Instant;

use sha2::{Digest, Sha256};

use super::tree::File;

/// A deterministic tar of `files` (sorted by path; zero times, owners and names; the mode
/// kept): the same files always give the same bytes. `with_mtime` keeps the files' times, as a
/// naive archiver would.
pub(super) fn tar(files: &[&File], with_mtime: bool) -> Result<Vec<u8>, String> {
    let mut sorted: Vec<&&File> = files.iter().collect();
    sorted.sort_by(|a, b| a.path.cmp(&b.path));
    let mut b = tar::Builder::new(Vec::new());
    for f in sorted {
        let mut h = tar::Header::new_gnu();
        h.set_size(f.data.len() as u64);
        h.set_mode(f.mode);
        h.set_mtime(if with_mtime { f.mtime } else { 0 });
        h.set_uid(0);
        h.set_gid(0);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, &f.path, f.data.as_slice())
            .map_err(|e| format!("tar {}: {e}", f.path))?;
    }
    b.into_inner().map_err(|e| format!("tar: {e}"))
}

/// The checksum a builder keys a `COPY` by: per file, SHA-256 of its path, mode, size and
/// content (never its time); then SHA-256 of the sorted list of (path, file digest).
pub(super) fn content_checksum(files: &[&File]) -> [u8; 32] {
    let mut per: Vec<(&str, [u8; 32])> = files
        .iter()
        .map(|f| {
            let mut h = Sha256::new();
            h.update(f.path.as_bytes());
            h.update([0]);
            h.update(f.mode.to_le_bytes());
            h.update((f.data.len() as u64).to_le_bytes());
            h.update(&f.data);
            (f.path.as_str(), h.finalize().into())
        })
        .collect();
    per.sort_by(|a, b| a.0.cmp(b.0));
    let mut h = Sha256::new();
    for (p, d) in per {
        h.update(p.as_bytes());
        h.update([0]);
        h.update(d);
    }
    h.finalize().into()
}

/// SHA-256 of bytes.
pub(super) fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// One layer's timings (s) and sizes (bytes).
#[derive(Clone, Debug, Default)]
pub(super) struct LayerTimes {
    pub(super) bytes: f64,
    pub(super) tar_s: f64,
    pub(super) checksum_s: f64,
    pub(super) digest_s: f64,
    pub(super) gzip_s: f64,
    pub(super) gunzip_s: f64,
    pub(super) gzip_bytes: f64,
    pub(super) zstd_s: f64,
    pub(super) unzstd_s: f64,
    pub(super) zstd_bytes: f64,
}

impl LayerTimes {
    /// Adds another layer's times and sizes.
    pub(super) fn add(&mut self, o: &LayerTimes) {
        self.bytes += o.bytes;
        self.tar_s += o.tar_s;
        self.checksum_s += o.checksum_s;
        self.digest_s += o.digest_s;
        self.gzip_s += o.gzip_s;
        self.gunzip_s += o.gunzip_s;
        self.gzip_bytes += o.gzip_bytes;
        self.zstd_s += o.zstd_s;
        self.unzstd_s += o.unzstd_s;
        self.zstd_bytes += o.zstd_bytes;
    }
}

fn timed<T>(f: impl FnOnce() -> Result<T, String>) -> Result<(T, f64), String> {
    let t = Instant::now();
    let v = f()?;
    Ok((v, t.elapsed().as_secs_f64()))
}

/// Tars, checksums, digests, compresses and decompresses one layer's files, checking that both
/// codecs give the tar back byte for byte.
pub(super) fn measure(
    files: &[&File],
    gzip_level: u32,
    zstd_level: i32,
) -> Result<LayerTimes, String> {
    let (tarred, tar_s) = timed(|| tar(files, false))?;
    let (_, checksum_s) = timed(|| Ok(content_checksum(files)))?;
    let (_, digest_s) = timed(|| Ok(sha256(&tarred)))?;
    let (gz, gzip_s) = timed(|| {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(gzip_level));
        e.write_all(&tarred).map_err(|e| e.to_string())?;
        e.finish().map_err(|e| e.to_string())
    })?;
    let (back, gunzip_s) = timed(|| {
        let mut out = Vec::with_capacity(tarred.len());
        flate2::read::GzDecoder::new(gz.as_slice())
            .read_to_end(&mut out)
            .map_err(|e| e.to_string())?;
        Ok(out)
    })?;
    if back != tarred {
        return Err("gzip round trip changed the layer".into());
    }
    let (zs, zstd_s) =
        timed(|| zstd::bulk::compress(&tarred, zstd_level).map_err(|e| e.to_string()))?;
    let (back, unzstd_s) =
        timed(|| zstd::bulk::decompress(&zs, tarred.len()).map_err(|e| e.to_string()))?;
    if back != tarred {
        return Err("zstd round trip changed the layer".into());
    }
    Ok(LayerTimes {
        bytes: tarred.len() as f64,
        tar_s,
        checksum_s,
        digest_s,
        gzip_s,
        gunzip_s,
        gzip_bytes: gz.len() as f64,
        zstd_s,
        unzstd_s,
        zstd_bytes: zs.len() as f64,
    })
}
