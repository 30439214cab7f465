//! The server flows the kernel runs against PostgreSQL (built with the `postgres` feature); the
//! in-memory set is not a database flow.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng;
use tokio::sync::Barrier;
use tokio_postgres::Client;

use super::RealParams;
use crate::real::postgres::{Database, run_kernel};
use crate::real::{KernelContext, KernelReport, RealSeries};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Flow {
    None,
    Article,
    ArticleForUpdate,
    OneTransaction,
}

impl Flow {
    const ALL: [Flow; 4] = [
        Flow::None,
        Flow::Article,
        Flow::ArticleForUpdate,
        Flow::OneTransaction,
    ];
    fn name(self) -> &'static str {
        match self {
            Flow::None => "none",
            Flow::Article => "article",
            Flow::ArticleForUpdate => "article_for_update",
            Flow::OneTransaction => "one_transaction",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Answer {
    Charged,
    Replay,
    Conflict { completed: bool },
}

const SCHEMA: &str = "
    DROP TABLE IF EXISTS idempotency_keys, charges;
    CREATE TABLE idempotency_keys (
        key text PRIMARY KEY,
        status text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now());
    CREATE TABLE charges (id bigserial PRIMARY KEY, key text NOT NULL);";

pub(super) fn run(p: &RealParams, ctx: &KernelContext) -> KernelReport {
    run_kernel(&p.database_url, "idempotency", ctx, async |db, r| {
        experiments(db, p, ctx, r).await
    })
}

async fn experiments(
    db: &Database,
    p: &RealParams,
    ctx: &KernelContext<'_>,
    r: &mut KernelReport,
) -> Result<(), String> {
    let admin = db.connect().await?;
    admin
        .batch_execute(SCHEMA)
        .await
        .map_err(|e| e.to_string())?;
    let mut rng = crate::des::RngStreams::new(ctx.seed, 0, 0).stream("pg_idempotency");

    // One round trip: the model's db_ms.
    let mut rtt = Vec::new();
    for _ in 0..50 {
        let t = Instant::now();
        admin
            .simple_query("SELECT 1")
            .await
            .map_err(|e| e.to_string())?;
        rtt.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    rtt.sort_by(f64::total_cmp);
    let db_ms = rtt[rtt.len() / 2];
    r.set("db_round_trip_ms", db_ms, "ms");
    r.calibration
        .insert("db_ms".into(), toml::Value::Float(round3(db_ms)));
    r.calibration.insert(
        "charge_median_ms".into(),
        toml::Value::Float(p.charge_ms.max(0.001)),
    );
    r.calibration
        .insert("charge_sigma".into(), toml::Value::Float(0.0));

    let pool_size = *p.burst_sizes.iter().max().unwrap_or(&2) as usize;
    let mut pool = Vec::with_capacity(pool_size);
    for _ in 0..pool_size {
        pool.push(Arc::new(db.connect().await?));
    }

    let mut spreads = Vec::new();
    let mut lines: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
    let mut conflict_lines: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
    for flow in Flow::ALL {
        let mut line = Vec::new();
        let mut conflict_line = Vec::new();
        for &n in &p.burst_sizes {
            (ctx.progress)(&format!("{} flow, bursts of {n}", flow.name()));
            let (mut charges, mut conflicts, mut replays, mut wrong) =
                (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for _ in 0..p.trials {
                let key = format!("burst-{:016x}", rng.next_u64());
                let (answers, spread) = burst(&pool[..n as usize], flow, &key, p.charge_ms).await?;
                spreads.push(spread);
                charges.push(count_charges(&admin, &key).await? as f64);
                conflicts.push(
                    answers
                        .iter()
                        .filter(|a| matches!(a, Answer::Conflict { .. }))
                        .count() as f64,
                );
                replays.push(answers.iter().filter(|a| **a == Answer::Replay).count() as f64);
                wrong.push(
                    answers
                        .iter()
                        .filter(|a| **a == Answer::Conflict { completed: true })
                        .count() as f64,
                );
            }
            let tag = format!("{}_n{n}", flow.name());
            r.set_samples(format!("{tag}_charges_per_key"), &charges, "charges");
            r.set_samples(format!("{tag}_conflicts_per_key"), &conflicts, "answers");
            r.set_samples(format!("{tag}_replays_per_key"), &replays, "answers");
            r.set_samples(format!("{tag}_wrong_answers_per_key"), &wrong, "answers");
            let mean = |x: &[f64]| x.iter().sum::<f64>() / x.len().max(1) as f64;
            line.push((n as f64, mean(&charges)));
            conflict_line.push((n as f64, mean(&conflicts)));
        }
        lines.push((flow.name().to_string(), line));
        conflict_lines.push((flow.name().to_string(), conflict_line));
    }
    spreads.sort_by(f64::total_cmp);
    let spread_ms = spreads[spreads.len() / 2];
    r.set("burst_spread_ms", spread_ms, "ms");
    r.calibration.insert(
        "burst_spread_ms".into(),
        toml::Value::Float(round3(spread_ms)),
    );
    r.series.push(RealSeries {
        id: "real-burst-charges".into(),
        title: "Real PostgreSQL: charges per key in a burst (every keyed flow: 1)".into(),
        x_label: "concurrent duplicates".into(),
        y_label: "charges per key".into(),
        lines,
        log_y: false,
    });
    r.series.push(RealSeries {
        id: "real-burst-409s".into(),
        title: "Real PostgreSQL: 409 answers in a burst (FOR UPDATE changes nothing)".into(),
        x_label: "concurrent duplicates".into(),
        y_label: "409 answers per burst".into(),
        lines: conflict_lines,
        log_y: false,
    });

    // Sequential duplicates: the second request after the first one's answer.
    (ctx.progress)("sequential duplicates");
    for flow in Flow::ALL {
        let key = format!("seq-{:016x}", rng.next_u64());
        let first = handle(&pool[0], flow, &key, p.charge_ms).await?;
        let second = handle(&pool[0], flow, &key, p.charge_ms).await?;
        let charges = count_charges(&admin, &key).await?;
        r.set(
            format!("{}_sequential_charges_per_key", flow.name()),
            charges as f64,
            "charges",
        );
        r.set(
            format!("{}_sequential_second_is_replay", flow.name()),
            if first == Answer::Charged && second == Answer::Replay {
                1.0
            } else {
                0.0
            },
            "bool",
        );
    }

    // The SELECT race: B reads before A claims; A completes; B claims.
    (ctx.progress)("the SELECT race");
    for flow in [Flow::Article, Flow::ArticleForUpdate] {
        let key = format!("race-{:016x}", rng.next_u64());
        let b = &pool[1];
        let cached = select_completed(b, &key).await?;
        let a = handle(&pool[0], flow, &key, p.charge_ms).await?;
        let b_answer = if cached {
            Answer::Replay
        } else {
            claim_then(b, flow, &key, p.charge_ms).await?
        };
        let wrong = a == Answer::Charged && b_answer == (Answer::Conflict { completed: true });
        r.set(
            format!("{}_race_wrong_answer", flow.name()),
            if wrong { 1.0 } else { 0.0 },
            "bool",
        );
        if wrong {
            r.findings.push(format!(
                "{} flow: a request whose \"cached?\" SELECT ran before another request \
                 claimed the key was answered 409 \"in flight\" after that payment had \
                 completed (a wrong answer, not a double charge).",
                flow.name()
            ));
        }
    }

    // Mobile retries: lost responses retried with a new random key or the same key.
    for &loss in &p.loss_rates {
        (ctx.progress)(&format!("retries at {:.0}% lost responses", loss * 100.0));
        for (strategy, random) in [("random_key", true), ("stable_key", false)] {
            admin
                .batch_execute("TRUNCATE idempotency_keys, charges")
                .await
                .map_err(|e| e.to_string())?;
            let mut lost_retried = 0u64;
            for i in 0..p.retry_payments {
                let mut key = format!("pay-{i}-{:016x}", rng.next_u64());
                for attempt in 0..=p.max_retries {
                    let _ = handle(&pool[0], Flow::Article, &key, p.charge_ms.min(1.0)).await?;
                    let lost = crate::des::uniform(&mut rng) < loss;
                    if !lost {
                        break;
                    }
                    if attempt < p.max_retries {
                        lost_retried += 1;
                        if random {
                            key = format!("pay-{i}-{:016x}", rng.next_u64());
                        }
                    }
                }
            }
            let charges = admin
                .query_one("SELECT count(*) FROM charges", &[])
                .await
                .map_err(|e| e.to_string())?
                .get::<_, i64>(0) as f64;
            let extra = charges - p.retry_payments as f64;
            let pct = (loss * 100.0).round() as u32;
            r.set(
                format!("{strategy}_loss{pct}_double_charges_per_10k"),
                extra * 10_000.0 / p.retry_payments.max(1) as f64,
                "per 10k",
            );
            r.set(
                format!("{strategy}_loss{pct}_retries"),
                lost_retried as f64,
                "retries",
            );
        }
    }

    // TTL cleanup of expired keys.
    (ctx.progress)(&format!("TTL cleanup of {} keys", p.ttl_keys));
    admin
        .batch_execute(&format!(
            "TRUNCATE idempotency_keys; \
             INSERT INTO idempotency_keys (key, status, created_at) \
             SELECT 'ttl-' || g, 'completed', now() - interval '25 hours' \
             FROM generate_series(1, {}) g; ANALYZE idempotency_keys;",
            p.ttl_keys
        ))
        .await
        .map_err(|e| e.to_string())?;
    let t = Instant::now();
    let deleted = admin
        .execute(
            "DELETE FROM idempotency_keys WHERE created_at < now() - interval '24 hours'",
            &[],
        )
        .await
        .map_err(|e| e.to_string())?;
    let secs = t.elapsed().as_secs_f64();
    r.set("ttl_deleted_keys", deleted as f64, "keys");
    r.set("ttl_delete_s", secs, "s");
    r.set(
        "ttl_delete_keys_per_s",
        deleted as f64 / secs.max(1e-9),
        "keys/s",
    );
    Ok(())
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// N requests with one key, each on its own connection, released together. Returns the
/// answers and the spread (ms) between the first and last request's first statement.
async fn burst(
    pool: &[Arc<Client>],
    flow: Flow,
    key: &str,
    charge_ms: f64,
) -> Result<(Vec<Answer>, f64), String> {
    let barrier = Arc::new(Barrier::new(pool.len()));
    let mut tasks = Vec::new();
    for c in pool {
        let c = Arc::clone(c);
        let b = Arc::clone(&barrier);
        let key = key.to_string();
        tasks.push(tokio::spawn(async move {
            b.wait().await;
            let started = Instant::now();
            let a = handle(&c, flow, &key, charge_ms).await;
            (started, a)
        }));
    }
    let mut answers = Vec::new();
    let mut starts = Vec::new();
    for t in tasks {
        let (s, a) = t.await.map_err(|e| e.to_string())?;
        starts.push(s);
        answers.push(a?);
    }
    let first = starts.iter().min().copied();
    let last = starts.iter().max().copied();
    let spread = match (first, last) {
        (Some(f), Some(l)) => l.duration_since(f).as_secs_f64() * 1000.0,
        _ => 0.0,
    };
    Ok((answers, spread))
}

async fn count_charges(c: &Client, key: &str) -> Result<i64, String> {
    Ok(
        c.query_one("SELECT count(*) FROM charges WHERE key = $1", &[&key])
            .await
            .map_err(|e| e.to_string())?
            .get(0),
    )
}

async fn select_completed(c: &Client, key: &str) -> Result<bool, String> {
    let rows = c
        .query(
            "SELECT status FROM idempotency_keys WHERE key = $1",
            &[&key],
        )
        .await
        .map_err(|e| e.to_string())?;
    Ok(rows
        .first()
        .is_some_and(|r| r.get::<_, &str>(0) == "completed"))
}

async fn charge(c: &Client, key: &str, charge_ms: f64) -> Result<(), String> {
    tokio::time::sleep(Duration::from_secs_f64(charge_ms / 1000.0)).await;
    c.execute("INSERT INTO charges (key) VALUES ($1)", &[&key])
        .await
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// One request through a server flow.
async fn handle(c: &Client, flow: Flow, key: &str, charge_ms: f64) -> Result<Answer, String> {
    match flow {
        Flow::None => {
            charge(c, key, charge_ms).await?;
            Ok(Answer::Charged)
        }
        Flow::Article | Flow::ArticleForUpdate => {
            if select_completed(c, key).await? {
                return Ok(Answer::Replay);
            }
            claim_then(c, flow, key, charge_ms).await
        }
        Flow::OneTransaction => {
            let e = |e: tokio_postgres::Error| e.to_string();
            c.batch_execute("BEGIN").await.map_err(e)?;
            let claimed = c
                .query(
                    "INSERT INTO idempotency_keys (key, status) VALUES ($1, 'processing') \
                     ON CONFLICT DO NOTHING RETURNING key",
                    &[&key],
                )
                .await
                .map_err(e)?;
            let answer = if claimed.is_empty() {
                // We waited for the winner's transaction; its outcome is visible now.
                if select_completed(c, key).await? {
                    Answer::Replay
                } else {
                    Answer::Conflict { completed: false }
                }
            } else {
                charge(c, key, charge_ms).await?;
                c.execute(
                    "UPDATE idempotency_keys SET status = 'completed' WHERE key = $1",
                    &[&key],
                )
                .await
                .map_err(e)?;
                Answer::Charged
            };
            c.batch_execute("COMMIT").await.map_err(e)?;
            Ok(answer)
        }
    }
}

/// The article's claim step and what follows it.
async fn claim_then(c: &Client, flow: Flow, key: &str, charge_ms: f64) -> Result<Answer, String> {
    let e = |e: tokio_postgres::Error| e.to_string();
    let claimed = c
        .query(
            "INSERT INTO idempotency_keys (key, status) VALUES ($1, 'processing') \
             ON CONFLICT DO NOTHING RETURNING key",
            &[&key],
        )
        .await
        .map_err(e)?;
    if claimed.is_empty() {
        // Answered 409; whether the payment had in fact completed is what makes it wrong.
        let completed = select_completed(c, key).await?;
        return Ok(Answer::Conflict { completed });
    }
    if flow == Flow::ArticleForUpdate {
        // As the article shows it: the lock ends with its own transaction, before the charge.
        c.batch_execute("BEGIN").await.map_err(e)?;
        c.query(
            "SELECT status FROM idempotency_keys WHERE key = $1 FOR UPDATE",
            &[&key],
        )
        .await
        .map_err(e)?;
        c.batch_execute("COMMIT").await.map_err(e)?;
    }
    charge(c, key, charge_ms).await?;
    c.execute(
        "UPDATE idempotency_keys SET status = 'completed' WHERE key = $1",
        &[&key],
    )
    .await
    .map_err(e)?;
    Ok(Answer::Charged)
}
