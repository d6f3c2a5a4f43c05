//! NetFlow/IPFIX flow records, as nfdump prints them (`nfdump -o json` or `-o csv`),
//! e.g. collected by `nfcapd` from `softflowd`: who talks to whom, on which port, how
//! much.
//!
//! The import turns records between scanned hosts into benign `[[flow]]` demand: a record
//! whose destination port is open on the destination's group is a client's request (the
//! source's group is the client group, the port names the service); one whose source
//! port is open on the source's group is the server's answer, counted toward the same
//! flow. Everything else (an end in no group, a port no scan found open) is listed, not
//! guessed. Records are untrusted text like any input: only parsed numbers and
//! addresses are kept.

use std::net::Ipv4Addr;

use serde_json::Value;

use crate::{ImportError, Input};

/// One flow record (one direction of a connection).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// `tcp` or `udp` (other protocols are skipped when read).
    pub protocol: &'static str,
    /// Bytes.
    pub bytes: u64,
    /// First packet, ms since the Unix epoch (as the collector's clock printed it).
    pub first_ms: i64,
    /// Last packet, ms since the Unix epoch.
    pub last_ms: i64,
}

/// Reads nfdump's JSON (`-o json`: an array of records) or CSV (`-o csv`: a header line
/// naming `ts,te,td,sa,da,sp,dp,pr,...,ibyt`). Records of other protocols, IPv6 and
/// nfdump's summary lines are skipped.
pub fn read(input: &Input<'_>) -> Result<Vec<Record>, ImportError> {
    let text = input.text.trim_start();
    if text.starts_with('[') || text.starts_with('{') {
        read_json(input)
    } else {
        read_csv(input)
    }
}

fn error(input: &Input<'_>, line: usize, column: usize, message: String) -> ImportError {
    ImportError::Input {
        origin: input.origin.to_owned(),
        line,
        column,
        message,
    }
}

fn protocol(p: &str) -> Option<&'static str> {
    match p.trim().to_ascii_lowercase().as_str() {
        "6" | "tcp" => Some("tcp"),
        "17" | "udp" => Some("udp"),
        _ => None,
    }
}

fn read_json(input: &Input<'_>) -> Result<Vec<Record>, ImportError> {
    let v: Value = serde_json::from_str(input.text).map_err(|e| {
        error(
            input,
            e.line(),
            e.column(),
            format!("not nfdump JSON (`nfdump -o json`): {e}"),
        )
    })?;
    let list = match v {
        Value::Array(a) => a,
        Value::Object(_) => vec![v],
        _ => {
            return Err(error(
                input,
                1,
                1,
                "expected nfdump JSON: an array of flow records".to_owned(),
            ));
        }
    };
    let mut out = Vec::new();
    for (i, r) in list.iter().enumerate() {
        if r.get("type")
            .and_then(Value::as_str)
            .is_some_and(|t| t != "FLOW")
        {
            continue;
        }
        let num = |k: &str| r.get(k).and_then(Value::as_u64);
        let addr = |k: &str| {
            r.get(k)
                .and_then(Value::as_str)
                .and_then(|a| a.parse::<Ipv4Addr>().ok())
        };
        let proto = match r.get("proto") {
            Some(Value::Number(n)) => protocol(&n.to_string()),
            Some(Value::String(s)) => protocol(s),
            _ => None,
        };
        let (Some(src), Some(dst), Some(proto)) = (addr("src4_addr"), addr("dst4_addr"), proto)
        else {
            continue; // IPv6, ICMP, ...
        };
        let port = |k: &str| num(k).and_then(|p| u16::try_from(p).ok());
        let (Some(src_port), Some(dst_port), Some(bytes)) =
            (port("src_port"), port("dst_port"), num("in_bytes"))
        else {
            return Err(error(
                input,
                1,
                1,
                format!(
                    "record {i}: expected src_port, dst_port and in_bytes as numbers (nfdump -o json)"
                ),
            ));
        };
        let time = |k: &str| r.get(k).and_then(Value::as_str).and_then(parse_time);
        let (Some(first_ms), Some(last_ms)) = (time("first"), time("last")) else {
            return Err(error(
                input,
                1,
                1,
                format!("record {i}: expected `first` and `last` as YYYY-MM-DDTHH:MM:SS.mmm"),
            ));
        };
        out.push(Record {
            src,
            dst,
            src_port,
            dst_port,
            protocol: proto,
            bytes,
            first_ms,
            last_ms: last_ms.max(first_ms),
        });
    }
    Ok(out)
}

fn read_csv(input: &Input<'_>) -> Result<Vec<Record>, ImportError> {
    let mut lines = input.text.lines().enumerate();
    let Some((_, header)) = lines.next() else {
        return Ok(Vec::new());
    };
    let names: Vec<&str> = header.split(',').map(str::trim).collect();
    let col = |n: &str| names.iter().position(|&h| h == n);
    let needed = ["ts", "td", "sa", "da", "sp", "dp", "pr", "ibyt"];
    let cols: Vec<usize> = needed.iter().filter_map(|n| col(n)).collect();
    if cols.len() != needed.len() {
        return Err(error(
            input,
            1,
            1,
            format!(
                "not nfdump CSV (`nfdump -o csv`) or JSON (`-o json`): expected a header naming {}",
                needed.join(", ")
            ),
        ));
    }
    let mut out = Vec::new();
    for (n, line) in lines {
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        // nfdump ends its CSV with a summary block; it has other fields.
        if f.len() < names.len() || f[0].is_empty() || f[0] == "Summary" {
            if line.trim() == "Summary" {
                break;
            }
            continue;
        }
        let at = |k: usize| f[cols[k]];
        let Some(proto) = protocol(at(6)) else {
            continue;
        };
        let (Ok(src), Ok(dst)) = (at(2).parse::<Ipv4Addr>(), at(3).parse::<Ipv4Addr>()) else {
            continue; // IPv6
        };
        let bad = |what: &str| error(input, n + 1, 1, format!("expected {what} (nfdump -o csv)"));
        let first_ms = parse_time(at(0)).ok_or_else(|| bad("ts as YYYY-MM-DD HH:MM:SS"))?;
        let duration: f64 = at(1)
            .parse()
            .ok()
            .filter(|d: &f64| d.is_finite() && (0.0..=1e9).contains(d))
            .ok_or_else(|| bad("td as seconds (at most 10^9)"))?;
        out.push(Record {
            src,
            dst,
            src_port: at(4).parse().map_err(|_| bad("sp as a port"))?,
            dst_port: at(5).parse().map_err(|_| bad("dp as a port"))?,
            protocol: proto,
            bytes: at(7).parse().map_err(|_| bad("ibyt as bytes"))?,
            first_ms,
            last_ms: first_ms + (duration * 1000.0).round() as i64,
        });
    }
    Ok(out)
}

/// `YYYY-MM-DD[T ]HH:MM:SS[.mmm]` as ms since the Unix epoch (the collector's clock,
/// zone unknown: only differences and the hour of day are used).
pub fn parse_time(s: &str) -> Option<i64> {
    let s = s.trim();
    let (date, time) = s.split_once(['T', ' '])?;
    // Unsigned decimal numbers of at most `max` digits.
    let number = |x: &str, max: usize| {
        (!x.is_empty() && x.len() <= max && x.bytes().all(|b| b.is_ascii_digit()))
            .then(|| x.parse::<i64>().ok())
            .flatten()
    };
    let mut d = date.split('-').map(|x| number(x, 4));
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let (hms, ms) = match time.split_once('.') {
        Some((a, b)) => {
            let digits = b.get(..b.len().min(3))?;
            let scale = 10i64.pow(3 - digits.len() as u32);
            (a, number(digits, 3)? * scale)
        }
        None => (time, 0),
    };
    let mut t = hms.split(':').map(|x| number(x, 2));
    let (h, mi, sec) = (t.next()??, t.next()??, t.next()??);
    if d.next().is_some() || t.next().is_some() {
        return None;
    }
    if !(1..=12).contains(&m) || !(1..=31).contains(&day) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 24 + h) * 60 + mi) * 60_000 + sec * 1000 + ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_as_civil_dates() {
        assert_eq!(parse_time("1970-01-01T00:00:00.000"), Some(0));
        assert_eq!(parse_time("1970-01-02 00:00:01"), Some(86_401_000));
        // 2026-11-30 16:22:19.878 UTC.
        assert_eq!(
            parse_time("2026-11-30T16:22:19.878"),
            Some(1_796_055_739_878)
        );
        assert_eq!(parse_time("2026-13-30T16:22:19"), None);
        // What the fuzzer found: multi-byte fractions, signs, huge years.
        assert_eq!(parse_time("2026-11-30T16:22:19.\u{e9}\u{e9}"), None);
        assert_eq!(parse_time("2026-11-30T-1:22:19"), None);
        assert_eq!(parse_time("9999999999-11-30T16:22:19"), None);
        assert_eq!(parse_time("2026-11-30-1T16:22:19"), None);
        assert_eq!(parse_time("yesterday"), None);
    }

    #[test]
    fn json_and_csv_records_are_read() {
        let json = r#"[
{"type":"FLOW","first":"2026-11-30T16:00:00.000","last":"2026-11-30T16:00:02.500","in_bytes":4000,"proto":6,"src_port":50000,"dst_port":443,"src4_addr":"10.0.1.5","dst4_addr":"10.0.2.7"},
{"type":"FLOW","first":"2026-11-30T16:00:00.000","last":"2026-11-30T16:00:00.000","in_bytes":84,"proto":1,"src_port":0,"dst_port":0,"src4_addr":"10.0.1.5","dst4_addr":"10.0.2.7"},
{"type":"FLOW","first":"2026-11-30T16:00:00.000","last":"2026-11-30T16:00:00.000","in_bytes":84,"proto":6,"src_port":1,"dst_port":2,"src6_addr":"fe80::1","dst6_addr":"fe80::2"}
]"#;
        let r = read(&Input {
            text: json,
            origin: "flows.json",
        })
        .unwrap();
        assert_eq!(r.len(), 1, "ICMP and IPv6 are skipped");
        assert_eq!(r[0].dst_port, 443);
        assert_eq!(r[0].last_ms - r[0].first_ms, 2500);
        let csv = "ts,te,td,sa,da,sp,dp,pr,flg,ibyt\n2026-11-30 16:00:00,2026-11-30 16:00:02,2.500,10.0.1.5,10.0.2.7,50000,443,TCP,....S.,4000\nSummary\nflows,bytes\n1,4000\n";
        let c = read(&Input {
            text: csv,
            origin: "flows.csv",
        })
        .unwrap();
        assert_eq!(c, r, "the same record either way");
        let e = read(&Input {
            text: "a,b\n1,2\n",
            origin: "x.csv",
        })
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("x.csv:1:1:") && e.contains("nfdump"), "{e}");
        let e = read(&Input {
            text: "[{\"type\":\"FLOW\",\"src4_addr\":\"10.0.0.1\",\"dst4_addr\":\"10.0.0.2\",\"proto\":6}]",
            origin: "x.json",
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("record 0") && e.contains("in_bytes"), "{e}");
    }
}
