//! A serde `Deserializer` over the positioned YAML tree of [`super::yaml`].
//!
//! It exists for two reasons. Every error it produces carries the span of the node that caused
//! it (the innermost node wins), and it can *recover*: a [`Recover<T>`] field that fails to
//! deserialize records its error in a shared sink and yields `Recover(None)` so parsing goes on.
//! That is how `chaos validate` reports every broken step of a playbook at once while the model
//! stays plain `#[derive(Deserialize)]` types (the same types the JSON Schema is generated from).
//!
//! This file holds the error, the sink and [`Recover`]; `node.rs` is the `Deserializer` itself
//! (how YAML scalars resolve, how mappings, lists and enums are walked).

use std::cell::RefCell;
use std::fmt;

use schemars::JsonSchema;
use serde::de::{self, Visitor};

use super::limits;
use super::suggest::did_you_mean;
use super::yaml::{Node, Span};

use node::NodeDe;

const RECOVER_MARKER: &str = "__chaos_recover";

/// A deserialization error, located at the node it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct DeError {
    pub span: Option<Span>,
    pub message: String,
    pub help: Option<String>,
    /// The error was already put in the sink by a [`Recover`] boundary.
    recorded: bool,
}

impl DeError {
    fn new(message: impl Into<String>) -> Self {
        DeError {
            span: None,
            message: message.into(),
            help: None,
            recorded: false,
        }
    }

    pub fn at(mut self, span: Span) -> Self {
        if self.span.is_none() {
            self.span = Some(span);
        }
        self
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DeError {}

/// "expected one of `a`, `b`, ...". The last list worded is kept: a file of thousands of
/// misspelt steps words the same list of step types once, not once per step.
fn one_of(expected: &'static [&'static str]) -> String {
    thread_local! {
        static LAST: RefCell<Option<(&'static [&'static str], String)>> =
            const { RefCell::new(None) };
    }
    LAST.with_borrow_mut(|last| match last {
        Some((list, words)) if std::ptr::eq(*list, expected) => words.clone(),
        _ => {
            let list: Vec<String> = expected.iter().map(|e| format!("`{e}`")).collect();
            let words = format!("expected one of {}", list.join(", "));
            *last = Some((expected, words.clone()));
            words
        }
    })
}

fn unknown(what: &str, name: &str, expected: &'static [&'static str]) -> DeError {
    let mut e = DeError::new(format!("unknown {what} `{name}`"));
    e.help = Some(match did_you_mean(name, expected.iter().copied()) {
        Some(s) => format!("did you mean `{s}`? ({})", one_of(expected)),
        None if expected.is_empty() => "no fields are allowed here".to_string(),
        None => one_of(expected),
    });
    e
}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError::new(msg.to_string())
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        unknown("field", field, expected)
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        unknown("value", variant, expected)
    }

    fn missing_field(field: &'static str) -> Self {
        DeError::new(format!("missing required field `{field}`"))
    }

    fn invalid_type(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        DeError::new(format!(
            "expected {exp}, found {}",
            describe_unexpected(&unexp)
        ))
    }
}

fn describe_unexpected(u: &de::Unexpected<'_>) -> String {
    match u {
        de::Unexpected::Map => "a mapping".into(),
        de::Unexpected::Seq => "a list".into(),
        de::Unexpected::Unit => "nothing (null)".into(),
        other => other.to_string(),
    }
}

/// Where recovered errors go: the first [`limits::MAX_PROBLEMS`] are kept, the rest counted.
#[derive(Debug, Default)]
pub struct Sink {
    errors: RefCell<Vec<DeError>>,
    dropped: std::cell::Cell<usize>,
}

impl Sink {
    fn push(&self, e: DeError) {
        let mut errors = self.errors.borrow_mut();
        if errors.len() < limits::MAX_PROBLEMS {
            errors.push(e);
        } else {
            self.dropped.set(self.dropped.get().saturating_add(1));
        }
    }

    /// The errors kept, and how many more there were.
    pub fn into_parts(self) -> (Vec<DeError>, usize) {
        (self.errors.into_inner(), self.dropped.get())
    }

    /// The errors kept.
    pub fn into_inner(self) -> Vec<DeError> {
        self.errors.into_inner()
    }
}

/// Deserializes `T` from a node; errors carry the innermost node's span.
pub fn from_node<'de, T: de::Deserialize<'de>>(node: &Node, sink: &Sink) -> Result<T, DeError> {
    T::deserialize(NodeDe::new(node, sink))
}

/// A value that failed to deserialize is recorded in the sink and becomes `None`, so that the
/// rest of the document is still checked. Only our [`NodeDe`] knows how to record; other
/// deserializers treat it as a transparent `Option`-like wrapper that fails normally.
#[derive(Clone, Debug, PartialEq)]
pub struct Recover<T>(pub Option<T>);

impl<'de, T: de::Deserialize<'de>> de::Deserialize<'de> for Recover<T> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: de::Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Recover<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a value")
            }
            fn visit_newtype_struct<D: de::Deserializer<'de>>(
                self,
                d: D,
            ) -> Result<Self::Value, D::Error> {
                match T::deserialize(d) {
                    Ok(v) => Ok(Recover(Some(v))),
                    Err(e) if e.to_string() == RECORDED => Ok(Recover(None)),
                    Err(e) => Err(e),
                }
            }
        }
        d.deserialize_newtype_struct(RECOVER_MARKER, V(std::marker::PhantomData))
    }
}

impl<T: serde::Serialize> serde::Serialize for Recover<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<T: JsonSchema> JsonSchema for Recover<T> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        T::schema_name()
    }
    fn schema_id() -> std::borrow::Cow<'static, str> {
        T::schema_id()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        T::json_schema(generator)
    }
    fn inline_schema() -> bool {
        T::inline_schema()
    }
}

/// Message of the placeholder error returned after an error went to the sink.
const RECORDED: &str = "\u{0}recorded";

mod node;
#[cfg(test)]
mod tests;
