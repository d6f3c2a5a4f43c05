//! Counter-based randomness keyed by (seed, stream, entity, tick, draw).
//!
//! A shared sequential generator makes results depend on the order in which threads ask
//! for numbers. Here every random number is a pure function of *what it is for*: the
//! scenario seed, a named stream (one per purpose, e.g. `worm.scan`), the node it
//! concerns, the tick, and a small draw counter. Any thread may compute any draw, in any
//! order, and gets the same bits, so a run is bit-identical at 1 or 64 threads.
//!
//! The mixer is SplitMix64's finaliser applied in a chain (each key word is folded in and
//! re-mixed), the construction used by counter-based generators such as the one in
//! Java's `SplittableRandom`. Stream ids come from FNV-1a of the stream name, a fixed hash,
//! so they never change with the toolchain.
//!
//! ```
//! use paraverse_sim::rng::{SimRng, Stream};
//! const SCAN: Stream = Stream::named("worm.scan");
//! let rng = SimRng::new(7);
//! assert_eq!(rng.draw(SCAN, 42, 3, 0), rng.draw(SCAN, 42, 3, 0));
//! assert_ne!(rng.draw(SCAN, 42, 3, 0), rng.draw(SCAN, 42, 3, 1));
//! ```

use bevy_ecs::resource::Resource;

/// A named, independent source of randomness.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Stream(u64);

impl Stream {
    /// The stream for `name`; equal names give equal streams, on every machine.
    pub const fn named(name: &str) -> Self {
        Self(fnv1a(name.as_bytes()))
    }

    /// A sub-stream of this one, e.g. one per campaign: `WORM.derive(campaign_index)`.
    pub const fn derive(self, index: u64) -> Self {
        Self(mix64(
            self.0 ^ mix64(index.wrapping_add(0x632B_E59B_D9B4_E019)),
        ))
    }
}

/// FNV-1a, 64 bit: a fixed hash for stable ids (stream names, scenario provenance).
pub const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325_u64;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    hash
}

/// SplitMix64's finaliser: a bijection on u64 with full avalanche.
#[inline]
pub const fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The world's randomness: a seed, and draws keyed by what they are for.
#[derive(Resource, Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimRng {
    seed: u64,
}

/// A probability as a threshold on 32 random bits: `p × 2^32`, so `p = 1` always succeeds.
///
/// Probabilities from scenario files are converted once, at build time, so no float is
/// compared inside a tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Chance(u64);

impl Chance {
    /// Never.
    pub const NEVER: Self = Self(0);
    /// Always.
    pub const ALWAYS: Self = Self(1 << 32);

    /// The chance `p`, clamped to `[0, 1]`. Multiplying by 2^32 is exact in binary floating
    /// point, so the threshold is the same on every machine.
    pub fn new(p: f64) -> Self {
        let p = if p.is_nan() { 0.0 } else { p.clamp(0.0, 1.0) };
        Self((p * 4_294_967_296.0) as u64)
    }

    /// Whether a draw succeeds: compares the draw's top 32 bits with the threshold.
    #[inline]
    pub fn hit(self, draw: u64) -> bool {
        (draw >> 32) < self.0
    }

    /// The chance `num / den` exactly (as exactly as 32 bits allow), usable in constants.
    pub const fn from_ratio(num: u64, den: u64) -> Self {
        Self((num << 32) / den)
    }

    /// This chance times `num / den` (e.g. a twentieth of it), exactly in integers.
    pub const fn scaled(self, num: u64, den: u64) -> Self {
        Self(self.0 * num / den)
    }

    /// The probability as a float, for reports and costs: the threshold over 2^32,
    /// rounded to 9 decimals. A probability written with at most 9 decimals comes back
    /// as written (0.2, not 0.19999999995343387: the threshold's 2^-32 step is finer than
    /// the rounding).
    pub fn probability(self) -> f64 {
        (self.0 as f64 / 4_294_967_296.0 * 1e9).round() / 1e9
    }

    /// The raw threshold (p × 2^32).
    pub fn threshold(self) -> u64 {
        self.0
    }
}

/// A non-negative rate per tick in 32.32 fixed point, drawn as `floor(rate)` events plus
/// one more with probability `frac(rate)`: the mean is exact and no float is used per tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PerTick(u64);

impl PerTick {
    /// `per_second` events per second at ticks of `tick_secs` seconds.
    pub fn from_rate(per_second: f64, tick_micros: u64) -> Self {
        let per_tick = per_second.max(0.0) * (tick_micros as f64 / 1e6);
        Self((per_tick * 4_294_967_296.0).min(u64::MAX as f64) as u64)
    }

    /// How many events happen in one tick, for a draw.
    #[inline]
    pub fn sample(self, draw: u64) -> u32 {
        let whole = (self.0 >> 32) as u32;
        let frac = self.0 & 0xFFFF_FFFF;
        whole + u32::from((draw >> 32) < frac)
    }

    /// The rate times `factor` (≥ 0), saturating: one multiplication of the fixed-point
    /// value, the same bits on every machine.
    pub fn scaled(self, factor: f64) -> Self {
        Self((self.0 as f64 * factor.max(0.0)).min(u64::MAX as f64) as u64)
    }

    /// The raw 32.32 fixed-point rate.
    pub fn raw(self) -> u64 {
        self.0
    }

    /// The mean events per tick, for reports.
    pub fn mean(self) -> f64 {
        self.0 as f64 / 4_294_967_296.0
    }
}

impl SimRng {
    /// The randomness of a world with this seed.
    pub const fn new(seed: u64) -> Self {
        Self { seed }
    }

    /// The seed.
    pub const fn seed(&self) -> u64 {
        self.seed
    }

    /// 64 random bits for (stream, entity, tick, n). `n` numbers several draws that one
    /// entity makes in one tick.
    #[inline]
    pub fn draw(&self, stream: Stream, entity: u32, tick: u32, n: u32) -> u64 {
        let key = mix64(self.seed ^ stream.0);
        let x = mix64(key ^ u64::from(entity));
        mix64(x ^ ((u64::from(tick) << 32) | u64::from(n)))
    }

    /// Draws of one stream in one tick for many entities: the seed, stream and tick are
    /// mixed once, then each entity's draw costs one mix ([`TickDraws::draw`]) instead of
    /// [`SimRng::draw`]'s two or three. For per-node work done every tick (benign
    /// telemetry of a million nodes), where the mixing is most of the cost.
    #[inline]
    pub fn tick_draws(&self, stream: Stream, tick: u32) -> TickDraws {
        TickDraws(mix64(mix64(self.seed ^ stream.0) ^ u64::from(tick)))
    }

    /// A uniform float in `[0, 1)`: the draw's top 53 bits as a fraction.
    #[inline]
    pub fn uniform(&self, stream: Stream, entity: u32, tick: u32, n: u32) -> f64 {
        (self.draw(stream, entity, tick, n) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A uniform integer in `0..bound` (Lemire's multiply-shift; the bias is below 2^-32
    /// for every bound a world uses).
    #[inline]
    pub fn below(&self, stream: Stream, entity: u32, tick: u32, n: u32, bound: u64) -> u64 {
        ((u128::from(self.draw(stream, entity, tick, n)) * u128::from(bound)) >> 64) as u64
    }
}

/// One stream's draws in one tick ([`SimRng::tick_draws`]): a pure function of the seed,
/// stream, tick and entity, like every draw, so any thread may take any entity's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TickDraws(u64);

impl TickDraws {
    /// 64 random bits for `entity`: the tick's key and the entity (spread over the word by
    /// a multiplication with the golden ratio's odd constant) mixed once by SplitMix64's
    /// finaliser, as SplitMix64 mixes its counter.
    #[inline]
    pub fn draw(self, entity: u32) -> u64 {
        mix64(self.0 ^ u64::from(entity).wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Stream = Stream::named("test");

    /// Tick draws depend on seed, stream, tick and entity, and their bits are balanced:
    /// every bit is set in about half of 200,000 consecutive entities' draws, and
    /// neighbouring entities' draws share about half their bits.
    #[test]
    fn tick_draws_are_keyed_and_balanced() {
        let rng = SimRng::new(5);
        let t = rng.tick_draws(S, 9);
        assert_eq!(t, SimRng::new(5).tick_draws(S, 9));
        assert_ne!(t.draw(1), rng.tick_draws(S, 10).draw(1));
        assert_ne!(t.draw(1), SimRng::new(6).tick_draws(S, 9).draw(1));
        assert_ne!(t.draw(1), rng.tick_draws(Stream::named("other"), 9).draw(1));
        let n = 200_000u32;
        let mut ones = [0u32; 64];
        let mut shared = 0u64;
        for e in 0..n {
            let d = t.draw(e);
            for (b, count) in ones.iter_mut().enumerate() {
                *count += ((d >> b) & 1) as u32;
            }
            shared += u64::from((!(d ^ t.draw(e + 1))).count_ones());
        }
        for (b, &count) in ones.iter().enumerate() {
            let share = f64::from(count) / f64::from(n);
            assert!(
                (0.49..0.51).contains(&share),
                "bit {b} set in {share} of draws"
            );
        }
        let mean_shared = shared as f64 / f64::from(n);
        assert!(
            (31.8..32.2).contains(&mean_shared),
            "{mean_shared} bits shared"
        );
    }

    #[test]
    fn draws_are_pure_functions_of_their_key() {
        let a = SimRng::new(1);
        let b = SimRng::new(1);
        for e in 0..100 {
            assert_eq!(a.draw(S, e, 5, 0), b.draw(S, e, 5, 0));
        }
        assert_ne!(SimRng::new(2).draw(S, 0, 0, 0), a.draw(S, 0, 0, 0));
        assert_ne!(a.draw(Stream::named("other"), 0, 0, 0), a.draw(S, 0, 0, 0));
        assert_ne!(S.derive(0), S.derive(1));
    }

    #[test]
    fn probabilities_read_back_as_written() {
        for p in [0.2, 0.05, 0.3, 0.123456789, 0.999999999, 1.0, 0.0] {
            assert_eq!(Chance::new(p).probability(), p, "{p} reads back as written");
        }
    }

    #[test]
    fn stream_ids_are_stable_across_toolchains() {
        // FNV-1a of "test": a golden value, so a changed hash is caught here.
        assert_eq!(fnv1a(b"test"), 0xf9e6_e6ef_197c_2b25);
    }

    #[test]
    fn uniform_below_is_roughly_flat() {
        let rng = SimRng::new(9);
        let mut counts = [0u32; 10];
        for i in 0..100_000 {
            counts[rng.below(S, i, 0, 0, 10) as usize] += 1;
        }
        for c in counts {
            assert!((9_500..10_500).contains(&c), "{counts:?}");
        }
    }

    #[test]
    fn chance_and_rates_have_exact_means() {
        let rng = SimRng::new(3);
        let p = Chance::new(0.25);
        let hits = (0..200_000)
            .filter(|&i| p.hit(rng.draw(S, i, 0, 0)))
            .count();
        assert!((49_000..51_000).contains(&hits), "{hits}");
        assert!(Chance::ALWAYS.hit(u64::MAX));
        assert!(!Chance::NEVER.hit(0));
        let rate = PerTick::from_rate(0.5, 5_000_000); // 2.5 per tick
        let total: u64 = (0..100_000)
            .map(|i| u64::from(rate.sample(rng.draw(S, i, 1, 0))))
            .sum();
        assert!((248_000..252_000).contains(&total), "{total}");
    }
}
