//! The server flows the kernel runs against PostgreSQL (built with the `postgres` feature); the
//! in-memory set is not a database flow.
//!
//! Every experiment is repeated. What the database decides whatever the timing (one claim per
//! key under a unique index, a committed `processing` row that nothing updates, the rows a
//! `DELETE` removes) is reported as an exact fact over all trials; what timing can change (409
//! or replay, how long a delete takes) as samples with a t interval or as a share of trials
//! with a Wilson interval.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng;
use tokio::sync::Barrier;
use tokio_postgres::Client;
use tokio_postgres::error::SqlState;

mod lifecycle;

use self::lifecycle::{crash, retries, ttl};
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

/// The article's cleanup statement (Step 5), as written.
const CLEANUP: &str = "DELETE FROM idempotency_keys WHERE created_at < NOW() - INTERVAL '24 hours'";

pub(super) fn run(p: &RealParams, ctx: &KernelContext) -> KernelReport {
    run_kernel(&p.database_url, "idempotency", ctx, async |db, r| {
        experiments(db, p, ctx, r).await
    })
}

fn err(e: tokio_postgres::Error) -> String {
    e.to_string()
}

fn share(hits: u64, trials: u64) -> f64 {
    hits as f64 / trials.max(1) as f64
}

fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len().max(1) as f64
}

async fn experiments(
    db: &Database,
    p: &RealParams,
    ctx: &KernelContext<'_>,
    r: &mut KernelReport,
) -> Result<(), String> {
    let admin = db.connect().await?;
    admin.batch_execute(SCHEMA).await.map_err(err)?;
    let mut rng = crate::des::RngStreams::new(ctx.seed, 0, 0).stream("pg_idempotency");

    // One round trip: the model's db_ms (the median; the mean and its interval are reported).
    let mut rtt = Vec::new();
    for _ in 0..50 {
        let t = Instant::now();
        admin.simple_query("SELECT 1").await.map_err(err)?;
        rtt.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    r.set_samples("db_round_trip_ms", &rtt, "ms");
    rtt.sort_by(f64::total_cmp);
    let db_ms = rtt[rtt.len() / 2];
    r.calibration
        .insert("db_ms".into(), toml::Value::Float(round3(db_ms)));
    r.calibration.insert(
        "charge_median_ms".into(),
        toml::Value::Float(p.charge_ms.max(0.001)),
    );
    r.calibration
        .insert("charge_sigma".into(), toml::Value::Float(0.0));

    let pool_size = (*p.burst_sizes.iter().max().unwrap_or(&2) as usize).max(2);
    let mut pool = Vec::with_capacity(pool_size);
    for _ in 0..pool_size {
        pool.push(Arc::new(db.connect().await?));
    }

    // Each step's wall time, for the report (where the kernel's time goes).
    let mut steps = Vec::new();
    let mut t = Instant::now();
    let mut lap = |name: &str| {
        steps.push(format!("{name} {:.1}", t.elapsed().as_secs_f64()));
        t = Instant::now();
    };
    bursts(&admin, &pool, p, ctx, &mut rng, r).await?;
    lap("bursts");
    sequential(&admin, &pool, p, ctx, &mut rng, r).await?;
    returning_signal(&pool, p, &mut rng, r).await?;
    select_race(&pool, p, ctx, &mut rng, r).await?;
    lap("sequential, RETURNING, race");
    for_update_blocking(&admin, &pool, p, ctx, &mut rng, r).await?;
    crash(db, &admin, &pool, p, ctx, &mut rng, r).await?;
    lap("FOR UPDATE, crash");
    retries(&admin, &pool, p, ctx, &mut rng, r).await?;
    lap("retries");
    ttl(&admin, p, ctx, r).await?;
    lap("TTL");
    r.environment
        .insert("step wall times (s)".into(), steps.join(", "));
    Ok(())
}

/// N concurrent duplicates of one key, `trials` bursts per flow and size.
async fn bursts(
    admin: &Client,
    pool: &[Arc<Client>],
    p: &RealParams,
    ctx: &KernelContext<'_>,
    rng: &mut crate::des::Stream,
    r: &mut KernelReport,
) -> Result<(), String> {
    let mut spreads = Vec::new();
    let mut lines: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
    let mut conflict_lines: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
    for flow in Flow::ALL {
        let mut line = Vec::new();
        let mut conflict_line = Vec::new();
        let (mut not_once, mut bursts) = (0u64, 0u64);
        for &n in &p.burst_sizes {
            (ctx.progress)(&format!("{} flow, bursts of {n}", flow.name()));
            let (mut charges, mut conflicts, mut replays, mut wrong) =
                (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            let (mut once, mut double, mut any_conflict) = (0u64, 0u64, 0u64);
            for _ in 0..p.trials {
                let key = format!("burst-{:016x}", rng.next_u64());
                let (answers, spread) = burst(&pool[..n as usize], flow, &key, p.charge_ms).await?;
                spreads.push(spread);
                let c = count_charges(admin, &key).await?;
                let refused = answers
                    .iter()
                    .filter(|a| matches!(a, Answer::Conflict { .. }))
                    .count();
                charges.push(c as f64);
                conflicts.push(refused as f64);
                replays.push(answers.iter().filter(|a| **a == Answer::Replay).count() as f64);
                wrong.push(
                    answers
                        .iter()
                        .filter(|a| **a == Answer::Conflict { completed: true })
                        .count() as f64,
                );
                once += u64::from(c == 1);
                double += u64::from(c > 1);
                any_conflict += u64::from(refused > 0);
            }
            let trials = u64::from(p.trials);
            not_once += trials - once;
            bursts += trials;
            let tag = format!("{}_n{n}", flow.name());
            r.set_samples(format!("{tag}_charges_per_key"), &charges, "charges");
            r.set_samples(format!("{tag}_conflicts_per_key"), &conflicts, "answers");
            r.set_samples(format!("{tag}_replays_per_key"), &replays, "answers");
            r.set_samples(format!("{tag}_wrong_answers_per_key"), &wrong, "answers");
            r.set_proportion(format!("{tag}_charged_once"), once, trials);
            r.set_proportion(format!("{tag}_double_charged"), double, trials);
            r.set_proportion(format!("{tag}_any_conflict"), any_conflict, trials);
            line.push((n as f64, mean(&charges)));
            conflict_line.push((n as f64, mean(&conflicts)));
        }
        // The database counts the charges: a burst that charged other than once is a fact.
        let name = flow.name();
        r.set_exact(
            format!("{name}_bursts_not_charged_once"),
            not_once as f64,
            "bursts",
        );
        r.set_exact(format!("{name}_bursts"), bursts as f64, "bursts");
        lines.push((name.to_string(), line));
        conflict_lines.push((name.to_string(), conflict_line));
    }
    r.set_samples("burst_spread_ms", &spreads, "ms");
    spreads.sort_by(f64::total_cmp);
    let spread_ms = spreads[spreads.len() / 2];
    r.calibration.insert(
        "burst_spread_ms".into(),
        toml::Value::Float(round3(spread_ms)),
    );
    r.series.push(RealSeries {
        id: "real-burst-charges".into(),
        title: "Real PostgreSQL: charges per key in a burst (every keyed flow: 1)".into(),
        x_label: "concurrent duplicates".into(),
        y_label: "charges per key (mean of the bursts)".into(),
        lines,
        log_y: false,
    });
    r.series.push(RealSeries {
        id: "real-burst-409s".into(),
        title: "Real PostgreSQL: 409 answers in a burst (FOR UPDATE changes nothing)".into(),
        x_label: "concurrent duplicates".into(),
        y_label: "409 answers per burst (mean of the bursts)".into(),
        lines: conflict_lines,
        log_y: false,
    });
    Ok(())
}

/// Sequential duplicates: the second request after the first one's answer, `trials` pairs per
/// flow.
async fn sequential(
    admin: &Client,
    pool: &[Arc<Client>],
    p: &RealParams,
    ctx: &KernelContext<'_>,
    rng: &mut crate::des::Stream,
    r: &mut KernelReport,
) -> Result<(), String> {
    (ctx.progress)("sequential duplicates");
    for flow in Flow::ALL {
        let (mut charges, mut replayed, mut not_once) = (Vec::new(), 0u64, 0u64);
        for _ in 0..p.trials {
            let key = format!("seq-{:016x}", rng.next_u64());
            let first = handle(&pool[0], flow, &key, p.charge_ms).await?;
            let second = handle(&pool[0], flow, &key, p.charge_ms).await?;
            let c = count_charges(admin, &key).await?;
            charges.push(c as f64);
            replayed += u64::from(first == Answer::Charged && second == Answer::Replay);
            not_once += u64::from(c != 1);
        }
        let name = flow.name();
        let trials = u64::from(p.trials);
        r.set_samples(
            format!("{name}_sequential_charges_per_key"),
            &charges,
            "charges",
        );
        r.set_proportion(
            format!("{name}_sequential_second_is_replay"),
            replayed,
            trials,
        );
        r.set_exact(
            format!("{name}_sequential_not_charged_once"),
            not_once as f64,
            "pairs",
        );
    }
    Ok(())
}

/// `INSERT ... ON CONFLICT DO NOTHING RETURNING`: a row back for the first insert of a key and
/// none for a duplicate, checked `trials` times.
async fn returning_signal(
    pool: &[Arc<Client>],
    p: &RealParams,
    rng: &mut crate::des::Stream,
    r: &mut KernelReport,
) -> Result<(), String> {
    let mut signalled = 0u64;
    for _ in 0..p.trials {
        let key = format!("ret-{:016x}", rng.next_u64());
        let first = claim(&pool[0], &key).await?;
        let second = claim(&pool[1], &key).await?;
        signalled += u64::from(first && !second);
    }
    r.set_exact(
        "returning_empty_on_conflict",
        share(signalled, u64::from(p.trials)),
        "share of trials",
    );
    Ok(())
}

/// The race the article's first SELECT leaves open, forced: B reads before A claims; A
/// charges and completes; B claims and is told 409 for a completed payment.
async fn select_race(
    pool: &[Arc<Client>],
    p: &RealParams,
    ctx: &KernelContext<'_>,
    rng: &mut crate::des::Stream,
    r: &mut KernelReport,
) -> Result<(), String> {
    (ctx.progress)("the SELECT race");
    for flow in [Flow::Article, Flow::ArticleForUpdate] {
        let mut wrong = 0u64;
        for _ in 0..p.trials {
            let key = format!("race-{:016x}", rng.next_u64());
            let b = &pool[1];
            let cached = select_completed(b, &key).await?;
            let a = handle(&pool[0], flow, &key, p.charge_ms).await?;
            let b_answer = if cached {
                Answer::Replay
            } else {
                claim_then(b, flow, &key, p.charge_ms).await?
            };
            wrong += u64::from(
                a == Answer::Charged && b_answer == (Answer::Conflict { completed: true }),
            );
        }
        let s = share(wrong, u64::from(p.trials));
        // The interleaving is forced, so the answer is the flow's, not the timing's.
        r.set_exact(
            format!("{}_race_wrong_answer", flow.name()),
            s,
            "share of trials",
        );
        if wrong > 0 {
            r.findings.push(format!(
                "{} flow: in {wrong} of {} forced races a request whose \"cached?\" SELECT ran \
                 before another request claimed the key was answered 409 \"in flight\" after \
                 that payment had completed (a wrong answer, not a double charge).",
                flow.name(),
                p.trials
            ));
        }
    }
    Ok(())
}

/// Whether a second `SELECT ... FOR UPDATE` on the key waits for the first transaction (it
/// gives up after a 200 ms lock timeout), with the key absent (two duplicates arriving within
/// milliseconds, before either inserted) and with it present.
async fn for_update_blocking(
    admin: &Client,
    pool: &[Arc<Client>],
    p: &RealParams,
    ctx: &KernelContext<'_>,
    rng: &mut crate::des::Stream,
    r: &mut KernelReport,
) -> Result<(), String> {
    (ctx.progress)("does FOR UPDATE block?");
    let lock = "SELECT status FROM idempotency_keys WHERE key = $1 FOR UPDATE";
    for (present, name) in [
        (false, "for_update_absent_key_blocks"),
        (true, "for_update_present_key_blocks"),
    ] {
        let mut blocked = 0u64;
        for _ in 0..p.trials {
            let key = format!("lock-{:016x}", rng.next_u64());
            if present {
                admin
                    .execute(
                        "INSERT INTO idempotency_keys (key, status) VALUES ($1, 'processing')",
                        &[&key],
                    )
                    .await
                    .map_err(err)?;
            }
            let (a, b) = (&pool[0], &pool[1]);
            a.batch_execute("BEGIN").await.map_err(err)?;
            a.query(lock, &[&key]).await.map_err(err)?;
            b.batch_execute("BEGIN; SET LOCAL lock_timeout = '200ms'")
                .await
                .map_err(err)?;
            let waited = match b.query(lock, &[&key]).await {
                Ok(_) => false,
                Err(e) if e.code() == Some(&SqlState::LOCK_NOT_AVAILABLE) => true,
                Err(e) => return Err(e.to_string()),
            };
            b.batch_execute("ROLLBACK").await.map_err(err)?;
            a.batch_execute("COMMIT").await.map_err(err)?;
            blocked += u64::from(waited);
        }
        r.set_exact(name, share(blocked, u64::from(p.trials)), "share of trials");
    }
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
            .map_err(err)?
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
        .map_err(err)?;
    Ok(rows
        .first()
        .is_some_and(|r| r.get::<_, &str>(0) == "completed"))
}

/// The article's claim: whether a row came back.
async fn claim(c: &Client, key: &str) -> Result<bool, String> {
    let rows = c
        .query(
            "INSERT INTO idempotency_keys (key, status) VALUES ($1, 'processing') \
             ON CONFLICT DO NOTHING RETURNING key",
            &[&key],
        )
        .await
        .map_err(err)?;
    Ok(!rows.is_empty())
}

async fn charge(c: &Client, key: &str, charge_ms: f64) -> Result<(), String> {
    if charge_ms > 0.0 {
        tokio::time::sleep(Duration::from_secs_f64(charge_ms / 1000.0)).await;
    }
    c.execute("INSERT INTO charges (key) VALUES ($1)", &[&key])
        .await
        .map_err(err)?;
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
            c.batch_execute("BEGIN").await.map_err(err)?;
            let answer = if !claim(c, key).await? {
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
                .map_err(err)?;
                Answer::Charged
            };
            c.batch_execute("COMMIT").await.map_err(err)?;
            Ok(answer)
        }
    }
}

/// The article's claim step and what follows it.
async fn claim_then(c: &Client, flow: Flow, key: &str, charge_ms: f64) -> Result<Answer, String> {
    if !claim(c, key).await? {
        // Answered 409; whether the payment had in fact completed is what makes it wrong.
        let completed = select_completed(c, key).await?;
        return Ok(Answer::Conflict { completed });
    }
    if flow == Flow::ArticleForUpdate {
        // As the article shows it: the lock ends with its own transaction, before the charge.
        c.batch_execute("BEGIN").await.map_err(err)?;
        c.query(
            "SELECT status FROM idempotency_keys WHERE key = $1 FOR UPDATE",
            &[&key],
        )
        .await
        .map_err(err)?;
        c.batch_execute("COMMIT").await.map_err(err)?;
    }
    charge(c, key, charge_ms).await?;
    c.execute(
        "UPDATE idempotency_keys SET status = 'completed' WHERE key = $1",
        &[&key],
    )
    .await
    .map_err(err)?;
    Ok(Answer::Charged)
}
