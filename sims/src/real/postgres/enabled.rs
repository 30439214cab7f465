//! The PostgreSQL server, built with the `postgres` feature: the throwaway cluster or the
//! user's schema ([`Database`]), and [`run_kernel`], the lifecycle both PostgreSQL kernels share.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use tokio_postgres::{Client, Config, NoTls};

use crate::real::{KernelContext, KernelReport};

/// Where a PostgreSQL kernel will run (the user's `database_url`, or a throwaway cluster), or
/// why it cannot.
pub fn postgres_available(database_url: &str) -> Result<String, String> {
    if database_url.is_empty() {
        throwaway_available()
    } else {
        Ok("the server at real.database_url".into())
    }
}

/// Runs a PostgreSQL kernel's `experiments` from start to end: an async runtime (2 workers),
/// the server (`database_url`, or a throwaway cluster when empty; `tag` names the schema on a
/// user's server), the report's `server` and `database` entries, the experiments, and the
/// server released. A failed experiment keeps what was measured and says why in `not_run`.
pub fn run_kernel(
    database_url: &str,
    tag: &str,
    ctx: &KernelContext,
    experiments: impl AsyncFnOnce(&Database, &mut KernelReport) -> Result<(), String>,
) -> KernelReport {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return KernelReport::not_run(format!("cannot start an async runtime: {e}")),
    };
    (ctx.progress)("starting PostgreSQL");
    let url = (!database_url.is_empty()).then_some(database_url);
    let db = match Database::acquire(url, tag, &rt) {
        Ok(db) => db,
        Err(why) => return KernelReport::not_run(why),
    };
    let mut report = KernelReport::default();
    report
        .environment
        .insert("server".into(), db.version.clone());
    report
        .environment
        .insert("database".into(), db.description.clone());
    let result = rt.block_on(experiments(&db, &mut report));
    db.release(&rt);
    match result {
        Ok(()) => report,
        Err(why) => KernelReport {
            not_run: Some(format!("PostgreSQL experiment failed: {why}")),
            ..report
        },
    }
}

/// Throwaway clusters alive in this process: (bin dir, data dir, run-as user), for [`stop_all`].
static LIVE: Mutex<Vec<(PathBuf, PathBuf, Option<String>)>> = Mutex::new(Vec::new());

/// Where the kernel's tables live.
pub struct Database {
    config: Config,
    /// Server version string (`select version()`).
    pub version: String,
    /// `throwaway cluster` or `server at URL (schema S)`, for the report.
    pub description: String,
    owned: Owned,
}

enum Owned {
    Cluster {
        bin: PathBuf,
        dir: PathBuf,
        user: Option<String>,
    },
    Schema {
        name: String,
    },
}

impl Database {
    /// Connects to `url` when given (working in a new schema named after `tag`), otherwise
    /// starts a throwaway cluster. `Err` is the reason the kernel cannot run.
    pub fn acquire(
        url: Option<&str>,
        tag: &str,
        rt: &tokio::runtime::Runtime,
    ) -> Result<Database, String> {
        match url {
            Some(u) => Database::external(u, tag, rt),
            None => Database::throwaway(rt),
        }
    }

    fn external(url: &str, tag: &str, rt: &tokio::runtime::Runtime) -> Result<Database, String> {
        let mut config: Config = url
            .parse()
            .map_err(|e| format!("real.database_url is not a PostgreSQL URL: {e}"))?;
        let schema = format!("claimlab_{tag}_{}", std::process::id());
        let admin = config.clone();
        let version = rt.block_on(async {
            let c = connect_with(&admin).await?;
            c.batch_execute(&format!("CREATE SCHEMA {schema}"))
                .await
                .map_err(|e| format!("cannot create schema {schema}: {e}"))?;
            version_of(&c).await
        })?;
        // Every connection sees only the kernel's schema first.
        config.options(format!("-c search_path={schema}"));
        let host = describe_hosts(&config);
        Ok(Database {
            config,
            version,
            description: format!("server at {host} (schema {schema}, dropped afterwards)"),
            owned: Owned::Schema { name: schema },
        })
    }

    fn throwaway(rt: &tokio::runtime::Runtime) -> Result<Database, String> {
        // A run killed with -9 leaves its cluster running: stop it before starting another.
        for line in reap_stale() {
            eprintln!("removed a stale throwaway cluster: {line}");
        }
        let bin = find_bin_dir().ok_or_else(|| {
            "no PostgreSQL server binaries (initdb, pg_ctl) found on PATH or in \
             /usr/lib/postgresql/*/bin; install Debian's `postgresql` or set \
             real.database_url"
                .to_string()
        })?;
        let user = if running_as_root() {
            if !user_exists("postgres") {
                return Err(
                    "running as root and no `postgres` OS user to run the server as \
                            (initdb refuses root); install Debian's `postgresql`"
                        .into(),
                );
            }
            Some("postgres".to_string())
        } else {
            None
        };
        let dir =
            std::env::temp_dir().join(format!("claimlab-pg-{}-{}", std::process::id(), unique()));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        if let Some(u) = &user {
            chown(&dir, u)?;
        }
        LIVE.lock().unwrap_or_else(|e| e.into_inner()).push((
            bin.clone(),
            dir.clone(),
            user.clone(),
        ));
        // From here on, dropping `db` stops and removes whatever was started.
        let db_owned = Owned::Cluster {
            bin: bin.clone(),
            dir: dir.clone(),
            user: user.clone(),
        };
        let port = free_port();
        let mut config = Config::new();
        config
            .host_path(&dir)
            .port(port)
            .user("postgres")
            .dbname("postgres")
            .connect_timeout(Duration::from_secs(10));
        let mut db = Database {
            config,
            version: String::new(),
            description: String::new(),
            owned: db_owned,
        };
        let data = dir.join("data");
        run_pg(
            &bin,
            "initdb",
            user.as_deref(),
            &[
                "-D",
                &data.to_string_lossy(),
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ],
        )?;
        let conf = "\n# claimlab throwaway cluster\nshared_buffers = '256MB'\nmax_wal_size = '4GB'\n\
                    max_connections = 200\nlisten_addresses = ''\n";
        append(&data.join("postgresql.conf"), conf)?;
        let opts = format!("-p {port} -k {}", dir.display());
        run_pg(
            &bin,
            "pg_ctl",
            user.as_deref(),
            &[
                "-D",
                &data.to_string_lossy(),
                "-l",
                &dir.join("server.log").to_string_lossy(),
                "-w",
                "-t",
                "60",
                "-o",
                &opts,
                "start",
            ],
        )
        .map_err(|e| {
            let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
            format!("{e}; server log: {}", log.lines().last().unwrap_or(""))
        })?;
        db.version = rt.block_on(async { version_of(&connect_with(&db.config).await?).await })?;
        db.description = format!(
            "throwaway cluster in {} (port {port}, unix socket only)",
            dir.display()
        );
        Ok(db)
    }

    /// A new connection (its driver task runs on the current tokio runtime).
    pub async fn connect(&self) -> Result<Client, String> {
        connect_with(&self.config).await
    }

    /// The server's data directory size is not visible for external servers; WAL position is.
    pub fn is_throwaway(&self) -> bool {
        matches!(self.owned, Owned::Cluster { .. })
    }

    /// Releases the server: drops the schema, or stops the cluster and removes its directory.
    pub fn release(mut self, rt: &tokio::runtime::Runtime) {
        self.release_inner(Some(rt));
    }

    fn release_inner(&mut self, rt: Option<&tokio::runtime::Runtime>) {
        match std::mem::replace(
            &mut self.owned,
            Owned::Schema {
                name: String::new(),
            },
        ) {
            Owned::Cluster { bin, dir, user } => {
                stop_cluster(&bin, &dir, user.as_deref());
                LIVE.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .retain(|(_, d, _)| d != &dir);
            }
            Owned::Schema { name } if !name.is_empty() => {
                let drop_it = async {
                    let mut cfg = self.config.clone();
                    cfg.options("");
                    if let Ok(c) = connect_with(&cfg).await {
                        let _ = c
                            .batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
                            .await;
                    }
                };
                match rt {
                    Some(rt) => rt.block_on(drop_it),
                    None => {
                        if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                            .enable_all()
                            .build()
                        {
                            rt.block_on(drop_it);
                        }
                    }
                }
            }
            Owned::Schema { .. } => {}
        }
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        self.release_inner(None);
    }
}

/// Stops every throwaway cluster this process started (for a Ctrl-C handler); returns how
/// many.
pub fn stop_all() -> usize {
    let live = std::mem::take(&mut *LIVE.lock().unwrap_or_else(|e| e.into_inner()));
    let n = live.len();
    for (bin, dir, user) in live {
        stop_cluster(&bin, &dir, user.as_deref());
    }
    n
}

/// Throwaway clusters left by runs that died without cleaning up (`kill -9`): the owner pid in
/// the directory's name (`claimlab-pg-<pid>-<n>`) no longer runs. Stops a server still running
/// there (its `postmaster.pid` must name this data directory, so a reused pid is never
/// touched) and removes the directory. Returns one line per cluster reaped.
pub fn reap_stale() -> Vec<String> {
    let mut reaped = Vec::new();
    let Ok(rd) = std::fs::read_dir(std::env::temp_dir()) else {
        return reaped;
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(owner) = name
            .strip_prefix("claimlab-pg-")
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if owner == std::process::id() || crate::real::process_alive(owner) {
            continue;
        }
        let dir = e.path();
        let data = dir.join("data");
        let pid_file = std::fs::read_to_string(data.join("postmaster.pid")).unwrap_or_default();
        let mut lines = pid_file.lines();
        let server = lines.next().and_then(|l| l.trim().parse::<u32>().ok());
        let ours = lines.next().is_some_and(|d| Path::new(d.trim()) == data);
        let mut what = String::new();
        if let (Some(pm), true) = (server, ours)
            && crate::real::process_alive(pm)
        {
            if let Some(bin) = find_bin_dir() {
                let user = running_as_root().then_some("postgres");
                let d = data.to_string_lossy();
                let _ = run_pg(
                    &bin,
                    "pg_ctl",
                    user,
                    &["-D", &d, "-m", "immediate", "-w", "stop"],
                );
            }
            what = format!(", stopped its server (pid {pm})");
        }
        let _ = std::fs::remove_dir_all(&dir);
        reaped.push(format!("{} (owner pid {owner} gone){what}", dir.display()));
    }
    reaped
}

/// Whether a throwaway cluster could be started here, or why not (no side effects).
pub fn throwaway_available() -> Result<String, String> {
    let bin = find_bin_dir().ok_or("no PostgreSQL server binaries (initdb, pg_ctl) found")?;
    if running_as_root() && !user_exists("postgres") {
        return Err("running as root and no `postgres` OS user to run the server as".into());
    }
    let version = Command::new(bin.join("postgres"))
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    Ok(format!("{version} ({})", bin.display()))
}

/// Stops a cluster and removes its directory. An interrupt can land while `initdb` or
/// `pg_ctl start` is still writing there (a server appearing, files created while the tree is
/// removed): so look again, for a second at most, until the directory is gone.
fn stop_cluster(bin: &Path, dir: &Path, user: Option<&str>) {
    let data = dir.join("data");
    for _ in 0..10 {
        if data.join("postmaster.pid").exists() {
            let _ = run_pg(
                bin,
                "pg_ctl",
                user,
                &[
                    "-D",
                    &data.to_string_lossy(),
                    "-m",
                    "immediate",
                    "-w",
                    "stop",
                ],
            );
        }
        let _ = std::fs::remove_dir_all(dir);
        if !dir.exists() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

async fn connect_with(config: &Config) -> Result<Client, String> {
    let (client, conn) = config
        .connect(NoTls)
        .await
        .map_err(|e| format!("cannot connect to PostgreSQL: {e}"))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(client)
}

async fn version_of(c: &Client) -> Result<String, String> {
    let row = c
        .query_one("select version()", &[])
        .await
        .map_err(|e| format!("select version(): {e}"))?;
    Ok(row.get::<_, String>(0))
}

fn describe_hosts(config: &Config) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(s) => s.clone(),
            tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
        })
        .collect();
    hosts.join(",")
}

/// `initdb` and `pg_ctl`: from PATH, else Debian's versioned directory (newest first).
fn find_bin_dir() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("PG_BIN") {
        let p = PathBuf::from(p);
        if p.join("initdb").is_file() {
            return Some(p);
        }
    }
    if let Some(path) = std::env::var_os("PATH") {
        for d in std::env::split_paths(&path) {
            if d.join("initdb").is_file() && d.join("pg_ctl").is_file() {
                return Some(d);
            }
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|e| {
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, b)| b)
}

fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|e| e == "0"))
        })
        .unwrap_or(false)
}

fn user_exists(name: &str) -> bool {
    std::fs::read_to_string("/etc/passwd")
        .map(|s| s.lines().any(|l| l.split(':').next() == Some(name)))
        .unwrap_or(false)
}

fn chown(dir: &Path, user: &str) -> Result<(), String> {
    let st = Command::new("chown")
        .arg(user)
        .arg(dir)
        .status()
        .map_err(|e| format!("chown: {e}"))?;
    if st.success() {
        Ok(())
    } else {
        Err(format!("chown {user} {} failed", dir.display()))
    }
}

fn append(path: &Path, text: &str) -> Result<(), String> {
    use std::io::Write;
    std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// Runs a server binary, as `user` through `runuser` when given.
fn run_pg(bin: &Path, tool: &str, user: Option<&str>, args: &[&str]) -> Result<(), String> {
    let exe = bin.join(tool);
    let mut cmd = match user {
        Some(u) => {
            let mut c = Command::new("runuser");
            c.args(["-u", u, "--"]).arg(&exe);
            c
        }
        None => Command::new(&exe),
    };
    // The server must not inherit our terminal's process group: Ctrl-C is ours to handle.
    cmd.args(args).stdin(std::process::Stdio::null());
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {}: {e}", exe.display()))?;
    if out.status.success() {
        Ok(())
    } else {
        let err = String::from_utf8_lossy(&out.stderr);
        Err(format!(
            "{tool} failed ({}): {}",
            out.status,
            err.lines().last().unwrap_or("").trim()
        ))
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(54329)
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}
