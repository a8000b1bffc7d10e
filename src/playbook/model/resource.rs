//! The bodies of the resource faults (`cpu-hog`, `memory-hog`, `disk-fill`), apart from
//! `actions.rs` only to keep that file short: their variants, keys and undo flags are in
//! `actions.rs` with every other action's. [`Size`], how much a memory hog or a disk fill
//! takes, lives here because nothing else in a playbook is a size.

use std::fmt;

use schemars::{JsonSchema, json_schema};
use serde::{Deserialize, Serialize, Serializer};

use super::super::values::{Duration, StrOrNumber, leading_number, read_str_or_number};
use super::target::NodeTarget;
use crate::playbook::schema::by_hand;

/// Keep CPUs of a node busy for a while: busy loops inside the node container, each under
/// `timeout`, so they end by themselves after `duration` even if nothing undoes them.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct CpuHog {
    pub node: NodeTarget,
    /// How many busy loops, one core's worth each (default 1, at most 64).
    #[serde(default)]
    pub cores: Option<u32>,
    /// How long they run at most, like `2m` (at least 1s).
    pub duration: Duration,
}

/// Hold memory in a node for a while: a tmpfs of kind-chaos's own inside the node container,
/// filled with `size` bytes (charged to the node's memory cgroup), unmounted again after
/// `duration` by a timer in the node even if nothing undoes it.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct MemoryHog {
    pub node: NodeTarget,
    /// How much: bytes (`512Mi`, `1G`, `1048576`) or a share of the node's memory (`30%`: of
    /// the node container's memory limit, else of the machine's memory).
    pub size: Size,
    /// How long it is held at most, like `2m` (at least 1s).
    pub duration: Duration,
}

/// Fill the disk under a node's `/var/lib/containerd` (in kind, the filesystem of the node's
/// `/var`, also the kubelet's) with one file of kind-chaos's own, removed again after
/// `duration` by a timer in the node even if nothing undoes it.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct DiskFill {
    pub node: NodeTarget,
    /// How much: bytes (`512Mi`, `1G`) or a share of the filesystem's size (`30%`); more than
    /// is free fails before anything is written.
    pub size: Size,
    /// How long the file stays at most, like `2m` (at least 1s).
    pub duration: Duration,
}

/// How much a memory hog or a disk fill takes: a number of bytes, or per cent of a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Size {
    Bytes(u64),
    /// 1 to 100.
    Percent(u8),
}

/// The units a size may carry, and their factors.
const UNITS: [(&str, u64); 9] = [
    ("", 1),
    ("k", 1000),
    ("M", 1000 * 1000),
    ("G", 1000 * 1000 * 1000),
    ("T", 1000 * 1000 * 1000 * 1000),
    ("Ki", 1 << 10),
    ("Mi", 1 << 20),
    ("Gi", 1 << 30),
    ("Ti", 1 << 40),
];

/// Parses `512Mi`, `1G`, `4096` or `30%`.
pub fn parse_size(text: &str) -> Result<Size, String> {
    let hint = "expected bytes with an optional unit (k, M, G, T, Ki, Mi, Gi, Ti), like `512Mi`, \
                or a share like `30%`";
    let t = text.trim();
    let (n, unit) = leading_number(t, hint).map_err(|e| format!("invalid size `{text}`: {e}"))?;
    if unit == "%" {
        return match u8::try_from(n) {
            Ok(p @ 1..=100) => Ok(Size::Percent(p)),
            _ => Err(format!("invalid size `{text}`: a share is 1% to 100%")),
        };
    }
    let Some((_, factor)) = UNITS.iter().find(|(u, _)| *u == unit) else {
        return Err(format!(
            "invalid size `{text}`: unknown unit `{unit}`; {hint}"
        ));
    };
    match n.checked_mul(*factor) {
        Some(0) => Err(format!(
            "invalid size `{text}`: a size must be greater than zero"
        )),
        Some(bytes) => Ok(Size::Bytes(bytes)),
        None => Err(format!("invalid size `{text}`: number too large")),
    }
}

/// Bytes in the largest binary unit that divides them (`256Mi`), else the largest decimal one
/// (`1G`), else plain, as a playbook writes them.
pub fn format_bytes(bytes: u64) -> String {
    let divides = |(_, f): &&(&str, u64)| bytes >= *f && bytes.is_multiple_of(*f);
    let unit =
        (UNITS[5..].iter().rev().find(divides)).or_else(|| UNITS[1..5].iter().rev().find(divides));
    match unit {
        Some((u, f)) => format!("{}{u}", bytes / f),
        None => bytes.to_string(),
    }
}

/// Bytes for people: as a playbook writes them when a unit divides them (`256Mi`), else
/// rounded to a tenth of a binary unit with the exact count (`~2.0Gi (2147483625 bytes)`).
pub fn show_bytes(bytes: u64) -> String {
    let exact = format_bytes(bytes);
    if exact != bytes.to_string() {
        return exact;
    }
    match UNITS[5..].iter().rev().find(|(_, f)| bytes >= *f) {
        Some((u, f)) => format!("~{:.1}{u} ({bytes} bytes)", bytes as f64 / *f as f64),
        None => format!("{bytes} bytes"),
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Size::Bytes(b) => f.write_str(&format_bytes(*b)),
            Size::Percent(p) => write!(f, "{p}%"),
        }
    }
}

impl Serialize for Size {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl StrOrNumber for Size {
    const EXPECTING: &'static str = "a size like `512Mi`, `1G` or `30%`";
    const NAME: &'static str = "size";
    const NEGATIVE: &'static str = "sizes cannot be negative";
    fn read_str(v: &str) -> Result<Self, String> {
        parse_size(v)
    }
    fn read_number(v: u64) -> Result<Self, String> {
        parse_size(&v.to_string())
    }
}

read_str_or_number!(Size, deserialize_any);

by_hand!(
    Size,
    json_schema!({
        "description": "Bytes with an optional unit (`512Mi`, `1G`, `4096`), or a share (`30%`, 1 to 100).",
        "oneOf": [
            {"type": "integer", "minimum": 1},
            {"type": "string", "pattern": "^(0*[1-9][0-9]*(k|M|G|T|Ki|Mi|Gi|Ti)?|0*([1-9][0-9]?|100)%)$"}
        ]
    })
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_in_bytes_with_units_or_as_shares() {
        assert_eq!(parse_size("4096"), Ok(Size::Bytes(4096)));
        assert_eq!(parse_size("512Mi"), Ok(Size::Bytes(512 << 20)));
        assert_eq!(parse_size("1G"), Ok(Size::Bytes(1_000_000_000)));
        assert_eq!(parse_size("2k"), Ok(Size::Bytes(2000)));
        assert_eq!(parse_size("30%"), Ok(Size::Percent(30)));
        assert_eq!(parse_size("100%"), Ok(Size::Percent(100)));
        for bad in [
            "", "Mi", "0", "0Mi", "0%", "101%", "1.5G", "1 G", "5mb", "-1", "1KB",
        ] {
            assert!(parse_size(bad).is_err(), "{bad:?} parsed");
        }
        assert!(parse_size("99999999999Ti").is_err_and(|e| e.contains("too large")));
    }

    #[test]
    fn sizes_are_written_back_as_read() {
        for text in ["4096", "512Mi", "3Gi", "30%", "1k", "7G"] {
            let size = parse_size(text).expect(text);
            assert_eq!(parse_size(&size.to_string()), Ok(size));
        }
        assert_eq!(format_bytes(1 << 30), "1Gi");
        assert_eq!(format_bytes(1_000_000_000), "1G");
        assert_eq!(format_bytes(1_000_000_001), "1000000001");
        assert_eq!(show_bytes(256 << 20), "256Mi");
        assert_eq!(show_bytes(2_147_483_625), "~2.0Gi (2147483625 bytes)");
        assert_eq!(show_bytes(1023), "1023 bytes");
    }
}
