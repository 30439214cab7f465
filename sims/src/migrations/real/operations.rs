//! The article's table of `ALTER TABLE` operations, checked one by one on the filled table: does
//! the operation rewrite the table (its file node changes), does it read every row (the
//! transaction's sequential-scan counter), how long does it take, and, while its transaction
//! holds what it took, do a read and a write from another session wait for it. Every operation
//! is rolled back, so the table is the same afterwards.

use std::time::Instant;

use tokio_postgres::Client;

use super::{E, e};
use crate::real::KernelReport;
use crate::real::postgres::Database;

/// One row of the table.
struct Operation {
    /// Metric prefix: `ops_<key>_...`.
    key: &'static str,
    /// Committed before the operation (and undone after it).
    setup: Option<&'static str>,
    sql: &'static str,
    undo_setup: Option<&'static str>,
}

const OPERATIONS: &[Operation] = &[
    Operation {
        key: "add_column_nullable",
        setup: None,
        sql: "ALTER TABLE orders ADD COLUMN note text",
        undo_setup: None,
    },
    Operation {
        key: "add_column_default",
        setup: None,
        sql: "ALTER TABLE orders ADD COLUMN flag integer NOT NULL DEFAULT 0",
        undo_setup: None,
    },
    Operation {
        key: "alter_column_type",
        setup: None,
        sql: "ALTER TABLE orders ALTER COLUMN id TYPE bigint",
        undo_setup: None,
    },
    Operation {
        key: "validate_constraint",
        setup: Some(
            "ALTER TABLE orders ADD CONSTRAINT amount_not_negative CHECK (amount >= 0) NOT VALID",
        ),
        sql: "ALTER TABLE orders VALIDATE CONSTRAINT amount_not_negative",
        undo_setup: Some("ALTER TABLE orders DROP CONSTRAINT amount_not_negative"),
    },
];

/// How long the other session waits before it counts as blocked.
const BLOCKED_AFTER: &str = "300ms";

/// Whether a statement from `other` gave up on its lock wait (SQLSTATE 55P03) rather than run.
async fn waits(other: &Client, sql: &str) -> Result<bool, E> {
    match other.batch_execute(sql).await {
        Ok(()) => Ok(false),
        Err(err) if err.code().is_some_and(|c| c.code() == "55P03") => Ok(true),
        Err(err) => Err(e(err)),
    }
}

async fn filenode(c: &Client) -> Result<i64, E> {
    Ok(
        c.query_one("SELECT pg_relation_filenode('orders')::bigint", &[])
            .await
            .map_err(e)?
            .get(0),
    )
}

/// Runs every operation once on `orders` (which has `rows` rows) and records, per operation:
/// `ops_<key>_rewrites`, `_reads_all_rows`, `_blocks_reads`, `_blocks_writes` (checked facts,
/// 0 or 1) and `_ms` (the statement's time). The strongest lock each one held goes into the
/// findings.
pub(super) async fn operations(db: &Database, rows: u64, r: &mut KernelReport) -> Result<(), E> {
    let a = db.connect().await?;
    let b = db.connect().await?;
    b.batch_execute(&format!("SET lock_timeout = '{BLOCKED_AFTER}'"))
        .await
        .map_err(e)?;
    let a_pid: i32 = a
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .map_err(e)?
        .get(0);
    let mut modes = Vec::new();
    for op in OPERATIONS {
        if let Some(setup) = op.setup {
            a.batch_execute(setup).await.map_err(e)?;
        }
        let before = filenode(&a).await?;
        a.batch_execute("BEGIN").await.map_err(e)?;
        let started = Instant::now();
        a.batch_execute(op.sql).await.map_err(e)?;
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        let after = filenode(&a).await?;
        // This transaction's own counters: rows its sequential scans returned.
        let read: i64 = a
            .query_one(
                "SELECT coalesce(sum(seq_tup_read), 0)::bigint FROM pg_stat_xact_user_tables
                 WHERE relname = 'orders'",
                &[],
            )
            .await
            .map_err(e)?
            .get(0);
        let mode: String = a
            .query_one(
                "SELECT coalesce(string_agg(mode, ', ' ORDER BY mode), 'none') FROM pg_locks
                 WHERE pid = $1 AND relation = 'orders'::regclass AND granted",
                &[&a_pid],
            )
            .await
            .map_err(e)?
            .get(0);
        let blocks_reads = waits(&b, "SELECT amount FROM orders WHERE id = 1").await?;
        let blocks_writes = waits(&b, "UPDATE orders SET amount = amount WHERE id = 1").await?;
        a.batch_execute("ROLLBACK").await.map_err(e)?;
        if let Some(undo) = op.undo_setup {
            a.batch_execute(undo).await.map_err(e)?;
        }
        let fact = |yes: bool| if yes { 1.0 } else { 0.0 };
        let k = op.key;
        r.set_exact(format!("ops_{k}_rewrites"), fact(after != before), "bool");
        r.set_exact(
            format!("ops_{k}_reads_all_rows"),
            fact(read >= rows as i64),
            "bool",
        );
        r.set_exact(format!("ops_{k}_blocks_reads"), fact(blocks_reads), "bool");
        r.set_exact(
            format!("ops_{k}_blocks_writes"),
            fact(blocks_writes),
            "bool",
        );
        r.set(format!("ops_{k}_ms"), ms, "ms");
        modes.push(format!(
            "`{}`: {mode}{}, {ms:.0} ms on {rows} rows",
            op.sql,
            if after != before {
                ", rewrote the table"
            } else {
                ""
            }
        ));
    }
    r.findings.push(format!(
        "Locks each operation held until its transaction ended (a read and a write from another \
         session wait for {BLOCKED_AFTER} to count as blocked): {}. ACCESS EXCLUSIVE blocks reads \
         and writes however briefly it is held, and a request queued behind it waits for \
         whatever it waits for; SHARE UPDATE EXCLUSIVE blocks neither.",
        modes.join("; ")
    ));
    Ok(())
}
