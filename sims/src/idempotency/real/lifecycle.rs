//! Over a key's life: a handler that dies between the charge and its completion, mobile
//! retries with new or repeated keys, and the article's 24-hour cleanup.

use std::sync::Arc;
use std::time::Instant;

use rand::Rng;
use tokio_postgres::Client;

use super::{
    Answer, CLEANUP, Flow, charge, claim, count_charges, err, handle, mean, select_completed, share,
};
use crate::idempotency::real::RealParams;
use crate::real::postgres::Database;
use crate::real::{KernelContext, KernelReport};

/// A handler that dies between the charge and its `UPDATE ... completed` (its connection is
/// dropped): what a retry is told at once, after 23 hours, and after the article's 24-hour
/// cleanup has run.
pub(super) async fn crash(
    db: &Database,
    admin: &Client,
    pool: &[Arc<Client>],
    p: &RealParams,
    ctx: &KernelContext<'_>,
    rng: &mut crate::des::Stream,
    r: &mut KernelReport,
) -> Result<(), String> {
    (ctx.progress)("a handler crashes after the charge");
    let (mut refused, mut still_processing, mut refused_23h) = (0u64, 0u64, 0u64);
    let mut charges_after_ttl = Vec::new();
    let age = "UPDATE idempotency_keys SET created_at = now() - $2::text::interval WHERE key = $1";
    for _ in 0..p.trials {
        let key = format!("crash-{:016x}", rng.next_u64());
        {
            let dying = db.connect().await?;
            if select_completed(&dying, &key).await? {
                return Err("a fresh key was already completed".into());
            }
            if !claim(&dying, &key).await? {
                return Err("a fresh key could not be claimed".into());
            }
            charge(&dying, &key, p.charge_ms).await?;
            // The process dies here: no UPDATE, the connection goes away.
        }
        let retry = handle(&pool[0], Flow::Article, &key, p.charge_ms).await?;
        refused += u64::from(matches!(retry, Answer::Conflict { .. }));
        let status = admin
            .query_opt(
                "SELECT status FROM idempotency_keys WHERE key = $1",
                &[&key],
            )
            .await
            .map_err(err)?
            .map(|row| row.get::<_, String>(0));
        still_processing += u64::from(status.as_deref() == Some("processing"));
        // 23 hours on, the cleanup leaves it: a retry is still refused.
        admin
            .execute(age, &[&key, &"23 hours"])
            .await
            .map_err(err)?;
        admin.batch_execute(CLEANUP).await.map_err(err)?;
        let later = handle(&pool[0], Flow::Article, &key, p.charge_ms).await?;
        refused_23h += u64::from(matches!(later, Answer::Conflict { .. }));
        // Past 24 hours the cleanup deletes the key, and the retry claims it again.
        admin
            .execute(age, &[&key, &"25 hours"])
            .await
            .map_err(err)?;
        admin.batch_execute(CLEANUP).await.map_err(err)?;
        let _ = handle(&pool[0], Flow::Article, &key, p.charge_ms).await?;
        charges_after_ttl.push(count_charges(admin, &key).await? as f64);
    }
    let t = u64::from(p.trials);
    r.set_exact("crash_retry_refused", share(refused, t), "share of trials");
    r.set_exact(
        "crash_key_still_processing",
        share(still_processing, t),
        "share of trials",
    );
    r.set_exact(
        "crash_retry_refused_after_23h",
        share(refused_23h, t),
        "share of trials",
    );
    r.set_exact(
        "crash_charges_per_key_after_ttl",
        mean(&charges_after_ttl),
        "charges",
    );
    if refused > 0 {
        r.findings.push(format!(
            "a handler that died after charging left its key `processing`: the retry was answered \
             409 \"in flight\" in {refused} of {t} trials, still after 23 hours, and once the \
             24-hour cleanup deleted the key the retry charged again ({:.0} charges per key).",
            mean(&charges_after_ttl)
        ));
    }
    Ok(())
}

/// Mobile retries: each response lost with a probability, retried up to `max_retries` times
/// with a new random key or the same key; `retry_trials` runs of `retry_payments` payments.
/// Double charges per 10k are the mean over every payment (each one a trial), with its t
/// interval; the retries per run are samples of runs.
pub(super) async fn retries(
    admin: &Client,
    pool: &[Arc<Client>],
    p: &RealParams,
    ctx: &KernelContext<'_>,
    rng: &mut crate::des::Stream,
    r: &mut KernelReport,
) -> Result<(), String> {
    // Counts, not timings: commits need not wait for the WAL flush (thousands of them).
    pool[0]
        .batch_execute("SET synchronous_commit = off")
        .await
        .map_err(err)?;
    for &loss in &p.loss_rates {
        (ctx.progress)(&format!("retries at {:.0}% lost responses", loss * 100.0));
        let pct = (loss * 100.0).round() as u32;
        for (strategy, random) in [("random_key", true), ("stable_key", false)] {
            // Each payment is a trial: its extra charges (x 10k), counted by the database.
            let (mut per_10k, mut retried, mut extra_total) = (Vec::new(), Vec::new(), 0i64);
            for _ in 0..p.retry_trials {
                admin
                    .batch_execute("TRUNCATE idempotency_keys, charges")
                    .await
                    .map_err(err)?;
                let mut lost_retried = 0u64;
                for i in 0..p.retry_payments {
                    let prefix = format!("pay-{i}-");
                    let mut key = format!("{prefix}{:016x}", rng.next_u64());
                    for attempt in 0..=p.max_retries {
                        // Sequential requests need no provider delay to show the mechanism.
                        let _ = handle(&pool[0], Flow::Article, &key, 0.0).await?;
                        let lost = crate::des::uniform(rng) < loss;
                        if !lost {
                            break;
                        }
                        if attempt < p.max_retries {
                            lost_retried += 1;
                            if random {
                                key = format!("{prefix}{:016x}", rng.next_u64());
                            }
                        }
                    }
                }
                // Charges per payment, whatever keys its attempts used.
                let rows = admin
                    .query(
                        "SELECT split_part(key, '-', 2), count(*) FROM charges GROUP BY 1",
                        &[],
                    )
                    .await
                    .map_err(err)?;
                let mut charged = vec![0i64; p.retry_payments as usize];
                for row in rows {
                    let i: usize = row
                        .get::<_, &str>(0)
                        .parse()
                        .map_err(|e| format!("charge key: {e}"))?;
                    if let Some(c) = charged.get_mut(i) {
                        *c += row.get::<_, i64>(1);
                    }
                }
                for c in charged {
                    extra_total += c - 1;
                    per_10k.push((c - 1) as f64 * 10_000.0);
                }
                retried.push(lost_retried as f64);
            }
            let tag = format!("{strategy}_loss{pct}");
            r.set_samples(format!("{tag}_double_charges_per_10k"), &per_10k, "per 10k");
            r.set_samples(format!("{tag}_retries"), &retried, "retries");
            // The charges table counts them: extra charges over all trials are a fact.
            r.set_exact(
                format!("{tag}_extra_charges"),
                extra_total as f64,
                "charges",
            );
        }
    }
    pool[0]
        .batch_execute("RESET synchronous_commit")
        .await
        .map_err(err)?;
    Ok(())
}

/// The article's cleanup on `ttl_keys` expired keys beside a tenth as many fresh ones,
/// `ttl_trials` times: what it deletes (a fact) and how long it takes (samples).
pub(super) async fn ttl(
    admin: &Client,
    p: &RealParams,
    ctx: &KernelContext<'_>,
    r: &mut KernelReport,
) -> Result<(), String> {
    let fresh = (p.ttl_keys / 10).max(1);
    let (mut secs, mut rate, mut deleted_keys) = (Vec::new(), Vec::new(), Vec::new());
    let mut exact_trials = 0u64;
    for trial in 0..p.ttl_trials {
        (ctx.progress)(&format!(
            "TTL cleanup of {} keys ({} of {})",
            p.ttl_keys,
            trial + 1,
            p.ttl_trials
        ));
        admin
            .batch_execute(&format!(
                "TRUNCATE idempotency_keys; \
                 INSERT INTO idempotency_keys (key, status, created_at) \
                 SELECT 'ttl-' || g, 'completed', now() - interval '25 hours' \
                 FROM generate_series(1, {}) g; \
                 INSERT INTO idempotency_keys (key, status, created_at) \
                 SELECT 'fresh-' || g, 'completed', now() - interval '23 hours' \
                 FROM generate_series(1, {fresh}) g; ANALYZE idempotency_keys;",
                p.ttl_keys
            ))
            .await
            .map_err(err)?;
        let t = Instant::now();
        let deleted = admin.execute(CLEANUP, &[]).await.map_err(err)?;
        let s = t.elapsed().as_secs_f64();
        let left: i64 = admin
            .query_one("SELECT count(*) FROM idempotency_keys", &[])
            .await
            .map_err(err)?
            .get(0);
        exact_trials += u64::from(deleted == p.ttl_keys && left as u64 == fresh);
        secs.push(s);
        rate.push(deleted as f64 / s.max(1e-9));
        deleted_keys.push(deleted as f64);
    }
    r.set_samples("ttl_delete_s", &secs, "s");
    r.set_samples("ttl_delete_keys_per_s", &rate, "keys/s");
    r.set_exact("ttl_deleted_keys", mean(&deleted_keys), "keys");
    r.set_exact(
        "ttl_deletes_only_expired",
        share(exact_trials, u64::from(p.ttl_trials)),
        "share of trials",
    );
    Ok(())
}
