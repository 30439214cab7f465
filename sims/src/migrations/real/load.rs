//! The application: an open-loop request generator on a pool of connections with prepared
//! statements, and the outcome of every request.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::RwLock;
use tokio_postgres::{Client, Statement};

use super::{E, e};
use crate::des::{Stream, uniform};
use crate::migrations::real::RealParams;
use crate::real::postgres::Database;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Outcome {
    Ok,
    Timeout,
    /// SQLSTATE 0A000: a prepared statement's result type changed.
    PlanChanged,
    Error,
}

#[derive(Clone, Copy, Debug)]
pub(super) struct Sample {
    /// Scheduled send time, s since the load started.
    pub(super) at: f64,
    pub(super) latency_ms: f64,
    pub(super) outcome: Outcome,
    /// An UPDATE or INSERT (the ghost trigger's work falls on these).
    pub(super) write: bool,
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
            .prepare("INSERT INTO orders (amount, region, updated_at) VALUES (1.00, 'eu', now())")
            .await
            .map_err(e)?,
    })
}

/// The open-loop application workload.
pub(super) struct Load {
    start: Instant,
    stop: Arc<AtomicBool>,
    ok: Arc<std::sync::atomic::AtomicU64>,
    driver: tokio::task::JoinHandle<Vec<Sample>>,
}

impl Load {
    pub(super) async fn start(db: &Database, p: &RealParams, mut rng: Stream) -> Result<Load, E> {
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
        let (rate, read, update, rows) = (p.rate_rps, p.read_fraction, p.update_fraction, p.rows);
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
    pub(super) fn now(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    pub(super) fn ok_count(&self) -> u64 {
        self.ok.load(Ordering::Relaxed)
    }

    pub(super) async fn stop(self) -> Vec<Sample> {
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
