//! Durations in reports are seconds as a number with millisecond precision (`1.25`), read back
//! the same way (`chaos report` re-renders a saved JSON report): one pair of serde helpers for
//! every report type, so the format cannot drift between them.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serializer};

pub fn ser<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((d.as_secs_f64() * 1000.0).round() / 1000.0)
}

pub fn de<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let secs = f64::deserialize(d)?;
    Duration::try_from_secs_f64(secs).map_err(serde::de::Error::custom)
}

pub fn ser_opt<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => ser(d, s),
        None => s.serialize_none(),
    }
}

pub fn de_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    Option::<f64>::deserialize(d)?
        .map(|secs| Duration::try_from_secs_f64(secs).map_err(serde::de::Error::custom))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
    struct T {
        #[serde(serialize_with = "ser", deserialize_with = "de")]
        d: Duration,
        #[serde(serialize_with = "ser_opt", deserialize_with = "de_opt")]
        o: Option<Duration>,
    }

    #[test]
    fn seconds_round_trip_at_millisecond_precision() {
        let t = T {
            d: Duration::from_millis(1250),
            o: None,
        };
        let text = serde_json::to_string(&t).unwrap();
        assert_eq!(text, r#"{"d":1.25,"o":null}"#);
        assert_eq!(serde_json::from_str::<T>(&text).unwrap(), t);
        let back: T = serde_json::from_str(r#"{"d":0.001,"o":2.5}"#).unwrap();
        assert_eq!(back.o, Some(Duration::from_millis(2500)));
        assert!(serde_json::from_str::<T>(r#"{"d":-1,"o":null}"#).is_err());
    }
}
