//! The measuring functions on wgpu (the `gpu` feature): adapters, the checked sweep, the
//! article's shader, and the layer chain's dispatch structures.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use wgpu::{Buffer, BufferUsages, Device, Queue};

use crate::reference::{self, Weights};
use crate::wgsl::{self, Act, Mapping};
use crate::{AdapterDesc, Check, KernelError, Options, Report, SweepRow};

#[path = "chain.rs"]
mod chain;

pub(crate) fn instance() -> wgpu::Instance {
    wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env())
}

fn desc(a: &wgpu::Adapter) -> AdapterDesc {
    let i = a.get_info();
    let f = a.features();
    let l = a.limits();
    AdapterDesc {
        backend: format!("{:?}", i.backend),
        name: i.name,
        device_type: format!("{:?}", i.device_type),
        driver: format!("{} {}", i.driver, i.driver_info).trim().to_string(),
        subgroup_sizes: (i.subgroup_min_size, i.subgroup_max_size),
        shader_f16: f.contains(wgpu::Features::SHADER_F16),
        subgroups: f.contains(wgpu::Features::SUBGROUP),
        max_invocations_per_workgroup: l.max_compute_invocations_per_workgroup,
        max_workgroup_size_x: l.max_compute_workgroup_size_x,
        max_workgroup_size_y: l.max_compute_workgroup_size_y,
        max_workgroup_size_z: l.max_compute_workgroup_size_z,
        max_workgroup_storage_bytes: l.max_compute_workgroup_storage_size,
        max_workgroups_per_dimension: l.max_compute_workgroups_per_dimension,
        max_storage_binding_bytes: l.max_storage_buffer_binding_size,
    }
}

pub(crate) fn adapters() -> Result<Vec<AdapterDesc>, KernelError> {
    let list = pollster::block_on(instance().enumerate_adapters(wgpu::Backends::all()));
    Ok(list.iter().map(desc).collect())
}

struct Gpu {
    device: Device,
    queue: Queue,
    adapter: AdapterDesc,
    errors: Arc<Mutex<Vec<String>>>,
}

fn wgpu_err(e: impl std::fmt::Display) -> KernelError {
    KernelError::Wgpu(e.to_string())
}

/// The high-performance adapter of `inst`, or why there is none.
pub(crate) fn request_adapter(inst: &wgpu::Instance) -> Result<wgpu::Adapter, KernelError> {
    pollster::block_on(inst.request_adapter(&wgpu::RequestAdapterOptions {
        power_preference: wgpu::PowerPreference::HighPerformance,
        ..Default::default()
    }))
    .map_err(|e| {
        KernelError::NoAdapter(format!(
            "{e} (no Vulkan driver: install mesa-vulkan-drivers for lavapipe)"
        ))
    })
}

impl Gpu {
    fn open() -> Result<Gpu, KernelError> {
        let inst = instance();
        let adapter = request_adapter(&inst)?;
        let a = desc(&adapter);
        let mut features = wgpu::Features::empty();
        if a.shader_f16 {
            features |= wgpu::Features::SHADER_F16;
        }
        if a.subgroups {
            features |= wgpu::Features::SUBGROUP;
        }
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("claimlab-webgpu"),
            required_features: features,
            required_limits: wgpu::Limits::default(),
            ..Default::default()
        }))
        .map_err(wgpu_err)?;
        let errors = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&errors);
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            if let Ok(mut v) = sink.lock() {
                v.push(e.to_string());
            }
        }));
        Ok(Gpu {
            device,
            queue,
            adapter: a,
            errors,
        })
    }

    fn check_errors(&self) -> Result<(), KernelError> {
        let mut v = self
            .errors
            .lock()
            .map_err(|_| KernelError::Wgpu("poisoned".into()))?;
        if let Some(e) = v.first().cloned() {
            v.clear();
            return Err(KernelError::Wgpu(e));
        }
        Ok(())
    }

    fn wait(&self) -> Result<(), KernelError> {
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(wgpu_err)?;
        Ok(())
    }

    fn buffer(&self, bytes: &[u8], usage: BufferUsages) -> Buffer {
        let b = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: None,
            size: (bytes.len() as u64).max(4),
            usage: usage | BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        self.queue.write_buffer(&b, 0, bytes);
        b
    }

    fn storage(&self, bytes: &[u8]) -> Buffer {
        self.buffer(bytes, BufferUsages::STORAGE | BufferUsages::COPY_SRC)
    }

    /// Copies `buf` into a mappable buffer, maps it and returns its f32s.
    fn read(&self, buf: &Buffer) -> Result<Vec<f32>, KernelError> {
        let size = buf.size();
        let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: None,
            size,
            usage: BufferUsages::MAP_READ | BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut enc = self.device.create_command_encoder(&Default::default());
        enc.copy_buffer_to_buffer(buf, 0, &staging, 0, size);
        self.queue.submit([enc.finish()]);
        self.map_read(&staging)
    }

    fn map_read(&self, staging: &Buffer) -> Result<Vec<f32>, KernelError> {
        let status = Arc::new(Mutex::new(None));
        let s2 = Arc::clone(&status);
        staging.slice(..).map_async(wgpu::MapMode::Read, move |r| {
            if let Ok(mut s) = s2.lock() {
                *s = Some(r.map_err(|e| e.to_string()));
            }
        });
        self.wait()?;
        if let Some(Err(e)) = status
            .lock()
            .map_err(|_| KernelError::Wgpu("poisoned".into()))?
            .take()
        {
            return Err(KernelError::Wgpu(e));
        }
        let view = staging.slice(..).get_mapped_range().map_err(wgpu_err)?;
        let out = view
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        drop(view);
        staging.unmap();
        Ok(out)
    }

    fn pipeline(&self, src: &str, entry: &str) -> Result<wgpu::ComputePipeline, KernelError> {
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let module = self
            .device
            .create_shader_module(wgpu::ShaderModuleDescriptor {
                label: None,
                source: wgpu::ShaderSource::Wgsl(src.into()),
            });
        let p = self
            .device
            .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: None,
                layout: None,
                module: &module,
                entry_point: Some(entry),
                compilation_options: Default::default(),
                cache: None,
            });
        if let Some(e) = pollster::block_on(scope.pop()) {
            let text = match e {
                wgpu::Error::Validation { description, .. } => description,
                other => other.to_string(),
            };
            return Err(KernelError::Wgpu(first_line(&text)));
        }
        Ok(p)
    }

    fn bind(&self, p: &wgpu::ComputePipeline, entries: &[(u32, &Buffer)]) -> wgpu::BindGroup {
        let e: Vec<wgpu::BindGroupEntry> = entries
            .iter()
            .map(|(i, b)| wgpu::BindGroupEntry {
                binding: *i,
                resource: b.as_entire_binding(),
            })
            .collect();
        self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &p.get_bind_group_layout(0),
            entries: &e,
        })
    }

    fn dispatch(&self, p: &wgpu::ComputePipeline, bg: &wgpu::BindGroup, (x, y): (u32, u32)) {
        let mut enc = self.device.create_command_encoder(&Default::default());
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            pass.set_pipeline(p);
            pass.set_bind_group(0, bg, &[]);
            pass.dispatch_workgroups(x, y, 1);
        }
        self.queue.submit([enc.finish()]);
    }
}

/// The compiler's message in one line: the lines after wgpu's "Caused by" preamble.
fn first_line(s: &str) -> String {
    let lines: Vec<&str> = s
        .lines()
        .map(str::trim)
        .filter(|l| {
            !l.is_empty() && !l.starts_with("Validation Error") && !l.starts_with("Caused by")
        })
        .collect();
    let text = lines.join(" ");
    text.chars().take(400).collect()
}

fn u32_bytes(v: &[u32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn f16_bytes(v: &[f32]) -> Vec<u8> {
    v.iter()
        .flat_map(|x| reference::f16_bits(*x).to_le_bytes())
        .collect()
}

/// One product's inputs on the device.
struct Problem {
    m: u32,
    w: Weights,
    act: Vec<f32>,
    wbuf: Buffer,
    sbuf: Buffer,
    a32: Buffer,
    a16: Option<Buffer>,
    out: Buffer,
    dims: Buffer,
}

impl Problem {
    fn new(g: &Gpu, (m, n, k): (u32, u32, u32), seed: u64) -> Problem {
        let w = Weights::random(n, k, seed, 1.0);
        let act = reference::activations((m * k) as usize, seed ^ 0xac7);
        Problem {
            m,
            wbuf: g.storage(&u32_bytes(&w.packed)),
            sbuf: g.storage(&f32_bytes(&w.scales)),
            a32: g.storage(&f32_bytes(&act)),
            a16: g.adapter.shader_f16.then(|| g.storage(&f16_bytes(&act))),
            out: g.storage(&vec![0u8; (m * n * 4) as usize]),
            dims: g.buffer(&u32_bytes(&[m, n, k, 0]), BufferUsages::UNIFORM),
            w,
            act,
        }
    }
}

fn measure_config(
    g: &Gpu,
    pb: &Problem,
    op: &str,
    act: Act,
    mapping: Mapping,
    shape: (u32, u32),
    opts: &Options,
) -> Result<(SweepRow, Check), KernelError> {
    let p = g.pipeline(&wgsl::kernel(mapping, act, shape), "main")?;
    let abuf = match act {
        Act::F32 => &pb.a32,
        Act::F16 => pb
            .a16
            .as_ref()
            .ok_or_else(|| KernelError::Wgpu("no f16".into()))?,
    };
    let bg = g.bind(
        &p,
        &[
            (0, &pb.wbuf),
            (1, &pb.sbuf),
            (2, abuf),
            (3, &pb.out),
            (4, &pb.dims),
        ],
    );
    let groups = wgsl::workgroups(
        mapping,
        shape,
        pb.m,
        pb.w.n,
        g.adapter.max_workgroups_per_dimension.min(65_535),
    );
    // Clear the output, run once, check it against the CPU reference.
    g.queue
        .write_buffer(&pb.out, 0, &vec![0u8; pb.out.size() as usize]);
    g.dispatch(&p, &bg, groups);
    let got = g.read(&pb.out)?;
    g.check_errors()?;
    let picks = reference::sample_outputs(pb.m, pb.w.n, opts.checked_outputs, opts.seed);
    let label = format!(
        "{op} {} {} ({},{})",
        act.name(),
        mapping.name(),
        shape.0,
        shape.1
    );
    let check = Check {
        label,
        n: picks.len() as u32,
        max_rel_error: reference::max_rel_error(&pb.w, &pb.act, &got, pb.m, &picks),
    };
    let mut samples = Vec::new();
    for _ in 0..opts.trials {
        let t = Instant::now();
        g.dispatch(&p, &bg, groups);
        g.wait()?;
        samples.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let (m, n, k) = (f64::from(pb.m), f64::from(pb.w.n), f64::from(pb.w.k));
    let act_bytes = if act == Act::F16 { 2.0 } else { 4.0 };
    Ok((
        SweepRow {
            op: op.into(),
            act,
            mapping,
            shape,
            samples_ms: samples,
            bytes: pb.w.bytes() + m * k * act_bytes + m * n * 4.0,
            flops: 2.0 * m * n * k,
        },
        check,
    ))
}

/// The article's shader verbatim (compiles?) and completed (what does it compute?).
fn article(g: &Gpu, pb: &Problem) -> Result<(bool, String, f64), KernelError> {
    let verbatim = g.pipeline(wgsl::ARTICLE_VERBATIM, "matmul_q4_f16");
    let (compiles, error) = match verbatim {
        Ok(_) => (true, String::new()),
        Err(e) => (false, e.to_string()),
    };
    let p = g.pipeline(&wgsl::article_completed(pb.w.k, pb.m), "matmul_q4_f16")?;
    let bg = g.bind(&p, &[(0, &pb.wbuf), (2, &pb.a32), (3, &pb.out)]);
    g.queue
        .write_buffer(&pb.out, 0, &vec![0u8; pb.out.size() as usize]);
    g.dispatch(&p, &bg, (pb.w.n.div_ceil(8), pb.m.div_ceil(8)));
    let got = g.read(&pb.out)?;
    g.check_errors()?;
    let picks: Vec<(u32, u32)> = (0..pb.w.n).step_by(7).map(|r| (0, r)).collect();
    Ok((
        compiles,
        error,
        reference::max_rel_error(&pb.w, &pb.act, &got, pb.m, &picks),
    ))
}

pub(crate) fn measure(opts: &Options, progress: &dyn Fn(&str)) -> Result<Report, KernelError> {
    let g = Gpu::open()?;
    progress(&format!("adapter: {}", g.adapter.line()));
    let acts: Vec<Act> = if g.adapter.shader_f16 {
        vec![Act::F32, Act::F16]
    } else {
        vec![Act::F32]
    };
    let (shapes, subgroup_shapes) = shapes(&g.adapter, opts);
    // The subgroupAdd matvec needs the adapter's `subgroups` feature.
    let subgroup_not_run = if !opts.mappings.contains(&Mapping::Subgroup) {
        "not requested".to_string()
    } else if !g.adapter.subgroups {
        format!(
            "the adapter ({}) lacks wgpu's `subgroups` feature",
            g.adapter.name
        )
    } else {
        String::new()
    };
    let subgroup_enable_error = if subgroup_not_run.is_empty() {
        match g.pipeline(&wgsl::kernel_with_enable(Act::F32, (64, 1)), "main") {
            Ok(_) => String::new(),
            Err(e) => e.to_string(),
        }
    } else {
        String::new()
    };
    let (n, k) = opts.matvec_nk;
    let mv = Problem::new(&g, (1, n, k), opts.seed);
    let (compiles, error, completed_err) = article(&g, &mv)?;
    let mut sweep = Vec::new();
    let mut checks = Vec::new();
    let mm = Problem::new(&g, opts.matmul_mnk, opts.seed ^ 0x3a7);
    for (op, pb) in [("matvec", &mv), ("matmul", &mm)] {
        for &act in &acts {
            // One workgroup per output is a matvec shape; a prefill uses the 2-D and flat ones.
            for &mapping in opts.mappings.iter().filter(|m| {
                (op == "matvec" || !m.per_output())
                    && (**m != Mapping::Subgroup || subgroup_not_run.is_empty())
            }) {
                for &shape in &shapes {
                    progress(&format!(
                        "{op} {} {} ({},{})",
                        act.name(),
                        mapping.name(),
                        shape.0,
                        shape.1
                    ));
                    let (row, check) = measure_config(&g, pb, op, act, mapping, shape, opts)?;
                    sweep.push(row);
                    checks.push(check);
                }
            }
        }
    }
    let mut chains = Vec::new();
    let mut intermediates = Vec::new();
    for &d in &opts.chain_dims {
        progress(&format!("layer chain, dim {d}"));
        chains.extend(chain::chain(&g, d, opts)?);
        progress(&format!("storage vs mapped intermediates, dim {d}"));
        intermediates.extend(chain::intermediates(&g, d, opts)?);
    }
    Ok(Report {
        adapter: g.adapter.clone(),
        f16_ran: acts.contains(&Act::F16),
        checks,
        article_verbatim_compiles: compiles,
        article_verbatim_error: error,
        article_completed_max_rel_error: completed_err,
        sweep,
        chains,
        chain_layers: opts.chain_layers,
        subgroup_shapes,
        subgroup_ran: subgroup_not_run.is_empty(),
        subgroup_not_run,
        subgroup_enable_error,
        intermediates,
    })
}

/// Workgroup shapes `(x, y)`.
type Shapes = Vec<(u32, u32)>;

/// The shapes to sweep (all, and the subgroup-sized ones among them): the requested ones, then (with `subgroup_shapes`) `(min, 1)`,
/// `(max, 1)` and `(4·min, 1)` from the adapter's subgroup sizes where new and legal (a power of
/// two up to 256 invocations and the adapter's limits).
fn shapes(a: &AdapterDesc, opts: &Options) -> (Shapes, Shapes) {
    let mut all = opts.shapes.clone();
    let mut added = Vec::new();
    if opts.subgroup_shapes {
        let (lo, hi) = a.subgroup_sizes;
        for s in [lo, hi, 4 * lo] {
            let shape = (s, 1);
            let legal = s.is_power_of_two()
                && s <= 256
                && s <= a.max_invocations_per_workgroup
                && s <= a.max_workgroup_size_x;
            if legal && !all.contains(&shape) {
                all.push(shape);
                added.push(shape);
            }
        }
    }
    (all, added)
}
