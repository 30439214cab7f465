//! The PostgreSQL server in a build without the `postgres` feature: nothing can start, so
//! nothing needs stopping.

use crate::real::POSTGRES_NOT_BUILT;

/// Where a PostgreSQL kernel would run: never, in this build.
pub fn postgres_available(database_url: &str) -> Result<String, String> {
    let _ = database_url;
    Err(POSTGRES_NOT_BUILT.into())
}

/// Whether a throwaway cluster could be started here: not in this build.
pub fn throwaway_available() -> Result<String, String> {
    Err(POSTGRES_NOT_BUILT.into())
}

/// Stale throwaway clusters of dead runs: this build cannot stop a server, so it leaves them.
pub fn reap_stale() -> Vec<String> {
    Vec::new()
}

/// Stops every throwaway cluster this process started: none in this build.
pub fn stop_all() -> usize {
    0
}

#[cfg(test)]
mod tests {
    use crate::real::{Kernel, KernelContext, POSTGRES_NOT_BUILT};

    #[test]
    fn without_the_feature_both_kernels_say_why() {
        let ctx = KernelContext {
            seed: 1,
            quick: true,
            progress: &|_| {},
        };
        let defaults = toml::Table::new();
        let kernels: [&dyn Kernel; 2] = [
            &crate::migrations::PgMigrations,
            &crate::idempotency::PgIdempotency,
        ];
        for k in kernels {
            assert_eq!(k.available(&defaults), Err(POSTGRES_NOT_BUILT.into()));
            let r = k.run(&defaults, &ctx);
            assert_eq!(r.not_run.as_deref(), Some(POSTGRES_NOT_BUILT));
            assert!(r.metrics.is_empty() && r.environment.is_empty());
        }
        assert_eq!(
            super::postgres_available("postgres://localhost/x"),
            Err(POSTGRES_NOT_BUILT.into())
        );
        super::stop_all();
    }
}
