//! Quantities with units, as scenario files write them: `"1 s"`, `"20 ms"`, `"100 Mbit/s"`.
//!
//! Scenario authors think in units, and a bare number (`tick = 1`) is a classic source of
//! off-by-1000 errors. Every quantity is therefore a string with a unit, parsed into an
//! integer in a fixed base unit (microseconds, bits per second). Integers keep the world
//! deterministic: no float rounding reaches a tick count or a link capacity.
//!
//! ```
//! use paraverse_sim::units::{Bandwidth, SimDuration};
//! assert_eq!("1.5 s".parse::<SimDuration>().unwrap().as_micros(), 1_500_000);
//! assert_eq!("10 min".parse::<SimDuration>().unwrap().as_micros(), 600_000_000);
//! assert_eq!("100 Mbit/s".parse::<Bandwidth>().unwrap().bits_per_second(), 100_000_000);
//! ```

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a quantity string could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not a {what}{}: expected {expected}", if reason.is_empty() { String::new() } else { format!(" ({reason})") })]
pub struct QuantityError {
    /// The text that was given.
    pub input: String,
    /// What kind of quantity was expected ("duration", "bandwidth").
    pub what: &'static str,
    /// Examples of valid input.
    pub expected: &'static str,
    /// What in particular is wrong, where that is known (too large, too fine, ...).
    pub reason: String,
}

/// Parses `"<decimal> <unit>"` exactly into `value × scale(unit)` in integer base units.
fn parse_scaled(
    input: &str,
    units: &[(&str, u64)],
    what: &'static str,
    expected: &'static str,
) -> Result<u64, QuantityError> {
    let err_because = |reason: String| QuantityError {
        input: input.to_owned(),
        what,
        expected,
        reason,
    };
    let err = || err_because(String::new());
    let base = units[0].0;
    let too_large = || err_because(format!("too large: at most {} {base}", u64::MAX));
    let text = input.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
        .ok_or_else(err)?;
    let (number, unit) = text.split_at(split);
    let unit = unit.trim();
    let number = number.replace('_', "");
    if (unit.starts_with(['e', 'E'])
        && unit[1..].starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '+'))
        || text.starts_with('-')
    {
        return Err(err_because(
            if text.starts_with('-') {
                "negative"
            } else {
                "exponent notation is not read: write the number out"
            }
            .to_owned(),
        ));
    }
    let scale = units
        .iter()
        .find(|(name, _)| *name == unit)
        .map(|(_, scale)| *scale)
        .ok_or_else(|| {
            if number.is_empty() {
                err()
            } else {
                err_because(format!("unknown unit `{unit}`"))
            }
        })?;
    let (whole, frac) = match number.split_once('.') {
        Some((w, f)) => (w, f),
        None => (number.as_str(), ""),
    };
    if whole.is_empty() && frac.is_empty() {
        return Err(err());
    }
    let whole: u64 = if whole.is_empty() {
        0
    } else if !whole.chars().all(|c| c.is_ascii_digit()) {
        return Err(err());
    } else {
        whole.parse().map_err(|_| too_large())?
    };
    let mut value = whole.checked_mul(scale).ok_or_else(too_large)?;
    // Fractional digits, exactly: each digit is worth scale / 10^k; digits below the base
    // unit's resolution must be zero so that no value is silently rounded.
    let mut place = scale;
    for digit in frac.chars() {
        let d = u64::from(digit.to_digit(10).ok_or_else(err)?);
        if place % 10 != 0 {
            if d != 0 {
                return Err(err_because(format!(
                    "finer than the resolution of 1 {base}"
                )));
            }
            continue;
        }
        place /= 10;
        value = value.checked_add(d * place).ok_or_else(too_large)?;
    }
    Ok(value)
}

/// A span of simulated time, in microseconds.
///
/// Written as a decimal number and a unit: `us`, `ms`, `s`, `min`, `h` or `d`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SimDuration(u64);

const DURATION_UNITS: &[(&str, u64)] = &[
    ("us", 1),
    ("ms", 1_000),
    ("s", 1_000_000),
    ("min", 60_000_000),
    ("h", 3_600_000_000),
    ("d", 86_400_000_000),
];
const DURATION_EXPECTED: &str =
    "a number and a unit (us, ms, s, min, h, d), e.g. \"1 s\", \"20 ms\", \"5 min\"";

impl SimDuration {
    /// Zero time.
    pub const ZERO: Self = Self(0);

    /// A duration of `micros` microseconds.
    pub const fn from_micros(micros: u64) -> Self {
        Self(micros)
    }

    /// A duration of whole seconds.
    pub const fn from_secs(secs: u64) -> Self {
        Self(secs * 1_000_000)
    }

    /// The duration in microseconds.
    pub const fn as_micros(self) -> u64 {
        self.0
    }

    /// The duration in seconds, for display and reports.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e6
    }

    /// How many whole ticks of length `tick` fit in this duration, rounded up, so that an
    /// event "after 30 s" with 20 s ticks happens after 2 ticks, never early.
    pub fn ticks_ceil(self, tick: SimDuration) -> u64 {
        self.0.div_ceil(tick.0.max(1))
    }
}

impl FromStr for SimDuration {
    type Err = QuantityError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_scaled(s, DURATION_UNITS, "duration", DURATION_EXPECTED).map(Self)
    }
}

impl fmt::Display for SimDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str("0 s");
        }
        for (name, scale) in DURATION_UNITS.iter().rev() {
            if self.0 >= *scale && self.0.is_multiple_of(*scale) {
                return write!(f, "{} {name}", self.0 / scale);
            }
        }
        write!(f, "{} us", self.0)
    }
}

/// A data rate, in bits per second.
///
/// Written as a decimal number and a unit: `bit/s`, `kbit/s`, `Mbit/s`, `Gbit/s`, `Tbit/s`
/// (or the short forms `bps`, `kbps`, `Mbps`, `Gbps`, `Tbps`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Bandwidth(u64);

const BANDWIDTH_UNITS: &[(&str, u64)] = &[
    ("bit/s", 1),
    ("bps", 1),
    ("kbit/s", 1_000),
    ("kbps", 1_000),
    ("Mbit/s", 1_000_000),
    ("Mbps", 1_000_000),
    ("Gbit/s", 1_000_000_000),
    ("Gbps", 1_000_000_000),
    ("Tbit/s", 1_000_000_000_000),
    ("Tbps", 1_000_000_000_000),
];
const BANDWIDTH_EXPECTED: &str =
    "a number and a unit (bit/s, kbit/s, Mbit/s, Gbit/s, Tbit/s), e.g. \"100 Mbit/s\"";

impl Bandwidth {
    /// A rate of `bps` bits per second.
    pub const fn from_bits_per_second(bps: u64) -> Self {
        Self(bps)
    }
    /// The rate in bits per second.
    pub const fn bits_per_second(self) -> u64 {
        self.0
    }
}

impl FromStr for Bandwidth {
    type Err = QuantityError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_scaled(s, BANDWIDTH_UNITS, "bandwidth", BANDWIDTH_EXPECTED).map(Self)
    }
}

impl fmt::Display for Bandwidth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, scale) in BANDWIDTH_UNITS
            .iter()
            .rev()
            .filter(|(n, _)| n.contains('/'))
        {
            if self.0 >= *scale && self.0.is_multiple_of(*scale) {
                return write!(f, "{} {name}", self.0 / scale);
            }
        }
        write!(f, "{} bit/s", self.0)
    }
}

macro_rules! string_quantity {
    ($ty:ty, $name:literal, $pattern:literal, $description:expr) => {
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct Visitor;
                impl serde::de::Visitor<'_> for Visitor {
                    type Value = $ty;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str($description)
                    }
                    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<$ty, E> {
                        v.parse().map_err(|e: QuantityError| E::custom(e))
                    }
                }
                deserializer.deserialize_str(Visitor)
            }
        }
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }
        impl JsonSchema for $ty {
            fn schema_name() -> Cow<'static, str> {
                $name.into()
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!({
                    "type": "string",
                    "pattern": $pattern,
                    "description": $description,
                })
            }
        }
    };
}

string_quantity!(
    SimDuration,
    "Duration",
    r"^\s*[0-9_]*(\.[0-9]+)?\s*(us|ms|s|min|h|d)\s*$",
    DURATION_EXPECTED
);
string_quantity!(
    Bandwidth,
    "Bandwidth",
    r"^\s*[0-9_]*(\.[0-9]+)?\s*([kMGT]?bit/s|[kMGT]?bps)\s*$",
    BANDWIDTH_EXPECTED
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_exactly() {
        let us = |s: &str| s.parse::<SimDuration>().map(SimDuration::as_micros);
        assert_eq!(us("1 s"), Ok(1_000_000));
        assert_eq!(us("20ms"), Ok(20_000));
        assert_eq!(us("0.5 ms"), Ok(500));
        assert_eq!(us("2 h"), Ok(7_200_000_000));
        assert_eq!(us("1_000 us"), Ok(1_000));
        assert_eq!(us(".25 s"), Ok(250_000));
        assert!(
            us("0.5 us").is_err(),
            "below resolution must not round silently"
        );
        assert!(us("5").is_err(), "a bare number has no unit");
        assert!(us("5 parsecs").is_err());
        assert!(us("-1 s").is_err());
        assert!(us("s").is_err());
        assert!(
            us("99999999999999999999 d").is_err(),
            "overflow is an error"
        );
    }

    #[test]
    fn bandwidths_parse_and_display() {
        let b: Bandwidth = "2.5 Gbit/s".parse().unwrap();
        assert_eq!(b.bits_per_second(), 2_500_000_000);
        assert_eq!(b.to_string(), "2500 Mbit/s");
        assert_eq!(
            "1 Gbps".parse::<Bandwidth>().unwrap().to_string(),
            "1 Gbit/s"
        );
        let err = "fast".parse::<Bandwidth>().unwrap_err().to_string();
        assert!(err.contains("expected a number and a unit"), "{err}");
    }

    #[test]
    fn ticks_round_up() {
        let tick = SimDuration::from_secs(20);
        assert_eq!(SimDuration::from_secs(30).ticks_ceil(tick), 2);
        assert_eq!(SimDuration::from_secs(40).ticks_ceil(tick), 2);
        assert_eq!(SimDuration::ZERO.ticks_ceil(tick), 0);
        assert_eq!(SimDuration::from_secs(90).to_string(), "90 s");
        assert_eq!(SimDuration::from_secs(120).to_string(), "2 min");
    }
}
