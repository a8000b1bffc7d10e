//! One step: an optional `name`, an optional `for` (how long a fault lasts before it is undone)
//! plus exactly one action key (`- kubelet-stop: {node: x}`).
//!
//! Actions are externally tagged so every error can point inside the step. serde's derive cannot
//! put a sibling `name` key next to an externally tagged enum without `flatten` (which breaks
//! `deny_unknown_fields`), so `Step` is deserialized by hand and hands the action key to the
//! derived `Action` enum.

use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use super::actions::Action;
use super::variants::action_keys;
use crate::playbook::schema;
use crate::playbook::values::Duration;

/// A step of a playbook.
#[derive(Debug, Clone)]
pub struct Step {
    pub name: Option<String>,
    /// `for`: the fault is undone this long after it was injected (the step lasts that long).
    pub hold: Option<Duration>,
    pub action: Action,
}

impl<'de> Deserialize<'de> for Step {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(StepVisitor)
    }
}

struct StepVisitor;

impl<'de> Visitor<'de> for StepVisitor {
    type Value = Step;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a step: a mapping with one action key (like `kubelet-stop: {node: NAME}`) and an optional `name`")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Step, A::Error> {
        let mut name = None;
        let mut hold = None;
        let mut action: Option<(String, Action)> = None;
        while let Some(key) = map.next_key::<String>()? {
            if key == "name" {
                if name.is_some() {
                    return Err(de::Error::duplicate_field("name"));
                }
                name = Some(map.next_value::<String>()?);
                continue;
            }
            if key == "for" {
                if hold.is_some() {
                    return Err(de::Error::duplicate_field("for"));
                }
                hold = Some(map.next_value::<Duration>()?);
                continue;
            }
            if let Some((first, _)) = &action {
                return Err(de::Error::custom(format!(
                    "a step has exactly one action, but this one has `{first}` and `{key}`; split it into two steps"
                )));
            }
            let a = map.next_value_seed(ActionSeed { tag: key.clone() })?;
            action = Some((key, a));
        }
        match action {
            Some((_, action)) => Ok(Step { name, hold, action }),
            None => Err(de::Error::custom(format!(
                "this step has no action; expected one of {}",
                action_keys().join(", ")
            ))),
        }
    }
}

/// Deserializes the value of an action key as the `Action` variant that key names.
struct ActionSeed {
    tag: String,
}

impl<'de> DeserializeSeed<'de> for ActionSeed {
    type Value = Action;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Action, D::Error> {
        Action::deserialize(Tagged {
            tag: self.tag,
            value: d,
        })
    }
}

/// A (tag, value) pair presented to serde as an externally tagged enum.
struct Tagged<D> {
    tag: String,
    value: D,
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Tagged<D> {
    type Error = D::Error;
    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, D::Error> {
        v.visit_enum(self)
    }
    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct enum identifier
        ignored_any
    }
}

impl<'de, D: Deserializer<'de>> de::EnumAccess<'de> for Tagged<D> {
    type Error = D::Error;
    type Variant = TaggedValue<D>;
    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, TaggedValue<D>), D::Error> {
        let tag: de::value::StringDeserializer<D::Error> = self.tag.clone().into_deserializer();
        let v = seed.deserialize(tag).map_err(|_: D::Error| {
            let mut msg = format!("unknown step type `{}`", self.tag);
            if let Some(s) =
                crate::playbook::suggest::did_you_mean(&self.tag, action_keys().iter().copied())
            {
                msg += &format!("; did you mean `{s}`?");
            }
            <D::Error as de::Error>::custom(msg)
        })?;
        Ok((v, TaggedValue(self.value)))
    }
}

struct TaggedValue<D>(D);

impl<'de, D: Deserializer<'de>> de::VariantAccess<'de> for TaggedValue<D> {
    type Error = D::Error;
    fn unit_variant(self) -> Result<(), D::Error> {
        Ok(())
    }
    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, D::Error> {
        seed.deserialize(self.0)
    }
    fn tuple_variant<V: Visitor<'de>>(self, len: usize, v: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_tuple(len, v)
    }
    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_struct("", fields, v)
    }
}

impl Serialize for Step {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        if let Some(n) = &self.name {
            m.serialize_entry("name", n)?;
        }
        if let Some(d) = &self.hold {
            m.serialize_entry("for", d)?;
        }
        m.serialize_entry(self.action.key(), &ActionBody(&self.action))?;
        m.end()
    }
}

/// Serializes only the body of an action (what follows its key).
struct ActionBody<'a>(&'a Action);

impl Serialize for ActionBody<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let v = serde_json::to_value(self.0).map_err(serde::ser::Error::custom)?;
        match v {
            serde_json::Value::Object(mut o) => match o.remove(self.0.key()) {
                Some(body) => body.serialize(s),
                None => s.serialize_unit(),
            },
            other => other.serialize(s),
        }
    }
}

impl JsonSchema for Step {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Step".into()
    }
    /// The action's alternatives told apart by their key (see [`schema::keyed`]), plus `name`.
    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        let mut schema = Action::json_schema(g);
        let name = serde_json::json!({"type": "string", "description": "A name for reports and references (`duration` assertions, `undo`)."});
        let mut hold = Duration::json_schema(g).to_value();
        if let Some(o) = hold.as_object_mut() {
            o.insert("description".into(), "Only on a fault with an undo: the fault is undone this long after it was injected, and the step lasts that long (`for: 30s`).".into());
        }
        schema::keyed(&mut schema, &[("name", name), ("for", hold)]);
        schema.insert(
            "description".into(),
            "A step: exactly one action key (what the step does), plus an optional `name` and `for`.".into(),
        );
        schema
    }
}
