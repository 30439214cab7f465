//! Random streams: one independent generator per (scenario seed, sweep point, replication,
//! named source).
//!
//! Each stochastic source draws from its own stream, so changing one source (say the service
//! distribution) does not shift the numbers another source sees, and two sweep points given the
//! same point id share common random numbers. Streams are derived by hashing, never by thread or
//! shard, so results do not depend on scheduling.

use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

/// The generator behind every stream: xoshiro256++ (fast, 2^256 period, portable output).
pub type Stream = Xoshiro256PlusPlus;

/// A uniform draw in [0, 1) from the top 53 bits of one `next_u64` (exactly representable,
/// one draw per call, so streams stay reproducible).
#[inline]
pub fn uniform<R: rand::Rng + ?Sized>(rng: &mut R) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// Derives named streams for one replication at one point.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct RngStreams {
    base: u64,
}

/// SplitMix64 finaliser: a bijective mixer with good avalanche.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a 64 of a stream name.
fn fnv1a(name: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

impl RngStreams {
    /// Streams for `replication` at random-number point `point` of a scenario seeded `seed`.
    /// Pass the same `point` for several sweep points to give them common random numbers.
    pub fn new(seed: u64, point: u64, replication: u64) -> RngStreams {
        let base = mix(mix(mix(seed) ^ point) ^ replication.wrapping_mul(0xA24B_AED4_963E_E407));
        RngStreams { base }
    }

    /// The stream for the source called `name` (e.g. `"arrivals"`, `"service"`).
    pub fn stream(&self, name: &str) -> Stream {
        Stream::seed_from_u64(mix(self.base ^ fnv1a(name)))
    }

    /// A derived 64-bit value, for rooms that seed something other than a `Stream`.
    pub fn derive_u64(&self, name: &str) -> u64 {
        mix(self.base ^ fnv1a(name) ^ 0x5851_F42D_4C95_7F2D)
    }
}
