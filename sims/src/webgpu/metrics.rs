//! The metrics the `webgpu` room emits. Names are a contract other tools read.

use super::model::{self, SHAPES};
use super::params::{Dispatch, WebgpuParams};
use crate::simulation::{Better, MetricDef, Outcome};
use crate::stats::value_at_quantile;

pub(super) const METRICS: &[MetricDef] = &[
    MetricDef::new("token_ms", "ms", "mean time per step (decode token, or the prefill) including its crossings", Better::Lower).non_negative(),
    MetricDef::new("token_p95_ms", "ms", "95th percentile of the time per step", Better::Lower).non_negative(),
    MetricDef::new("tokens_per_s", "tok/s", "steps per second at the mean step time (x tokens for a prefill)", Better::Higher).non_negative(),
    MetricDef::new("under_budget_fraction", "fraction", "share of steps that finish within budget_ms", Better::Higher).proportion(),
    MetricDef::new("bridge_overhead_ms", "ms", "mean bridge + mapAsync time per step", Better::Lower).non_negative(),
    MetricDef::new("crossing_share", "fraction", "share of the step's time spent in crossings", Better::Lower).fraction(),
    MetricDef::new("crossings_per_token", "crossings", "bridge round trips per step", Better::Lower).from_inputs(),
    MetricDef::new("per_layer_extra_ms", "ms", "expected time per-layer crossings add over one crossing per step (the 12 round trips' cost)", Better::Lower).from_inputs(),
    MetricDef::new("single_dispatch_saving_fraction", "fraction", "expected share of the per-layer step's time that one crossing per step saves", Better::Higher).bounded(0.0, 1.0).exact(),
    MetricDef::new("gpu_ms", "ms", "GPU time of the step with this workgroup shape: max(weight streaming, compute)", Better::Lower).non_negative().exact(),
    MetricDef::new("bandwidth_floor_ms", "ms", "weights read per step over peak DRAM bandwidth", Better::Lower).non_negative().from_inputs(),
    MetricDef::new("compute_ms", "ms", "the step's arithmetic at this shape's share of the compute rate", Better::Lower).non_negative().exact(),
    MetricDef::new("achieved_gbps", "GB/s", "weight streaming rate this shape reaches (Little's law, capped at the achievable bandwidth)", Better::Higher).non_negative().exact(),
    MetricDef::new("lane_utilization", "fraction", "share of the running waves' lanes that have work", Better::Higher).fraction().exact(),
    MetricDef::new("workgroup_speedup", "ratio", "GPU time of the slowest of the five shapes over this shape's", Better::Higher).non_negative().exact(),
    MetricDef::new("workgroup_spread", "ratio", "slowest over fastest GPU time among (4,4), (8,8), (16,16), (64,1), (256,1)", Better::Neither).non_negative().exact(),
    MetricDef::new("shape_efficiency", "fraction", "fastest of the five shapes' GPU time over this shape's (1 = this shape is the best)", Better::Higher).fraction().exact(),
    MetricDef::new("weights_gb", "GB", "weight bytes of the model at bits_per_weight", Better::Lower).non_negative().from_inputs(),
    MetricDef::new("weights_share_of_gpu_mem", "fraction", "weights over the GPU memory the app can use", Better::Lower).non_negative().from_inputs(),
];

/// Every metric of a run: `tokens` are the steps' times (ms), `crossing_total` their crossings.
pub(super) fn outcome(p: &WebgpuParams, tokens: &mut [f64], crossing_total: f64) -> Outcome {
    let mut o = Outcome::default();
    let n = tokens.len().max(1) as f64;
    let mean = tokens.iter().sum::<f64>() / n;
    let under = tokens.iter().filter(|&&t| t <= p.budget_ms).count() as u64;
    tokens.sort_by(f64::total_cmp);
    o.set("token_ms", mean);
    o.set("token_p95_ms", value_at_quantile(tokens, 0.95));
    o.set("tokens_per_s", 1e3 * f64::from(p.tokens) / mean);
    o.set_proportion("under_budget_fraction", under, tokens.len() as u64);
    let bridge = crossing_total / n;
    o.set("bridge_overhead_ms", bridge);
    o.set("crossing_share", (bridge / mean).clamp(0.0, 1.0));
    inputs(p, &mut o);
    o
}

/// The metrics with no sampling: the roofline, the shapes, the expected crossing costs.
fn inputs(p: &WebgpuParams, o: &mut Outcome) {
    let s = model::step(p, p.wg_x, p.wg_y);
    let c = model::crossing_mean_ms(p);
    let per_layer = WebgpuParams {
        dispatch: Dispatch::PerLayer,
        ..p.clone()
    };
    let n_layer = f64::from(model::crossings(&per_layer));
    o.set("crossings_per_token", f64::from(model::crossings(p)));
    o.set("per_layer_extra_ms", (n_layer - 1.0) * c);
    let per_layer_ms = s.gpu_ms + n_layer * c;
    o.set(
        "single_dispatch_saving_fraction",
        ((n_layer - 1.0) * c / per_layer_ms).clamp(0.0, 1.0),
    );
    o.set("gpu_ms", s.gpu_ms);
    o.set("bandwidth_floor_ms", s.bandwidth_floor_ms);
    o.set("compute_ms", s.compute_ms);
    o.set("achieved_gbps", s.achieved_gbps);
    o.set("lane_utilization", s.utilization);
    let (slow, fast) = model::shape_range(p);
    o.set("workgroup_speedup", slow / s.gpu_ms);
    o.set("workgroup_spread", slow / fast);
    o.set("shape_efficiency", (fast / s.gpu_ms).min(1.0));
    o.set("weights_gb", s.weights_gb);
    o.set("weights_share_of_gpu_mem", s.weights_gb / p.gpu_mem_gb);
    debug_assert_eq!(SHAPES.len(), 5);
}
