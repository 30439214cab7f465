//! The module graph and its tasks: generated with the measured shapes (a hub most modules use,
//! preferential attachment for the rest, an app module that aggregates), or read from an edge
//! list a build exports; then the KMP tasks per module and target with durations and output
//! sizes drawn once per replication.

use rand_distr::{Distribution, Poisson, StandardNormal};

use super::params::BuildCacheParams;
use crate::des::{Stream, uniform};
use crate::params::ParamsError;

/// KMP targets a module compiles for.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Target {
    /// Common (metadata) compilation.
    Common,
    /// Desktop JVM.
    Jvm,
    /// Android.
    Android,
    /// iOS (Kotlin/Native klib).
    Ios,
}

impl Target {
    pub(crate) const ALL: [Target; 4] = [Target::Common, Target::Jvm, Target::Android, Target::Ios];
}

/// What a task does, which decides its inputs.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Code generation (KSP/kapt, BuildConfig) from the module's sources.
    Gen,
    /// Compilation for a target; JVM-family classpaths by ABI, klibs by content.
    Compile(Target),
    /// Unit tests on a target: the full runtime classpath.
    Test(Target),
    /// The app's iOS framework link: every klib's content.
    Link,
    /// The app's Android packaging: every module's full classes.
    Package,
}

/// One cacheable task.
#[derive(Clone, Debug)]
pub(crate) struct Task {
    /// Its module.
    pub(crate) module: usize,
    /// What it does.
    pub(crate) kind: Kind,
    /// Execution time, s.
    pub(crate) duration_s: f64,
    /// Output entry size, MB.
    pub(crate) size_mb: f64,
    /// Its file inputs have no declared path sensitivity (the absolute-path killer).
    pub(crate) undeclared: bool,
    /// Tasks that must finish first (indices into the task list, all lower).
    pub(crate) after: Vec<usize>,
}

/// Modules (dependencies have lower indices), their tasks in a topological order, and the
/// roles the model needs.
#[derive(Clone, Debug)]
pub(crate) struct Graph {
    /// Module names.
    pub(crate) names: Vec<String>,
    /// Direct dependencies per module.
    #[cfg_attr(not(test), allow(dead_code))] // the graph's shape, checked by the tests
    pub(crate) deps: Vec<Vec<usize>>,
    /// Transitive dependencies per module, sorted.
    pub(crate) trans: Vec<Vec<usize>>,
    /// Modules running a nondeterministic-prone generator (KSP/kapt).
    pub(crate) codegen: Vec<bool>,
    /// The module holding BuildConfig.
    pub(crate) buildconfig: usize,
    /// The app module (most transitive dependencies).
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) app: usize,
    /// Tasks, each after the tasks it needs.
    pub(crate) tasks: Vec<Task>,
    /// Per module: index of its Gen task, if any.
    pub(crate) gen_task: Vec<Option<usize>>,
    /// Per module and target (`Target::ALL` order): its Compile task.
    pub(crate) compile_task: Vec<[usize; 4]>,
}

/// Reads `consumer dependency` lines into names and direct dependencies in topological order.
pub(crate) fn read_edges(
    text: &str,
    file: &str,
) -> Result<(Vec<String>, Vec<Vec<usize>>), ParamsError> {
    let mut names: Vec<String> = Vec::new();
    let mut index = std::collections::BTreeMap::new();
    let mut edges = Vec::new();
    let mut id = |n: &str, names: &mut Vec<String>| -> usize {
        *index.entry(n.to_string()).or_insert_with(|| {
            names.push(n.to_string());
            names.len() - 1
        })
    };
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let parts: Vec<&str> = line.split_whitespace().collect();
        match parts.as_slice() {
            [a] => {
                id(a, &mut names);
            }
            [a, b] => {
                let (a, b) = (id(a, &mut names), id(b, &mut names));
                if a != b {
                    edges.push((a, b));
                }
            }
            _ => {
                return Err(ParamsError::out_of_range(
                    "module_graph_file",
                    format!("{file}:{}: `{line}`", i + 1),
                    "one module, or `consumer dependency`, per line",
                ));
            }
        }
    }
    let n = names.len();
    if n < 2 {
        return Err(ParamsError::out_of_range(
            "module_graph_file",
            file,
            "a graph of at least 2 modules",
        ));
    }
    let mut deps = vec![Vec::new(); n];
    for &(a, b) in &edges {
        if !deps[a].contains(&b) {
            deps[a].push(b);
        }
    }
    // Kahn's algorithm: dependencies first, ties by first appearance.
    let mut pending: Vec<usize> = deps.iter().map(Vec::len).collect();
    let mut users = vec![Vec::new(); n];
    for (a, ds) in deps.iter().enumerate() {
        for &b in ds {
            users[b].push(a);
        }
    }
    let mut ready: std::collections::BTreeSet<usize> =
        (0..n).filter(|&m| pending[m] == 0).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(m) = ready.pop_first() {
        order.push(m);
        for &u in &users[m] {
            pending[u] -= 1;
            if pending[u] == 0 {
                ready.insert(u);
            }
        }
    }
    if order.len() < n {
        let stuck: Vec<&str> = (0..n)
            .filter(|&m| pending[m] > 0)
            .map(|m| names[m].as_str())
            .take(3)
            .collect();
        return Err(ParamsError::out_of_range(
            "module_graph_file",
            format!("{file}: a cycle through {}", stuck.join(", ")),
            "an acyclic module graph",
        ));
    }
    let mut pos = vec![0; n];
    for (i, &m) in order.iter().enumerate() {
        pos[m] = i;
    }
    let new_names = order.iter().map(|&m| names[m].clone()).collect();
    let new_deps = order
        .iter()
        .map(|&m| {
            let mut d: Vec<usize> = deps[m].iter().map(|&b| pos[b]).collect();
            d.sort_unstable();
            d
        })
        .collect();
    Ok((new_names, new_deps))
}

/// Generates a layered graph: module 0 is the hub, the last is the app, the rest attach to
/// earlier modules with preferential attachment (heavy-tailed fan-in).
// Modules are indices into several parallel vectors: indexing reads clearer than zips.
#[allow(clippy::needless_range_loop)]
pub(crate) fn generate_modules(p: &BuildCacheParams, rng: &mut Stream) -> Vec<Vec<usize>> {
    let n = p.modules as usize;
    let app = n - 1;
    let mut deps: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut fan_in = vec![0usize; n];
    let app_deps = ((p.app_fan_out_fraction * n as f64).round() as usize).clamp(1, n - 1);
    let hub_edges = p.hub_fan_in_fraction * n as f64;
    let others = (n.saturating_sub(2)).max(1) as f64;
    let rest_mean = ((p.fan_out_mean * n as f64 - app_deps as f64 - hub_edges) / others).max(0.0);
    for m in 1..app {
        if uniform(rng) < p.hub_fan_in_fraction {
            deps[m].push(0);
            fan_in[0] += 1;
        }
        let available = m - 1;
        if available == 0 || rest_mean <= 0.0 {
            continue;
        }
        let k = Poisson::new(rest_mean)
            .map(|d| d.sample(rng) as usize)
            .unwrap_or(0)
            .min(available);
        for _ in 0..k {
            let total: usize = (1..m).map(|j| fan_in[j] + 1).sum();
            let mut pick = (uniform(rng) * total as f64) as usize;
            let mut chosen = 1;
            for j in 1..m {
                let w = fan_in[j] + 1;
                if pick < w {
                    chosen = j;
                    break;
                }
                pick -= w;
            }
            if !deps[m].contains(&chosen) {
                deps[m].push(chosen);
                fan_in[chosen] += 1;
            }
        }
    }
    // The app aggregates: the hub and the most recent (feature-layer) modules.
    deps[app].push(0);
    let mut m = app;
    while deps[app].len() < app_deps && m > 1 {
        m -= 1;
        deps[app].push(m);
    }
    for d in &mut deps {
        d.sort_unstable();
    }
    deps
}

fn transitive(deps: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let mut trans: Vec<Vec<usize>> = Vec::with_capacity(deps.len());
    for ds in deps {
        let mut set = std::collections::BTreeSet::new();
        for &d in ds {
            set.insert(d);
            set.extend(trans[d].iter().copied());
        }
        trans.push(set.into_iter().collect());
    }
    trans
}

fn lognormal(rng: &mut Stream, median: f64, sigma: f64) -> f64 {
    let z: f64 = StandardNormal.sample(rng);
    median * (sigma * z).exp()
}

/// Builds the graph and its tasks.
pub(crate) fn build(
    p: &BuildCacheParams,
    edges: Option<(Vec<String>, Vec<Vec<usize>>)>,
    rng: &mut Stream,
) -> Graph {
    let (names, deps) = match edges {
        Some(e) => e,
        None => {
            let deps = generate_modules(p, rng);
            let n = deps.len();
            let names = (0..n)
                .map(|m| match m {
                    0 => "core-base".to_string(),
                    _ if m == n - 1 => "app".to_string(),
                    _ => format!("module-{m:03}"),
                })
                .collect();
            (names, deps)
        }
    };
    let n = deps.len();
    let trans = transitive(&deps);
    let mut dependents = vec![0usize; n];
    for t in &trans {
        for &d in t {
            dependents[d] += 1;
        }
    }
    let app = (0..n).max_by_key(|&m| (trans[m].len(), m)).unwrap_or(n - 1);
    // BuildConfig's place: rank 0 is the module with the most dependents, rank 1 the fewest.
    let mut by_dependents: Vec<usize> = (0..n).collect();
    by_dependents.sort_by_key(|&m| (std::cmp::Reverse(dependents[m]), m));
    let buildconfig = by_dependents[(p.buildconfig_module_rank * (n - 1) as f64).round() as usize];
    let codegen: Vec<bool> = (0..n)
        .map(|m| m != buildconfig && uniform(rng) < p.generated_fraction)
        .collect();

    let sigma_compile = (p.compile_p95_s / p.compile_median_s).ln() / 1.644_853_6;
    let mut tasks = Vec::new();
    let mut gen_task = vec![None; n];
    let mut compile_task = vec![[0usize; 4]; n];
    let undeclared = |rng: &mut Stream| uniform(rng) < p.absolute_path_task_fraction;
    for m in 0..n {
        let z: f64 = StandardNormal.sample(rng);
        let size = (p.module_size_sigma * z).exp();
        let compile_s = p.compile_median_s * (sigma_compile * z).exp();
        if codegen[m] || m == buildconfig {
            gen_task[m] = Some(tasks.len());
            tasks.push(Task {
                module: m,
                kind: Kind::Gen,
                duration_s: lognormal(rng, p.gen_median_s, 0.5),
                size_mb: p.gen_output_mb,
                undeclared: undeclared(rng),
                after: Vec::new(),
            });
        }
        for (i, t) in Target::ALL.into_iter().enumerate() {
            let factor = match t {
                Target::Common => p.common_compile_factor,
                Target::Ios => p.ios_compile_factor,
                _ => 1.0,
            };
            let mut after: Vec<usize> = deps[m].iter().map(|&d| compile_task[d][i]).collect();
            after.extend(gen_task[m]);
            compile_task[m][i] = tasks.len();
            tasks.push(Task {
                module: m,
                kind: Kind::Compile(t),
                duration_s: compile_s * factor,
                size_mb: p.compile_output_mb * size,
                undeclared: undeclared(rng),
                after,
            });
        }
        for (i, t) in [(1, Target::Jvm), (2, Target::Android)] {
            tasks.push(Task {
                module: m,
                kind: Kind::Test(t),
                duration_s: lognormal(rng, p.test_median_s, p.test_sigma),
                size_mb: p.test_output_mb,
                undeclared: undeclared(rng),
                after: vec![compile_task[m][i]],
            });
        }
    }
    let mut with_app: Vec<usize> = trans[app].clone();
    with_app.push(app);
    for (kind, i, s, mb) in [
        (Kind::Link, 3, p.link_s, p.link_output_mb),
        (Kind::Package, 2, p.package_s, p.package_output_mb),
    ] {
        tasks.push(Task {
            module: app,
            kind,
            duration_s: s,
            size_mb: mb,
            undeclared: undeclared(rng),
            after: with_app.iter().map(|&d| compile_task[d][i]).collect(),
        });
    }
    Graph {
        names,
        deps,
        trans,
        codegen,
        buildconfig,
        app,
        tasks,
        gen_task,
        compile_task,
    }
}
