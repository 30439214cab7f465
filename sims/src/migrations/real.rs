//! The `pg_migrations` kernel: both procedures against a real PostgreSQL under an open-loop
//! application workload.
//!
//! - Builds and fills `orders` (`id serial PRIMARY KEY`, amount, region, updated_at).
//! - Drives a fixed request rate (reads, updates, inserts; prepared statements on a pool of
//!   connections; latency from each request's scheduled send time, so no coordinated omission;
//!   a client timeout equal to the statement timeout).
//! - Rewrite: `ALTER TABLE orders ALTER COLUMN id TYPE bigint` while the load runs.
//! - Ghost table: a name-keyed advisory lock, a shadow table, a sync trigger upserting with
//!   `ON CONFLICT`, a batched backfill with `ON CONFLICT DO NOTHING` (never overwriting newer
//!   rows), verification, a swap by rename under `lock_timeout` with retries, and a row-for-row
//!   check after the swap.
//! - The safety properties, by doing them: a second worker blocks on the advisory lock and its
//!   try-lock returns false while the application runs; a migration session killed mid-backfill
//!   leaves the original table unchanged. And the pitfalls: the serial's sequence stays 32-bit
//!   after the ALTER, prepared statements fail (SQLSTATE 0A000) after the type changes, and an
//!   advisory key built from the table's OID changes at the swap.

use serde::{Deserialize, Serialize};

use crate::params::{self, ParamsError};
use crate::real::{Kernel, KernelContext, KernelReport};

/// The `[real]` table of a migrations scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RealParams {
    /// The user's server (`postgres://...`); empty: a throwaway cluster.
    pub database_url: String,
    /// Rows in `orders`.
    pub rows: u64,
    /// Application requests per second (open loop).
    pub rate_rps: f64,
    /// Share of reads (by primary key) and of updates; inserts are the rest.
    pub read_fraction: f64,
    pub update_fraction: f64,
    /// Application connections, a pool: a request waits for a free one.
    pub connections: u32,
    /// Client timeout and statement timeout, ms.
    pub client_timeout_ms: f64,
    /// Ghost backfill batch, rows.
    pub batch_size: u64,
    /// Ghost backfill sleep between batches, ms.
    pub throttle_ms: f64,
    /// Load before each migration (the baseline window), s.
    pub baseline_s: f64,
    /// Load after each migration, s.
    pub after_s: f64,
}

impl Default for RealParams {
    fn default() -> Self {
        RealParams {
            database_url: String::new(),
            rows: 1_000_000,
            rate_rps: 300.0,
            read_fraction: 0.70,
            update_fraction: 0.25,
            connections: 16,
            client_timeout_ms: 2000.0,
            batch_size: 25_000,
            throttle_ms: 100.0,
            baseline_s: 10.0,
            after_s: 8.0,
        }
    }
}

impl RealParams {
    fn from_table(t: &toml::Table) -> Result<RealParams, ParamsError> {
        let p: RealParams = params::parse(t)?;
        if !(1000..=100_000_000).contains(&p.rows) {
            return Err(ParamsError::out_of_range(
                "rows",
                p.rows,
                "1,000 to 100 million rows",
            ));
        }
        if !(p.rate_rps > 0.0 && p.rate_rps <= 20_000.0) {
            return Err(ParamsError::out_of_range(
                "rate_rps",
                p.rate_rps,
                "> 0 and at most 20,000 requests/s",
            ));
        }
        params::require_probability("read_fraction", p.read_fraction)?;
        params::require_probability("update_fraction", p.update_fraction)?;
        if p.read_fraction + p.update_fraction > 1.0 {
            return Err(ParamsError::out_of_range(
                "update_fraction",
                p.update_fraction,
                "read_fraction + update_fraction ≤ 1",
            ));
        }
        if !(1..=150).contains(&p.connections) {
            return Err(ParamsError::out_of_range(
                "connections",
                p.connections,
                "1 to 150",
            ));
        }
        if !(10.0..=600_000.0).contains(&p.client_timeout_ms) {
            return Err(ParamsError::out_of_range(
                "client_timeout_ms",
                p.client_timeout_ms,
                "10 ms to 10 minutes",
            ));
        }
        if p.batch_size == 0 || p.batch_size > p.rows {
            return Err(ParamsError::out_of_range(
                "batch_size",
                p.batch_size,
                "1 to `rows`",
            ));
        }
        params::require_non_negative("throttle_ms", p.throttle_ms)?;
        for (n, v) in [("baseline_s", p.baseline_s), ("after_s", p.after_s)] {
            if !(1.0..=3600.0).contains(&v) {
                return Err(ParamsError::out_of_range(n, v, "1 s to 1 hour"));
            }
        }
        Ok(p)
    }

    /// The smaller run `--quick` asks for.
    fn quick(mut self) -> RealParams {
        self.rows = self.rows.min(200_000);
        self.batch_size = self.batch_size.min(self.rows);
        self.baseline_s = self.baseline_s.min(4.0);
        self.after_s = self.after_s.min(3.0);
        self
    }
}

/// The registered kernel.
#[derive(Debug, Clone, Copy)]
pub struct PgMigrations;

impl Kernel for PgMigrations {
    fn name(&self) -> &'static str {
        "pg_migrations"
    }

    fn description(&self) -> &'static str {
        "ALTER COLUMN TYPE rewrite and the ghost-table procedure on a real PostgreSQL under load, \
         with the advisory-lock, abort and pitfall checks"
    }

    fn check(&self, real: &toml::Table) -> Result<toml::Table, ParamsError> {
        Ok(params::to_table(&RealParams::from_table(real)?))
    }

    fn available(&self, real: &toml::Table) -> Result<String, String> {
        let p = RealParams::from_table(real).map_err(|e| e.to_string())?;
        crate::real::postgres_available(&p.database_url)
    }

    fn run(&self, real: &toml::Table, ctx: &KernelContext) -> KernelReport {
        let p = match RealParams::from_table(real) {
            Ok(p) => p,
            Err(e) => return KernelReport::not_run(e.to_string()),
        };
        let p = if ctx.quick { p.quick() } else { p };
        #[cfg(feature = "postgres")]
        return pg::run(&p, ctx);
        #[cfg(not(feature = "postgres"))]
        {
            let _ = (p, ctx);
            KernelReport::not_run(crate::real::POSTGRES_NOT_BUILT)
        }
    }
}

#[cfg(feature = "postgres")]
mod pg {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant};

    use tokio::sync::RwLock;
    use tokio_postgres::{Client, Statement};

    use super::RealParams;
    use crate::des::{RngStreams, Stream, uniform};
    use crate::real::postgres::Database;
    use crate::real::{KernelContext, KernelReport, RealSeries};

    type E = String;

    fn e(err: tokio_postgres::Error) -> E {
        match err.as_db_error() {
            Some(db) => format!("{} ({})", db.message(), db.code().code()),
            None => err.to_string(),
        }
    }

    /// Advisory key by name: stable across the swap (an OID-based key is not).
    const LOCK_KEY: &str = "hashtext('claimlab_migrations'), hashtext('orders')";

    pub(super) fn run(p: &RealParams, ctx: &KernelContext) -> KernelReport {
        let rt = match tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(err) => {
                return KernelReport::not_run(format!("cannot start an async runtime: {err}"));
            }
        };
        (ctx.progress)("starting PostgreSQL");
        let url = (!p.database_url.is_empty()).then_some(p.database_url.as_str());
        let db = match Database::acquire(url, "migrations", &rt) {
            Ok(db) => db,
            Err(why) => return KernelReport::not_run(why),
        };
        let mut r = KernelReport::default();
        r.environment.insert("server".into(), db.version.clone());
        r.environment
            .insert("database".into(), db.description.clone());
        r.environment.insert(
            "workload".into(),
            format!(
                "{} rows; {} req/s open loop ({:.0}% reads, {:.0}% updates, {:.0}% inserts) over {} connections; {} ms timeout",
                p.rows,
                p.rate_rps,
                p.read_fraction * 100.0,
                p.update_fraction * 100.0,
                (1.0 - p.read_fraction - p.update_fraction) * 100.0,
                p.connections,
                p.client_timeout_ms
            ),
        );
        let result = rt.block_on(experiments(&db, p, ctx, &mut r));
        db.release(&rt);
        match result {
            Ok(()) => r,
            Err(why) => KernelReport {
                not_run: Some(format!("PostgreSQL experiment failed: {why}")),
                ..r
            },
        }
    }

    async fn experiments(
        db: &Database,
        p: &RealParams,
        ctx: &KernelContext<'_>,
        r: &mut KernelReport,
    ) -> Result<(), E> {
        let admin = db.connect().await?;
        let mut rng = RngStreams::new(ctx.seed, 0, 0).stream("pg_migrations");
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        r.environment.insert(
            "cpus".into(),
            format!("{cores} (shared by the server, the load generator and the lab)"),
        );
        let mut series = Vec::new();

        // 1. A migration session killed mid-backfill (no load, so the table must not change).
        (ctx.progress)(&format!("building orders ({} rows)", p.rows));
        build_orders(&admin, p.rows).await?;
        (ctx.progress)("aborted backfill");
        abort_demo(db, &admin, p, r).await?;

        // 2. The rewrite under load.
        (ctx.progress)(&format!("rebuilding orders ({} rows)", p.rows));
        build_orders(&admin, p.rows).await?;
        let load = Load::start(db, p, rng_fork(&mut rng)).await?;
        tokio::time::sleep(Duration::from_secs_f64(p.baseline_s)).await;
        (ctx.progress)("ALTER COLUMN id TYPE bigint under load");
        let wal0 = wal_lsn(&admin).await?;
        let t0 = load.now();
        let started = Instant::now();
        admin
            .batch_execute("ALTER TABLE orders ALTER COLUMN id TYPE bigint")
            .await
            .map_err(e)?;
        let hold = started.elapsed().as_secs_f64();
        let t1 = load.now();
        let wal = wal_bytes_since(&admin, &wal0).await?;
        let seq_max: i64 = admin
            .query_one(
                "SELECT max_value FROM pg_sequences WHERE sequencename = 'orders_id_seq'",
                &[],
            )
            .await
            .map_err(e)?
            .get(0);
        let int32 = seq_max == i32::MAX as i64;
        r.set(
            "sequence_int32_after_alter",
            if int32 { 1.0 } else { 0.0 },
            "bool",
        );
        if int32 {
            r.findings.push(
                "After ALTER COLUMN id TYPE bigint the serial's sequence is still AS integer \
                 (max_value 2147483647): inserts still fail at 2^31 until ALTER SEQUENCE ... AS bigint."
                    .into(),
            );
        }
        admin
            .batch_execute("ALTER SEQUENCE orders_id_seq AS bigint")
            .await
            .map_err(e)?;
        tokio::time::sleep(Duration::from_secs_f64(p.after_s)).await;
        let samples = load.stop().await;
        r.set("rewrite_lock_hold_s", hold, "s");
        r.set(
            "rewrite_rows_per_s",
            p.rows as f64 / hold.max(1e-9),
            "rows/s",
        );
        r.set("rewrite_wal_mb", wal / 1e6, "MB");
        let w = Windows::of(&samples, t0, t1, p);
        w.report("rewrite", r);
        let prepared = samples
            .iter()
            .filter(|s| s.at >= t0 && s.outcome == Outcome::PlanChanged)
            .count();
        series.push(("rewrite".to_string(), latency_curve(&samples, t0, p)));
        r.calibration.insert(
            "rewrite_rows_per_s".into(),
            toml::Value::Float(round(p.rows as f64 / hold.max(1e-9))),
        );
        r.calibration.insert(
            "wal_bytes_per_row_rewrite".into(),
            toml::Value::Float(round(wal / p.rows as f64)),
        );
        r.calibration.insert(
            "query_ms".into(),
            toml::Value::Float(round(w.baseline_p50.max(0.01))),
        );
        // A lognormal's p99 / p50 is exp(2.326 σ): the baseline spread fixes σ.
        let sigma = (w.baseline_p99 / w.baseline_p50.max(0.01)).max(1.0).ln() / 2.326;
        r.calibration.insert(
            "query_sigma".into(),
            toml::Value::Float(round(sigma.min(4.0))),
        );

        // 3. The ghost-table procedure under load.
        (ctx.progress)(&format!("rebuilding orders ({} rows)", p.rows));
        build_orders(&admin, p.rows).await?;
        let load = Load::start(db, p, rng_fork(&mut rng)).await?;
        tokio::time::sleep(Duration::from_secs_f64(p.baseline_s)).await;
        (ctx.progress)("ghost table under load");
        let t0 = load.now();
        let ghost = ghost(db, &admin, p, &load, r, ctx).await?;
        let t1 = load.now();
        tokio::time::sleep(Duration::from_secs_f64(p.after_s)).await;
        let samples = load.stop().await;
        let w = Windows::of(&samples, t0, t1, p);
        w.report("ghost", r);
        // Writes sent while a batch runs against writes sent during the throttle's sleeps.
        let (in_batch, in_sleep) = writes_by_batch_phase(&samples, &ghost.batch_windows);
        r.set("ghost_write_p99_ms_in_batch", p99(in_batch), "ms");
        r.set("ghost_write_p99_ms_in_sleep", p99(in_sleep), "ms");
        if w.during_write_p99 > 3.0 * w.during_read_p99 {
            r.findings.push(format!(
                "During the ghost procedure writes paid, reads hardly: write p99 {:.1} ms, read p99 \
                 {:.1} ms (baseline p99 {:.1} ms). Writes sent while a batch ran: p99 {:.1} ms; \
                 during the throttle's sleeps: {:.1} ms. Most of the wait comes with the running \
                 batch (likely a commit flushing the WAL the batch has written, or an update of a \
                 row the uncommitted batch has copied waiting for its commit); the rest with the \
                 trigger's extra write.",
                w.during_write_p99,
                w.during_read_p99,
                w.baseline_p99,
                r.metrics["ghost_write_p99_ms_in_batch"].value,
                r.metrics["ghost_write_p99_ms_in_sleep"].value,
            ));
        }
        let prepared = prepared
            + samples
                .iter()
                .filter(|s| s.at >= t0 && s.outcome == Outcome::PlanChanged)
                .count();
        r.set("prepared_statement_errors", prepared as f64, "errors");
        if prepared > 0 {
            r.findings.push(format!(
                "{prepared} requests failed with SQLSTATE 0A000 (cached plan must not change result \
                 type) after the id column became bigint: clients must re-prepare (this load generator \
                 does, once per connection)."
            ));
        }
        r.set("ghost_total_s", ghost.total_s, "s");
        r.set(
            "ghost_copy_rows_per_s",
            p.rows as f64 / ghost.backfill_s.max(1e-9),
            "rows/s",
        );
        r.set(
            "ghost_backfill_rows_per_s",
            p.rows as f64 / ghost.batch_work_s.max(1e-9),
            "rows/s",
        );
        r.set("ghost_swap_lock_ms", ghost.swap_ms, "ms");
        r.set(
            "ghost_swap_attempts",
            ghost.swap_attempts as f64,
            "attempts",
        );
        r.set("ghost_wal_mb", ghost.wal / 1e6, "MB");
        r.set_samples("ghost_batch_s", &ghost.batch_s, "s");
        series.push(("ghost".to_string(), latency_curve(&samples, t0, p)));
        r.calibration.insert(
            "backfill_rows_per_s".into(),
            toml::Value::Float(round(p.rows as f64 / ghost.batch_work_s.max(1e-9))),
        );
        r.calibration.insert(
            "swap_lock_ms".into(),
            toml::Value::Float(round(ghost.swap_ms)),
        );
        r.calibration.insert(
            "wal_bytes_per_row_ghost".into(),
            toml::Value::Float(round(ghost.wal / p.rows as f64)),
        );
        for (k, v) in [
            ("rows", p.rows as f64),
            ("rate_rps", p.rate_rps),
            ("read_fraction", p.read_fraction),
            ("update_fraction", p.update_fraction),
            ("client_timeout_ms", p.client_timeout_ms),
            ("throttle_ms", p.throttle_ms),
        ] {
            r.calibration.insert(k.into(), toml::Value::Float(v));
        }
        r.calibration.insert(
            "pool_size".into(),
            toml::Value::Integer(p.connections as i64),
        );
        r.calibration
            .insert("batch_size".into(), toml::Value::Float(p.batch_size as f64));
        r.calibration
            .insert("db_cores".into(), toml::Value::Integer(cores as i64));

        r.series.push(RealSeries {
            id: "real-latency-during-migrations".into(),
            title: "Real PostgreSQL: worst request latency per 0.5 s, migration starts at 0".into(),
            x_label: "seconds since the migration started".into(),
            y_label: "max latency in the interval [ms] (timeouts at the timeout)".into(),
            lines: series,
            log_y: true,
        });
        Ok(())
    }

    fn rng_fork(rng: &mut Stream) -> Stream {
        use rand::SeedableRng;
        Stream::seed_from_u64(rand::Rng::next_u64(rng))
    }

    fn round(x: f64) -> f64 {
        if x.abs() >= 100.0 {
            x.round()
        } else {
            (x * 1000.0).round() / 1000.0
        }
    }

    async fn build_orders(c: &Client, rows: u64) -> Result<(), E> {
        c.batch_execute(&format!(
            "DROP TABLE IF EXISTS orders, orders_ghost, orders_old CASCADE;
             DROP FUNCTION IF EXISTS orders_sync() CASCADE;
             CREATE TABLE orders (id serial PRIMARY KEY, amount numeric(12,2) NOT NULL,
                                  region text NOT NULL, updated_at timestamptz NOT NULL);
             INSERT INTO orders (amount, region, updated_at)
               SELECT (g % 10000) / 100.0, (ARRAY['eu','us','apac'])[1 + g % 3],
                      now() - make_interval(secs => g)
               FROM generate_series(1, {rows}) g;"
        ))
        .await
        .map_err(e)?;
        // Alone: VACUUM cannot run inside the implicit transaction of a multi-statement query.
        c.batch_execute("VACUUM ANALYZE orders").await.map_err(e)
    }

    async fn wal_lsn(c: &Client) -> Result<String, E> {
        Ok(c.query_one("SELECT pg_current_wal_lsn()::text", &[])
            .await
            .map_err(e)?
            .get(0))
    }

    async fn wal_bytes_since(c: &Client, lsn: &str) -> Result<f64, E> {
        let row = c
            .query_one(
                "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::text::pg_lsn)::float8",
                &[&lsn],
            )
            .await
            .map_err(e)?;
        Ok(row.get(0))
    }

    async fn checksum(c: &Client) -> Result<(i64, i64), E> {
        let row = c
            .query_one("SELECT count(*), coalesce(sum(hashtext(o::text)::bigint), 0)::bigint FROM orders o", &[])
            .await
            .map_err(e)?;
        Ok((row.get(0), row.get(1)))
    }

    const GHOST_DDL: &str = "
        CREATE TABLE orders_ghost (id bigint PRIMARY KEY, amount numeric(12,2) NOT NULL,
                                   region text NOT NULL, updated_at timestamptz NOT NULL);
        CREATE FUNCTION orders_sync() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF TG_OP = 'DELETE' THEN
            DELETE FROM orders_ghost WHERE id = OLD.id;
            RETURN OLD;
          END IF;
          INSERT INTO orders_ghost (id, amount, region, updated_at)
            VALUES (NEW.id, NEW.amount, NEW.region, NEW.updated_at)
          ON CONFLICT (id) DO UPDATE
            SET amount = EXCLUDED.amount, region = EXCLUDED.region, updated_at = EXCLUDED.updated_at;
          RETURN NEW;
        END $$;";

    async fn install_trigger(c: &Client) -> Result<(), E> {
        // CREATE TRIGGER takes SHARE ROW EXCLUSIVE (it blocks writers): never wait long for it.
        for _ in 0..20 {
            let res = c
                .batch_execute(
                    "BEGIN; SET LOCAL lock_timeout = '1s';
                     CREATE TRIGGER orders_sync AFTER INSERT OR UPDATE OR DELETE ON orders
                       FOR EACH ROW EXECUTE FUNCTION orders_sync();
                     COMMIT;",
                )
                .await;
            match res {
                Ok(()) => return Ok(()),
                Err(err) if err.code().is_some_and(|c| c.code() == "55P03") => {
                    c.batch_execute("ROLLBACK").await.map_err(e)?;
                }
                Err(err) => return Err(e(err)),
            }
        }
        Err("CREATE TRIGGER could not get its lock in 20 tries".into())
    }

    async fn backfill_batch(c: &Client, lo: i64, hi: i64) -> Result<(), E> {
        // DO NOTHING: a row the trigger already copied is newer than this batch's snapshot.
        c.execute(
            "INSERT INTO orders_ghost SELECT id, amount, region, updated_at FROM orders
             WHERE id > $1::bigint AND id <= $2::bigint ON CONFLICT (id) DO NOTHING",
            &[&lo, &hi],
        )
        .await
        .map_err(e)?;
        Ok(())
    }

    /// The migration's advisory lock, taken without waiting: another worker holding it is an
    /// error (the lab's own runs never overlap).
    async fn take_migration_lock(m: &Client) -> Result<(), E> {
        let got: bool = m
            .query_one(&format!("SELECT pg_try_advisory_lock({LOCK_KEY})"), &[])
            .await
            .map_err(e)?
            .get(0);
        if got {
            Ok(())
        } else {
            Err("the advisory lock was already held".into())
        }
    }

    async fn abort_demo(
        db: &Database,
        admin: &Client,
        p: &RealParams,
        r: &mut KernelReport,
    ) -> Result<(), E> {
        let before = checksum(admin).await?;
        let m = db.connect().await?;
        let pid: i32 = m
            .query_one("SELECT pg_backend_pid()", &[])
            .await
            .map_err(e)?
            .get(0);
        take_migration_lock(&m).await?;
        m.batch_execute(GHOST_DDL).await.map_err(e)?;
        install_trigger(&m).await?;
        let half = (p.rows / 2) as i64;
        let step = p.batch_size as i64;
        let mut lo = 0;
        while lo < half {
            backfill_batch(&m, lo, (lo + step).min(half)).await?;
            lo += step;
        }
        // The migration process dies in the middle of the backfill.
        admin
            .execute("SELECT pg_terminate_backend($1)", &[&pid])
            .await
            .map_err(e)?;
        drop(m);
        tokio::time::sleep(Duration::from_millis(200)).await;
        let after = checksum(admin).await?;
        let unchanged = before == after;
        r.set(
            "abort_original_unchanged",
            if unchanged { 1.0 } else { 0.0 },
            "bool",
        );
        let freed: bool = admin
            .query_one(&format!("SELECT pg_try_advisory_lock({LOCK_KEY})"), &[])
            .await
            .map_err(e)?
            .get(0);
        admin
            .query_one(&format!("SELECT pg_advisory_unlock({LOCK_KEY})"), &[])
            .await
            .map_err(e)?;
        r.set("abort_lock_released", if freed { 1.0 } else { 0.0 }, "bool");
        let trigger_left: i64 = admin
            .query_one(
                "SELECT count(*) FROM pg_trigger WHERE tgname = 'orders_sync'",
                &[],
            )
            .await
            .map_err(e)?
            .get(0);
        r.findings.push(format!(
            "A migration session killed halfway through the backfill left orders {} (row count and \
             checksum before and after) and released its advisory lock{}; {}",
            if unchanged { "unchanged" } else { "CHANGED" },
            if freed { "" } else { " (NOT released)" },
            if trigger_left > 0 {
                "but its sync trigger and half-filled ghost table stay behind: every write keeps paying \
                 for the trigger until someone drops them, and a retry must drop them first."
            } else {
                "no trigger was left behind."
            }
        ));
        admin
            .batch_execute("DROP TRIGGER IF EXISTS orders_sync ON orders; DROP TABLE IF EXISTS orders_ghost; DROP FUNCTION IF EXISTS orders_sync();")
            .await
            .map_err(e)?;
        Ok(())
    }

    struct GhostRun {
        total_s: f64,
        backfill_s: f64,
        batch_work_s: f64,
        batch_s: Vec<f64>,
        /// Each batch's start and end, seconds on the load's clock.
        batch_windows: Vec<(f64, f64)>,
        swap_ms: f64,
        swap_attempts: u32,
        wal: f64,
    }

    async fn ghost(
        db: &Database,
        admin: &Client,
        p: &RealParams,
        load: &Load,
        r: &mut KernelReport,
        ctx: &KernelContext<'_>,
    ) -> Result<GhostRun, E> {
        let m = db.connect().await?;
        let started = Instant::now();
        let wal0 = wal_lsn(admin).await?;
        take_migration_lock(&m).await?;
        // A second worker, while the first holds the lock and the application runs.
        let w = db.connect().await?;
        let ok_before = load.ok_count();
        w.batch_execute("SET statement_timeout = '500ms'")
            .await
            .map_err(e)?;
        let blocked = match w
            .query_one(&format!("SELECT pg_advisory_lock({LOCK_KEY})"), &[])
            .await
        {
            Err(err) => err.code().is_some_and(|c| c.code() == "57014"),
            Ok(_) => false,
        };
        let try_false = !w
            .query_one(&format!("SELECT pg_try_advisory_lock({LOCK_KEY})"), &[])
            .await
            .map_err(e)?
            .get::<_, bool>(0);
        let app_ok = load.ok_count() > ok_before;
        drop(w);
        r.set(
            "advisory_second_worker_blocked",
            if blocked { 1.0 } else { 0.0 },
            "bool",
        );
        r.set(
            "advisory_try_lock_false",
            if try_false { 1.0 } else { 0.0 },
            "bool",
        );
        r.set(
            "advisory_app_queries_ok",
            if app_ok { 1.0 } else { 0.0 },
            "bool",
        );
        let oid_before: u32 = m
            .query_one("SELECT 'orders'::regclass::oid", &[])
            .await
            .map_err(e)?
            .get(0);

        m.batch_execute(GHOST_DDL).await.map_err(e)?;
        install_trigger(&m).await?;
        let max_id: i64 = m
            .query_one("SELECT coalesce(max(id), 0)::bigint FROM orders", &[])
            .await
            .map_err(e)?
            .get(0);
        let fill_started = Instant::now();
        let step = p.batch_size as i64;
        let mut batch_s = Vec::new();
        let mut batch_windows = Vec::new();
        let mut lo = 0;
        while lo < max_id {
            let t = Instant::now();
            let from = load.now();
            backfill_batch(&m, lo, lo + step).await?;
            batch_windows.push((from, load.now()));
            batch_s.push(t.elapsed().as_secs_f64());
            lo += step;
            if batch_s.len() % 10 == 0 {
                (ctx.progress)(&format!("ghost backfill {lo}/{max_id}"));
            }
            tokio::time::sleep(Duration::from_secs_f64(p.throttle_ms / 1000.0)).await;
        }
        let backfill_s = fill_started.elapsed().as_secs_f64();

        // Verification in one snapshot: the trigger keeps the copy exact.
        let mismatches: i64 = {
            m.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
                .await
                .map_err(e)?;
            let n: i64 = m
                .query_one(
                    "SELECT count(*) FROM orders o FULL JOIN orders_ghost g ON g.id = o.id
                     WHERE o.id IS NULL OR g.id IS NULL
                        OR (o.amount, o.region, o.updated_at) IS DISTINCT FROM (g.amount, g.region, g.updated_at)",
                    &[],
                )
                .await
                .map_err(e)?
                .get(0);
            m.batch_execute("COMMIT").await.map_err(e)?;
            n
        };
        r.set("ghost_verify_mismatches", mismatches as f64, "rows");

        // The swap: a short transaction that gives up quickly and retries.
        let mut attempts = 0;
        let (swap_ms, swap_began) = loop {
            attempts += 1;
            let began: std::time::SystemTime = std::time::SystemTime::now();
            let t = Instant::now();
            let res = m
                .batch_execute(
                    "BEGIN; SET LOCAL lock_timeout = '1s';
                     LOCK orders IN ACCESS EXCLUSIVE MODE;
                     ALTER TABLE orders RENAME TO orders_old;
                     ALTER TABLE orders_ghost RENAME TO orders;
                     DROP TRIGGER orders_sync ON orders_old;
                     ALTER TABLE orders_old ALTER COLUMN id DROP DEFAULT;
                     ALTER TABLE orders ALTER COLUMN id SET DEFAULT nextval('orders_id_seq');
                     ALTER SEQUENCE orders_id_seq AS bigint OWNED BY orders.id;
                     COMMIT;",
                )
                .await;
            match res {
                Ok(()) => break (t.elapsed().as_secs_f64() * 1000.0, began),
                Err(err) if err.code().is_some_and(|c| c.code() == "55P03") && attempts < 10 => {
                    m.batch_execute("ROLLBACK").await.map_err(e)?;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(err) => return Err(e(err)),
            }
        };
        let oid_after: u32 = m
            .query_one("SELECT 'orders'::regclass::oid", &[])
            .await
            .map_err(e)?
            .get(0);
        r.set(
            "oid_key_changes_after_swap",
            if oid_before != oid_after { 1.0 } else { 0.0 },
            "bool",
        );
        if oid_before != oid_after {
            r.findings.push(format!(
                "'orders'::regclass is {oid_before} before the swap and {oid_after} after: an advisory \
                 key built from the table's OID (as the article's is) lets a second worker that starts \
                 after the swap take a different lock. A name-based key (hashtext) does not change."
            ));
        }
        // Row for row: every old row is in the new table, equal unless written after the swap began.
        let since = swap_began
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        let post: i64 = m
            .query_one(
                "SELECT count(*) FROM orders_old o LEFT JOIN orders n ON n.id = o.id
                 WHERE n.id IS NULL
                    OR ((o.amount, o.region, o.updated_at) IS DISTINCT FROM (n.amount, n.region, n.updated_at)
                        AND n.updated_at < to_timestamp($1::float8))",
                &[&since],
            )
            .await
            .map_err(e)?
            .get(0);
        r.set("ghost_post_swap_mismatches", post as f64, "rows");
        m.batch_execute("DROP TABLE orders_old").await.map_err(e)?;
        m.query_one(&format!("SELECT pg_advisory_unlock({LOCK_KEY})"), &[])
            .await
            .map_err(e)?;
        let wal = wal_bytes_since(admin, &wal0).await?;
        Ok(GhostRun {
            total_s: started.elapsed().as_secs_f64(),
            backfill_s,
            batch_work_s: batch_s.iter().sum(),
            batch_s,
            batch_windows,
            swap_ms,
            swap_attempts: attempts,
            wal,
        })
    }

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum Outcome {
        Ok,
        Timeout,
        /// SQLSTATE 0A000: a prepared statement's result type changed.
        PlanChanged,
        Error,
    }

    #[derive(Clone, Copy, Debug)]
    struct Sample {
        /// Scheduled send time, s since the load started.
        at: f64,
        latency_ms: f64,
        outcome: Outcome,
        /// An UPDATE or INSERT (the ghost trigger's work falls on these).
        write: bool,
    }

    struct Statements {
        read: Statement,
        update: Statement,
        insert: Statement,
    }

    struct Conn {
        client: Client,
        stmts: RwLock<Statements>,
    }

    /// The application's connection pool: a request waits (FIFO) for a free connection and has
    /// it to itself, as with a pooled client; never two statements pipelined on one connection.
    struct Pool {
        conns: Vec<Conn>,
        free: std::sync::Mutex<Vec<usize>>,
        permits: tokio::sync::Semaphore,
    }

    /// One connection taken from the pool; it goes back when dropped, also when the request
    /// times out mid-statement (the server cancels it by its own statement_timeout).
    struct Lease<'a> {
        pool: &'a Pool,
        index: usize,
        _permit: tokio::sync::SemaphorePermit<'a>,
    }

    impl Pool {
        async fn lease(&self) -> Lease<'_> {
            let permit = self
                .permits
                .acquire()
                .await
                .expect("the pool's semaphore is never closed");
            let index = self
                .free
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .pop()
                .expect("a permit guarantees a free connection");
            Lease {
                pool: self,
                index,
                _permit: permit,
            }
        }
    }

    impl Lease<'_> {
        fn conn(&self) -> &Conn {
            &self.pool.conns[self.index]
        }
    }

    impl Drop for Lease<'_> {
        fn drop(&mut self) {
            self.pool
                .free
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(self.index);
        }
    }

    async fn prepare(c: &Client) -> Result<Statements, E> {
        // `$1::int4` keeps the parameter's type fixed when the column becomes bigint.
        Ok(Statements {
            read: c
                .prepare("SELECT id, amount, region, updated_at FROM orders WHERE id = $1::int4")
                .await
                .map_err(e)?,
            update: c
                .prepare(
                    "UPDATE orders SET amount = amount + 1, updated_at = now() WHERE id = $1::int4",
                )
                .await
                .map_err(e)?,
            insert: c
                .prepare(
                    "INSERT INTO orders (amount, region, updated_at) VALUES (1.00, 'eu', now())",
                )
                .await
                .map_err(e)?,
        })
    }

    /// The open-loop application workload.
    struct Load {
        start: Instant,
        stop: Arc<AtomicBool>,
        ok: Arc<std::sync::atomic::AtomicU64>,
        driver: tokio::task::JoinHandle<Vec<Sample>>,
    }

    impl Load {
        async fn start(db: &Database, p: &RealParams, mut rng: Stream) -> Result<Load, E> {
            let mut conns = Vec::new();
            for _ in 0..p.connections {
                let client = db.connect().await?;
                client
                    .batch_execute(&format!(
                        "SET statement_timeout = '{}ms'",
                        p.client_timeout_ms as u64
                    ))
                    .await
                    .map_err(e)?;
                let stmts = RwLock::new(prepare(&client).await?);
                conns.push(Conn { client, stmts });
            }
            let pool = Arc::new(Pool {
                free: std::sync::Mutex::new((0..conns.len()).collect()),
                permits: tokio::sync::Semaphore::new(conns.len()),
                conns,
            });
            let stop = Arc::new(AtomicBool::new(false));
            let ok = Arc::new(std::sync::atomic::AtomicU64::new(0));
            let start = Instant::now();
            let (rate, read, update, rows) =
                (p.rate_rps, p.read_fraction, p.update_fraction, p.rows);
            let timeout = Duration::from_secs_f64(p.client_timeout_ms / 1000.0);
            let (stop2, ok2) = (Arc::clone(&stop), Arc::clone(&ok));
            let driver = tokio::spawn(async move {
                let mut tasks = Vec::new();
                let mut i: u64 = 0;
                while !stop2.load(Ordering::Relaxed) {
                    let at = i as f64 / rate;
                    tokio::time::sleep_until((start + Duration::from_secs_f64(at)).into()).await;
                    let pool = Arc::clone(&pool);
                    let u = uniform(&mut rng);
                    let id = 1 + ((uniform(&mut rng) * rows as f64) as i32).min(rows as i32 - 1);
                    let ok3 = Arc::clone(&ok2);
                    tasks.push(tokio::spawn(async move {
                        let scheduled = start + Duration::from_secs_f64(at);
                        let outcome = match tokio::time::timeout(timeout, async {
                            let lease = pool.lease().await;
                            request(lease.conn(), u, read, update, id).await
                        })
                        .await
                        {
                            Err(_) => Outcome::Timeout,
                            Ok(o) => o,
                        };
                        if outcome == Outcome::Ok {
                            ok3.fetch_add(1, Ordering::Relaxed);
                        }
                        let latency_ms = scheduled.elapsed().as_secs_f64() * 1000.0;
                        Sample {
                            at,
                            latency_ms,
                            outcome,
                            write: u >= read,
                        }
                    }));
                    i += 1;
                }
                let mut out = Vec::with_capacity(tasks.len());
                for t in tasks {
                    if let Ok(s) = t.await {
                        out.push(s);
                    }
                }
                out
            });
            Ok(Load {
                start,
                stop,
                ok,
                driver,
            })
        }

        /// Seconds since the load started.
        fn now(&self) -> f64 {
            self.start.elapsed().as_secs_f64()
        }

        fn ok_count(&self) -> u64 {
            self.ok.load(Ordering::Relaxed)
        }

        async fn stop(self) -> Vec<Sample> {
            self.stop.store(true, Ordering::Relaxed);
            self.driver.await.unwrap_or_default()
        }
    }

    async fn request(conn: &Conn, u: f64, read: f64, update: f64, id: i32) -> Outcome {
        let res = {
            let s = conn.stmts.read().await;
            if u < read {
                conn.client.query(&s.read, &[&id]).await.map(|_| ())
            } else if u < read + update {
                conn.client.execute(&s.update, &[&id]).await.map(|_| ())
            } else {
                conn.client.execute(&s.insert, &[]).await.map(|_| ())
            }
        };
        match res {
            Ok(()) => Outcome::Ok,
            Err(err) => match err.code().map(|c| c.code()) {
                Some("0A000") => {
                    // A client that re-prepares on "cached plan must not change result type".
                    let mut s = conn.stmts.write().await;
                    if let Ok(fresh) = prepare(&conn.client).await {
                        *s = fresh;
                    }
                    Outcome::PlanChanged
                }
                Some("57014") => Outcome::Timeout,
                _ => Outcome::Error,
            },
        }
    }

    /// Latency statistics of the baseline, during and after windows.
    struct Windows {
        baseline_p50: f64,
        baseline_p99: f64,
        during_p50: f64,
        during_p99: f64,
        during_max: f64,
        during_read_p99: f64,
        during_write_p99: f64,
        during_n: usize,
        timeouts: usize,
        errors: usize,
        after_p99: f64,
    }

    impl Windows {
        fn of(samples: &[Sample], t0: f64, t1: f64, p: &RealParams) -> Windows {
            let lat_of = |lo: f64, hi: f64, keep: &dyn Fn(&Sample) -> bool| -> Vec<f64> {
                let mut v: Vec<f64> = samples
                    .iter()
                    .filter(|s| s.at >= lo && s.at < hi && keep(s))
                    .map(|s| {
                        if s.outcome == Outcome::Timeout {
                            s.latency_ms.max(p.client_timeout_ms)
                        } else {
                            s.latency_ms
                        }
                    })
                    .collect();
                v.sort_by(f64::total_cmp);
                v
            };
            let lat = |lo: f64, hi: f64| lat_of(lo, hi, &|_| true);
            let q = quantile;
            let base = lat(t0 - p.baseline_s, t0);
            let during = lat(t0, t1.max(t0 + 1e-3));
            let after = lat(t1, t1 + p.after_s);
            let in_during = |s: &&Sample| s.at >= t0 && s.at < t1.max(t0 + 1e-3);
            Windows {
                baseline_p50: q(&base, 0.5),
                baseline_p99: q(&base, 0.99),
                during_p50: q(&during, 0.5),
                during_p99: q(&during, 0.99),
                during_max: during.last().copied().unwrap_or(f64::NAN),
                during_read_p99: q(&lat_of(t0, t1.max(t0 + 1e-3), &|s| !s.write), 0.99),
                during_write_p99: q(&lat_of(t0, t1.max(t0 + 1e-3), &|s| s.write), 0.99),
                during_n: during.len(),
                timeouts: samples
                    .iter()
                    .filter(in_during)
                    .filter(|s| s.outcome == Outcome::Timeout)
                    .count(),
                errors: samples
                    .iter()
                    .filter(in_during)
                    .filter(|s| s.outcome != Outcome::Ok)
                    .count(),
                after_p99: q(&after, 0.99),
            }
        }

        fn report(&self, what: &str, r: &mut KernelReport) {
            r.set(format!("{what}_p50_ms_baseline"), self.baseline_p50, "ms");
            r.set(format!("{what}_p99_ms_baseline"), self.baseline_p99, "ms");
            r.set(format!("{what}_p50_ms_during"), self.during_p50, "ms");
            r.set(format!("{what}_p99_ms_during"), self.during_p99, "ms");
            r.set(format!("{what}_max_ms_during"), self.during_max, "ms");
            r.set(
                format!("{what}_read_p99_ms_during"),
                self.during_read_p99,
                "ms",
            );
            r.set(
                format!("{what}_write_p99_ms_during"),
                self.during_write_p99,
                "ms",
            );
            r.set(format!("{what}_p99_ms_after"), self.after_p99, "ms");
            r.set(
                format!("{what}_p99_inflation_pct"),
                (self.during_p99 / self.baseline_p99 - 1.0) * 100.0,
                "%",
            );
            r.set(
                format!("{what}_requests_during"),
                self.during_n as f64,
                "requests",
            );
            r.set(format!("{what}_timeouts"), self.timeouts as f64, "requests");
            r.set(
                format!("{what}_error_fraction"),
                if self.during_n == 0 {
                    0.0
                } else {
                    self.errors as f64 / self.during_n as f64
                },
                "fraction",
            );
        }
    }

    /// Latencies of successful writes sent while a batch ran, and of those sent between batches.
    fn writes_by_batch_phase(samples: &[Sample], batches: &[(f64, f64)]) -> (Vec<f64>, Vec<f64>) {
        let (Some(first), Some(last)) = (batches.first(), batches.last()) else {
            return (Vec::new(), Vec::new());
        };
        let (mut in_batch, mut in_sleep) = (Vec::new(), Vec::new());
        for s in samples
            .iter()
            .filter(|s| s.write && s.outcome == Outcome::Ok && s.at >= first.0 && s.at < last.1)
        {
            // Windows are in time order: the last one starting at or before the send.
            let i = batches.partition_point(|b| b.0 <= s.at);
            let running = i > 0 && s.at < batches[i - 1].1;
            if running {
                in_batch.push(s.latency_ms);
            } else {
                in_sleep.push(s.latency_ms);
            }
        }
        (in_batch, in_sleep)
    }

    fn p99(mut v: Vec<f64>) -> f64 {
        v.sort_by(f64::total_cmp);
        quantile(&v, 0.99)
    }

    /// The q-quantile of sorted values (nearest rank); NaN when there are none.
    fn quantile(sorted: &[f64], q: f64) -> f64 {
        if sorted.is_empty() {
            f64::NAN
        } else {
            sorted[((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1]
        }
    }

    /// The worst latency per 0.5 s of scheduled time, relative to the migration's start.
    fn latency_curve(samples: &[Sample], t0: f64, p: &RealParams) -> Vec<(f64, f64)> {
        let mut buckets: std::collections::BTreeMap<i64, f64> = std::collections::BTreeMap::new();
        for s in samples {
            let l = if s.outcome == Outcome::Timeout {
                s.latency_ms.max(p.client_timeout_ms)
            } else {
                s.latency_ms
            };
            let b = ((s.at - t0) / 0.5).floor() as i64;
            let e = buckets.entry(b).or_insert(0.0);
            *e = e.max(l);
        }
        buckets
            .into_iter()
            .map(|(b, v)| (b as f64 * 0.5, v.max(0.01)))
            .collect()
    }
}
