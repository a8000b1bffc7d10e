//! Small typed values used across the playbook: durations, counts and signals.
//!
//! Each parses strictly (a playbook that says `5 minutes` is an error, not 5 minutes) and carries
//! a JSON Schema of its own so editors flag mistakes before `chaos validate` does.

use std::fmt;

use super::schema::by_hand;
use schemars::json_schema;
use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

/// A duration written as `500ms`, `30s`, `5m`, `1h30m`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(pub std::time::Duration);

impl Duration {
    pub fn from_secs(s: u64) -> Self {
        Duration(std::time::Duration::from_secs(s))
    }
}

/// The longest duration a playbook may write (7 days), for every field: no chaos run waits
/// longer, and it keeps every deadline the engine computes far from `Instant` overflow.
pub const MAX_DURATION: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);

/// The number `t` starts with and what follows it (`512Mi`: 512 and `Mi`), for the values
/// written as a number and a unit; `Err` names what is wrong with the number, `hint` when
/// there is none.
pub(crate) fn leading_number<'a>(t: &'a str, hint: &str) -> Result<(u64, &'a str), String> {
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return Err(hint.to_string());
    }
    let n = t[..digits]
        .parse()
        .map_err(|_| "number too large".to_string())?;
    Ok((n, &t[digits..]))
}

/// Parses `1h30m`, `30s`, `500ms`; every number needs a unit; at most [`MAX_DURATION`].
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let hint = "expected a number with a unit (ms, s, m, h), like `30s`, `5m` or `1h30m`";
    let t = text.trim();
    if t.is_empty() {
        return Err(format!("empty duration: {hint}"));
    }
    let mut total = std::time::Duration::ZERO;
    let mut rest = t;
    while !rest.is_empty() {
        let (n, unit) =
            leading_number(rest, hint).map_err(|e| format!("invalid duration `{text}`: {e}"))?;
        rest = unit;
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let part = match &rest[..unit_len] {
            "ms" => std::time::Duration::from_millis(n),
            "s" => std::time::Duration::from_secs(n),
            "m" => std::time::Duration::from_secs(n.saturating_mul(60)),
            "h" => std::time::Duration::from_secs(n.saturating_mul(3600)),
            "" if rest.is_empty() => {
                return Err(format!("invalid duration `{text}`: missing unit; {hint}"));
            }
            "" => return Err(format!("invalid duration `{text}`: {hint}")),
            u => {
                return Err(format!(
                    "invalid duration `{text}`: unknown unit `{u}`; {hint}"
                ));
            }
        };
        total = total.saturating_add(part);
        if total > MAX_DURATION {
            return Err(format!(
                "invalid duration `{text}`: longer than the maximum of {} (7 days)",
                format_duration(MAX_DURATION)
            ));
        }
        rest = &rest[unit_len..];
    }
    Ok(total)
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_duration(self.0))
    }
}

/// Formats a duration the way playbooks write them (`1m30s`, `250ms`).
pub fn format_duration(d: std::time::Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        return "0s".into();
    }
    if !ms.is_multiple_of(1000) && ms < 60_000 {
        return if ms < 1000 {
            format!("{ms}ms")
        } else {
            format!("{:.1}s", d.as_secs_f64())
        };
    }
    let s = d.as_secs();
    let (h, m, s) = (s / 3600, (s % 3600) / 60, s % 60);
    let mut out = String::new();
    for (n, unit) in [(h, 'h'), (m, 'm'), (s, 's')] {
        if n > 0 {
            out += &format!("{n}{unit}");
        }
    }
    out
}

/// A value a playbook writes as a string or a whole number (`Duration`, `Size`, `PodPick`):
/// each type says what it expects and how it reads either form, in its own words; one visitor
/// serves them all.
pub(crate) trait StrOrNumber: Sized {
    /// What serde's "invalid type" message says was expected.
    const EXPECTING: &'static str;
    /// The value's name in messages: "invalid NAME `-1`: NEGATIVE".
    const NAME: &'static str;
    /// Why a negative number is refused.
    const NEGATIVE: &'static str;
    fn read_str(v: &str) -> Result<Self, String>;
    fn read_number(v: u64) -> Result<Self, String>;
}

/// The visitor of every [`StrOrNumber`] type (their `Deserialize`: [`read_str_or_number`]).
pub(crate) struct StrOrNumberVisitor<T>(std::marker::PhantomData<T>);

impl<T> StrOrNumberVisitor<T> {
    pub(crate) fn new() -> Self {
        StrOrNumberVisitor(std::marker::PhantomData)
    }
}

impl<T: StrOrNumber> de::Visitor<'_> for StrOrNumberVisitor<T> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(T::EXPECTING)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        T::read_str(v).map_err(E::custom)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        T::read_number(v).map_err(E::custom)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        match u64::try_from(v) {
            Ok(u) => self.visit_u64(u),
            Err(_) => Err(E::custom(format!(
                "invalid {} `{v}`: {}",
                T::NAME,
                T::NEGATIVE
            ))),
        }
    }
}

/// `impl Deserialize for $ty` through the [`StrOrNumberVisitor`], asking the deserializer with
/// `$how`: `deserialize_any` for a value written as a string or a number, `deserialize_str` for
/// one written as a string only.
macro_rules! read_str_or_number {
    ($ty:ty, $how:ident) => {
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.$how($crate::playbook::values::StrOrNumberVisitor::new())
            }
        }
    };
}

pub(crate) use read_str_or_number;

impl StrOrNumber for Duration {
    const EXPECTING: &'static str = "a duration like `30s` or `5m`";
    const NAME: &'static str = "duration";
    const NEGATIVE: &'static str = "durations cannot be negative";
    fn read_str(v: &str) -> Result<Self, String> {
        parse_duration(v).map(Duration)
    }
    fn read_number(v: u64) -> Result<Self, String> {
        Err(format!(
            "invalid duration `{v}`: missing unit; write `{v}s` for seconds"
        ))
    }
}

read_str_or_number!(Duration, deserialize_str);

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

by_hand!(
    Duration,
    json_schema!({
        "type": "string",
        "pattern": "^([0-9]+(ms|s|m|h))+$",
        "description": "A duration with units: `500ms`, `30s`, `5m`, `1h30m`.",
    })
);

/// An expected number of things: exactly `3`, or bounds `{at-least: 1, at-most: 5}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Count {
    pub at_least: u64,
    pub at_most: Option<u64>,
}

impl Count {
    pub fn exactly(n: u64) -> Self {
        Count {
            at_least: n,
            at_most: Some(n),
        }
    }
    pub fn matches(&self, n: u64) -> bool {
        n >= self.at_least && self.at_most.is_none_or(|m| n <= m)
    }
}

impl fmt::Display for Count {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.at_most {
            Some(m) if m == self.at_least => write!(f, "{m}"),
            Some(m) if self.at_least == 0 => write!(f, "at most {m}"),
            Some(m) => write!(f, "{}..={m}", self.at_least),
            None => write!(f, "at least {}", self.at_least),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Bounds {
    at_least: Option<u64>,
    at_most: Option<u64>,
}

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> de::Visitor<'de> for V {
            type Value = Count;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a count (a whole number, or `{at-least: N, at-most: M}`)")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Count, E> {
                Ok(Count::exactly(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Count, E> {
                Err(E::custom(format!(
                    "invalid count `{v}`: counts cannot be negative"
                )))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Count, A::Error> {
                let b = Bounds::deserialize(de::value::MapAccessDeserializer::new(map))?;
                match (b.at_least, b.at_most) {
                    (None, None) => Err(de::Error::custom(
                        "a count needs `at-least`, `at-most` or both",
                    )),
                    (l, Some(m)) if l.unwrap_or(0) > m => Err(de::Error::custom(format!(
                        "`at-least` ({}) is greater than `at-most` ({m})",
                        l.unwrap_or(0)
                    ))),
                    (l, m) => Ok(Count {
                        at_least: l.unwrap_or(0),
                        at_most: m,
                    }),
                }
            }
        }
        d.deserialize_any(V)
    }
}

by_hand!(
    Count,
    json_schema!({
        "description": "Exactly N, or bounds.",
        "oneOf": [
            {"type": "integer", "minimum": 0},
            {"type": "object", "additionalProperties": false, "minProperties": 1,
             "properties": {"at-least": {"type": "integer", "minimum": 0},
                            "at-most": {"type": "integer", "minimum": 0}}}
        ]
    })
);

/// A POSIX signal, by name (`SIGTERM`, `TERM`) or number (`15`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Signal(pub i32);

/// The signals a playbook may name, with their numbers **on Linux** (x86_64 and arm64, the
/// kind nodes' platforms).
///
/// Why our own table and not nix's `Signal` (`FromStr`, `as_str`) or libc's constants: those
/// carry the numbers of the host `chaos` is built for, and the number is sent to a process in
/// a Linux node container. On macOS, where `chaos` also runs, nix and libc say SIGUSR1 = 30,
/// SIGUSR2 = 31, SIGCHLD = 20, SIGCONT = 19, SIGSTOP = 17, SIGTSTP = 18, SIGBUS = 10: a
/// playbook validated there would signal the wrong thing. nix is also Unix-only. A test
/// compares this table with libc's constants when the host is Linux.
const SIGNALS: &[(&str, i32)] = &[
    ("SIGHUP", 1),
    ("SIGINT", 2),
    ("SIGQUIT", 3),
    ("SIGILL", 4),
    ("SIGTRAP", 5),
    ("SIGABRT", 6),
    ("SIGBUS", 7),
    ("SIGFPE", 8),
    ("SIGKILL", 9),
    ("SIGUSR1", 10),
    ("SIGSEGV", 11),
    ("SIGUSR2", 12),
    ("SIGPIPE", 13),
    ("SIGALRM", 14),
    ("SIGTERM", 15),
    ("SIGCHLD", 17),
    ("SIGCONT", 18),
    ("SIGSTOP", 19),
    ("SIGTSTP", 20),
    ("SIGWINCH", 28),
];

impl Signal {
    pub const TERM: Signal = Signal(15);
    pub const KILL: Signal = Signal(9);

    pub fn name(&self) -> Option<&'static str> {
        SIGNALS.iter().find(|(_, n)| *n == self.0).map(|(s, _)| *s)
    }

    pub fn parse(text: &str) -> Result<Signal, String> {
        if let Ok(n) = text.parse::<i32>() {
            return if (1..=64).contains(&n) {
                Ok(Signal(n))
            } else {
                Err(format!("invalid signal number {n}: expected 1 to 64"))
            };
        }
        let upper = text.to_ascii_uppercase();
        let full = if upper.starts_with("SIG") {
            upper
        } else {
            format!("SIG{upper}")
        };
        SIGNALS
            .iter()
            .find(|(s, _)| *s == full)
            .map(|(_, n)| Signal(*n))
            .ok_or_else(|| {
                let names = SIGNALS.iter().map(|(s, _)| *s);
                match super::suggest::did_you_mean(&full, names) {
                    Some(s) => format!("unknown signal `{text}`: did you mean `{s}`?"),
                    None => {
                        format!("unknown signal `{text}`: expected a name like SIGTERM or a number")
                    }
                }
            })
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "signal {}", self.0),
        }
    }
}

impl<'de> Deserialize<'de> for Signal {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Signal::parse(&s).map_err(de::Error::custom)
    }
}

impl Serialize for Signal {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

by_hand!(Signal, {
    let names: Vec<&str> = SIGNALS.iter().map(|(s, _)| *s).collect();
    json_schema!({
        "description": "A signal name (SIGTERM, TERM) or number (15).",
        "anyOf": [{"type": "string", "enum": names}, {"type": "string", "pattern": "^[A-Za-z0-9]+$"}, {"type": "integer", "minimum": 1, "maximum": 64}]
    })
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_need_units() {
        assert_eq!(parse_duration("1h30m").unwrap().as_secs(), 5400);
        assert_eq!(parse_duration("250ms").unwrap().as_millis(), 250);
        assert!(parse_duration("5 minutes").is_err());
        assert!(parse_duration("30").unwrap_err().contains("missing unit"));
        assert!(
            parse_duration("3d")
                .unwrap_err()
                .contains("unknown unit `d`")
        );
    }

    #[test]
    fn durations_are_bounded() {
        assert_eq!(parse_duration("168h").unwrap(), MAX_DURATION);
        assert_eq!(parse_duration("167h60m").unwrap(), MAX_DURATION);
        for long in ["168h1ms", "3000000000000000h", "99999999999999999999s"] {
            let e = parse_duration(long).unwrap_err();
            assert!(
                e.contains("maximum of 168h") || e.contains("number too large"),
                "{long}: {e}"
            );
        }
        assert!(
            parse_duration("3000000000000000h")
                .unwrap_err()
                .contains("longer than the maximum of 168h (7 days)")
        );
    }

    #[test]
    fn durations_format_like_playbooks() {
        assert_eq!(format_duration(std::time::Duration::from_secs(90)), "1m30s");
        assert_eq!(
            format_duration(std::time::Duration::from_millis(250)),
            "250ms"
        );
        assert_eq!(
            format_duration(std::time::Duration::from_millis(1500)),
            "1.5s"
        );
    }

    #[test]
    fn signals_by_name_or_number() {
        assert_eq!(Signal::parse("TERM").unwrap(), Signal(15));
        assert_eq!(Signal::parse("sigint").unwrap(), Signal(2));
        assert_eq!(Signal::parse("9").unwrap(), Signal::KILL);
        assert!(
            Signal::parse("SIGTREM")
                .unwrap_err()
                .contains("did you mean `SIGTERM`")
        );
    }

    /// On a Linux host libc's numbers are the nodes' numbers: the table must agree with them.
    #[cfg(all(
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    ))]
    #[test]
    fn the_signal_table_has_linux_numbers() {
        let libc = [
            ("SIGHUP", libc::SIGHUP),
            ("SIGINT", libc::SIGINT),
            ("SIGQUIT", libc::SIGQUIT),
            ("SIGILL", libc::SIGILL),
            ("SIGTRAP", libc::SIGTRAP),
            ("SIGABRT", libc::SIGABRT),
            ("SIGBUS", libc::SIGBUS),
            ("SIGFPE", libc::SIGFPE),
            ("SIGKILL", libc::SIGKILL),
            ("SIGUSR1", libc::SIGUSR1),
            ("SIGSEGV", libc::SIGSEGV),
            ("SIGUSR2", libc::SIGUSR2),
            ("SIGPIPE", libc::SIGPIPE),
            ("SIGALRM", libc::SIGALRM),
            ("SIGTERM", libc::SIGTERM),
            ("SIGCHLD", libc::SIGCHLD),
            ("SIGCONT", libc::SIGCONT),
            ("SIGSTOP", libc::SIGSTOP),
            ("SIGTSTP", libc::SIGTSTP),
            ("SIGWINCH", libc::SIGWINCH),
        ];
        assert_eq!(SIGNALS, libc.as_slice());
        assert_eq!(Signal::TERM.0, libc::SIGTERM);
        assert_eq!(Signal::KILL.0, libc::SIGKILL);
    }

    #[test]
    fn counts_and_bounds() {
        let c = Count {
            at_least: 1,
            at_most: Some(3),
        };
        assert!(c.matches(1) && c.matches(3) && !c.matches(4) && !c.matches(0));
        assert_eq!(Count::exactly(2).to_string(), "2");
    }
}
