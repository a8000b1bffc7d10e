//! Every action key, as serde knows it: the list of `Action`'s variants read from its derived
//! `Deserialize`, so the list of keys a step accepts (errors, suggestions, the registry's
//! tests) cannot drift from the enum. Apart from actions.rs, which holds what each action is.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use super::actions::Action;

/// Every action key, in the order `Action` declares them: serde's own list of the enum's
/// variants, so it cannot drift from the enum.
pub fn action_keys() -> &'static [&'static str] {
    match Action::deserialize(VariantsOf) {
        Err(Variants(keys)) => keys,
        Ok(_) => &[],
    }
}

/// A deserializer that only asks for an enum, to learn the names of its variants.
struct VariantsOf;

#[derive(Debug)]
struct Variants(&'static [&'static str]);

impl fmt::Display for Variants {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the names of an enum's variants")
    }
}

impl std::error::Error for Variants {}

impl de::Error for Variants {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Variants(&[])
    }
}

impl<'de> Deserializer<'de> for VariantsOf {
    type Error = Variants;
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        _v: V,
    ) -> Result<V::Value, Variants> {
        Err(Variants(variants))
    }
    fn deserialize_any<V: Visitor<'de>>(self, _v: V) -> Result<V::Value, Variants> {
        Err(Variants(&[]))
    }
    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct identifier
        ignored_any
    }
}
