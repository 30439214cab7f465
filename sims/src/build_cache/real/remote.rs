//! The remote-cache half of the kernel: the room's task graph built for real against the
//! loopback cache server. Keys hash real source files and real upstream outputs with MD5; a
//! miss looks up the remote, spins for the task's duration, writes its output and uploads it
//! (asynchronously, as Gradle stores); a hit downloads and writes the entry.

use std::collections::BinaryHeap;
use std::path::Path;
use std::sync::mpsc;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use super::RealParams;
use super::imp::{Md5, Scratch, write_sources};
use super::server::{CacheServer, Client};
use crate::build_cache::graph::{self, Graph, Kind, Target};
use crate::build_cache::params::BuildCacheParams;
use crate::build_cache::sources::{abi_view, source_dir};
use crate::des::RngStreams;
use crate::fingerprint::{ContentHasher, FileEntry, PathMode, fingerprint};
use crate::real::KernelReport;

/// The model's parameters for the synthetic build the kernel runs.
fn build_params(p: &RealParams) -> BuildCacheParams {
    BuildCacheParams {
        modules: p.modules,
        workers: p.workers,
        compile_median_s: p.compile_median_s,
        compile_p95_s: p.compile_p95_s,
        test_median_s: p.test_median_s,
        gen_median_s: p.gen_median_s,
        link_s: p.link_s,
        package_s: p.package_s,
        compile_output_mb: p.compile_output_mb,
        link_output_mb: p.link_output_mb,
        package_output_mb: p.package_output_mb,
        ..BuildCacheParams::default()
    }
}

#[derive(Copy, Clone, Default)]
struct Out {
    full: [u8; 16],
    abi: [u8; 16],
}

fn md5(parts: &[&[u8]]) -> [u8; 16] {
    let mut h = Md5::new();
    for p in parts {
        h.update(&(p.len() as u64).to_le_bytes());
        h.update(p);
    }
    h.finish().try_into().unwrap_or([0; 16])
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

struct Sched {
    waiting: Vec<usize>,
    ready: BinaryHeap<std::cmp::Reverse<usize>>,
    outs: Vec<Option<Out>>,
    left: usize,
    hits: u64,
    misses: u64,
    error: Option<String>,
}

/// The source fingerprint of a module, read from the workspace (relative paths, MD5).
fn sources_fp(ws: &Path, module: &str) -> std::io::Result<Vec<u8>> {
    let root = ws.join(source_dir(module));
    let root_s = root.to_string_lossy().to_string();
    let mut entries = Vec::new();
    for name in ["Api.kt", "Impl.kt"] {
        let path = root.join(name);
        let bytes = std::fs::read(&path)?;
        entries.push(FileEntry {
            path: path.to_string_lossy().to_string(),
            root: root_s.clone(),
            digest: Md5::digest(&bytes),
        });
    }
    Ok(fingerprint::<Md5>(&entries, PathMode::Relative))
}

fn spin(d: Duration) {
    let end = Instant::now() + d;
    while Instant::now() < end {
        std::hint::spin_loop();
    }
}

/// One task, for real: key, lookup, execute or load. Returns its output and whether it hit.
fn do_task(
    g: &Graph,
    t: usize,
    outs: &[Option<Out>],
    ws: &Path,
    conn: &mut super::server::Connection,
    uploads: &mpsc::Sender<(String, Vec<u8>)>,
) -> std::io::Result<(Out, bool)> {
    let task = &g.tasks[t];
    let m = task.module;
    let name = &g.names[m];
    let up = |i: usize| outs[i].unwrap_or_default();
    let mut parts: Vec<Vec<u8>> = vec![
        format!("{:?}", task.kind).into_bytes(),
        name.clone().into_bytes(),
    ];
    let tgt = |tg: Target| Target::ALL.iter().position(|&x| x == tg).unwrap_or(0);
    match task.kind {
        Kind::Gen => parts.push(sources_fp(ws, name)?),
        Kind::Compile(tg) => {
            parts.push(sources_fp(ws, name)?);
            if let Some(gt) = g.gen_task[m] {
                parts.push(up(gt).full.to_vec());
            }
            for &d in &g.trans[m] {
                let o = up(g.compile_task[d][tgt(tg)]);
                parts.push(if tg == Target::Ios { o.full } else { o.abi }.to_vec());
            }
        }
        Kind::Test(tg) => {
            parts.push(sources_fp(ws, name)?);
            parts.push(up(g.compile_task[m][tgt(tg)]).full.to_vec());
            for &d in &g.trans[m] {
                parts.push(up(g.compile_task[d][tgt(tg)]).full.to_vec());
            }
        }
        Kind::Link | Kind::Package => parts.extend(task.after.iter().map(|&a| up(a).full.to_vec())),
    }
    let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    let key = md5(&refs);
    let key_hex = hex(&key);
    let out_path = ws.join("build").join(format!("{t}.bin"));
    if let Some(entry) = conn.get(&key_hex)? {
        // Unpack: the entry's header is its ABI digest, the rest the output's bytes.
        let (abi, body) = entry.split_at(16.min(entry.len()));
        std::fs::write(&out_path, body)?;
        let out = Out {
            full: md5(&[body]),
            abi: abi.try_into().unwrap_or([0; 16]),
        };
        return Ok((out, true));
    }
    spin(Duration::from_secs_f64(task.duration_s));
    let size = (task.size_mb * 1e6) as usize;
    let mut state = u64::from_le_bytes(key[..8].try_into().unwrap_or([1; 8])) | 1;
    let mut body = Vec::with_capacity(size + 16);
    let abi = match task.kind {
        Kind::Compile(_) => {
            let api = std::fs::read_to_string(ws.join(source_dir(name)).join("Api.kt"))?;
            let gen_abi = g.gen_task[m].map(|gt| up(gt).abi).unwrap_or_default();
            md5(&[
                format!("{:?}", task.kind).as_bytes(),
                abi_view(&api).as_bytes(),
                &gen_abi,
            ])
        }
        _ => [0; 16],
    };
    body.extend_from_slice(&abi);
    while body.len() < size + 16 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        body.extend_from_slice(&state.to_le_bytes());
    }
    body.truncate(size + 16);
    std::fs::write(&out_path, &body[16..])?;
    let full = md5(&[&body[16..]]);
    let abi = if matches!(task.kind, Kind::Compile(_)) {
        abi
    } else {
        full
    };
    body[..16].copy_from_slice(&abi);
    let _ = uploads.send((key_hex, body));
    Ok((Out { full, abi }, false))
}

/// Builds every task of `g` in `ws` with `workers` threads; returns wall time and hit counts.
fn real_build(
    g: &Graph,
    users: &[Vec<usize>],
    ws: &Path,
    client: Client,
    workers: usize,
) -> std::io::Result<(f64, u64, u64)> {
    let build_dir = ws.join("build");
    let _ = std::fs::remove_dir_all(&build_dir);
    std::fs::create_dir_all(&build_dir)?;
    let n = g.tasks.len();
    let waiting: Vec<usize> = g.tasks.iter().map(|t| t.after.len()).collect();
    let ready = (0..n)
        .filter(|&t| waiting[t] == 0)
        .map(std::cmp::Reverse)
        .collect();
    let sched = Mutex::new(Sched {
        waiting,
        ready,
        outs: vec![None; n],
        left: n,
        hits: 0,
        misses: 0,
        error: None,
    });
    let cv = Condvar::new();
    let (tx, rx) = mpsc::channel::<(String, Vec<u8>)>();
    let uploader = std::thread::spawn(move || -> std::io::Result<()> {
        let mut conn = client.connect()?;
        for (key, body) in rx {
            conn.put(&key, &body)?;
        }
        conn.close();
        Ok(())
    });
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..workers {
            let tx = tx.clone();
            let (sched, cv) = (&sched, &cv);
            s.spawn(move || {
                let mut conn = match client.connect() {
                    Ok(c) => c,
                    Err(e) => {
                        if let Ok(mut st) = sched.lock() {
                            st.error = Some(e.to_string());
                            st.left = 0;
                        }
                        cv.notify_all();
                        return;
                    }
                };
                loop {
                    let (t, outs) = {
                        let Ok(mut st) = sched.lock() else { return };
                        loop {
                            if st.left == 0 || st.error.is_some() {
                                conn.close();
                                return;
                            }
                            if let Some(std::cmp::Reverse(t)) = st.ready.pop() {
                                break (t, st.outs.clone());
                            }
                            st = match cv.wait(st) {
                                Ok(st) => st,
                                Err(_) => return,
                            };
                        }
                    };
                    let result = do_task(g, t, &outs, ws, &mut conn, &tx);
                    let Ok(mut st) = sched.lock() else { return };
                    match result {
                        Ok((out, hit)) => {
                            st.outs[t] = Some(out);
                            if hit {
                                st.hits += 1;
                            } else {
                                st.misses += 1;
                            }
                            st.left -= 1;
                            for &u in &users[t] {
                                st.waiting[u] -= 1;
                                if st.waiting[u] == 0 {
                                    st.ready.push(std::cmp::Reverse(u));
                                }
                            }
                        }
                        Err(e) => st.error = Some(format!("task {t}: {e}")),
                    }
                    cv.notify_all();
                }
            });
        }
    });
    let wall = start.elapsed().as_secs_f64();
    drop(tx);
    uploader
        .join()
        .map_err(|_| std::io::Error::other("uploader panicked"))??;
    let st = sched
        .into_inner()
        .map_err(|_| std::io::Error::other("poisoned"))?;
    if let Some(e) = st.error {
        return Err(std::io::Error::other(e));
    }
    Ok((wall, st.hits, st.misses))
}

/// Fits `time = a + size / b` by least squares over (size MB, time s) pairs.
fn fit(points: &[(f64, f64)]) -> (f64, f64) {
    let n = points.len() as f64;
    let (sx, sy) = points
        .iter()
        .fold((0.0, 0.0), |(a, b), p| (a + p.0, b + p.1));
    let (mx, my) = (sx / n, sy / n);
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let slope = if sxx > 0.0 { sxy / sxx } else { 0.0 };
    (
        my - slope * mx,
        if slope > 0.0 {
            1.0 / slope
        } else {
            f64::INFINITY
        },
    )
}

/// One trial: calibration downloads, then the cold, warm and edited builds.
pub(super) fn trial(
    p: &RealParams,
    seed: u64,
    trial: u32,
    r: &mut KernelReport,
) -> std::io::Result<()> {
    let server = CacheServer::start(p.latency_ms, p.bandwidth_mb_per_s)?;
    let client = server.client();
    let scratch = Scratch::new(&format!("remote{trial}"))?;

    // Single downloads of several sizes: per-request overhead and bandwidth.
    let mut conn = client.connect()?;
    let mut points = Vec::new();
    let mut unpack = Vec::new();
    for (i, mb) in [0.001, 0.25, 1.0, 2.0].into_iter().enumerate() {
        let body = vec![i as u8; (mb * 1e6) as usize];
        conn.put(&format!("probe{i}"), &body)?;
        for _ in 0..3 {
            let t = Instant::now();
            let got = conn.get(&format!("probe{i}"))?.unwrap_or_default();
            points.push((mb, t.elapsed().as_secs_f64()));
            let t = Instant::now();
            std::fs::write(scratch.0.join("probe.bin"), &got)?;
            if mb >= 1.0 {
                unpack.push(mb / t.elapsed().as_secs_f64().max(1e-9));
            }
        }
    }
    conn.close();
    server.clear();
    let (a, bw) = fit(&points);
    let overhead_ms = (a * 1000.0 - p.latency_ms).max(0.0);
    let unpack_rate = unpack.iter().sum::<f64>() / unpack.len().max(1) as f64;
    r.set("http_overhead_ms", overhead_ms, "ms");
    r.set("download_mb_per_s", bw, "MB/s");
    r.set("unpack_mb_per_s", unpack_rate, "MB/s");
    r.calibration
        .insert("http_overhead_ms".into(), toml::Value::Float(overhead_ms));
    r.calibration.insert(
        "remote_bandwidth_mb_per_s".into(),
        toml::Value::Float(bw.min(1e5)),
    );
    r.calibration
        .insert("unpack_mb_per_s".into(), toml::Value::Float(unpack_rate));

    // The room's graph, drawn as the model draws it.
    let bp = build_params(p);
    let streams = RngStreams::new(seed, 0xBC, u64::from(trial));
    let g = graph::build(&bp, None, &mut streams.stream("graph"));
    let mut users = vec![Vec::new(); g.tasks.len()];
    for (t, task) in g.tasks.iter().enumerate() {
        for &a in &task.after {
            users[a].push(t);
        }
    }
    let ws = scratch.0.join("workspace");
    let versions = vec![(1, 1); g.names.len()];
    write_sources(&ws, &g.names, &versions)?;
    let w = p.workers as usize;
    let total = g.tasks.len() as u64;
    let (cold, hits, _) = real_build(&g, &users, &ws, client, w)?;
    r.set("cold_build_s", cold, "s");
    r.set_proportion("cold_hit_fraction", hits, total);
    let stored = server.len() as f64;
    r.set_exact("entries_after_cold_build", stored, "entries");
    let (warm, hits, _) = real_build(&g, &users, &ws, client, w)?;
    r.set("warm_build_s", warm, "s");
    r.set_proportion("warm_hit_fraction", hits, total);
    // A body edit of one module (drawn as the model draws an edit): its tasks and the content consumers downstream miss.
    let victim = (streams.derive_u64("victim") % g.names.len() as u64) as usize;
    write_sources(&ws, &g.names[victim..=victim], &[(2, 1)])?;
    let (edit, hits, _) = real_build(&g, &users, &ws, client, w)?;
    r.set("edit_build_s", edit, "s");
    r.set_proportion("edit_hit_fraction", hits, total);
    r.set_exact("synthetic_tasks", total as f64, "tasks");
    Ok(())
}
