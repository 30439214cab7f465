//! The metrics the `thermal` room emits, and their values from a run's traces. Names are a
//! contract other tools read.

use super::model::{Phone, Trace};
use super::params::ThermalParams;
use crate::simulation::{Better, MetricDef, Outcome};

const TPS: &str = "tok/s";

pub(super) const METRICS: &[MetricDef] = &[
    MetricDef::new("tokens_per_s_at_30min", TPS, "decode rate over the last 10 s of the run (the article's 30-minute point value)", Better::Higher).non_negative(),
    MetricDef::new("tokens_per_s_mean_25_30min", TPS, "decode rate averaged over the run's last 5 minutes (25-30 min)", Better::Higher).non_negative(),
    MetricDef::new("peak_tokens_per_s", TPS, "highest 10-s average decode rate of the run", Better::Higher).non_negative(),
    MetricDef::new("retained_fraction", "fraction", "rate at 30 min over the run's own peak", Better::Higher).bounded(0.0, 1.0),
    MetricDef::new("retained_mean_fraction", "fraction", "rate averaged over 25-30 min over the run's own peak", Better::Higher).bounded(0.0, 1.0),
    MetricDef::new("retained_vs_naive_peak_fraction", "fraction", "rate at 30 min over the naive policy's peak (same phone, same ambient)", Better::Higher).bounded(0.0, 2.0),
    MetricDef::new("peak_cost_vs_naive_fraction", "fraction", "1 - peak over the naive policy's peak: the peak traded", Better::Lower).bounded(-1.0, 1.0),
    MetricDef::new("sustained_gain_vs_naive", "ratio", "rate at 30 min over the naive policy's rate at 30 min", Better::Higher).non_negative(),
    MetricDef::new("sustained_mean_gain_vs_naive", "ratio", "25-30 min average rate over the naive policy's", Better::Higher).non_negative(),
    MetricDef::new("oscillation_amplitude_tokens_per_s", TPS, "max - min of the 10-s average rates over 25-30 min", Better::Lower).non_negative(),
    MetricDef::new("time_to_first_throttle_s", "s", "first time the platform held the clock below the app's request (the run's length when never)", Better::Higher).non_negative(),
    MetricDef::new("throttled_time_fraction", "fraction", "share of the run with the platform holding the clock below the app's request", Better::Lower).fraction(),
    MetricDef::new("kernel_trip_time_fraction", "fraction", "share of the run with the kernel's junction trip engaged", Better::Lower).fraction(),
    MetricDef::new("clock_drop_at_45s_fraction", "fraction", "1 - clock at 45 s over the clock the app asked for: the platform's cut", Better::Lower).bounded(0.0, 1.0),
    MetricDef::new("max_clock_step_ghz", "GHz", "largest drop of the clock the platform made in one step (HAL level or kernel trip)", Better::Neither).non_negative(),
    MetricDef::new("kernel_clock_step_ghz", "GHz", "largest drop of the clock at one escalation of the kernel's trip (0 when it never bound)", Better::Neither).non_negative(),
    MetricDef::new("skin_temp_max_c", "degC", "highest skin temperature", Better::Lower),
    MetricDef::new("junction_temp_max_c", "degC", "highest junction temperature", Better::Lower),
    MetricDef::new("skin_temp_at_30min_c", "degC", "skin temperature at the end of the run", Better::Lower),
    MetricDef::new("severity_max", "level", "highest HAL severity reached (0 NONE .. 6 SHUTDOWN)", Better::Lower).bounded(0.0, 6.0),
    MetricDef::new("headroom_max", "× SEVERE", "largest value getThermalHeadroom returned in the run (1.0 = SEVERE; NaN-free samples)", Better::Neither).non_negative(),
    MetricDef::new("max_threads_time_fraction", "fraction", "share of the run at the policy's top thread count (4)", Better::Neither).fraction(),
    MetricDef::new("threads_mean", "threads", "time-averaged decode threads", Better::Neither).non_negative(),
    MetricDef::new("energy_per_token_j", "J", "phone energy per decoded token over the run", Better::Lower).non_negative(),
    MetricDef::new("power_mean_w", "W", "time-averaged phone power", Better::Lower).non_negative(),
    MetricDef::new("prefill_tokens_per_s_at_30min", TPS, "prompt processing rate over the last 10 s (compute-bound, with the policy's batch)", Better::Higher).non_negative(),
    MetricDef::new("tokens_per_s_observed", TPS, "decode rate (10-s average) at observe_min", Better::Higher).non_negative(),
    MetricDef::new("skin_temp_observed_c", "degC", "skin temperature at observe_min", Better::Lower),
    MetricDef::new("junction_temp_observed_c", "degC", "junction temperature at observe_min", Better::Lower),
    MetricDef::new("clock_observed_ghz", "GHz", "big-core clock at observe_min", Better::Neither).non_negative(),
    MetricDef::new("threads_observed", "threads", "decode threads at observe_min", Better::Neither).non_negative(),
    MetricDef::new("threads_4_to_2_throughput_cost_fraction", "fraction", "1 - decode rate at 2 threads over 4 threads, both at f_max on big cores", Better::Neither).bounded(0.0, 1.0).from_inputs(),
    MetricDef::new("threads_4_to_2_power_cut_fraction", "fraction", "1 - phone power at 2 threads over 4 threads, both at f_max, junction at 25 C", Better::Neither).bounded(0.0, 1.0).from_inputs(),
    MetricDef::new("thermal_status_levels", "levels", "levels PowerManager.THERMAL_STATUS_* defines (NONE 0 .. SHUTDOWN 6)", Better::Neither).from_inputs(),
];

fn mean(xs: &[f64]) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    xs.iter().sum::<f64>() / xs.len() as f64
}

/// Steps in `secs` seconds.
fn steps(tr: &Trace, secs: f64) -> usize {
    ((secs / tr.dt).round() as usize).max(1)
}

/// The 10-s average decode rate ending at step `end` (exclusive).
fn window(tr: &Trace, end: usize) -> f64 {
    let w = steps(tr, 10.0);
    let end = end.clamp(1, tr.rate.len());
    mean(&tr.rate[end.saturating_sub(w)..end])
}

/// 10-s window averages over the whole run.
fn windows(tr: &Trace) -> Vec<f64> {
    let w = steps(tr, 10.0);
    tr.rate.chunks(w).map(mean).collect()
}

/// Peak, point value at the end and the last-5-minute average of a trace.
pub(super) fn headline(tr: &Trace) -> (f64, f64, f64) {
    let n = tr.rate.len();
    let peak = windows(tr).into_iter().fold(0.0, f64::max);
    let at_end = window(tr, n);
    let last5 = mean(&tr.rate[n.saturating_sub(steps(tr, 300.0))..]);
    (peak, at_end, last5)
}

/// Every metric of a run of the policy (`tr`) beside the naive run (`naive`).
pub(super) fn outcome(p: &ThermalParams, tr: &Trace, naive: &Trace) -> Outcome {
    let mut o = Outcome::default();
    let n = tr.rate.len();
    let (peak, at_end, last5) = headline(tr);
    let (n_peak, n_end, n_last5) = headline(naive);
    o.set("tokens_per_s_at_30min", at_end);
    o.set("tokens_per_s_mean_25_30min", last5);
    o.set("peak_tokens_per_s", peak);
    o.set("retained_fraction", (at_end / peak).min(1.0));
    o.set("retained_mean_fraction", (last5 / peak).min(1.0));
    o.set("retained_vs_naive_peak_fraction", at_end / n_peak);
    o.set("peak_cost_vs_naive_fraction", 1.0 - peak / n_peak);
    o.set("sustained_gain_vs_naive", at_end / n_end);
    o.set("sustained_mean_gain_vs_naive", last5 / n_last5);
    let w = steps(tr, 10.0);
    let last: Vec<f64> = tr.rate[n.saturating_sub(steps(tr, 300.0))..]
        .chunks(w)
        .map(mean)
        .collect();
    let (lo, hi) = last
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
            (a.min(x), b.max(x))
        });
    o.set("oscillation_amplitude_tokens_per_s", hi - lo);
    let first = tr.throttled.iter().position(|&b| b).unwrap_or(n);
    o.set("time_to_first_throttle_s", first as f64 * tr.dt);
    let share = |v: &[bool]| v.iter().filter(|&&b| b).count() as f64 / v.len().max(1) as f64;
    o.set("throttled_time_fraction", share(&tr.throttled));
    o.set("kernel_trip_time_fraction", share(&tr.kernel));
    let i45 = steps(tr, 45.0).min(n - 1);
    o.set(
        "clock_drop_at_45s_fraction",
        (1.0 - tr.freq[i45] / tr.requested[i45]).max(0.0),
    );
    o.set("max_clock_step_ghz", tr.max_step_ghz);
    o.set("kernel_clock_step_ghz", tr.kernel_step_ghz);
    let max = |v: &[f64]| v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    o.set("skin_temp_max_c", max(&tr.ts));
    o.set("junction_temp_max_c", max(&tr.tj));
    o.set("skin_temp_at_30min_c", tr.ts[n - 1]);
    o.set(
        "severity_max",
        tr.severity.iter().copied().max().unwrap_or(0) as f64,
    );
    let h: Vec<f64> = tr
        .headroom
        .iter()
        .copied()
        .filter(|x| x.is_finite())
        .collect();
    o.set("headroom_max", if h.is_empty() { 0.0 } else { max(&h) });
    let top = tr
        .threads
        .iter()
        .filter(|&&t| t >= p.max_threads.min(4))
        .count();
    o.set("max_threads_time_fraction", top as f64 / n as f64);
    o.set(
        "threads_mean",
        tr.threads.iter().map(|&t| f64::from(t)).sum::<f64>() / n as f64,
    );
    let energy: f64 = tr.power.iter().sum::<f64>() * tr.dt;
    let tokens: f64 = tr.rate.iter().sum::<f64>() * tr.dt;
    o.set("energy_per_token_j", energy / tokens);
    o.set("power_mean_w", mean(&tr.power));
    o.set(
        "prefill_tokens_per_s_at_30min",
        mean(&tr.prefill[n.saturating_sub(w)..]),
    );
    let at = ((p.observe_min * 60.0 / tr.dt).round() as usize).min(n - 1);
    o.set("tokens_per_s_observed", window(tr, at + 1));
    o.set("skin_temp_observed_c", tr.ts[at]);
    o.set("junction_temp_observed_c", tr.tj[at]);
    o.set("clock_observed_ghz", tr.freq[at]);
    o.set("threads_observed", f64::from(tr.threads[at]));
    inputs(p, &mut o);
    o
}

/// The metrics computed from the parameters alone.
fn inputs(p: &ThermalParams, o: &mut Outcome) {
    let phone = Phone { p, mem_speed: 1.0 };
    let (f, big) = (p.f_max_ghz, p.big_cores);
    let r = |n| phone.decode_rate(n, f, big);
    o.set("threads_4_to_2_throughput_cost_fraction", 1.0 - r(2) / r(4));
    let pw = |n| phone.power(n, f, big, 25.0);
    o.set("threads_4_to_2_power_cut_fraction", 1.0 - pw(2) / pw(4));
    o.set("thermal_status_levels", 7.0);
}
