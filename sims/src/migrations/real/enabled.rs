//! The PostgreSQL experiments (built with the `postgres` feature): the aborted backfill, then
//! the rewrite and the ghost-table procedure under the open-loop load, and what they report.
//! The procedure itself is in `ghost.rs`, the load in `load.rs`, its latency windows in
//! `windows.rs`.

mod ghost;
mod load;
mod operations;
mod windows;

use std::time::{Duration, Instant};

use tokio_postgres::Client;

use self::ghost::{abort_demo, ghost};
use self::load::{Load, Outcome};
use self::operations::operations;
use self::windows::{Windows, latency_curve, p99, writes_by_batch_phase};
use super::RealParams;
use crate::des::{RngStreams, Stream};
use crate::real::postgres::{Database, run_kernel};
use crate::real::{KernelContext, KernelReport, RealSeries, round_calibration};

type E = String;

fn e(err: tokio_postgres::Error) -> E {
    match err.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => err.to_string(),
    }
}

pub(super) fn run(p: &RealParams, ctx: &KernelContext) -> KernelReport {
    run_kernel(&p.database_url, "migrations", ctx, async |db, r| {
        r.environment.insert("workload".into(), workload(p));
        let mut trials = Vec::new();
        for trial in 0..p.trials {
            let mut t = KernelReport::default();
            let progress =
                |m: &str| (ctx.progress)(&format!("trial {}/{}: {m}", trial + 1, p.trials));
            let ctx = KernelContext {
                progress: &progress,
                ..*ctx
            };
            experiments(db, p, &ctx, trial, &mut t).await?;
            trials.push(t);
        }
        // A p99 rise is a ratio: averaged on the log scale, after the other metrics.
        let rises: Vec<(String, Vec<f64>)> = ["rewrite", "ghost"]
            .iter()
            .map(|what| {
                let name = format!("{what}_p99_inflation_pct");
                let values = trials
                    .iter()
                    .filter_map(|t| Some(t.metrics.get(&name)?.value));
                (name.clone(), values.collect())
            })
            .collect();
        r.absorb_trials(trials, |_| (0.0, f64::INFINITY));
        for (name, values) in rises {
            r.set_rise_pct_samples(name, &values);
        }
        Ok(())
    })
}

/// The report's `workload` entry.
fn workload(p: &RealParams) -> String {
    format!(
        "{} rows; {} req/s open loop ({:.0}% reads, {:.0}% updates, {:.0}% inserts) over {} connections; {} ms timeout",
        p.rows,
        p.rate_rps,
        p.read_fraction * 100.0,
        p.update_fraction * 100.0,
        (1.0 - p.read_fraction - p.update_fraction) * 100.0,
        p.connections,
        p.client_timeout_ms
    )
}

/// One trial: the operations table and an aborted backfill on a fresh table, then the rewrite
/// and the ghost procedure, each on a fresh table under load.
async fn experiments(
    db: &Database,
    p: &RealParams,
    ctx: &KernelContext<'_>,
    trial: u32,
    r: &mut KernelReport,
) -> Result<(), E> {
    let admin = db.connect().await?;
    let mut rng = RngStreams::new(ctx.seed, 0, u64::from(trial)).stream("pg_migrations");
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    r.environment.insert(
        "cpus".into(),
        format!("{cores} (shared by the server, the load generator and the lab)"),
    );
    let mut series = Vec::new();

    // 1. The operations table, then a migration session killed mid-backfill (no load, so the
    // table must not change).
    (ctx.progress)(&format!("building orders ({} rows)", p.rows));
    build_orders(&admin, p.rows).await?;
    (ctx.progress)("ALTER TABLE operations, each rolled back");
    operations(db, p.rows, r).await?;
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
    r.set_exact(
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
    let plan_changed = |samples: &[load::Sample], t0: f64| {
        samples
            .iter()
            .filter(|s| s.at >= t0 && s.outcome == Outcome::PlanChanged)
            .count()
    };
    r.set(
        "rewrite_prepared_statement_errors",
        plan_changed(&samples, t0) as f64,
        "errors",
    );
    series.push(("rewrite".to_string(), latency_curve(&samples, t0, p)));
    r.calibration.insert(
        "rewrite_rows_per_s".into(),
        toml::Value::Float(round_calibration(p.rows as f64 / hold.max(1e-9))),
    );
    r.calibration.insert(
        "wal_bytes_per_row_rewrite".into(),
        toml::Value::Float(round_calibration(wal / p.rows as f64)),
    );
    r.calibration.insert(
        "query_ms".into(),
        toml::Value::Float(round_calibration(w.baseline_p50.max(0.01))),
    );
    // A lognormal's p99 / p50 is exp(2.326 σ): the baseline spread fixes σ.
    let sigma = (w.baseline_p99 / w.baseline_p50.max(0.01)).max(1.0).ln() / 2.326;
    r.calibration.insert(
        "query_sigma".into(),
        toml::Value::Float(round_calibration(sigma.min(4.0))),
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
    let prepared = plan_changed(&samples, t0);
    r.set("ghost_prepared_statement_errors", prepared as f64, "errors");
    // Whether clients saw the change at all: a fact of the trial, however many failed.
    r.set_exact(
        "ghost_prepared_statements_failed",
        if prepared > 0 { 1.0 } else { 0.0 },
        "bool",
    );
    if prepared > 0 {
        r.findings.push(format!(
            "{prepared} requests failed with SQLSTATE 0A000 (cached plan must not change result \
             type) after the ghost swap made the id column bigint: clients must re-prepare (this \
             load generator does, once per connection)."
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
        toml::Value::Float(round_calibration(
            p.rows as f64 / ghost.batch_work_s.max(1e-9),
        )),
    );
    r.calibration.insert(
        "swap_lock_ms".into(),
        toml::Value::Float(round_calibration(ghost.swap_ms)),
    );
    r.calibration.insert(
        "wal_bytes_per_row_ghost".into(),
        toml::Value::Float(round_calibration(ghost.wal / p.rows as f64)),
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
