//! Label selectors (`app=web`, `tier in (a,b)`, `!legacy`), parsed as the API server parses
//! them, so that a playbook with a bad `selector:` fails validation with its line and column
//! instead of failing mid-run when the API server rejects the list request.
//!
//! Why our own parser: no maintained crate parses the selector string. kube-core's `Selector`
//! (kube 5.0.0) only builds selectors and would bring kube types into `playbook/`, which must
//! not name them (ARCHITECTURE.md). The grammar is small and follows upstream apimachinery
//! `pkg/labels/selector.go` (`Parse`: its lexer, parser and `NewRequirement`), with the key
//! and value syntax of `pkg/util/validation/validation.go`; each rule cites its source.

mod labels;
mod lex;
mod parser;
#[cfg(test)]
mod tests;

use super::validate::Validator;
use super::yaml::{Pos, Span};
use lex::Token;

pub use labels::{check_label_value, check_qualified_name};

/// A parsed selector: every requirement must hold (upstream `internalSelector`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selector(pub Vec<Requirement>);

/// One requirement: `key`, an operator and its values (upstream `Requirement`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requirement {
    pub key: String,
    pub op: Op,
    pub values: Vec<String>,
}

/// Upstream `selection.Operator`, as `labels.Parse` produces them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Exists,
    DoesNotExist,
    Equals,
    DoubleEquals,
    NotEquals,
    In,
    NotIn,
    GreaterThan,
    LessThan,
}

/// Why a selector does not parse, and where: a byte range of the selector text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SelectorError {
    pub at: usize,
    pub len: usize,
    pub message: String,
}

impl SelectorError {
    fn new(tok: &Token<'_>, message: impl Into<String>) -> Self {
        SelectorError {
            at: tok.at,
            len: tok.text.len(),
            message: message.into(),
        }
    }
}

/// Parses a label selector as upstream `labels.Parse` does (the empty selector selects
/// everything).
pub fn parse(s: &str) -> Result<Selector, SelectorError> {
    let mut p = parser::Parser {
        tokens: lex::lex(s),
        i: 0,
    };
    p.selector()
}

/// Where in the file a byte range of a selector sits: exact when the scalar is written plain
/// or quoted without escapes on one line, else the whole scalar.
fn span_in(source: Option<&str>, value: &str, whole: Span, e: &SelectorError) -> Span {
    let written = source.and_then(|src| src.get(whole.start.offset..whole.end_offset));
    let inner = match written {
        Some(w) if w == value => 0,
        Some(w) if w.len() == value.len() + 2 && w.get(1..w.len() - 1) == Some(value) => 1,
        _ => return whole,
    };
    if value.contains('\n') {
        return whole;
    }
    let before = value.get(..e.at).unwrap_or(value);
    let start = Pos {
        line: whole.start.line,
        col: whole.start.col + inner + before.chars().count(),
        offset: whole.start.offset + inner + e.at,
    };
    Span {
        start,
        end_offset: start.offset + e.len.max(1),
    }
}

impl Validator<'_> {
    /// Reports a `selector:` that upstream `labels.Parse` would reject, at the offending token.
    pub(super) fn check_selector(&mut self, selector: Option<&str>, span: Option<Span>) {
        let Some(s) = selector else { return };
        let Err(e) = parse(s) else { return };
        let source = self.sources.get(&self.file);
        let at = span.map(|whole| span_in(source.as_deref(), s, whole, &e));
        self.error(at, format!("invalid label selector: {}", e.message))
            .help = Some(
            "a selector is requirements separated by commas: `app=web`, `tier!=db`, `env in (a,b)`, `env notin (c)`, `gpu`, `!legacy`"
                .into(),
        );
    }
}
