//! Model types read in their written shape and then checked into a stricter one (an etcd
//! target is a key or a prefix, never neither nor both). The written struct derives serde and
//! the JSON Schema, so the schema shows what a playbook writes; the strict type is read through
//! it with [`checked`] and takes its schema, both declared at once with [`read_as_written`]
//! (every strict type is read this same way, so the impls are written once, here).

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

/// `$strict` is read as `$written` (whose keys are `$fields`) and turned into itself by `$check`
/// (through [`checked`], the mapping named `$strict` in messages), and its JSON Schema (and
/// schema name) is that of `$written`.
macro_rules! read_as_written {
    ($strict:ident, $written:ty, $fields:expr, $check:expr) => {
        impl<'de> serde::Deserialize<'de> for $strict {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                $crate::playbook::model::written::checked(d, stringify!($strict), $fields, $check)
            }
        }

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

pub(super) use read_as_written;
