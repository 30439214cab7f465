//! The `migrations` room (article 11): the real PostgreSQL kernel; the model follows.

pub mod real;

pub use real::PgMigrations;
