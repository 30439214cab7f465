//! The child side of the `gc_allocators` kernel: one process per allocator (a process has one
//! `#[global_allocator]`), started by the parent with its settings in arguments and the
//! allocator's environment variables already set. It prints one JSON object on stdout.
//!
//! The handler: parse a generated ~50 KB JSON body, transform it, serialise the result.
//! `plain` parses into `serde_json::Value` (a node, a `String` or a map per value); `pooled`
//! parses into borrowed structs (strings point into the body) and writes into a buffer each
//! worker reuses, the Rust counterpart of the article's reused builders.
//! The load: an open-loop Poisson schedule fixed in advance; `workers` threads take the next
//! request, wait for its intended start, handle it, and record latency from the intended start
//! (no coordinated omission) in an HdrHistogram.

use std::alloc::{GlobalAlloc, Layout};
use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use rand::SeedableRng;
use rand_distr::{Distribution, Exp};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::des::Stream;

/// A global allocator that counts allocations and bytes while counting is on (one relaxed
/// load per call when it is off).
pub struct Counting<A> {
    inner: A,
    on: AtomicBool,
    allocs: AtomicU64,
    bytes: AtomicU64,
}

impl<A> Counting<A> {
    /// Wraps `inner`, counting off.
    pub const fn new(inner: A) -> Counting<A> {
        Counting {
            inner,
            on: AtomicBool::new(false),
            allocs: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
        }
    }
}

/// What the child reads from its allocator wrapper.
pub trait AllocCounter: Sync {
    /// Turns counting on (after zeroing) or off.
    fn counting(&self, on: bool);
    /// (allocations, bytes) counted.
    fn counts(&self) -> (u64, u64);
}

impl<A: Sync> AllocCounter for Counting<A> {
    fn counting(&self, on: bool) {
        if on {
            self.allocs.store(0, Ordering::Relaxed);
            self.bytes.store(0, Ordering::Relaxed);
        }
        self.on.store(on, Ordering::Relaxed);
    }
    fn counts(&self) -> (u64, u64) {
        (
            self.allocs.load(Ordering::Relaxed),
            self.bytes.load(Ordering::Relaxed),
        )
    }
}

// SAFETY: every call is forwarded unchanged to `inner`; counting touches only atomics.
unsafe impl<A: GlobalAlloc> GlobalAlloc for Counting<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if self.on.load(Ordering::Relaxed) {
            self.allocs.fetch_add(1, Ordering::Relaxed);
            self.bytes
                .fetch_add(layout.size() as u64, Ordering::Relaxed);
        }
        // SAFETY: the caller's contract is passed on.
        unsafe { self.inner.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { self.inner.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if self.on.load(Ordering::Relaxed) {
            self.allocs.fetch_add(1, Ordering::Relaxed);
            self.bytes
                .fetch_add(layout.size() as u64, Ordering::Relaxed);
        }
        // SAFETY: as above.
        unsafe { self.inner.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if self.on.load(Ordering::Relaxed) {
            self.allocs.fetch_add(1, Ordering::Relaxed);
            self.bytes.fetch_add(new_size as u64, Ordering::Relaxed);
        }
        // SAFETY: as above.
        unsafe { self.inner.realloc(ptr, layout, new_size) }
    }
}

/// The child's settings (its command line, `key=value` words).
#[derive(Debug, Clone, PartialEq)]
pub struct ChildArgs {
    /// Requests per second; 0: probe only (service time, counts), no load.
    pub rate: f64,
    /// Seconds of load per variant.
    pub duration_s: f64,
    /// Worker threads.
    pub workers: usize,
    /// Body size, bytes.
    pub body_bytes: usize,
    /// Seed of the bodies and the schedule.
    pub seed: u64,
    /// Allocation pairs in the microbenchmark.
    pub micro_ops: u64,
}

impl ChildArgs {
    /// Parses `key=value` words; unknown keys are errors.
    pub fn parse(words: &[String]) -> Result<ChildArgs, String> {
        let mut a = ChildArgs {
            rate: 0.0,
            duration_s: 1.0,
            workers: 2,
            body_bytes: 50_000,
            seed: 1,
            micro_ops: 1_000_000,
        };
        for w in words {
            let (k, v) = w
                .split_once('=')
                .ok_or_else(|| format!("`{w}`: not key=value"))?;
            match k {
                "rate" => a.rate = v.parse().map_err(|e| format!("`{w}`: {e}"))?,
                "duration_s" => a.duration_s = v.parse().map_err(|e| format!("`{w}`: {e}"))?,
                "workers" => a.workers = v.parse().map_err(|e| format!("`{w}`: {e}"))?,
                "body_bytes" => a.body_bytes = v.parse().map_err(|e| format!("`{w}`: {e}"))?,
                "seed" => a.seed = v.parse().map_err(|e| format!("`{w}`: {e}"))?,
                "micro_ops" => a.micro_ops = v.parse().map_err(|e| format!("`{w}`: {e}"))?,
                _ => return Err(format!("unknown key `{k}`")),
            }
        }
        Ok(a)
    }

    /// The words `parse` reads.
    pub fn to_words(&self) -> Vec<String> {
        vec![
            format!("rate={}", self.rate),
            format!("duration_s={}", self.duration_s),
            format!("workers={}", self.workers),
            format!("body_bytes={}", self.body_bytes),
            format!("seed={}", self.seed),
            format!("micro_ops={}", self.micro_ops),
        ]
    }
}

/// A generated request body of about `bytes` bytes: an order with line items (no escapes, so
/// the borrowed parse can point into it).
pub fn generate_body(bytes: usize, seed: u64) -> String {
    let mut rng = Stream::seed_from_u64(seed);
    let mut s = String::with_capacity(bytes + 512);
    s.push_str(&format!(
        "{{\"order_id\":\"ord-{seed}\",\"customer\":{{\"id\":{},\"name\":\"customer {seed}\",\"tier\":\"gold\"}},\"items\":[",
        seed * 7
    ));
    let mut i = 0u64;
    while s.len() < bytes {
        if i > 0 {
            s.push(',');
        }
        let r = rand::Rng::next_u64(&mut rng);
        s.push_str(&format!(
            "{{\"sku\":\"sku-{:06}\",\"name\":\"item number {i}\",\"qty\":{},\"price\":{}.{:02},\"tags\":[\"t{}\",\"t{}\",\"sale\"],\"attrs\":{{\"color\":\"c{}\",\"size\":\"s{}\"}}}}",
            r % 1_000_000,
            1 + r % 5,
            1 + (r >> 8) % 200,
            (r >> 16) % 100,
            (r >> 24) % 10,
            (r >> 28) % 10,
            (r >> 32) % 8,
            (r >> 36) % 4
        ));
        i += 1;
    }
    s.push_str("]}");
    s
}

/// `plain`: the allocation-heavy handler on `serde_json::Value`. Returns the response length.
pub fn handle_plain(body: &[u8]) -> usize {
    let mut v: Value = serde_json::from_slice(body).expect("generated body parses");
    let mut total = 0.0;
    if let Some(items) = v.get_mut("items").and_then(Value::as_array_mut) {
        for it in items.iter_mut() {
            let qty = it["qty"].as_f64().unwrap_or(0.0);
            let price = it["price"].as_f64().unwrap_or(0.0);
            total += qty * price;
            let upper = it["name"].as_str().unwrap_or_default().to_uppercase();
            if let Some(o) = it.as_object_mut() {
                o.insert("line_total".into(), Value::from(qty * price));
                o.insert("name".into(), Value::from(upper));
                o.remove("attrs");
            }
        }
    }
    if let Some(o) = v.as_object_mut() {
        o.insert("total".into(), Value::from(total));
    }
    serde_json::to_vec(&v).expect("serialises").len()
}

#[derive(Deserialize)]
struct Order<'a> {
    #[serde(borrow)]
    order_id: Cow<'a, str>,
    #[serde(borrow)]
    items: Vec<Item<'a>>,
}

#[derive(Deserialize)]
struct Item<'a> {
    #[serde(borrow)]
    sku: Cow<'a, str>,
    #[serde(borrow)]
    name: Cow<'a, str>,
    qty: f64,
    price: f64,
}

#[derive(Serialize)]
struct OutItem<'a> {
    sku: &'a str,
    name: &'a str,
    line_total: f64,
}

/// `pooled`: a borrowed parse and a reused output buffer (and a reused upper-case buffer).
pub fn handle_pooled(body: &[u8], out: &mut Vec<u8>, scratch: &mut String) -> usize {
    let order: Order<'_> = serde_json::from_slice(body).expect("generated body parses");
    out.clear();
    out.extend_from_slice(b"{\"order_id\":");
    serde_json::to_writer(&mut *out, &*order.order_id).expect("writes");
    out.extend_from_slice(b",\"items\":[");
    let mut total = 0.0;
    for (i, it) in order.items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        scratch.clear();
        scratch.extend(it.name.chars().flat_map(char::to_uppercase));
        let line_total = it.qty * it.price;
        total += line_total;
        serde_json::to_writer(
            &mut *out,
            &OutItem {
                sku: &it.sku,
                name: scratch,
                line_total,
            },
        )
        .expect("writes");
    }
    out.extend_from_slice(format!("],\"total\":{total}}}").as_bytes());
    out.len()
}

/// Allocate-and-free pairs of small mixed sizes with 256 objects live: ns per pair.
pub fn micro_alloc_ns(ops: u64) -> f64 {
    const LIVE: usize = 256;
    let mut ring: Vec<Option<Box<[u8]>>> = (0..LIVE).map(|_| None).collect();
    let t = Instant::now();
    for i in 0..ops {
        let size = 16 + ((i.wrapping_mul(2_654_435_761) >> 7) % 8) as usize * 16;
        let b = vec![i as u8; size].into_boxed_slice();
        ring[(i as usize) % LIVE] = Some(std::hint::black_box(b));
    }
    let ns = t.elapsed().as_nanos() as f64 / ops.max(1) as f64;
    drop(std::hint::black_box(ring));
    ns
}

/// One variant's open-loop run: latency and service-time histograms (µs).
struct LoadResult {
    latency: Histogram<u64>,
    service: Histogram<u64>,
    requests: u64,
}

fn hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 120_000_000, 3).expect("valid bounds")
}

fn open_loop(args: &ChildArgs, bodies: &[String], pooled: bool, seed: u64) -> LoadResult {
    let mut rng = Stream::seed_from_u64(seed);
    let gap = Exp::new(args.rate).expect("rate > 0");
    let mut at = Vec::new();
    let mut t = 0.0;
    loop {
        t += gap.sample(&mut rng);
        if t >= args.duration_s {
            break;
        }
        at.push(Duration::from_secs_f64(t));
    }
    let next = AtomicUsize::new(0);
    let start = Instant::now() + Duration::from_millis(5);
    let results: Vec<(Histogram<u64>, Histogram<u64>)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..args.workers)
            .map(|_| {
                let (at, next) = (&at, &next);
                s.spawn(move || {
                    let (mut lat, mut svc) = (hist(), hist());
                    let mut out = Vec::with_capacity(64 * 1024);
                    let mut scratch = String::with_capacity(256);
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(&due) = at.get(i) else { break };
                        let due = start + due;
                        loop {
                            let now = Instant::now();
                            if now >= due {
                                break;
                            }
                            let left = due - now;
                            if left > Duration::from_micros(200) {
                                std::thread::sleep(left - Duration::from_micros(100));
                            } else {
                                std::hint::spin_loop();
                            }
                        }
                        let began = Instant::now();
                        let body = bodies[i % bodies.len()].as_bytes();
                        let n = if pooled {
                            handle_pooled(body, &mut out, &mut scratch)
                        } else {
                            handle_plain(body)
                        };
                        std::hint::black_box(n);
                        let done = Instant::now();
                        let us = |d: Duration| (d.as_micros() as u64).clamp(1, 120_000_000);
                        lat.record(us(done - due)).expect("in bounds");
                        svc.record(us(done - began)).expect("in bounds");
                    }
                    (lat, svc)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("worker"))
            .collect()
    });
    let (mut latency, mut service) = (hist(), hist());
    for (l, s) in &results {
        latency.add(l).expect("same bounds");
        service.add(s).expect("same bounds");
    }
    LoadResult {
        latency,
        service,
        requests: at.len() as u64,
    }
}

/// The child's work: the probe (allocation counts per request, single-threaded service time,
/// the microbenchmark) and, when `rate` > 0, both variants under load. `extra` adds the
/// allocator's own figures (its options, its statistics).
pub fn child_run(
    allocator: &str,
    args: &ChildArgs,
    counter: &dyn AllocCounter,
    extra: &dyn Fn() -> Vec<(String, f64)>,
) -> serde_json::Map<String, Value> {
    let bodies: Vec<String> = (0..8)
        .map(|k| generate_body(args.body_bytes, args.seed.wrapping_mul(31).wrapping_add(k)))
        .collect();
    let mut out = serde_json::Map::new();
    out.insert("allocator".into(), allocator.into());
    out.insert("body_bytes".into(), (bodies[0].len() as f64).into());
    let mut buf = Vec::new();
    let mut scratch = String::new();
    for pooled in [false, true] {
        let name = if pooled { "pooled" } else { "plain" };
        // Warm, then count one request, then time 30 single-threaded.
        for b in &bodies {
            std::hint::black_box(run_one(b, pooled, &mut buf, &mut scratch));
        }
        counter.counting(true);
        std::hint::black_box(run_one(&bodies[0], pooled, &mut buf, &mut scratch));
        counter.counting(false);
        let (n, bytes) = counter.counts();
        out.insert(format!("{name}_allocs_per_request"), (n as f64).into());
        out.insert(
            format!("{name}_kb_per_request"),
            (bytes as f64 / 1e3).into(),
        );
        let t = Instant::now();
        for i in 0..30 {
            std::hint::black_box(run_one(&bodies[i % 8], pooled, &mut buf, &mut scratch));
        }
        out.insert(
            format!("{name}_service_probe_ms"),
            (t.elapsed().as_secs_f64() / 30.0 * 1e3).into(),
        );
    }
    out.insert(
        "alloc_ns_per_object".into(),
        micro_alloc_ns(args.micro_ops).into(),
    );
    if args.rate > 0.0 {
        out.insert("rate".into(), args.rate.into());
        for (k, pooled) in [(0u64, false), (1, true)] {
            let name = if pooled { "pooled" } else { "plain" };
            let r = open_loop(args, &bodies, pooled, args.seed ^ (k << 32));
            let ms = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q) as f64 / 1e3;
            out.insert(format!("{name}_requests"), (r.requests as f64).into());
            out.insert(format!("{name}_p50_ms"), ms(&r.latency, 0.5).into());
            out.insert(format!("{name}_p99_ms"), ms(&r.latency, 0.99).into());
            out.insert(format!("{name}_p999_ms"), ms(&r.latency, 0.999).into());
            out.insert(
                format!("{name}_max_ms"),
                (r.latency.max() as f64 / 1e3).into(),
            );
            out.insert(
                format!("{name}_service_mean_ms"),
                (r.service.mean() / 1e3).into(),
            );
            out.insert(format!("{name}_service_p50_ms"), ms(&r.service, 0.5).into());
        }
    }
    if let Some(kb) = peak_rss_kb() {
        out.insert("peak_rss_mb".into(), (kb / 1e3).into());
    }
    for (k, v) in extra() {
        out.insert(k, v.into());
    }
    out
}

fn run_one(body: &str, pooled: bool, buf: &mut Vec<u8>, scratch: &mut String) -> usize {
    if pooled {
        handle_pooled(body.as_bytes(), buf, scratch)
    } else {
        handle_plain(body.as_bytes())
    }
}

/// The process's peak resident set (Linux `VmHWM`), kB.
fn peak_rss_kb() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The whole child: parses its arguments, runs, prints the JSON object; the exit status.
pub fn child_main(
    allocator: &str,
    counter: &dyn AllocCounter,
    extra: &dyn Fn() -> Vec<(String, f64)>,
) -> i32 {
    let words: Vec<String> = std::env::args().skip(1).collect();
    match ChildArgs::parse(&words) {
        Ok(args) => {
            let out = child_run(allocator, &args, counter, extra);
            println!("{}", Value::Object(out));
            0
        }
        Err(e) => {
            eprintln!("lab allocator child: {e}");
            2
        }
    }
}
