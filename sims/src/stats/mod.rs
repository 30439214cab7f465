//! Statistics shared by every room: within a replication (tallies, time-weighted averages,
//! latency histograms, quantiles of a sorted sample) and across replications (means with
//! Student-t intervals, intervals from pooled counts, Welch's test of two means).

mod counts;
mod histogram;
mod interval;
mod quantile;
mod tally;
mod time_weighted;
mod welch;

pub use counts::{poisson_interval, wilson_interval};
pub use histogram::LatencyHistogram;
pub use interval::{Estimate, student_t_975};
pub use quantile::value_at_quantile;
pub use tally::Tally;
pub use time_weighted::TimeWeighted;
pub use welch::{SampleMoments, Welch, welch};
