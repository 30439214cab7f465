//! The layer chain: the dispatch-structure experiment (one command buffer vs a submit, and a
//! submit + readback, per layer) and the intermediates experiment (storage-only vs mapped).

use std::time::Instant;

use wgpu::{Buffer, BufferUsages};

use super::{Gpu, f32_bytes, u32_bytes};
use crate::reference::{self, Weights};
use crate::wgsl::{self, Mapping};
use crate::{ChainRow, IntermediateRow, KernelError, Options};

/// A chain of `layers` matvecs of side `dim` on the device: weights, two ping-pong activation
/// buffers, one bind group per layer, and a `MAP_READ` staging buffer.
struct Chain {
    p: wgpu::ComputePipeline,
    bufs: [Buffer; 2],
    bgs: Vec<wgpu::BindGroup>,
    staging: Buffer,
    input: Vec<u8>,
    groups: (u32, u32),
    bytes: u64,
}

impl Chain {
    fn new(g: &Gpu, dim: u32, opts: &Options) -> Result<Chain, KernelError> {
        let p = g.pipeline(&wgsl::chain_kernel(), "main")?;
        let layers: Vec<(Buffer, Buffer)> = (0..opts.chain_layers)
            .map(|l| {
                let w = Weights::random(dim, dim, opts.seed ^ (0x1a7e + u64::from(l)), 1.0);
                (
                    g.storage(&u32_bytes(&w.packed)),
                    g.storage(&f32_bytes(&w.scales)),
                )
            })
            .collect();
        let input = f32_bytes(&reference::activations(dim as usize, opts.seed ^ 0x1));
        let bufs = [g.storage(&input), g.storage(&input)];
        let dims = g.buffer(&u32_bytes(&[1, dim, dim, 0]), BufferUsages::UNIFORM);
        let bgs = layers
            .iter()
            .enumerate()
            .map(|(i, (w, s))| {
                g.bind(
                    &p,
                    &[
                        (0, w),
                        (1, s),
                        (2, &bufs[i % 2]),
                        (3, &bufs[(i + 1) % 2]),
                        (4, &dims),
                    ],
                )
            })
            .collect();
        let staging = g.device.create_buffer(&wgpu::BufferDescriptor {
            label: None,
            size: u64::from(dim) * 4,
            usage: BufferUsages::MAP_READ | BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        Ok(Chain {
            p,
            bufs,
            bgs,
            staging,
            input,
            groups: wgsl::workgroups(Mapping::Flat, (64, 1), 1, dim, 65_535),
            bytes: u64::from(dim) * 4,
        })
    }

    /// The buffer layer `i` writes.
    fn out(&self, i: usize) -> &Buffer {
        &self.bufs[(i + 1) % 2]
    }

    fn reset(&self, g: &Gpu) -> Result<(), KernelError> {
        g.queue.write_buffer(&self.bufs[0], 0, &self.input);
        g.wait()
    }

    /// Records layer `i`'s dispatch, and with `readback` a copy of its output to staging.
    fn encode(&self, g: &Gpu, i: usize, readback: bool) -> wgpu::CommandBuffer {
        let mut enc = g.device.create_command_encoder(&Default::default());
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            pass.set_pipeline(&self.p);
            pass.set_bind_group(0, &self.bgs[i], &[]);
            pass.dispatch_workgroups(self.groups.0, self.groups.1, 1);
        }
        if readback {
            enc.copy_buffer_to_buffer(self.out(i), 0, &self.staging, 0, self.bytes);
        }
        enc.finish()
    }

    /// Copies the last layer's output to staging and maps it.
    fn final_read(&self, g: &Gpu) -> Result<Vec<f32>, KernelError> {
        let mut enc = g.device.create_command_encoder(&Default::default());
        let last = self.out(self.bgs.len() - 1);
        enc.copy_buffer_to_buffer(last, 0, &self.staging, 0, self.bytes);
        g.queue.submit([enc.finish()]);
        g.map_read(&self.staging)
    }

    /// All layers in one command buffer, one readback.
    fn batched(&self, g: &Gpu) -> Result<Vec<f32>, KernelError> {
        let mut enc = g.device.create_command_encoder(&Default::default());
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            pass.set_pipeline(&self.p);
            for bg in &self.bgs {
                pass.set_bind_group(0, bg, &[]);
                pass.dispatch_workgroups(self.groups.0, self.groups.1, 1);
            }
        }
        let last = self.out(self.bgs.len() - 1);
        enc.copy_buffer_to_buffer(last, 0, &self.staging, 0, self.bytes);
        g.queue.submit([enc.finish()]);
        g.map_read(&self.staging)
    }

    /// A submit + wait per layer, intermediates left in storage buffers, one final readback.
    fn storage_only(&self, g: &Gpu) -> Result<Vec<f32>, KernelError> {
        for i in 0..self.bgs.len() {
            g.queue.submit([self.encode(g, i, false)]);
            g.wait()?;
        }
        self.final_read(g)
    }

    /// A submit per layer whose output is copied to the `MAP_READ` buffer, mapped, read to the
    /// host and written back as the next layer's input (the app's side of a crossing).
    fn mapped(&self, g: &Gpu) -> Result<Vec<f32>, KernelError> {
        let mut v = Vec::new();
        for i in 0..self.bgs.len() {
            g.queue.submit([self.encode(g, i, true)]);
            v = g.map_read(&self.staging)?;
            g.queue.write_buffer(self.out(i), 0, &f32_bytes(&v));
        }
        Ok(v)
    }
}

/// Runs `arms` interleaved (trials outer, arms inner, one warm-up trial dropped), so a busy
/// machine's drift hits them alike and paired differences cancel it. Returns each arm's
/// samples and whether its every output equalled the first arm's first.
fn interleaved(
    g: &Gpu,
    c: &Chain,
    arms: &[&dyn Fn() -> Result<Vec<f32>, KernelError>],
    trials: u32,
) -> Result<(Vec<Vec<f64>>, Vec<bool>), KernelError> {
    let mut samples = vec![Vec::new(); arms.len()];
    let mut agrees = vec![true; arms.len()];
    let mut first: Option<Vec<f32>> = None;
    for trial in 0..=trials {
        for (i, arm) in arms.iter().enumerate() {
            c.reset(g)?;
            let t = Instant::now();
            let out = arm()?;
            let ms = t.elapsed().as_secs_f64() * 1e3;
            if trial > 0 {
                samples[i].push(ms);
            }
            match &first {
                None => first = Some(out),
                Some(r) => agrees[i] &= *r == out,
            }
        }
    }
    g.check_errors()?;
    Ok((samples, agrees))
}

/// The dispatch structures: `batched`, `per_layer_submit`, `per_layer_readback`.
pub(super) fn chain(g: &Gpu, dim: u32, opts: &Options) -> Result<Vec<ChainRow>, KernelError> {
    let c = Chain::new(g, dim, opts)?;
    const STRUCTURES: [&str; 3] = ["batched", "per_layer_submit", "per_layer_readback"];
    let (samples, agrees) = interleaved(
        g,
        &c,
        &[&|| c.batched(g), &|| c.storage_only(g), &|| c.mapped(g)],
        opts.chain_trials,
    )?;
    Ok(samples
        .into_iter()
        .zip(agrees)
        .zip(STRUCTURES)
        .map(|((samples_ms, agrees), s)| ChainRow {
            dim,
            structure: s.into(),
            samples_ms,
            agrees,
        })
        .collect())
}

/// Storage-only vs mapped intermediates, both a submit + wait per layer: its own trials, so the
/// only difference between the arms is the copy, map, read and upload per layer.
pub(super) fn intermediates(
    g: &Gpu,
    dim: u32,
    opts: &Options,
) -> Result<Vec<IntermediateRow>, KernelError> {
    let c = Chain::new(g, dim, opts)?;
    let (samples, agrees) = interleaved(
        g,
        &c,
        &[&|| c.storage_only(g), &|| c.mapped(g)],
        opts.chain_trials,
    )?;
    Ok(samples
        .into_iter()
        .zip(agrees)
        .zip(["storage", "mapped"])
        .map(|((samples_ms, agrees), s)| IntermediateRow {
            dim,
            intermediates: s.into(),
            samples_ms,
            agrees,
        })
        .collect())
}
