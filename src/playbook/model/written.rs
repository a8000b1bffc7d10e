//! Model types read in their written shape and then checked into a stricter one (an etcd
//! target is a key or a prefix, never neither nor both). The written struct derives serde and
//! the JSON Schema, so the schema shows what a playbook writes; the strict type is read through
//! it with [`checked`], and takes its schema with [`schema_as_written`].

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};

/// Deserializes the written struct `W` and turns it into `T` with `check`. The error of `check`
/// is raised from inside the mapping, so it points at the mapping, as validation's own "one
/// of" rules do.
pub fn checked<'de, D, W, T>(
    d: D,
    name: &'static str,
    fields: &'static [&'static str],
    check: fn(W) -> Result<T, String>,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    W: Deserialize<'de>,
{
    struct V<W, T> {
        name: &'static str,
        check: fn(W) -> Result<T, String>,
    }
    impl<'de, W: Deserialize<'de>, T> Visitor<'de> for V<W, T> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "a mapping ({})", self.name)
        }
        fn visit_map<A: MapAccess<'de>>(self, m: A) -> Result<T, A::Error> {
            let written = W::deserialize(de::value::MapAccessDeserializer::new(m))?;
            (self.check)(written).map_err(de::Error::custom)
        }
    }
    d.deserialize_struct(name, fields, V { name, check })
}

/// `impl JsonSchema for $strict` with the schema (and schema name) of `$written`.
macro_rules! schema_as_written {
    ($strict:ty, $written:ty) => {
        impl schemars::JsonSchema for $strict {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                <$written as schemars::JsonSchema>::schema_name()
            }
            fn schema_id() -> std::borrow::Cow<'static, str> {
                <$written as schemars::JsonSchema>::schema_id()
            }
            fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
                <$written as schemars::JsonSchema>::json_schema(generator)
            }
        }
    };
}

pub(super) use schema_as_written;
