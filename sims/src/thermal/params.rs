//! `ThermalParams`: the scenario's `[params]` for `sim = "thermal"`. Defaults are the article's
//! setting where it states one (Snapdragon 8 Gen 3 class phone, 12.4 tok/s peak, 4 threads,
//! headroom polled every 2 s) and the research file's starting values (§1.3) elsewhere, all of
//! those assumed.

use serde::{Deserialize, Serialize};

use crate::params::{ParamsError, require_count, require_non_negative, require_positive};
use crate::room::Validate;

/// What the app does about heat.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Policy {
    /// Max threads, no hints: the platform alone throttles.
    Naive,
    /// The article's `computeParams` exactly as written: its thresholds (12/7/4, read as °C)
    /// applied to what `getThermalHeadroom` really returns (a fraction of the SEVERE threshold),
    /// its `?: Float.MAX_VALUE` fallback (never taken: the call returns a float, NaN when
    /// unsupported), plus the sustained hint as a mid-clock cap.
    ArticleAsWritten,
    /// The same scheduler with its thresholds converted to the API's real scale (°C below
    /// SEVERE = 30 · (1 − headroom)), plus the hint.
    ArticleRealScale,
    /// An app-level power budget: every policy period, the threads and clock cap with the most
    /// tokens/s whose power fits `power_budget_w`.
    PowerBudget,
    /// `setSustainedPerformanceMode`: max threads under a fixed clock cap.
    SustainedMode,
}

impl Policy {
    /// Its snake_case name.
    pub fn name(self) -> &'static str {
        match self {
            Policy::Naive => "naive",
            Policy::ArticleAsWritten => "article_as_written",
            Policy::ArticleRealScale => "article_real_scale",
            Policy::PowerBudget => "power_budget",
            Policy::SustainedMode => "sustained_mode",
        }
    }
}

/// How the platform throttles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Governor {
    /// The thermal HAL's severity levels on skin temperature, each with a clock cap, released
    /// with hysteresis (big cores isolated from SEVERE up), and the kernel's step_wise trip on
    /// the junction.
    Tiered,
    /// An ideal power allocator (IPA-like PI loops on skin and junction): the clock is set
    /// continuously to the power budget, no hysteresis, no core isolation.
    PowerCap,
}

/// A phone running sustained LLM decode for `duration_min`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ThermalParams {
    /// The app's policy. Default `article_as_written`.
    pub policy: Policy,
    /// The platform's throttling regime. Default `tiered`.
    pub governor: Governor,
    /// Length of the session, minutes. Default 30 (article).
    pub duration_min: f64,
    /// The instant the `*_observed` metrics read, minutes (for time-series charts; past the
    /// run's end reads its end). Default 30.
    pub observe_min: f64,
    /// Integration step, s. Default 0.1.
    pub dt_s: f64,
    /// Ambient temperature, °C. Default 25 (assumed: lab ambient).
    pub ambient_c: f64,
    /// Per-replication spread of the ambient (standard deviation), °C. Default 0.5.
    pub ambient_jitter_c: f64,
    /// Junction (SoC die and spreader) heat capacity, J/K. Default 4 (assumed).
    pub c_junction_j_per_k: f64,
    /// Junction to skin thermal resistance, K/W. Default 6 (assumed).
    pub r_junction_skin_k_per_w: f64,
    /// Skin/chassis heat capacity, J/K. Default 200 (assumed: 200 g at ~1 J/(g K)).
    pub c_skin_j_per_k: f64,
    /// Skin to ambient thermal resistance, K/W. Default 4 (assumed: natural convection).
    pub r_skin_ambient_k_per_w: f64,
    /// Highest big-core clock, GHz. Default 3.3 (article: 8 Gen 3 prime core).
    pub f_max_ghz: f64,
    /// Lowest big-core clock, GHz. Default 0.6.
    pub f_min_ghz: f64,
    /// Core voltage at `f_min_ghz` relative to the voltage at `f_max_ghz`. Default 0.55.
    pub v_min_rel: f64,
    /// Dynamic power of one busy big core at `f_max_ghz`, W. Default 2.0 (assumed).
    pub core_power_w: f64,
    /// Display, SoC idle and rails, W. Default 1.2 (assumed).
    pub base_power_w: f64,
    /// DRAM traffic power at peak decode rate, W. Default 1.0 (assumed).
    pub mem_power_w: f64,
    /// Leakage at 25 °C junction, W. Default 0.2 (assumed).
    pub leak_w_at_25c: f64,
    /// Junction temperature rise that doubles leakage, K. Default 30 (assumed).
    pub leak_doubling_c: f64,
    /// Big (performance) cores. Default 4.
    pub big_cores: u32,
    /// A little core's speed relative to a big core at `f_max_ghz`. Default 0.35 (assumed).
    pub little_speed: f64,
    /// Power of one busy little core, W. Default 0.3 (assumed).
    pub little_core_power_w: f64,
    /// Big cores left online from SEVERE up in the tiered regime (the rest isolated, so threads
    /// beyond them land on little cores). Default 2 (assumed; 4 = no isolation).
    pub big_cores_online_at_severe: u32,
    /// DRAM/bus bandwidth left from SEVERE up in the tiered regime (OEM configs can cap the
    /// memory bus too), relative to unthrottled. Default 1 (assumed: no bus cap).
    pub mem_bw_fraction_at_severe: f64,
    /// Decode rate at `max_threads` threads and `f_max_ghz`, tok/s. Default 12.4 (article's
    /// measured peak, an input).
    pub peak_tokens_per_s: f64,
    /// Share of a decode step's time that is compute (scales with 1/(threads × clock)); the rest
    /// is streaming weights (bandwidth-bound). Default 0.43 (assumed).
    pub decode_compute_share: f64,
    /// Prompt processing rate at `max_threads`, `f_max_ghz`, batch 512, tok/s (compute-bound).
    /// Default 60 (assumed).
    pub prefill_peak_tokens_per_s: f64,
    /// Prompt batch at which prefill reaches half its large-batch efficiency. Default 32.
    pub prefill_batch_half: f64,
    /// Threads of the naive policy and the top of the schedulers. Default 4 (article).
    pub max_threads: u32,
    /// Skin thresholds of LIGHT, MODERATE, SEVERE, CRITICAL, EMERGENCY, SHUTDOWN, °C. Default
    /// [39, 43, 45, 47, 52, 55] (an AOSP-style VIRTUAL-SKIN config).
    pub severity_thresholds_c: Vec<f64>,
    /// HAL hysteresis: a level clears below its threshold minus this, °C. Default 1.9.
    pub hysteresis_c: f64,
    /// Big-core clock cap per level NONE..SHUTDOWN, GHz. Default [3.3, 3.0, 2.4, 1.2, 0.8,
    /// 0.6, 0.6] (assumed OEM table).
    pub severity_caps_ghz: Vec<f64>,
    /// HAL polling period, s. Default 1.
    pub hal_poll_s: f64,
    /// Kernel passive trip on the junction, °C. Default 95 (assumed).
    pub trip_c: f64,
    /// Trip hysteresis, °C. Default 5.
    pub trip_hyst_c: f64,
    /// Kernel thermal polling period (`polling-delay-passive`), s. Default 0.25.
    pub passive_poll_s: f64,
    /// Spacing of the operating points, GHz. Default 0.3.
    pub opp_step_ghz: f64,
    /// Operating points one cooling state moves (coarse cooling maps jump further). Default 1.
    pub opps_per_cooling_state: u32,
    /// Skin temperature the power allocator holds (power_cap regime), °C. Default 43.
    pub ipa_control_c: f64,
    /// Skin temperature the power allocator switches on at, °C. Default 39.
    pub ipa_switch_on_c: f64,
    /// The forecast window passed to `getThermalHeadroom`, s. Default 10 (assumed: the
    /// article's FORECAST_SECONDS is not given).
    pub headroom_forecast_s: f64,
    /// The device supports the headroom API (false: it returns NaN). Default true.
    pub headroom_supported: bool,
    /// The forecast starts from the oldest sample of the 30 s buffer (the AOSP version read);
    /// false: from the newest.
    pub headroom_from_oldest: bool,
    /// How often the app's policy runs, s. Default 2 (article).
    pub policy_period_s: f64,
    /// The article's thresholds (headroom above which 4, 3, 2 threads), as written. Default
    /// [12, 7, 4].
    pub article_thresholds: Vec<f64>,
    /// The sustained-performance hint holds the clock at this cap (schedulers), GHz. Default
    /// 2.7 (assumed; 3.3 = the hint does nothing).
    pub hint_cap_ghz: f64,
    /// `sustained_mode`'s clock cap, GHz. Default 2.4 (assumed).
    pub sustained_cap_ghz: f64,
    /// `power_budget`'s budget for the whole phone, W. Default 4.5 (assumed: (43 − 25)/R_sa).
    pub power_budget_w: f64,
}

impl Default for ThermalParams {
    fn default() -> Self {
        ThermalParams {
            policy: Policy::ArticleAsWritten,
            governor: Governor::Tiered,
            duration_min: 30.0,
            observe_min: 30.0,
            dt_s: 0.1,
            ambient_c: 25.0,
            ambient_jitter_c: 0.5,
            c_junction_j_per_k: 4.0,
            r_junction_skin_k_per_w: 6.0,
            c_skin_j_per_k: 200.0,
            r_skin_ambient_k_per_w: 4.0,
            f_max_ghz: 3.3,
            f_min_ghz: 0.6,
            v_min_rel: 0.55,
            core_power_w: 2.0,
            base_power_w: 1.2,
            mem_power_w: 1.0,
            leak_w_at_25c: 0.2,
            leak_doubling_c: 30.0,
            big_cores: 4,
            little_speed: 0.35,
            little_core_power_w: 0.3,
            big_cores_online_at_severe: 2,
            mem_bw_fraction_at_severe: 1.0,
            peak_tokens_per_s: 12.4,
            decode_compute_share: 0.43,
            prefill_peak_tokens_per_s: 60.0,
            prefill_batch_half: 32.0,
            max_threads: 4,
            severity_thresholds_c: vec![39.0, 43.0, 45.0, 47.0, 52.0, 55.0],
            hysteresis_c: 1.9,
            severity_caps_ghz: vec![3.3, 3.0, 2.4, 1.2, 0.8, 0.6, 0.6],
            hal_poll_s: 1.0,
            trip_c: 95.0,
            trip_hyst_c: 5.0,
            passive_poll_s: 0.25,
            opp_step_ghz: 0.3,
            opps_per_cooling_state: 1,
            ipa_control_c: 43.0,
            ipa_switch_on_c: 39.0,
            headroom_forecast_s: 10.0,
            headroom_supported: true,
            headroom_from_oldest: true,
            policy_period_s: 2.0,
            article_thresholds: vec![12.0, 7.0, 4.0],
            hint_cap_ghz: 2.7,
            sustained_cap_ghz: 2.4,
            power_budget_w: 4.5,
        }
    }
}

fn between(path: &str, x: f64, lo: f64, hi: f64) -> Result<(), ParamsError> {
    if x.is_finite() && (lo..=hi).contains(&x) {
        Ok(())
    } else {
        Err(ParamsError::out_of_range(path, x, &format!("{lo} to {hi}")))
    }
}

fn increasing(path: &str, xs: &[f64], len: usize, rising: bool) -> Result<(), ParamsError> {
    if xs.len() != len {
        return Err(ParamsError::out_of_range(
            path,
            format!("{} values", xs.len()),
            &format!("exactly {len} values"),
        ));
    }
    for (i, w) in xs.windows(2).enumerate() {
        let ok = if rising { w[1] > w[0] } else { w[1] < w[0] };
        if !ok {
            return Err(ParamsError::out_of_range(
                &format!("{path}[{}]", i + 1),
                w[1],
                if rising {
                    "strictly increasing values"
                } else {
                    "strictly decreasing values"
                },
            ));
        }
    }
    Ok(())
}

impl Validate for ThermalParams {
    fn validate(&self) -> Result<(), ParamsError> {
        between("duration_min", self.duration_min, 1.0, 600.0)?;
        between("observe_min", self.observe_min, 0.0, 600.0)?;
        between("dt_s", self.dt_s, 0.001, 1.0)?;
        between("ambient_c", self.ambient_c, -20.0, 50.0)?;
        between("ambient_jitter_c", self.ambient_jitter_c, 0.0, 10.0)?;
        for (path, x) in [
            ("c_junction_j_per_k", self.c_junction_j_per_k),
            ("r_junction_skin_k_per_w", self.r_junction_skin_k_per_w),
            ("c_skin_j_per_k", self.c_skin_j_per_k),
            ("r_skin_ambient_k_per_w", self.r_skin_ambient_k_per_w),
            ("f_min_ghz", self.f_min_ghz),
            ("core_power_w", self.core_power_w),
            ("leak_doubling_c", self.leak_doubling_c),
            ("peak_tokens_per_s", self.peak_tokens_per_s),
            ("prefill_peak_tokens_per_s", self.prefill_peak_tokens_per_s),
            ("prefill_batch_half", self.prefill_batch_half),
            ("hal_poll_s", self.hal_poll_s),
            ("passive_poll_s", self.passive_poll_s),
            ("opp_step_ghz", self.opp_step_ghz),
            ("headroom_forecast_s", self.headroom_forecast_s),
            ("policy_period_s", self.policy_period_s),
            ("power_budget_w", self.power_budget_w),
        ] {
            require_positive(path, x)?;
        }
        for (path, x) in [
            ("base_power_w", self.base_power_w),
            ("mem_power_w", self.mem_power_w),
            ("leak_w_at_25c", self.leak_w_at_25c),
            ("little_core_power_w", self.little_core_power_w),
            ("hysteresis_c", self.hysteresis_c),
            ("trip_hyst_c", self.trip_hyst_c),
        ] {
            require_non_negative(path, x)?;
        }
        between("f_max_ghz", self.f_max_ghz, self.f_min_ghz, 10.0)?;
        between("v_min_rel", self.v_min_rel, 0.1, 1.0)?;
        between("little_speed", self.little_speed, 0.01, 1.0)?;
        between(
            "mem_bw_fraction_at_severe",
            self.mem_bw_fraction_at_severe,
            0.05,
            1.0,
        )?;
        between("decode_compute_share", self.decode_compute_share, 0.0, 1.0)?;
        require_count("big_cores", self.big_cores, 1..=16, "cores")?;
        require_count(
            "big_cores_online_at_severe",
            self.big_cores_online_at_severe,
            1..=self.big_cores,
            "cores, at most big_cores",
        )?;
        require_count("max_threads", self.max_threads, 1..=16, "threads")?;
        require_count(
            "opps_per_cooling_state",
            self.opps_per_cooling_state,
            1..=20,
            "operating points",
        )?;
        increasing(
            "severity_thresholds_c",
            &self.severity_thresholds_c,
            6,
            true,
        )?;
        if self.severity_caps_ghz.len() != 7 {
            return Err(ParamsError::out_of_range(
                "severity_caps_ghz",
                format!("{} values", self.severity_caps_ghz.len()),
                "exactly 7 values (NONE..SHUTDOWN)",
            ));
        }
        for (i, &c) in self.severity_caps_ghz.iter().enumerate() {
            between(
                &format!("severity_caps_ghz[{i}]"),
                c,
                self.f_min_ghz,
                self.f_max_ghz,
            )?;
        }
        increasing("article_thresholds", &self.article_thresholds, 3, false)?;
        between("trip_c", self.trip_c, 40.0, 150.0)?;
        between(
            "ipa_control_c",
            self.ipa_control_c,
            self.ambient_c + 1.0,
            100.0,
        )?;
        between(
            "ipa_switch_on_c",
            self.ipa_switch_on_c,
            -20.0,
            self.ipa_control_c,
        )?;
        between(
            "hint_cap_ghz",
            self.hint_cap_ghz,
            self.f_min_ghz,
            self.f_max_ghz,
        )?;
        between(
            "sustained_cap_ghz",
            self.sustained_cap_ghz,
            self.f_min_ghz,
            self.f_max_ghz,
        )?;
        Ok(())
    }
}
