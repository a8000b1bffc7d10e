//! The selector's grammar, as upstream parses it (apimachinery `pkg/labels/selector.go`,
//! `Parser`, and the value checks of `NewRequirement`).

use super::labels::{check_label_value, check_qualified_name};
use super::lex::{Tok, Token};
use super::{Op, Requirement, Selector, SelectorError};

pub(super) struct Parser<'a> {
    pub(super) tokens: Vec<Token<'a>>,
    pub(super) i: usize,
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
    pub(super) fn selector(&mut self) -> Result<Selector, SelectorError> {
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
