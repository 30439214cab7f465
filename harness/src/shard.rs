//! Which part of a sweep this process runs: `--shard I/N`, or the environment of the engine that
//! started it (`LAB_SHARD=I/N`, a Kubernetes Indexed Job's `JOB_COMPLETION_INDEX`, a Slurm job
//! array's `SLURM_ARRAY_TASK_*`). A shard is a set of run units (point x replication): unit `k`
//! of a scenario, counted in (point, replication) order, belongs to shard `k mod N + 1`, so a
//! sweep of few points with many replications spreads as well as one of many points.

/// `--shard I/N`: this process runs the units with `k % N == I - 1` (1-based `I`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Shard {
    /// `I`, 1-based.
    pub index: u32,
    /// `N`.
    pub count: u32,
}

impl std::str::FromStr for Shard {
    type Err = String;

    /// Parses `I/N` with 1 ≤ I ≤ N.
    fn from_str(s: &str) -> Result<Shard, String> {
        let bad = || "expected I/N with 1 ≤ I ≤ N (1-based), e.g. --shard 1/4".to_string();
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let index: u32 = i.trim().parse().map_err(|_| bad())?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// Whether this shard runs unit number `unit` (the unit's position in (point,
    /// replication) order over the whole scenario).
    pub fn takes(&self, unit: usize) -> bool {
        unit as u64 % self.count as u64 == (self.index - 1) as u64
    }

    /// Whether this is a real part of a sweep (`N > 1`), whose verdicts wait for `lab merge`.
    pub fn is_partial(&self) -> bool {
        self.count > 1
    }
}

/// The environment variables read, in the order they are checked.
pub const ENV_VARS: [&str; 8] = [
    "LAB_SHARD",
    "JOB_COMPLETION_INDEX",
    "LAB_SHARD_COUNT",
    "SLURM_ARRAY_TASK_ID",
    "SLURM_ARRAY_TASK_COUNT",
    "SLURM_ARRAY_TASK_MIN",
    "SLURM_ARRAY_TASK_MAX",
    "SLURM_ARRAY_TASK_STEP",
];

/// The shard to run: `--shard` if given (it beats the environment), else the one the
/// environment names. `count_flag` is `--shard-count` (the count for `JOB_COMPLETION_INDEX`).
/// Two sources that name different shards, or a malformed value, are an error naming them.
pub fn resolve(
    flag: Option<Shard>,
    count_flag: Option<u32>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Shard>, String> {
    let env = |k: &str| env(k).filter(|v| !v.trim().is_empty());
    if count_flag == Some(0) {
        return Err("--shard-count: expected a count ≥ 1".into());
    }
    if let Some(s) = flag {
        if let Some(n) = count_flag
            && n != s.count
        {
            return Err(format!(
                "--shard {s} and --shard-count {n} disagree on the number of shards"
            ));
        }
        return Ok(Some(s));
    }
    let mut found: Vec<(String, Shard)> = Vec::new();
    if let Some(v) = env("LAB_SHARD") {
        let s = v
            .parse::<Shard>()
            .map_err(|e| format!("LAB_SHARD={v}: {e}"))?;
        found.push((format!("LAB_SHARD={v}"), s));
    }
    if let Some(v) = env("JOB_COMPLETION_INDEX") {
        found.push(kubernetes(&v, count_flag, env("LAB_SHARD_COUNT"))?);
    }
    if let Some(v) = env("SLURM_ARRAY_TASK_ID") {
        found.push(slurm(&v, &env)?);
    }
    if let Some(((a, sa), (b, sb))) = found
        .iter()
        .zip(found.iter().skip(1))
        .find(|((_, x), (_, y))| x != y)
    {
        return Err(format!(
            "the environment names two different shards: {a} says {sa}, {b} says {sb}; \
             unset one, or pass --shard I/N (it beats the environment)"
        ));
    }
    let chosen = found.first().map(|(_, s)| *s);
    if let (Some(s), Some(n)) = (chosen, count_flag)
        && s.count != n
    {
        return Err(format!(
            "--shard-count {n} disagrees with the environment's shard {s} ({})",
            found[0].0
        ));
    }
    if chosen.is_none() && count_flag.is_some() {
        return Err(
            "--shard-count needs JOB_COMPLETION_INDEX in the environment (a Kubernetes Indexed \
             Job sets it); use --shard I/N elsewhere"
                .into(),
        );
    }
    Ok(chosen)
}

/// A Kubernetes Indexed Job's pod: `JOB_COMPLETION_INDEX` (0-based) of `--shard-count` or
/// `LAB_SHARD_COUNT`.
fn kubernetes(
    index: &str,
    count_flag: Option<u32>,
    count_env: Option<String>,
) -> Result<(String, Shard), String> {
    let i: u32 = index.trim().parse().map_err(|_| {
        format!("JOB_COMPLETION_INDEX={index}: expected a whole number ≥ 0 (0-based)")
    })?;
    let env_count = match &count_env {
        Some(c) => Some(
            c.trim()
                .parse::<u32>()
                .ok()
                .filter(|&n| n > 0)
                .ok_or_else(|| format!("LAB_SHARD_COUNT={c}: expected a whole number ≥ 1"))?,
        ),
        None => None,
    };
    let n = match (count_flag, env_count) {
        (Some(f), Some(e)) if f != e => {
            return Err(format!(
                "--shard-count {f} and LAB_SHARD_COUNT={e} disagree; the flag is for \
                 JOB_COMPLETION_INDEX, set one of them"
            ));
        }
        (Some(n), _) | (None, Some(n)) => n,
        (None, None) => {
            return Err(format!(
                "JOB_COMPLETION_INDEX={i} is set but not the number of shards: pass \
                 --shard-count N or set LAB_SHARD_COUNT (the Job's completions)"
            ));
        }
    };
    if i >= n {
        return Err(format!(
            "JOB_COMPLETION_INDEX={i} is out of range for {n} shards (0-based: 0..={})",
            n - 1
        ));
    }
    Ok((
        format!("JOB_COMPLETION_INDEX={i} of {n}"),
        Shard {
            index: i + 1,
            count: n,
        },
    ))
}

/// A Slurm array task: `SLURM_ARRAY_TASK_ID` placed by `SLURM_ARRAY_TASK_MIN` (default 0) and
/// `_STEP` (default 1) among `SLURM_ARRAY_TASK_COUNT` tasks (or MIN..=MAX). Sparse index lists
/// (`--array=1,4,9`) are refused: their count and range disagree.
fn slurm(id: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<(String, Shard), String> {
    let num = |k: &str| -> Result<Option<u64>, String> {
        match env(k) {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse::<u64>()
                .map(Some)
                .map_err(|_| format!("{k}={v}: expected a whole number")),
        }
    };
    let task = num("SLURM_ARRAY_TASK_ID")?.ok_or_else(|| format!("SLURM_ARRAY_TASK_ID={id}"))?;
    let min = num("SLURM_ARRAY_TASK_MIN")?;
    let max = num("SLURM_ARRAY_TASK_MAX")?;
    let step = num("SLURM_ARRAY_TASK_STEP")?.unwrap_or(1);
    let count = num("SLURM_ARRAY_TASK_COUNT")?;
    if step == 0 {
        return Err("SLURM_ARRAY_TASK_STEP=0: expected a step ≥ 1".into());
    }
    let lo = min.unwrap_or(0);
    let span = match (min, max) {
        (Some(a), Some(b)) if b >= a => Some((b - a) / step + 1),
        (Some(a), Some(b)) => {
            return Err(format!(
                "SLURM_ARRAY_TASK_MIN={a} is above SLURM_ARRAY_TASK_MAX={b}"
            ));
        }
        _ => None,
    };
    let n = match (count, span) {
        (Some(c), Some(s)) if c != s => {
            return Err(format!(
                "SLURM_ARRAY_TASK_COUNT={c} but MIN..MAX step {step} spans {s} tasks: a sparse \
                 --array list cannot name shards; use a range such as --array=1-{c}"
            ));
        }
        (Some(c), _) => c,
        (None, Some(s)) => s,
        (None, None) => {
            return Err(format!(
                "SLURM_ARRAY_TASK_ID={task} is set but neither SLURM_ARRAY_TASK_COUNT nor \
                 SLURM_ARRAY_TASK_MIN/MAX: cannot tell the number of shards"
            ));
        }
    };
    if task < lo || (task - lo) % step != 0 || (task - lo) / step >= n {
        return Err(format!(
            "SLURM_ARRAY_TASK_ID={task} is not one of {n} tasks from {lo} in steps of {step}"
        ));
    }
    let index = (task - lo) / step + 1;
    let (index, count) = (
        u32::try_from(index).map_err(|_| "too many array tasks".to_string())?,
        u32::try_from(n).map_err(|_| "too many array tasks".to_string())?,
    );
    Ok((
        format!("SLURM_ARRAY_TASK_ID={task} of {n}"),
        Shard { index, count },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let v: Vec<(String, String)> = pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        move |k: &str| v.iter().find(|(a, _)| a == k).map(|(_, b)| b.clone())
    }

    fn s(index: u32, count: u32) -> Option<Shard> {
        Some(Shard { index, count })
    }

    #[test]
    fn shards_partition_units() {
        let all: Vec<Shard> = (1..=3).map(|i| Shard { index: i, count: 3 }).collect();
        for u in 0..10 {
            assert_eq!(all.iter().filter(|s| s.takes(u)).count(), 1);
        }
        assert!("0/3".parse::<Shard>().is_err());
        assert!("4/3".parse::<Shard>().is_err());
        assert!("x".parse::<Shard>().is_err());
        assert_eq!(
            "2/3".parse::<Shard>().unwrap(),
            Shard { index: 2, count: 3 }
        );
        assert_eq!(Shard { index: 2, count: 3 }.to_string(), "2/3");
    }

    #[test]
    fn no_source_means_the_whole_sweep() {
        assert_eq!(resolve(None, None, &env_of(&[])), Ok(None));
        // Empty values are unset (a template that left them blank).
        assert_eq!(
            resolve(None, None, &env_of(&[("LAB_SHARD", " ")])),
            Ok(None)
        );
    }

    #[test]
    fn lab_shard_from_the_environment() {
        assert_eq!(
            resolve(None, None, &env_of(&[("LAB_SHARD", "2/5")])),
            Ok(s(2, 5))
        );
        let e = resolve(None, None, &env_of(&[("LAB_SHARD", "6/5")])).unwrap_err();
        assert!(
            e.contains("LAB_SHARD=6/5") && e.contains("1 ≤ I ≤ N"),
            "{e}"
        );
    }

    #[test]
    fn the_flag_beats_the_environment() {
        let env = env_of(&[("LAB_SHARD", "2/5"), ("SLURM_ARRAY_TASK_ID", "x")]);
        assert_eq!(resolve(s(1, 2), None, &env), Ok(s(1, 2)));
        let e = resolve(s(1, 2), Some(3), &env).unwrap_err();
        assert!(e.contains("disagree"), "{e}");
    }

    #[test]
    fn kubernetes_indexed_job() {
        let env = env_of(&[("JOB_COMPLETION_INDEX", "0"), ("LAB_SHARD_COUNT", "4")]);
        assert_eq!(resolve(None, None, &env), Ok(s(1, 4)));
        let env = env_of(&[("JOB_COMPLETION_INDEX", "3")]);
        assert_eq!(resolve(None, Some(4), &env), Ok(s(4, 4)));
        let e = resolve(None, None, &env).unwrap_err();
        assert!(
            e.contains("--shard-count") && e.contains("LAB_SHARD_COUNT"),
            "{e}"
        );
        let e = resolve(None, Some(3), &env).unwrap_err();
        assert!(e.contains("out of range"), "{e}");
        let env = env_of(&[("JOB_COMPLETION_INDEX", "1"), ("LAB_SHARD_COUNT", "4")]);
        assert!(
            resolve(None, Some(5), &env)
                .unwrap_err()
                .contains("disagree")
        );
        let env = env_of(&[("JOB_COMPLETION_INDEX", "-1"), ("LAB_SHARD_COUNT", "4")]);
        assert!(resolve(None, None, &env).unwrap_err().contains("0-based"));
        let env = env_of(&[("JOB_COMPLETION_INDEX", "1"), ("LAB_SHARD_COUNT", "0")]);
        assert!(
            resolve(None, None, &env)
                .unwrap_err()
                .contains("LAB_SHARD_COUNT=0")
        );
        // --shard-count alone, outside an Indexed Job.
        assert!(resolve(None, Some(2), &env_of(&[])).is_err());
    }

    #[test]
    fn slurm_array() {
        // --array=1-4: IDs 1..=4.
        let env = env_of(&[
            ("SLURM_ARRAY_TASK_ID", "3"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_MAX", "4"),
        ]);
        assert_eq!(resolve(None, None, &env), Ok(s(3, 4)));
        // --array=0-7, count only.
        let env = env_of(&[
            ("SLURM_ARRAY_TASK_ID", "0"),
            ("SLURM_ARRAY_TASK_COUNT", "8"),
        ]);
        assert_eq!(resolve(None, None, &env), Ok(s(1, 8)));
        // MIN/MAX only.
        let env = env_of(&[
            ("SLURM_ARRAY_TASK_ID", "12"),
            ("SLURM_ARRAY_TASK_MIN", "10"),
            ("SLURM_ARRAY_TASK_MAX", "13"),
        ]);
        assert_eq!(resolve(None, None, &env), Ok(s(3, 4)));
        // --array=0-12:4 → IDs 0, 4, 8, 12.
        let env = env_of(&[
            ("SLURM_ARRAY_TASK_ID", "8"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
            ("SLURM_ARRAY_TASK_MIN", "0"),
            ("SLURM_ARRAY_TASK_MAX", "12"),
            ("SLURM_ARRAY_TASK_STEP", "4"),
        ]);
        assert_eq!(resolve(None, None, &env), Ok(s(3, 4)));
        // --array=1,4,9: sparse.
        let env = env_of(&[
            ("SLURM_ARRAY_TASK_ID", "4"),
            ("SLURM_ARRAY_TASK_COUNT", "3"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_MAX", "9"),
        ]);
        assert!(resolve(None, None, &env).unwrap_err().contains("sparse"));
        let env = env_of(&[("SLURM_ARRAY_TASK_ID", "2")]);
        assert!(
            resolve(None, None, &env)
                .unwrap_err()
                .contains("number of shards")
        );
        let env = env_of(&[
            ("SLURM_ARRAY_TASK_ID", "9"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ]);
        assert!(
            resolve(None, None, &env)
                .unwrap_err()
                .contains("not one of 4")
        );
        let env = env_of(&[
            ("SLURM_ARRAY_TASK_ID", "a"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ]);
        assert!(
            resolve(None, None, &env)
                .unwrap_err()
                .contains("whole number")
        );
    }

    #[test]
    fn contradictory_sources_are_an_error_and_agreeing_ones_are_fine() {
        let env = env_of(&[
            ("LAB_SHARD", "1/4"),
            ("SLURM_ARRAY_TASK_ID", "2"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ]);
        let e = resolve(None, None, &env).unwrap_err();
        assert!(
            e.contains("LAB_SHARD=1/4") && e.contains("SLURM_ARRAY_TASK_ID=2"),
            "{e}"
        );
        let env = env_of(&[
            ("LAB_SHARD", "3/4"),
            ("SLURM_ARRAY_TASK_ID", "2"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ]);
        assert_eq!(resolve(None, None, &env), Ok(s(3, 4)));
    }
}
