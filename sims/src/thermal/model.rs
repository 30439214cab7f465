//! The phone: a two-node thermal network (junction, skin, ambient), DVFS power with
//! temperature-dependent leakage, decode and prefill rates from threads and clock (a two-part
//! roofline with a straggler on little cores), the platform's mitigation (HAL severity levels
//! with hysteresis and the kernel's step_wise trip, or an ideal power allocator), the headroom
//! forecast as `ThermalManagerService` computes it, and the app's policies.

use std::collections::VecDeque;

use super::params::{Governor, Policy, ThermalParams};

/// The two-node RC network: junction `j` (capacity `cj`, resistance `rjs` to skin) and skin
/// `s` (capacity `cs`, resistance `rsa` to ambient `ta`).
#[derive(Clone, Copy, Debug)]
pub(super) struct Network {
    pub(super) cj: f64,
    pub(super) rjs: f64,
    pub(super) cs: f64,
    pub(super) rsa: f64,
    pub(super) ta: f64,
}

impl Network {
    fn deriv(&self, tj: f64, ts: f64, p_w: f64) -> (f64, f64) {
        let q_js = (tj - ts) / self.rjs;
        let q_sa = (ts - self.ta) / self.rsa;
        ((p_w - q_js) / self.cj, (q_js - q_sa) / self.cs)
    }

    /// One classical Runge-Kutta step of `dt` seconds with power `p_w` into the junction.
    pub(super) fn step(&self, (tj, ts): (f64, f64), p_w: f64, dt: f64) -> (f64, f64) {
        let (a1, b1) = self.deriv(tj, ts, p_w);
        let (a2, b2) = self.deriv(tj + 0.5 * dt * a1, ts + 0.5 * dt * b1, p_w);
        let (a3, b3) = self.deriv(tj + 0.5 * dt * a2, ts + 0.5 * dt * b2, p_w);
        let (a4, b4) = self.deriv(tj + dt * a3, ts + dt * b3, p_w);
        (
            tj + dt / 6.0 * (a1 + 2.0 * a2 + 2.0 * a3 + a4),
            ts + dt / 6.0 * (b1 + 2.0 * b2 + 2.0 * b3 + b4),
        )
    }
}

/// The phone's power and speed as functions of threads, clock and temperature.
pub(super) struct Phone<'a> {
    pub(super) p: &'a ThermalParams,
    /// DRAM bandwidth available relative to the unthrottled bus.
    pub(super) mem_speed: f64,
}

impl Phone<'_> {
    fn volt(&self, f: f64) -> f64 {
        let p = self.p;
        let x = ((f - p.f_min_ghz) / (p.f_max_ghz - p.f_min_ghz).max(1e-12)).clamp(0.0, 1.0);
        p.v_min_rel + (1.0 - p.v_min_rel) * x
    }

    /// Dynamic power of one busy big core at `f`: C·V²·f, scaled to `core_power_w` at f_max.
    pub(super) fn core_power(&self, f: f64) -> f64 {
        self.p.core_power_w * (f / self.p.f_max_ghz) * self.volt(f).powi(2)
    }

    /// Leakage at junction temperature `tj`: doubles every `leak_doubling_c`.
    pub(super) fn leak(&self, tj: f64) -> f64 {
        self.p.leak_w_at_25c * ((tj - 25.0) / self.p.leak_doubling_c).exp2()
    }

    /// Threads on big and on little cores with `big_online` big cores.
    fn placement(&self, n: u32, big_online: u32) -> (u32, u32) {
        let big = n.min(big_online);
        (big, n - big)
    }

    /// The slowest thread's speed relative to a big core at f_max (barrier-synchronised ops
    /// run at the slowest thread's pace).
    fn slowest(&self, n: u32, f: f64, big_online: u32) -> f64 {
        let (_, little) = self.placement(n, big_online);
        let big = f / self.p.f_max_ghz;
        if little > 0 {
            big.min(self.p.little_speed)
        } else {
            big
        }
    }

    /// Decode tokens/s: a step's compute part scales with 1/(threads × slowest speed), its
    /// weight-streaming part does not.
    pub(super) fn decode_rate(&self, n: u32, f: f64, big_online: u32) -> f64 {
        let p = self.p;
        let t_c = p.decode_compute_share / p.peak_tokens_per_s * f64::from(p.max_threads)
            / f64::from(n)
            / self.slowest(n, f, big_online);
        let t_m = (1.0 - p.decode_compute_share) / p.peak_tokens_per_s / self.mem_speed;
        1.0 / (t_c + t_m)
    }

    /// Prompt tokens/s (compute-bound): threads × slowest speed, and the batch's efficiency.
    pub(super) fn prefill_rate(&self, n: u32, f: f64, big_online: u32, batch: u32) -> f64 {
        let p = self.p;
        let eff = |b: f64| b / (b + p.prefill_batch_half);
        p.prefill_peak_tokens_per_s * f64::from(n) * self.slowest(n, f, big_online)
            / f64::from(p.max_threads)
            * eff(f64::from(batch))
            / eff(512.0)
    }

    /// The phone's power decoding with `n` threads at `f`, junction at `tj`.
    pub(super) fn power(&self, n: u32, f: f64, big_online: u32, tj: f64) -> f64 {
        self.power_at_rate(n, f, big_online, tj, self.decode_rate(n, f, big_online))
    }

    /// [`Phone::power`] with the decode rate already known.
    fn power_at_rate(&self, n: u32, f: f64, big_online: u32, tj: f64, rate: f64) -> f64 {
        let p = self.p;
        let (big, little) = self.placement(n, big_online);
        p.base_power_w
            + f64::from(big) * self.core_power(f)
            + f64::from(little) * p.little_core_power_w
            + self.leak(tj)
            + p.mem_power_w * rate / p.peak_tokens_per_s
    }

    /// The highest clock in [f_min, f_max] whose power fits `budget` (f_min when none does).
    fn clock_for_budget(&self, n: u32, big_online: u32, tj: f64, budget: f64) -> f64 {
        let (mut lo, mut hi) = (self.p.f_min_ghz, self.p.f_max_ghz);
        if self.power(n, hi, big_online, tj) <= budget {
            return hi;
        }
        if self.power(n, lo, big_online, tj) > budget {
            return lo;
        }
        for _ in 0..24 {
            let mid = 0.5 * (lo + hi);
            if self.power(n, mid, big_online, tj) <= budget {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        lo
    }
}

/// An ideal power-allocator loop (IPA's proportional gains, k_pu below and k_po above the
/// control temperature, with the exact sustainable power as feed-forward): the power budget
/// that holds `t` at `control`.
struct PowerLoop {
    control: f64,
    switch_on: f64,
    sustainable: f64,
}

impl PowerLoop {
    fn budget(&self, t: f64) -> f64 {
        if t < self.switch_on {
            return f64::INFINITY;
        }
        let span = (self.control - self.switch_on).max(1e-9);
        let (k_po, k_pu) = (self.sustainable / span, 2.0 * self.sustainable / span);
        let e = self.control - t;
        let kp = if e < 0.0 { k_pu } else { k_po };
        // Ideal: the feed-forward is the exact sustainable power, so a proportional term holds
        // the control temperature with no integral (and no wind-up to oscillate).
        (self.sustainable + kp * e).max(0.0)
    }
}

/// `getThermalHeadroom(forecast)` as `ThermalManagerService.TemperatureWatcher` computes it:
/// 30 one-second skin samples, a least-squares slope, the forecast from the oldest sample (or
/// the newest), normalised so that 1.0 is SEVERE and one unit is 30 °C; NaN when unsupported.
pub(super) fn headroom(samples: &VecDeque<(f64, f64)>, p: &ThermalParams) -> f64 {
    let (Some(first), Some(last)) = (samples.front(), samples.back()) else {
        return f64::NAN;
    };
    if !p.headroom_supported {
        return f64::NAN;
    }
    let severe = p.severity_thresholds_c[2];
    let t_f = if samples.len() < 3 {
        last.1
    } else {
        let n = samples.len() as f64;
        let mt = samples.iter().map(|s| s.0).sum::<f64>() / n;
        let my = samples.iter().map(|s| s.1).sum::<f64>() / n;
        let sxy: f64 = samples.iter().map(|s| (s.0 - mt) * (s.1 - my)).sum();
        let sxx: f64 = samples.iter().map(|s| (s.0 - mt).powi(2)).sum();
        let slope = if sxx > 0.0 { sxy / sxx } else { 0.0 };
        let base = if p.headroom_from_oldest {
            first.1
        } else {
            last.1
        };
        base + slope * p.headroom_forecast_s
    };
    ((t_f - (severe - 30.0)) / 30.0).max(0.0)
}

/// Threads for the article's `computeParams` on value `x` (its thresholds compare `x`
/// directly; NaN fails every comparison and lands in `else`), and the matching batch.
pub(super) fn article_choice(x: f64, thresholds: &[f64], max_threads: u32) -> (u32, u32) {
    let (threads, batch) = if x > thresholds[0] {
        (4, 512)
    } else if x > thresholds[1] {
        (3, 256)
    } else if x > thresholds[2] {
        (2, 128)
    } else {
        (1, 64)
    };
    (threads.min(max_threads), batch)
}

/// The HAL's severity after a poll at skin temperature `ts`: up a level per threshold
/// reached, down while below the level's threshold minus the hysteresis.
pub(super) fn severity(level: usize, ts: f64, thr: &[f64], hyst: f64) -> usize {
    let mut l = level;
    while l < thr.len() && ts >= thr[l] {
        l += 1;
    }
    while l > 0 && ts < thr[l - 1] - hyst {
        l -= 1;
    }
    l
}

/// One run's state, sampled every step.
#[derive(Debug, Default, Clone)]
pub(super) struct Trace {
    pub(super) dt: f64,
    pub(super) rate: Vec<f64>,
    pub(super) prefill: Vec<f64>,
    pub(super) tj: Vec<f64>,
    pub(super) ts: Vec<f64>,
    pub(super) freq: Vec<f64>,
    pub(super) threads: Vec<u32>,
    pub(super) power: Vec<f64>,
    pub(super) headroom: Vec<f64>,
    pub(super) severity: Vec<usize>,
    /// The platform held the clock below what the app asked for.
    pub(super) throttled: Vec<bool>,
    /// The clock the app asked for (its cap), GHz.
    pub(super) requested: Vec<f64>,
    /// The kernel's trip was engaged (cooling state > 0).
    pub(super) kernel: Vec<bool>,
    /// Largest one-step drop of the clock the platform made, GHz.
    pub(super) max_step_ghz: f64,
    /// Largest one-step drop of the clock at a kernel trip escalation, GHz.
    pub(super) kernel_step_ghz: f64,
}

/// Timer phases (fractions of their periods) of the HAL's and the kernel's polling; the app's
/// policy and the headroom sampler start with the run.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Phases(pub(super) [f64; 2]);

/// Simulates `policy` for the run, starting at ambient `ta`.
pub(super) fn simulate(p: &ThermalParams, policy: Policy, ta: f64, ph: Phases) -> Trace {
    let mut phone = Phone { p, mem_speed: 1.0 };
    let net = Network {
        cj: p.c_junction_j_per_k,
        rjs: p.r_junction_skin_k_per_w,
        cs: p.c_skin_j_per_k,
        rsa: p.r_skin_ambient_k_per_w,
        ta,
    };
    let dt = p.dt_s;
    let steps = (p.duration_min * 60.0 / dt).round() as usize;
    let mut tr = Trace {
        dt,
        rate: Vec::with_capacity(steps),
        prefill: Vec::with_capacity(steps),
        tj: Vec::with_capacity(steps),
        ts: Vec::with_capacity(steps),
        freq: Vec::with_capacity(steps),
        threads: Vec::with_capacity(steps),
        power: Vec::with_capacity(steps),
        headroom: Vec::with_capacity(steps),
        severity: Vec::with_capacity(steps),
        throttled: Vec::with_capacity(steps),
        requested: Vec::with_capacity(steps),
        kernel: Vec::with_capacity(steps),
        ..Trace::default()
    };
    let (mut tj, mut ts) = (ta, ta);
    let thr = &p.severity_thresholds_c;
    let mut next = [ph.0[0] * p.hal_poll_s, ph.0[1] * p.passive_poll_s, 0.0, 0.0];
    let mut level = 0usize;
    let max_state = ((p.f_max_ghz - p.f_min_ghz) / p.opp_step_ghz).ceil() as u32;
    let (mut kstate, mut last_tj) = (0u32, ta);
    let skin_loop = PowerLoop {
        control: p.ipa_control_c,
        switch_on: p.ipa_switch_on_c,
        sustainable: (p.ipa_control_c - ta) / p.r_skin_ambient_k_per_w,
    };
    let junction_loop = PowerLoop {
        control: p.trip_c,
        switch_on: p.trip_c - 10.0,
        sustainable: (p.trip_c - ta) / (p.r_junction_skin_k_per_w + p.r_skin_ambient_k_per_w),
    };
    // The clock the power allocator set at its last poll.
    let mut ipa_clock = p.f_max_ghz;
    let mut samples: VecDeque<(f64, f64)> = VecDeque::with_capacity(31);
    let (mut threads, mut batch, mut app_cap) = (p.max_threads, 512u32, p.f_max_ghz);
    // The forecast as of the last sample (the platform recomputes it once a second).
    let mut forecast = f64::NAN;
    let mut prev_f = f64::NAN;
    for i in 0..steps {
        let t = i as f64 * dt;
        let mut escalated = false;
        if t >= next[3] {
            if samples.len() == 30 {
                samples.pop_front();
            }
            samples.push_back((t, ts));
            forecast = headroom(&samples, p);
            next[3] += 1.0;
        }
        if t >= next[0] {
            level = severity(level, ts, thr, p.hysteresis_c);
            next[0] += p.hal_poll_s;
        }
        if t >= next[1] {
            match p.governor {
                Governor::Tiered => {
                    let hot = tj >= p.trip_c || (kstate > 0 && tj >= p.trip_c - p.trip_hyst_c);
                    if hot && tj > last_tj && kstate < max_state {
                        kstate += 1;
                        escalated = true;
                    } else if !hot && kstate > 0 {
                        kstate -= 1;
                    }
                }
                Governor::PowerCap => {
                    let budget = skin_loop.budget(ts).min(junction_loop.budget(tj));
                    ipa_clock = phone.clock_for_budget(threads, p.big_cores, tj, budget);
                }
            }
            last_tj = tj;
            next[1] += p.passive_poll_s;
        }
        if t >= next[2] {
            (threads, batch, app_cap) = decide(&phone, policy, forecast, tj);
            next[2] += p.policy_period_s;
        }
        let big_online = if p.governor == Governor::Tiered && level >= 3 {
            p.big_cores_online_at_severe
        } else {
            p.big_cores
        };
        phone.mem_speed = if p.governor == Governor::Tiered && level >= 3 {
            p.mem_bw_fraction_at_severe
        } else {
            1.0
        };
        let platform_cap = match p.governor {
            Governor::Tiered => {
                let k = f64::from(kstate * p.opps_per_cooling_state) * p.opp_step_ghz;
                p.severity_caps_ghz[level].min((p.f_max_ghz - k).max(p.f_min_ghz))
            }
            Governor::PowerCap => ipa_clock,
        };
        let f = app_cap.min(platform_cap).max(p.f_min_ghz);
        if prev_f.is_finite() && prev_f - f > 1e-9 && platform_cap < app_cap {
            tr.max_step_ghz = tr.max_step_ghz.max(prev_f - f);
            if escalated {
                tr.kernel_step_ghz = tr.kernel_step_ghz.max(prev_f - f);
            }
        }
        prev_f = f;
        let rate = phone.decode_rate(threads, f, big_online);
        let power = phone.power_at_rate(threads, f, big_online, tj, rate);
        tr.rate.push(rate);
        tr.prefill
            .push(phone.prefill_rate(threads, f, big_online, batch));
        tr.tj.push(tj);
        tr.ts.push(ts);
        tr.freq.push(f);
        tr.threads.push(threads);
        tr.power.push(power);
        tr.headroom.push(forecast);
        tr.severity.push(level);
        tr.throttled.push(platform_cap < app_cap - 1e-9);
        tr.requested.push(app_cap);
        tr.kernel.push(kstate > 0);
        (tj, ts) = net.step((tj, ts), power, dt);
    }
    tr
}

/// The app's choice of threads, prompt batch and clock cap given headroom `h`.
fn decide(phone: &Phone<'_>, policy: Policy, h: f64, tj: f64) -> (u32, u32, f64) {
    let p = phone.p;
    match policy {
        Policy::Naive => (p.max_threads, 512, p.f_max_ghz),
        Policy::SustainedMode => (p.max_threads, 512, p.sustained_cap_ghz),
        Policy::ArticleAsWritten => {
            let (n, b) = article_choice(h, &p.article_thresholds, p.max_threads);
            (n, b, p.hint_cap_ghz)
        }
        Policy::ArticleRealScale => {
            let degrees_below_severe = 30.0 * (1.0 - h);
            let (n, b) = article_choice(degrees_below_severe, &p.article_thresholds, p.max_threads);
            (n, b, p.hint_cap_ghz)
        }
        Policy::PowerBudget => {
            let mut best = (1, 512, p.f_min_ghz, 0.0);
            for n in 1..=p.max_threads {
                let mut f = p.f_max_ghz;
                while f >= p.f_min_ghz - 1e-9 {
                    let fits = phone.power(n, f, p.big_cores, tj) <= p.power_budget_w;
                    let r = phone.decode_rate(n, f, p.big_cores);
                    if fits && r > best.3 + 1e-12 {
                        best = (n, 512, f, r);
                    }
                    f -= p.opp_step_ghz;
                }
            }
            (best.0, best.1, best.2)
        }
    }
}
