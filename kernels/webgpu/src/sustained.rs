//! Sustained load: one INT4 product (the flat-mapped f32 kernel of [`crate::wgsl`]) dispatched
//! again and again until told to stop, counting finished dispatches, for a thermal run that
//! samples the device's sensors beside it (the thermal room's GPU variant). The product is
//! checked once against the CPU reference before the loop, so the load is known to compute
//! the right thing. It uses the first high-performance adapter (an NVIDIA GPU through its
//! Vulkan driver; Mesa's lavapipe, which is the CPU, where there is no GPU).
//!
//! Without the `gpu` feature [`sustained`] returns [`KernelError::NotBuilt`].

use std::sync::atomic::{AtomicBool, AtomicU64};

use serde::{Deserialize, Serialize};

use crate::{AdapterDesc, KernelError};

/// What to run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SustainedOptions {
    /// Tokens (rows of activations): 1 is a decode matvec, more is a prefill matmul.
    pub m: u32,
    /// Output features (weight rows).
    pub n: u32,
    /// Input features (a multiple of 32).
    pub k: u32,
    /// Dispatches recorded per submission (the count advances by this much per submit).
    pub dispatches_per_submit: u32,
    /// Seed of the weights and activations.
    pub seed: u64,
}

/// What ran, reported once the product has been checked and before the loop starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SustainedInfo {
    /// The adapter the load runs on.
    pub adapter: AdapterDesc,
    /// Largest relative error of sampled outputs against the CPU reference.
    pub max_rel_error: f64,
    /// Floating-point operations of one dispatch (2·m·n·k).
    pub flops_per_dispatch: f64,
    /// Bytes one dispatch must read at least (packed weights, scales, activations).
    pub bytes_per_dispatch: f64,
}

/// Runs the load until `stop` is set: opens the adapter, uploads the product, checks it, calls
/// `ready` with what runs, then submits batches of dispatches, adding each finished batch's
/// size to `done`. Returns the same [`SustainedInfo`] when stopped.
pub fn sustained(
    opts: &SustainedOptions,
    stop: &AtomicBool,
    done: &AtomicU64,
    ready: &dyn Fn(&SustainedInfo),
) -> Result<SustainedInfo, KernelError> {
    let SustainedOptions { m, n, k, .. } = *opts;
    if m == 0 || n == 0 || k == 0 || k % 32 != 0 || opts.dispatches_per_submit == 0 {
        return Err(KernelError::Invalid(format!(
            "sustained load {m}x{n}x{k} with {} dispatches per submit: sizes positive, K a \
             multiple of 32, at least one dispatch",
            opts.dispatches_per_submit
        )));
    }
    imp::run(opts, stop, done, ready)
}

#[cfg(not(feature = "gpu"))]
mod imp {
    use super::*;

    pub(super) fn run(
        _: &SustainedOptions,
        _: &AtomicBool,
        _: &AtomicU64,
        _: &dyn Fn(&SustainedInfo),
    ) -> Result<SustainedInfo, KernelError> {
        Err(KernelError::NotBuilt)
    }
}

#[cfg(feature = "gpu")]
mod imp {
    use std::sync::atomic::Ordering;
    use std::sync::{Arc, Mutex};

    use wgpu::{Buffer, BufferUsages};

    use super::*;
    use crate::reference::{self, Weights};
    use crate::wgsl::{self, Act, Mapping};

    fn err(e: impl std::fmt::Display) -> KernelError {
        KernelError::Wgpu(e.to_string())
    }

    fn bytes_u32(v: &[u32]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    fn bytes_f32(v: &[f32]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    pub(super) fn run(
        opts: &SustainedOptions,
        stop: &AtomicBool,
        done: &AtomicU64,
        ready: &dyn Fn(&SustainedInfo),
    ) -> Result<SustainedInfo, KernelError> {
        let inst = crate::imp::instance();
        let adapter = crate::imp::request_adapter(&inst)?;
        let desc = crate::adapters()?
            .into_iter()
            .find(|d| d.name == adapter.get_info().name)
            .ok_or_else(|| KernelError::NoAdapter("the chosen adapter is not listed".into()))?;
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("claimlab-sustained"),
            required_features: wgpu::Features::empty(),
            required_limits: wgpu::Limits::default(),
            ..Default::default()
        }))
        .map_err(err)?;
        let errors = Arc::new(Mutex::new(Vec::<String>::new()));
        let sink = Arc::clone(&errors);
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            if let Ok(mut v) = sink.lock() {
                v.push(e.to_string());
            }
        }));
        let check = || -> Result<(), KernelError> {
            match errors.lock().map_err(|_| err("poisoned"))?.first() {
                Some(e) => Err(err(e)),
                None => Ok(()),
            }
        };
        let buffer = |bytes: &[u8], usage: BufferUsages| -> Buffer {
            let b = device.create_buffer(&wgpu::BufferDescriptor {
                label: None,
                size: (bytes.len() as u64).max(4),
                usage: usage | BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
            queue.write_buffer(&b, 0, bytes);
            b
        };
        let SustainedOptions { m, n, k, seed, .. } = *opts;
        let w = Weights::random(n, k, seed, 1.0);
        let act = reference::activations((m * k) as usize, seed ^ 0xac7);
        let storage = BufferUsages::STORAGE | BufferUsages::COPY_SRC;
        let wbuf = buffer(&bytes_u32(&w.packed), storage);
        let sbuf = buffer(&bytes_f32(&w.scales), storage);
        let abuf = buffer(&bytes_f32(&act), storage);
        let out = buffer(&vec![0u8; (m * n * 4) as usize], storage);
        let dims = buffer(&bytes_u32(&[m, n, k, 0]), BufferUsages::UNIFORM);
        let shape = (64, 1);
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: None,
            source: wgpu::ShaderSource::Wgsl(wgsl::kernel(Mapping::Flat, Act::F32, shape).into()),
        });
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: None,
            layout: None,
            module: &module,
            entry_point: Some("main"),
            compilation_options: Default::default(),
            cache: None,
        });
        let bind = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &pipeline.get_bind_group_layout(0),
            entries: &[(0, &wbuf), (1, &sbuf), (2, &abuf), (3, &out), (4, &dims)].map(
                |(i, b): (u32, &Buffer)| wgpu::BindGroupEntry {
                    binding: i,
                    resource: b.as_entire_binding(),
                },
            ),
        });
        let groups = wgsl::workgroups(
            Mapping::Flat,
            shape,
            m,
            n,
            desc.max_workgroups_per_dimension.min(65_535),
        );
        let submit = |count: u32| {
            let mut enc = device.create_command_encoder(&Default::default());
            {
                let mut pass = enc.begin_compute_pass(&Default::default());
                pass.set_pipeline(&pipeline);
                pass.set_bind_group(0, &bind, &[]);
                for _ in 0..count {
                    pass.dispatch_workgroups(groups.0, groups.1, 1);
                }
            }
            queue.submit([enc.finish()]);
            device
                .poll(wgpu::PollType::wait_indefinitely())
                .map(|_| ())
                .map_err(err)
        };
        // One dispatch, read back and checked against the CPU reference.
        submit(1)?;
        let staging = device.create_buffer(&wgpu::BufferDescriptor {
            label: None,
            size: out.size(),
            usage: BufferUsages::MAP_READ | BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut enc = device.create_command_encoder(&Default::default());
        enc.copy_buffer_to_buffer(&out, 0, &staging, 0, out.size());
        queue.submit([enc.finish()]);
        let status = Arc::new(Mutex::new(None));
        let s2 = Arc::clone(&status);
        staging.slice(..).map_async(wgpu::MapMode::Read, move |r| {
            if let Ok(mut s) = s2.lock() {
                *s = Some(r.map_err(|e| e.to_string()));
            }
        });
        device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(err)?;
        if let Some(Err(e)) = status.lock().map_err(|_| err("poisoned"))?.take() {
            return Err(err(e));
        }
        let got: Vec<f32> = {
            let view = staging.slice(..).get_mapped_range().map_err(err)?;
            view.chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect()
        };
        staging.unmap();
        check()?;
        let picks = reference::sample_outputs(m, n, 64, seed);
        let info = SustainedInfo {
            adapter: desc,
            max_rel_error: reference::max_rel_error(&w, &act, &got, m, &picks),
            flops_per_dispatch: 2.0 * f64::from(m) * f64::from(n) * f64::from(k),
            bytes_per_dispatch: w.bytes() + 4.0 * f64::from(m) * f64::from(k),
        };
        ready(&info);
        while !stop.load(Ordering::Relaxed) {
            submit(opts.dispatches_per_submit)?;
            done.fetch_add(u64::from(opts.dispatches_per_submit), Ordering::Relaxed);
        }
        check()?;
        Ok(info)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;
    use std::time::Duration;

    use super::*;

    fn small() -> SustainedOptions {
        SustainedOptions {
            m: 2,
            n: 64,
            k: 128,
            dispatches_per_submit: 4,
            seed: 7,
        }
    }

    #[test]
    fn bad_sizes_are_refused_before_any_device_is_opened() {
        let (stop, done) = (AtomicBool::new(true), AtomicU64::new(0));
        let mut o = small();
        o.k = 100;
        let e = sustained(&o, &stop, &done, &|_| {}).unwrap_err();
        assert!(matches!(e, KernelError::Invalid(_)), "{e}");
    }

    #[test]
    fn runs_until_stopped_and_counts_checked_dispatches() {
        let (stop, done) = (AtomicBool::new(false), AtomicU64::new(0));
        let started = AtomicBool::new(false);
        let r = std::thread::scope(|s| {
            let h = s.spawn(|| {
                sustained(&small(), &stop, &done, &|_| {
                    started.store(true, Ordering::Relaxed)
                })
            });
            // Setting up (shader compile on lavapipe) takes a while: stop once the loop runs.
            while !started.load(Ordering::Relaxed) && !h.is_finished() {
                std::thread::sleep(Duration::from_millis(20));
            }
            std::thread::sleep(Duration::from_millis(200));
            stop.store(true, Ordering::Relaxed);
            h.join().unwrap()
        });
        match r {
            Err(KernelError::NotBuilt) if !crate::GPU_BUILT => {}
            // No Vulkan driver on this machine: nothing to check.
            Err(KernelError::NoAdapter(_)) => {}
            Err(e) => panic!("{e}"),
            Ok(info) => {
                assert!(info.max_rel_error < 1e-3, "{info:?}");
                assert_eq!(info.flops_per_dispatch, 2.0 * 2.0 * 64.0 * 128.0);
                let d = done.load(Ordering::Relaxed);
                assert!(d > 0 && d % 4 == 0, "{d}");
            }
        }
    }
}
