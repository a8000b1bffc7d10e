//! Label selectors (`app=web`, `tier in (a,b)`, `!legacy`), parsed as the API server parses
//! them, so that a playbook with a bad `selector:` fails validation with its line and column
//! instead of failing mid-run when the API server rejects the list request.
//!
//! Why our own parser: no maintained crate parses the selector string. kube-core's `Selector`
//! (kube 5.0.0) only builds selectors and would bring kube types into `playbook/`, which must
//! not name them (ARCHITECTURE.md). The grammar is small and follows upstream apimachinery
//! `pkg/labels/selector.go` (`Parse`: its lexer, parser and `NewRequirement`), with the key
//! and value syntax of `pkg/util/validation/validation.go`; each rule cites its source.

use super::validate::Validator;
use super::yaml::{Pos, Span};

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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tok {
    End,
    ClosedPar,
    Comma,
    /// `!`
    DoesNotExist,
    DoubleEquals,
    Equals,
    GreaterThan,
    Identifier,
    In,
    LessThan,
    NotEquals,
    NotIn,
    OpenPar,
}

#[derive(Clone, Copy, Debug)]
struct Token<'a> {
    tok: Tok,
    text: &'a str,
    at: usize,
}

impl Token<'_> {
    /// How the token reads in a message.
    fn shown(&self) -> String {
        match self.tok {
            Tok::End => "the end of the selector".into(),
            _ => format!("`{}`", self.text),
        }
    }
}

// selector.go `isWhitespace`: space, tab, CR, LF.
fn is_whitespace(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

// selector.go `isSpecialSymbol`: the bytes that end an identifier.
fn is_special(b: u8) -> bool {
    matches!(b, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
}

// selector.go `string2token`: the symbols and keywords.
fn symbol(s: &str) -> Option<Tok> {
    Some(match s {
        ")" => Tok::ClosedPar,
        "," => Tok::Comma,
        "!" => Tok::DoesNotExist,
        "==" => Tok::DoubleEquals,
        "=" => Tok::Equals,
        ">" => Tok::GreaterThan,
        "in" => Tok::In,
        "<" => Tok::LessThan,
        "!=" => Tok::NotEquals,
        "notin" => Tok::NotIn,
        "(" => Tok::OpenPar,
        _ => return None,
    })
}

/// Splits the text into tokens (selector.go `Lexer.Lex`).
fn lex(s: &str) -> Vec<Token<'_>> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        // Lex: whitespace between tokens is skipped.
        while i < b.len() && is_whitespace(b[i]) {
            i += 1;
        }
        // Lexer.read: the end of the string, or a NUL byte, ends the input.
        if i >= b.len() || b[i] == 0 {
            out.push(Token {
                tok: Tok::End,
                text: "",
                at: i,
            });
            return out;
        }
        let start = i;
        if is_special(b[i]) {
            // scanSpecialSymbol: the longest run of special bytes that is a known symbol.
            let mut best = None;
            let mut j = i;
            while j < b.len() && is_special(b[j]) {
                j += 1;
                match symbol(&s[start..j]) {
                    Some(t) => best = Some((t, j)),
                    None if best.is_some() => break,
                    None => {}
                }
            }
            // Every special byte alone is a symbol, so `best` is set after the first byte.
            let (tok, end) = best.unwrap_or((Tok::Identifier, j));
            out.push(Token {
                tok,
                text: &s[start..end],
                at: start,
            });
            i = end;
        } else {
            // scanIDOrKeyword: up to whitespace or a special byte; `in`/`notin` are keywords.
            while i < b.len() && b[i] != 0 && !is_whitespace(b[i]) && !is_special(b[i]) {
                i += 1;
            }
            let text = &s[start..i];
            let tok = match symbol(text) {
                Some(t @ (Tok::In | Tok::NotIn)) => t,
                _ => Tok::Identifier,
            };
            out.push(Token {
                tok,
                text,
                at: start,
            });
        }
    }
}

struct Parser<'a> {
    tokens: Vec<Token<'a>>,
    i: usize,
}

impl<'a> Parser<'a> {
    /// The next token; `values` reads `in`/`notin` as identifiers (selector.go `Values`
    /// context), as in `mode=in`.
    fn peek(&self, values: bool) -> Token<'a> {
        let end = Token {
            tok: Tok::End,
            text: "",
            at: self.tokens.last().map_or(0, |t| t.at),
        };
        let mut t = self.tokens.get(self.i).copied().unwrap_or(end);
        if values && matches!(t.tok, Tok::In | Tok::NotIn) {
            t.tok = Tok::Identifier;
        }
        t
    }

    fn next(&mut self, values: bool) -> Token<'a> {
        let t = self.peek(values);
        if t.tok != Tok::End {
            self.i += 1;
        }
        t
    }

    // selector.go `Parser.parse`: requirements separated by commas, up to the end.
    fn selector(&mut self) -> Result<Selector, SelectorError> {
        let mut reqs = Vec::new();
        loop {
            let t = self.peek(true);
            match t.tok {
                Tok::Identifier | Tok::DoesNotExist => {
                    reqs.push(self.requirement()?);
                    let after = self.next(true);
                    match after.tok {
                        Tok::End => return Ok(Selector(reqs)),
                        Tok::Comma => {
                            let t2 = self.peek(true);
                            // parse: a comma must be followed by another requirement.
                            if !matches!(t2.tok, Tok::Identifier | Tok::DoesNotExist) {
                                return Err(SelectorError::new(
                                    &t2,
                                    format!("found {}, expected a label key after `,`", t2.shown()),
                                ));
                            }
                        }
                        _ => {
                            return Err(SelectorError::new(
                                &after,
                                format!(
                                    "found {}, expected `,` or the end of the selector",
                                    after.shown()
                                ),
                            ));
                        }
                    }
                }
                Tok::End => return Ok(Selector(reqs)),
                _ => {
                    return Err(SelectorError::new(
                        &t,
                        format!("found {}, expected `!` or a label key", t.shown()),
                    ));
                }
            }
        }
    }

    // selector.go `parseRequirement`.
    fn requirement(&mut self) -> Result<Requirement, SelectorError> {
        // parseKeyAndInferOperator: an optional `!`, then the key.
        let mut op = None;
        let mut key = self.next(true);
        if key.tok == Tok::DoesNotExist {
            op = Some(Op::DoesNotExist);
            key = self.next(true);
        }
        if key.tok != Tok::Identifier {
            return Err(SelectorError::new(
                &key,
                format!("found {}, expected a label key", key.shown()),
            ));
        }
        // validateLabelKey: the key is a qualified name.
        if let Err(why) = check_qualified_name(key.text) {
            return Err(SelectorError::new(
                &key,
                format!("invalid label key `{}`: {why}", key.text),
            ));
        }
        // parseKeyAndInferOperator: a key alone (before `,` or the end) means it exists.
        let alone = matches!(self.peek(true).tok, Tok::End | Tok::Comma);
        if let Some(op) = op {
            if !alone {
                // NewRequirement: `!key` takes no values.
                let t = self.peek(true);
                return Err(SelectorError::new(
                    &t,
                    format!(
                        "found {} after `!{}`, expected `,` or the end of the selector",
                        t.shown(),
                        key.text
                    ),
                ));
            }
            return Ok(req(key.text, op, Vec::new()));
        }
        if alone {
            return Ok(req(key.text, Op::Exists, Vec::new()));
        }
        // parseOperator.
        let op_tok = self.next(false);
        let op = match op_tok.tok {
            Tok::In => Op::In,
            Tok::NotIn => Op::NotIn,
            Tok::Equals => Op::Equals,
            Tok::DoubleEquals => Op::DoubleEquals,
            Tok::NotEquals => Op::NotEquals,
            Tok::GreaterThan => Op::GreaterThan,
            Tok::LessThan => Op::LessThan,
            _ => {
                return Err(SelectorError::new(
                    &op_tok,
                    format!(
                        "found {} after `{}`, expected one of `=`, `==`, `!=`, `in`, `notin`, `>`, `<`",
                        op_tok.shown(),
                        key.text
                    ),
                ));
            }
        };
        let values = match op {
            Op::In | Op::NotIn => self.set_values()?,
            _ => vec![self.exact_value()?],
        };
        check_values(key.text, op, &values, &op_tok)?;
        Ok(req(key.text, op, values))
    }

    // selector.go `parseValues`: `(a, b)`; `()` is the set of one empty value.
    fn set_values(&mut self) -> Result<Vec<(String, Token<'a>)>, SelectorError> {
        let open = self.next(true);
        if open.tok != Tok::OpenPar {
            return Err(SelectorError::new(
                &open,
                format!("found {}, expected `(`", open.shown()),
            ));
        }
        let t = self.peek(true);
        match t.tok {
            Tok::Identifier | Tok::Comma => {
                let values = self.identifiers()?;
                let close = self.next(true);
                if close.tok != Tok::ClosedPar {
                    return Err(SelectorError::new(
                        &close,
                        format!("found {}, expected `)`", close.shown()),
                    ));
                }
                Ok(values)
            }
            Tok::ClosedPar => {
                self.next(true);
                Ok(vec![(String::new(), t)])
            }
            _ => Err(SelectorError::new(
                &t,
                format!("found {}, expected `,`, `)` or a value", t.shown()),
            )),
        }
    }

    // selector.go `parseIdentifiersList`: values separated by commas; an empty place between
    // commas (or next to a parenthesis) is the empty value.
    fn identifiers(&mut self) -> Result<Vec<(String, Token<'a>)>, SelectorError> {
        let mut out: Vec<(String, Token<'a>)> = Vec::new();
        loop {
            let t = self.next(true);
            match t.tok {
                Tok::Identifier => {
                    out.push((t.text.to_string(), t));
                    let t2 = self.peek(true);
                    match t2.tok {
                        Tok::Comma => {}
                        Tok::ClosedPar => return Ok(out),
                        _ => {
                            return Err(SelectorError::new(
                                &t2,
                                format!("found {}, expected `,` or `)`", t2.shown()),
                            ));
                        }
                    }
                }
                Tok::Comma => {
                    if out.is_empty() {
                        out.push((String::new(), t));
                    }
                    let t2 = self.peek(true);
                    if t2.tok == Tok::ClosedPar {
                        out.push((String::new(), t));
                        return Ok(out);
                    }
                    if t2.tok == Tok::Comma {
                        self.next(true);
                        out.push((String::new(), t2));
                    }
                }
                _ => {
                    return Err(SelectorError::new(
                        &t,
                        format!("found {}, expected `,` or a value", t.shown()),
                    ));
                }
            }
        }
    }

    // selector.go `parseExactValue`: one value, or none (the empty value) before `,` or the end.
    fn exact_value(&mut self) -> Result<(String, Token<'a>), SelectorError> {
        let t = self.peek(true);
        if matches!(t.tok, Tok::End | Tok::Comma) {
            return Ok((String::new(), t));
        }
        let t = self.next(true);
        if t.tok == Tok::Identifier {
            return Ok((t.text.to_string(), t));
        }
        Err(SelectorError::new(
            &t,
            format!("found {}, expected a value", t.shown()),
        ))
    }
}

/// A requirement whose values still carry their tokens, for errors.
fn req(key: &str, op: Op, values: Vec<(String, Token<'_>)>) -> Requirement {
    Requirement {
        key: key.to_string(),
        op,
        values: values.into_iter().map(|(v, _)| v).collect(),
    }
}

/// The checks of `NewRequirement` on values (the key is checked as it is read); each value
/// carries its token, or the token where an empty value was read.
fn check_values(
    key: &str,
    op: Op,
    values: &[(String, Token<'_>)],
    op_tok: &Token<'_>,
) -> Result<(), SelectorError> {
    for (v, tok) in values {
        // Point at the value when it was written, else at the operator.
        let at = if tok.tok == Tok::Identifier {
            tok
        } else {
            op_tok
        };
        // NewRequirement: `>` and `<` take an integer (strconv.ParseInt(v, 10, 64)).
        if matches!(op, Op::GreaterThan | Op::LessThan) && !is_go_int64(v) {
            return Err(SelectorError::new(
                at,
                format!("`{}` takes an integer, found `{v}`", op_tok.text),
            ));
        }
        // validateLabelValue: each value is a valid label value.
        if let Err(why) = check_label_value(v) {
            return Err(SelectorError::new(
                at,
                format!("invalid value `{v}` for label `{key}`: {why}"),
            ));
        }
    }
    Ok(())
}

// strconv.ParseInt(s, 10, 64): an optional sign, then decimal digits, within int64.
fn is_go_int64(s: &str) -> bool {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) && s.parse::<i64>().is_ok()
}

// validation.go `qualifiedNameMaxLength` and `LabelValueMaxLength`: 63.
const NAME_MAX: usize = 63;
// validation.go `DNS1123SubdomainMaxLength`: 253.
const SUBDOMAIN_MAX: usize = 253;

// validation.go `qualifiedNameFmt` / `labelValueFmt`:
// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`.
fn is_name_part(s: &str) -> bool {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(f), Some(l)) => {
            f.is_ascii_alphanumeric()
                && l.is_ascii_alphanumeric()
                && b.iter()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        }
        _ => false,
    }
}

// validation.go `IsDNS1123Subdomain`: lower-case RFC 1123 labels separated by dots
// (`[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*`), at most 253 bytes.
fn check_dns1123_subdomain(s: &str) -> Result<(), String> {
    if s.len() > SUBDOMAIN_MAX {
        return Err(format!(
            "the prefix must be no more than {SUBDOMAIN_MAX} characters"
        ));
    }
    let label_ok = |l: &str| {
        let b = l.as_bytes();
        match (b.first(), b.last()) {
            (Some(f), Some(e)) => {
                (f.is_ascii_lowercase() || f.is_ascii_digit())
                    && (e.is_ascii_lowercase() || e.is_ascii_digit())
                    && b.iter()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
            }
            _ => false,
        }
    };
    if s.split('.').all(label_ok) {
        Ok(())
    } else {
        Err(format!(
            "the prefix `{s}` must be a lower-case DNS subdomain (like `example.com`)"
        ))
    }
}

/// validation.go `IsQualifiedName`: `name` or `prefix/name`, the prefix a DNS subdomain.
pub fn check_qualified_name(s: &str) -> Result<(), String> {
    let name = match s.split('/').collect::<Vec<_>>().as_slice() {
        // IsQualifiedName: one part is the name alone.
        [name] => *name,
        // IsQualifiedName: with a prefix, the prefix is non-empty and a DNS subdomain.
        [prefix, name] => {
            if prefix.is_empty() {
                return Err("the prefix before `/` must not be empty".into());
            }
            check_dns1123_subdomain(prefix)?;
            *name
        }
        // IsQualifiedName: more than one `/` is not a qualified name.
        _ => return Err("a key has at most one `/` (like `example.com/name`)".into()),
    };
    // IsQualifiedName: the name part is non-empty...
    if name.is_empty() {
        return Err("the name must not be empty".into());
    }
    // ...at most 63 characters...
    if name.len() > NAME_MAX {
        return Err(format!(
            "the name must be no more than {NAME_MAX} characters"
        ));
    }
    // ...and matches qualifiedNameFmt.
    if !is_name_part(name) {
        return Err(
            "the name must be letters, digits, `-`, `_` or `.`, starting and ending with a letter or digit"
                .into(),
        );
    }
    Ok(())
}

/// validation.go `IsValidLabelValue`: empty, or at most 63 characters of `labelValueFmt`.
pub fn check_label_value(s: &str) -> Result<(), String> {
    // IsValidLabelValue: LabelValueMaxLength.
    if s.len() > NAME_MAX {
        return Err(format!(
            "a value must be no more than {NAME_MAX} characters"
        ));
    }
    // IsValidLabelValue: labelValueFmt, which allows the empty value.
    if !s.is_empty() && !is_name_part(s) {
        return Err(
            "a value must be empty or letters, digits, `-`, `_` or `.`, starting and ending with a letter or digit"
                .into(),
        );
    }
    Ok(())
}

/// Parses a label selector as upstream `labels.Parse` does (the empty selector selects
/// everything).
pub fn parse(s: &str) -> Result<Selector, SelectorError> {
    let mut p = Parser {
        tokens: lex(s),
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
        Some(w) if w.len() == value.len() + 2 && &w[1..w.len() - 1] == value => 1,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> Vec<Requirement> {
        parse(s).unwrap_or_else(|e| panic!("{s:?}: {e:?}")).0
    }

    fn err(s: &str) -> SelectorError {
        match parse(s) {
            Ok(sel) => panic!("{s:?} parsed as {sel:?}"),
            Err(e) => e,
        }
    }

    fn r(key: &str, op: Op, values: &[&str]) -> Requirement {
        Requirement {
            key: key.into(),
            op,
            values: values.iter().map(|v| v.to_string()).collect(),
        }
    }

    #[test]
    fn every_operator() {
        assert_eq!(
            ok("a=b, c==d,e!=f, g in (h, i), j notin (k), l, !m, n>1, o<2"),
            vec![
                r("a", Op::Equals, &["b"]),
                r("c", Op::DoubleEquals, &["d"]),
                r("e", Op::NotEquals, &["f"]),
                r("g", Op::In, &["h", "i"]),
                r("j", Op::NotIn, &["k"]),
                r("l", Op::Exists, &[]),
                r("m", Op::DoesNotExist, &[]),
                r("n", Op::GreaterThan, &["1"]),
                r("o", Op::LessThan, &["2"]),
            ]
        );
    }

    #[test]
    fn the_empty_selector_selects_everything() {
        assert_eq!(ok(""), vec![]);
        assert_eq!(ok("  "), vec![]);
    }

    #[test]
    fn whitespace_separates_tokens() {
        assert_eq!(ok(" a \t=\n b "), vec![r("a", Op::Equals, &["b"])]);
        assert_eq!(ok("! a"), vec![r("a", Op::DoesNotExist, &[])]);
    }

    #[test]
    fn keywords_are_values_after_an_operator() {
        assert_eq!(ok("mode=in"), vec![r("mode", Op::Equals, &["in"])]);
        assert_eq!(
            ok("x in (in,notin)"),
            vec![r("x", Op::In, &["in", "notin"])]
        );
    }

    #[test]
    fn an_exact_value_may_be_empty() {
        assert_eq!(ok("a="), vec![r("a", Op::Equals, &[""])]);
        assert_eq!(
            ok("a=,b"),
            vec![r("a", Op::Equals, &[""]), r("b", Op::Exists, &[])]
        );
    }

    #[test]
    fn set_values_may_hold_the_empty_value() {
        assert_eq!(ok("a in ()"), vec![r("a", Op::In, &[""])]);
        assert_eq!(ok("a in (,b)"), vec![r("a", Op::In, &["", "b"])]);
        assert_eq!(ok("a in (b,)"), vec![r("a", Op::In, &["b", ""])]);
        assert_eq!(ok("a in (b,,c)"), vec![r("a", Op::In, &["b", "", "c"])]);
    }

    #[test]
    fn the_longest_symbol_wins() {
        // `!=` is one token, `=>` is `=` then `>`, which is not a value.
        assert_eq!(ok("a!=b"), vec![r("a", Op::NotEquals, &["b"])]);
        let e = err("a=>b");
        assert_eq!((e.at, e.len), (2, 1), "{e:?}");
        assert!(e.message.contains("expected a value"), "{e:?}");
    }

    #[test]
    fn a_comma_needs_a_requirement_after_it() {
        let e = err("a=b,");
        assert!(
            e.message.contains("expected a label key after `,`"),
            "{e:?}"
        );
        let e = err("a=b,,c");
        assert_eq!(e.at, 4);
    }

    #[test]
    fn requirements_need_a_separator() {
        let e = err("a=b c=d");
        assert_eq!((e.at, e.len), (4, 1));
        assert!(e.message.contains("expected `,` or the end"), "{e:?}");
        let e = err("a=b=c");
        assert_eq!(e.at, 3);
    }

    #[test]
    fn an_operator_must_be_known() {
        let e = err("a!b");
        assert_eq!(e.at, 1);
        assert!(e.message.contains("expected one of `=`"), "{e:?}");
        let e = err("a (b)");
        assert!(e.message.contains("found `(`"), "{e:?}");
    }

    #[test]
    fn a_selector_starts_with_a_key_or_bang() {
        let e = err("=b");
        assert!(e.message.contains("expected `!` or a label key"), "{e:?}");
        let e = err("!!a");
        assert_eq!(e.at, 1);
        assert!(e.message.contains("expected a label key"), "{e:?}");
    }

    #[test]
    fn does_not_exist_takes_no_value() {
        let e = err("!a=b");
        assert_eq!(e.at, 2);
    }

    #[test]
    fn set_operators_need_parentheses() {
        assert!(err("a in b").message.contains("expected `(`"));
        assert!(err("a in (b").message.contains("expected `,` or `)`"));
        assert!(err("a in (b c)").message.contains("expected `,` or `)`"));
        assert!(
            err("a in (=)")
                .message
                .contains("expected `,`, `)` or a value")
        );
        assert!(
            err("a in (b,=)")
                .message
                .contains("expected `,` or a value")
        );
        assert!(err("a in").message.contains("expected `(`"));
    }

    #[test]
    fn greater_and_less_than_take_integers() {
        assert!(err("a>b").message.contains("takes an integer"));
        assert!(err("a<1.5").message.contains("takes an integer"));
        assert!(err("a>99999999999999999999").message.contains("integer"));
        assert!(err("a>").message.contains("integer"));
        // ParseInt accepts a sign, but a signed number is not a label value (NewRequirement
        // checks both), so upstream rejects negative bounds too.
        assert!(err("a>-3").message.contains("invalid value `-3`"));
        assert!(err("a>+3").message.contains("invalid value `+3`"));
        assert_eq!(ok("a>007"), vec![r("a", Op::GreaterThan, &["007"])]);
    }

    #[test]
    fn keys_are_qualified_names() {
        for good in [
            "app",
            "app.kubernetes.io/name",
            "A_b-c.D",
            "x/y",
            "1a",
            &"a".repeat(63),
        ] {
            assert_eq!(check_qualified_name(good), Ok(()), "{good}");
        }
        for (bad, why) in [
            ("-a", "starting and ending"),
            ("a-", "starting and ending"),
            ("a b", "letters, digits"),
            ("/a", "prefix before `/` must not be empty"),
            ("a/", "name must not be empty"),
            ("a/b/c", "at most one `/`"),
            ("Example.com/a", "lower-case DNS subdomain"),
            ("ex..com/a", "lower-case DNS subdomain"),
            ("-ex.com/a", "lower-case DNS subdomain"),
            ("ex_a.com/a", "lower-case DNS subdomain"),
        ] {
            let e = check_qualified_name(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
        assert!(
            check_qualified_name(&"a".repeat(64))
                .unwrap_err()
                .contains("no more than 63")
        );
        let long_prefix = format!("{}/a", ["a"; 128].join("."));
        assert!(
            check_qualified_name(&long_prefix)
                .unwrap_err()
                .contains("no more than 253")
        );
        let e = err("app.kubernetes.io/ name=x");
        assert!(e.message.contains("invalid label key"), "{e:?}");
    }

    #[test]
    fn values_are_label_values() {
        for good in ["", "web", "1.36", "a_b-C.d", &"v".repeat(63)] {
            assert_eq!(check_label_value(good), Ok(()), "{good}");
        }
        for bad in ["-web", "web.", "a/b", "a:b", "é"] {
            assert!(check_label_value(bad).is_err(), "{bad}");
        }
        assert!(
            check_label_value(&"v".repeat(64))
                .unwrap_err()
                .contains("no more than 63")
        );
        let e = err("app=web/x");
        assert_eq!((e.at, e.len), (4, 5));
        assert!(e.message.contains("invalid value `web/x`"), "{e:?}");
        assert!(err("a in (b, -c)").message.contains("invalid value `-c`"));
        assert!(err("a!=b:c").message.contains("invalid value"));
    }

    #[test]
    fn a_nul_byte_ends_the_input_as_upstream_reads_it() {
        assert_eq!(ok("a=b\0garbage"), vec![r("a", Op::Equals, &["b"])]);
    }

    #[test]
    fn errors_point_into_plain_and_quoted_scalars() {
        let e = err("app=web c");
        let whole = |offset, col, len| Span {
            start: Pos {
                line: 3,
                col,
                offset,
            },
            end_offset: offset + len,
        };
        let src = "k:\n  x\n  selector: app=web c\n";
        let s = span_in(Some(src), "app=web c", whole(19, 13, 9), &e);
        assert_eq!((s.start.col, s.start.offset, s.len()), (21, 27, 1));
        let src = "k:\n  x\n  selector: \"app=web c\"\n";
        let s = span_in(Some(src), "app=web c", whole(19, 13, 11), &e);
        assert_eq!((s.start.col, s.start.offset), (22, 28));
        // Escapes or no source: the whole scalar.
        let src = "k:\n  x\n  selector: \"app=web\\x20c\"\n";
        let w = whole(19, 13, 14);
        assert_eq!(span_in(Some(src), "app=web c", w, &e), w);
        assert_eq!(span_in(None, "app=web c", w, &e), w);
    }
}
