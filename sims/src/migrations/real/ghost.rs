//! The ghost-table procedure under load, and a migration session killed mid-backfill: the
//! advisory lock, the shadow table and its sync trigger, the batched backfill, verification,
//! the swap and the checks after it.

use std::time::{Duration, Instant};

use tokio_postgres::Client;

use super::load::Load;
use super::{E, e, wal_bytes_since, wal_lsn};
use crate::migrations::real::RealParams;
use crate::real::postgres::Database;
use crate::real::{KernelContext, KernelReport};

/// Advisory key by name: stable across the swap (an OID-based key is not).
const LOCK_KEY: &str = "hashtext('claimlab_migrations'), hashtext('orders')";

async fn checksum(c: &Client) -> Result<(i64, i64), E> {
    let row = c
        .query_one(
            "SELECT count(*), coalesce(sum(hashtext(o::text)::bigint), 0)::bigint FROM orders o",
            &[],
        )
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

pub(super) async fn abort_demo(
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
    r.set_exact(
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
    r.set_exact("abort_lock_released", if freed { 1.0 } else { 0.0 }, "bool");
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

pub(super) struct GhostRun {
    pub(super) total_s: f64,
    pub(super) backfill_s: f64,
    pub(super) batch_work_s: f64,
    pub(super) batch_s: Vec<f64>,
    /// Each batch's start and end, seconds on the load's clock.
    pub(super) batch_windows: Vec<(f64, f64)>,
    pub(super) swap_ms: f64,
    pub(super) swap_attempts: u32,
    pub(super) wal: f64,
}

pub(super) async fn ghost(
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
    r.set_exact(
        "advisory_second_worker_blocked",
        if blocked { 1.0 } else { 0.0 },
        "bool",
    );
    r.set_exact(
        "advisory_try_lock_false",
        if try_false { 1.0 } else { 0.0 },
        "bool",
    );
    r.set_exact(
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
    r.set_exact("ghost_verify_mismatches", mismatches as f64, "rows");

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
    r.set_exact(
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
    r.set_exact("ghost_post_swap_mismatches", post as f64, "rows");
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
