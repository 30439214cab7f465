//! Self-hosted versus API cost. The cluster is sized from the measured per-GPU capacity:
//! at each hour of the day (or only the peak hour, without autoscaling) it needs
//! ceil(rate / (capacity per GPU × max planned utilization)) GPUs, never fewer than `gpus`,
//! in whole nodes. Self-hosted cost is node-hours × (GPUs per node × price per GPU-hour) plus
//! a fixed cost per node; the API costs its per-request and per-token prices.

use super::params::{Arrival, GpuServingParams};
use super::workload::{MONTH_S, cycle};

const HOURS_PER_MONTH: f64 = 730.0;
/// Breakeven search gives up after this many price steps (a crossing that far out is
/// reported as none).
const MAX_STEPS: usize = 1_000_000;

/// The cost side of one configuration.
#[derive(Clone, Debug)]
pub(super) struct CostModel {
    /// (share of the month, needed nodes per request a month) for each priced hour.
    hours: Vec<(f64, f64)>,
    min_nodes: f64,
    /// Cost of one node for a whole month, USD.
    node_month_usd: f64,
    gpus_per_node: f64,
    /// API cost per request, USD.
    api_per_request: f64,
    /// Index into `hours` of the simulated start hour.
    start: usize,
}

impl CostModel {
    /// `capacity_per_gpu`: saturated requests per second of one GPU (> 0).
    pub(super) fn new(p: &GpuServingParams, capacity_per_gpu: f64, start_hour: f64) -> CostModel {
        let usable = capacity_per_gpu * p.max_planned_utilization * p.gpus_per_node as f64;
        let open: f64 = p
            .classes()
            .iter()
            .filter(|c| c.arrival == Arrival::Open)
            .map(|c| c.share)
            .sum();
        // Nodes needed per monthly request at a rate multiplier of the daily mean.
        let per_request = |mult: f64| {
            if open > 0.0 {
                mult / MONTH_S / usable
            } else {
                0.0
            }
        };
        let (hours, start) = if p.autoscale {
            let hours = (0..24)
                .map(|h| (1.0 / 24.0, per_request(cycle(p, h as f64 + 0.5))))
                .collect();
            (hours, (start_hour.floor() as usize).min(23))
        } else {
            (vec![(1.0, per_request(p.daily_peak_to_mean))], 0)
        };
        // The API bills the open classes' mix (all classes when none is open).
        let weight = |c: &super::params::ClassParams| {
            if open > 0.0 {
                if c.arrival == Arrival::Open {
                    c.share
                } else {
                    0.0
                }
            } else {
                c.share
            }
        };
        let total: f64 = p.classes().iter().map(|c| weight(c)).sum();
        let (mut prompt, mut output) = (0.0, 0.0);
        for c in p.classes() {
            let w = weight(c) / total;
            prompt += w * c.prompt_tokens.mean();
            output += w * c.output_tokens.mean();
        }
        CostModel {
            hours,
            min_nodes: (p.gpus as f64 / p.gpus_per_node as f64).ceil(),
            node_month_usd: p.gpus_per_node as f64 * p.gpu_hour_usd * HOURS_PER_MONTH
                + p.node_usd_month,
            gpus_per_node: p.gpus_per_node as f64,
            api_per_request: p.api_usd_per_request
                + prompt * p.api_usd_per_m_input_tokens / 1e6
                + output * p.api_usd_per_m_output_tokens / 1e6,
            start,
        }
    }

    fn nodes(&self, per_request: f64, volume: f64) -> f64 {
        // A hair below whole numbers counts as whole: 8.000000001 nodes is 8, not 9.
        self.min_nodes.max((volume * per_request - 1e-9).ceil())
    }

    /// Self-hosted cost of `volume` requests a month, USD.
    pub(super) fn self_hosted(&self, volume: f64) -> f64 {
        self.hours
            .iter()
            .map(|&(share, k)| share * self.nodes(k, volume) * self.node_month_usd)
            .sum()
    }

    /// API cost of `volume` requests a month, USD.
    pub(super) fn api(&self, volume: f64) -> f64 {
        volume * self.api_per_request
    }

    /// GPUs at the busiest hour.
    pub(super) fn gpus_peak(&self, volume: f64) -> u32 {
        let nodes = self
            .hours
            .iter()
            .map(|&(_, k)| self.nodes(k, volume))
            .fold(0.0, f64::max);
        (nodes * self.gpus_per_node) as u32
    }

    /// GPUs running in the simulated hour.
    pub(super) fn gpus_at_start(&self, volume: f64) -> u32 {
        (self.nodes(self.hours[self.start].1, volume) * self.gpus_per_node) as u32
    }

    /// The log-log slope of self-hosted cost from volume / 10 to volume: 1 is linear.
    pub(super) fn scale_exponent(&self, volume: f64) -> f64 {
        (self.self_hosted(volume) / self.self_hosted(volume / 10.0)).ln() / 10f64.ln()
    }

    /// The smallest monthly volume at which the API costs at least as much as self-hosting;
    /// `None` when the API stays cheaper at every volume.
    pub(super) fn breakeven(&self) -> Option<f64> {
        let a = self.api_per_request;
        // Self-hosted cost is at least volume × this slope (the ceilings only add to it), so
        // an API price at or below it never catches up.
        let slope: f64 = self
            .hours
            .iter()
            .map(|&(share, k)| share * k * self.node_month_usd)
            .sum();
        if a <= 0.0 || a <= slope {
            return None;
        }
        // Walk the volume axis from price step to price step: on each interval self-hosted
        // cost is constant, so the API catches up at cost / a if that lies inside.
        let mut nodes: Vec<f64> = self.hours.iter().map(|_| self.min_nodes).collect();
        let mut lo: f64 = 0.0;
        for _ in 0..MAX_STEPS {
            let cost: f64 = self
                .hours
                .iter()
                .zip(&nodes)
                .map(|(&(share, _), n)| share * n * self.node_month_usd)
                .sum();
            let (next_hour, next) = self
                .hours
                .iter()
                .zip(&nodes)
                .enumerate()
                .map(|(i, (&(_, k), n))| (i, if k > 0.0 { n / k } else { f64::INFINITY }))
                .fold(
                    (0, f64::INFINITY),
                    |best, x| if x.1 < best.1 { x } else { best },
                );
            let candidate = lo.max(cost / a);
            if candidate <= next {
                return Some(candidate);
            }
            lo = next;
            nodes[next_hour] += 1.0;
        }
        None
    }
}
