//! The `Deserializer` over one node of the positioned tree: YAML 1.2 core-schema resolution of
//! plain scalars, mappings, lists and enums, every error located at the innermost node, and
//! errors just inside a [`Recover`](super::Recover) put in the sink instead of stopping the parse.

use serde::de::{self, DeserializeSeed, IntoDeserializer, Visitor};

use super::super::diag::shape_hint;
use super::super::yaml::{Node, NodeKind, Scalar};
use super::{DeError, RECORDED, RECOVER_MARKER, Sink, one_of};

#[derive(Clone, Copy)]
pub(super) struct NodeDe<'a> {
    node: &'a Node,
    sink: &'a Sink,
    /// Errors leaving this deserializer go to the sink (it sits just inside a `Recover`).
    record: bool,
}

impl<'a> NodeDe<'a> {
    pub(super) fn new(node: &'a Node, sink: &'a Sink) -> NodeDe<'a> {
        NodeDe {
            node,
            sink,
            record: false,
        }
    }

    fn child(&self, node: &'a Node) -> NodeDe<'a> {
        NodeDe {
            node,
            sink: self.sink,
            record: false,
        }
    }

    fn finish<T>(&self, r: Result<T, DeError>) -> Result<T, DeError> {
        r.map_err(|e| {
            let e = e.at(self.node.span);
            if self.record && !e.recorded {
                self.sink.push(e);
                DeError {
                    span: None,
                    message: RECORDED.into(),
                    help: None,
                    recorded: true,
                }
            } else {
                e
            }
        })
    }

    fn scalar(&self) -> Option<&'a Scalar> {
        match &self.node.kind {
            NodeKind::Scalar(s) => Some(s),
            _ => None,
        }
    }

    fn any<'de, V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match &self.node.kind {
            NodeKind::Scalar(s) if s.quoted => v.visit_str(&s.text),
            NodeKind::Scalar(s) => match resolve(&s.text) {
                Resolved::Null => v.visit_unit(),
                Resolved::Bool(b) => v.visit_bool(b),
                Resolved::Int(i) if i >= 0 => v.visit_u64(i as u64),
                Resolved::Int(i) => v.visit_i64(i),
                Resolved::Float(f) => v.visit_f64(f),
                Resolved::Str => v.visit_str(&s.text),
            },
            NodeKind::Seq(items) => v.visit_seq(SeqAccess {
                de: self,
                items: items.iter(),
            }),
            NodeKind::Map(entries) => v.visit_map(MapAccess {
                de: self,
                entries: entries.iter(),
                value: None,
                key: None,
            }),
        }
    }
}

enum Resolved {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str,
}

/// YAML 1.2 core schema resolution of a plain scalar.
fn resolve(t: &str) -> Resolved {
    match t {
        "" | "~" | "null" | "Null" | "NULL" => return Resolved::Null,
        "true" | "True" | "TRUE" => return Resolved::Bool(true),
        "false" | "False" | "FALSE" => return Resolved::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" => return Resolved::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return Resolved::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Resolved::Float(f64::NAN),
        _ => {}
    }
    let digits = t.strip_prefix(['-', '+']).unwrap_or(t);
    if !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && let Ok(i) = t.parse::<i64>()
    {
        return Resolved::Int(i);
    }
    if let Some(hex) = t.strip_prefix("0x")
        && let Ok(i) = i64::from_str_radix(hex, 16)
    {
        return Resolved::Int(i);
    }
    if let Some(oct) = t.strip_prefix("0o")
        && let Ok(i) = i64::from_str_radix(oct, 8)
    {
        return Resolved::Int(i);
    }
    let looks_numeric = digits
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'))
        && digits.bytes().any(|b| b.is_ascii_digit());
    if looks_numeric && let Ok(f) = t.parse::<f64>() {
        return Resolved::Float(f);
    }
    Resolved::Str
}

impl<'de> de::Deserializer<'de> for NodeDe<'_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.finish(self.any(v))
    }

    // What a node holds decides; these types have nothing to add.
    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char bytes byte_buf unit seq map
        unit_struct tuple tuple_struct
    }

    fn deserialize_str<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        // A plain scalar such as `123` or `true` is still a fine string where one is wanted.
        let r = match self.scalar() {
            Some(s) if !matches!(resolve(&s.text), Resolved::Null) || s.quoted => {
                v.visit_str(&s.text)
            }
            _ => self.any(v),
        };
        self.finish(r)
    }

    fn deserialize_string<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.deserialize_str(v)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.deserialize_str(v)
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        let r = match self.scalar() {
            Some(s) if !s.quoted && matches!(resolve(&s.text), Resolved::Null) => v.visit_none(),
            _ => v.visit_some(NodeDe {
                record: false,
                ..self
            }),
        };
        self.finish(r)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        v: V,
    ) -> Result<V::Value, DeError> {
        let inner = NodeDe {
            record: name == RECOVER_MARKER,
            ..self
        };
        let r = v.visit_newtype_struct(inner);
        // The recover boundary already recorded its own error; do not record it twice.
        if name == RECOVER_MARKER {
            return r;
        }
        self.finish(r)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, DeError> {
        let r = match &self.node.kind {
            NodeKind::Map(_) => self.any(v),
            // An empty value (`kubelet-stop:`) is an empty mapping, so missing fields are named.
            NodeKind::Scalar(s) if !s.quoted && matches!(resolve(&s.text), Resolved::Null) => v
                .visit_map(MapAccess {
                    de: self,
                    entries: [].iter(),
                    value: None,
                    key: None,
                }),
            _ => Err(DeError::new(format!(
                "expected a mapping, found {}",
                self.node.describe()
            ))),
        };
        self.finish(r)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, DeError> {
        let r = match &self.node.kind {
            NodeKind::Scalar(s) => v.visit_enum(s.text.as_str().into_deserializer()),
            NodeKind::Map(entries) if entries.len() == 1 => v.visit_enum(EnumAccess {
                key: &entries[0].0,
                value: self.child(&entries[0].1),
            }),
            NodeKind::Map(entries) => {
                let keys: Vec<String> = entries
                    .iter()
                    .filter_map(|(k, _)| k.scalar_text().map(|t| format!("`{t}`")))
                    .collect();
                let mut e = DeError::new(if keys.is_empty() {
                    "expected exactly one key, found an empty mapping".to_string()
                } else {
                    format!("expected exactly one key, found {}", keys.join(", "))
                });
                e.help = Some(one_of(variants));
                Err(e)
            }
            NodeKind::Seq(_) => Err(DeError::new(format!(
                "expected a mapping with one key ({}), found a list",
                one_of(variants)
            ))),
        };
        self.finish(r)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        v.visit_unit()
    }
}

struct SeqAccess<'a> {
    de: NodeDe<'a>,
    items: std::slice::Iter<'a, Node>,
}

impl<'de> de::SeqAccess<'de> for SeqAccess<'_> {
    type Error = DeError;
    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        match self.items.next() {
            Some(n) => seed.deserialize(self.de.child(n)).map(Some),
            None => Ok(None),
        }
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

struct MapAccess<'a> {
    de: NodeDe<'a>,
    entries: std::slice::Iter<'a, (Node, Node)>,
    value: Option<&'a Node>,
    key: Option<&'a Node>,
}

impl<'de> de::MapAccess<'de> for MapAccess<'_> {
    type Error = DeError;
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        match self.entries.next() {
            Some((k, v)) => {
                self.value = Some(v);
                self.key = Some(k);
                seed.deserialize(self.de.child(k)).map(Some)
            }
            None => Ok(None),
        }
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        match self.value.take() {
            // An error that passed through no node of ours (an action key that names no action)
            // is about the key. A value of a shape commonly written by mistake gets a hint
            // saying what to write instead (`diag::shape_hint`).
            Some(v) => seed.deserialize(self.de.child(v)).map_err(|e| {
                let Some(k) = self.key else { return e };
                let mut e = e.at(k.span);
                if e.help.is_none()
                    && !e.recorded
                    && let Some(key) = k.scalar_text()
                {
                    e.help = shape_hint(key, v, &e.message);
                }
                e
            }),
            None => Err(DeError::new("value without a key")),
        }
    }
}

struct EnumAccess<'a> {
    key: &'a Node,
    value: NodeDe<'a>,
}

impl<'de, 'a> de::EnumAccess<'de> for EnumAccess<'a> {
    type Error = DeError;
    type Variant = NodeDe<'a>;
    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, NodeDe<'a>), DeError> {
        let key = self.value.child(self.key);
        let v = seed.deserialize(key).map_err(|e| e.at(self.key.span))?;
        Ok((v, self.value))
    }
}

impl<'de> de::VariantAccess<'de> for NodeDe<'_> {
    type Error = DeError;
    fn unit_variant(self) -> Result<(), DeError> {
        match self.scalar() {
            Some(s) if !s.quoted && matches!(resolve(&s.text), Resolved::Null) => Ok(()),
            _ => self.finish(Err(DeError::new("this takes no value"))),
        }
    }
    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, DeError> {
        seed.deserialize(self)
    }
    fn tuple_variant<V: Visitor<'de>>(self, len: usize, v: V) -> Result<V::Value, DeError> {
        de::Deserializer::deserialize_tuple(self, len, v)
    }
    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, DeError> {
        de::Deserializer::deserialize_struct(self, "", fields, v)
    }
}
