//! Deterministic elementary functions.
//!
//! The platform's `f64::ln` and `f64::exp` may differ in the last bit between machines and
//! libm versions, and a model probability computed from them would then differ too (a
//! per-tick recovery chance, a per-edge transmission chance, a particle weight), breaking
//! bit-identical runs. These are built from + − × ÷ and the float's bits only, which IEEE
//! 754 rounds identically everywhere; `clippy.toml` bans the platform's versions.

const LN2: f64 = std::f64::consts::LN_2;

/// Natural logarithm from + − × ÷ and the float's bits (deterministic on every machine;
/// `f64::ln` is not). Relative error below 1e-15 on normal numbers; 0 and below give
/// the most negative finite value.
pub fn dln(x: f64) -> f64 {
    if x.is_nan() || x <= 0.0 {
        return f64::MIN;
    }
    if x < f64::MIN_POSITIVE {
        return -708.0;
    }
    let bits = x.to_bits();
    let mut e = ((bits >> 52) & 0x7ff) as i64 - 1023;
    let mut m = f64::from_bits((bits & ((1u64 << 52) - 1)) | (1023u64 << 52));
    if m > std::f64::consts::SQRT_2 {
        m /= 2.0;
        e += 1;
    }
    // ln m = 2 atanh(s), s = (m − 1) / (m + 1), |s| < 0.172.
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let mut term = s;
    let mut sum = 0.0;
    let mut k = 1.0;
    while k < 40.0 {
        sum += term / k;
        term *= s2;
        k += 2.0;
    }
    2.0 * sum + e as f64 * LN2
}

/// e^x from + − × ÷ and the float's bits (deterministic on every machine). Relative error
/// below 1e-15; below −708 it is 0.
pub fn dexp(x: f64) -> f64 {
    if x < -708.0 {
        return 0.0;
    }
    if x > 709.0 {
        return f64::MAX;
    }
    // Cody-Waite: ln 2 in two parts, the first with trailing zero bits, so k × LN2_HI
    // is exact and the reduction loses nothing for |k| up to ~1000.
    // fdlibm's split: 0x3fe62e42fee00000 and 0x3dea39ef35793c76.
    let ln2_hi = f64::from_bits(0x3fe6_2e42_fee0_0000);
    let ln2_lo = f64::from_bits(0x3dea_39ef_3579_3c76);
    let k = (x / LN2).round();
    let r = (x - k * ln2_hi) - k * ln2_lo;
    let mut term = 1.0;
    let mut sum = 1.0;
    for n in 1..24 {
        term *= r / f64::from(n);
        sum += term;
    }
    sum * f64::from_bits(((k as i64 + 1023) as u64) << 52)
}

/// The chance that an event of rate `rate` (per unit of `dt`) happens at least once in
/// `dt`: `1 − e^{−rate·dt}`, exact for a Poisson process (an exponential waiting time).
pub fn at_least_once(rate: f64, dt: f64) -> f64 {
    if rate <= 0.0 || dt <= 0.0 {
        return 0.0;
    }
    1.0 - dexp(-rate * dt)
}

/// `⌊√v⌋`, exactly, for every `v`: `u128::isqrt` costs ~100 ns in software, this a
/// float square root (correctly rounded by IEEE 754 on every platform) whose estimate a
/// step or two of integer arithmetic then corrects, so the result is exact, and the same
/// everywhere, whatever the float gave.
///
/// ```
/// use paraverse_sim::math::isqrt;
/// assert_eq!(isqrt(0), 0);
/// assert_eq!(isqrt(99), 9);
/// assert_eq!(isqrt(100), 10);
/// assert_eq!(isqrt(u128::MAX), u64::MAX);
/// ```
pub fn isqrt(v: u128) -> u64 {
    // The estimate, from the two halves (`v as f64` is a software routine on x86-64, each
    // half's conversion an instruction or two); `as` saturates. It is within a few units
    // of the root for every u128.
    let (high, low) = ((v >> 64) as u64, v as u64);
    let mut s = (high as f64 * 18_446_744_073_709_551_616.0 + low as f64).sqrt() as u64;
    while u128::from(s) * u128::from(s) > v {
        s -= 1;
    }
    while let Some(next) = s.checked_add(1) {
        match u128::from(next).checked_mul(u128::from(next)) {
            Some(square) if square <= v => s = next,
            _ => break,
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isqrt_is_the_exact_integer_root() {
        let mut values: Vec<u128> = vec![0, 1, 2, 3, 4, u128::MAX, u128::MAX - 1, 1 << 127];
        // Around perfect squares, where a float estimate is most often one off.
        for r in [
            1u128,
            2,
            3,
            1 << 20,
            (1 << 26) + 1,
            (1 << 40) - 1,
            3 << 50,
            u64::MAX.into(),
        ] {
            let sq = r * r;
            values.extend([sq - 1, sq, sq.saturating_add(1), sq.saturating_add(2 * r)]);
        }
        // And across every magnitude (SplitMix64 pairs).
        let mut z = 0x9E37_79B9_7F4A_7C15_u64;
        let mut next = || {
            z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut x = z;
            x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            x ^ (x >> 31)
        };
        for shift in 0..128 {
            let v = (u128::from(next()) << 64 | u128::from(next())) >> shift;
            values.push(v);
        }
        for v in values {
            assert_eq!(u128::from(isqrt(v)), v.isqrt(), "isqrt({v})");
        }
    }

    #[test]
    #[expect(
        clippy::disallowed_methods,
        reason = "the platform's functions as a yardstick"
    )]
    fn deterministic_log_and_exp_agree_with_the_platform() {
        for &x in &[
            1e-300, 1e-9, 0.001, 0.05, 0.5, 0.95, 1.0, 1.5, 2.0, 10.0, 1e6, 1e300,
        ] {
            let (ours, std) = (dln(x), x.ln());
            assert!(
                (ours - std).abs() <= 1e-14 * std.abs().max(1.0),
                "ln {x}: {ours} vs {std}"
            );
        }
        for &x in &[-700.0, -50.0, -1.0, -0.3, 0.0, 0.2, 1.0, 10.0, 300.0] {
            let (ours, std) = (dexp(x), x.exp());
            assert!(
                (ours - std).abs() <= 1e-14 * std,
                "exp {x}: {ours} vs {std}"
            );
        }
        assert_eq!(dexp(-800.0), 0.0);
    }

    #[test]
    fn at_least_once_is_one_minus_the_poisson_zero() {
        assert_eq!(at_least_once(0.0, 10.0), 0.0);
        assert!((at_least_once(0.1, 1.0) - 0.095_162_581_964_040_43).abs() < 1e-15);
        assert!(at_least_once(1e6, 1.0) > 0.999_999);
    }
}
