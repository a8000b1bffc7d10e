//! The selector's tokens, cut as upstream's lexer cuts them (apimachinery
//! `pkg/labels/selector.go`, `Lexer`): identifiers, the symbols `! != = == ( ) , > <` and the
//! keywords `in` and `notin`.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Tok {
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
pub(super) struct Token<'a> {
    pub(super) tok: Tok,
    pub(super) text: &'a str,
    pub(super) at: usize,
}

impl Token<'_> {
    /// How the token reads in a message.
    pub(super) fn shown(&self) -> String {
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
pub(super) fn lex(s: &str) -> Vec<Token<'_>> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        // Lex: whitespace between tokens is skipped.
        while i < b.len() && is_whitespace(b[i]) {
            i += 1;
        }
        // Lex: the end of the string, or a NUL byte (Lexer.read's 0) where a token would
        // start, ends the input.
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
            // scanSpecialSymbol: a NUL that stops the run is read, not put back, so lexing
            // goes on after it.
            if end == j && b.get(i) == Some(&0) {
                i += 1;
            }
        } else {
            // scanIDOrKeyword: up to whitespace or a special byte; `in`/`notin` are keywords.
            while i < b.len() && b[i] != 0 && !is_whitespace(b[i]) && !is_special(b[i]) {
                i += 1;
            }
            let text = &s[start..i];
            // scanIDOrKeyword: a NUL that ends the identifier is read, not put back.
            if b.get(i) == Some(&0) {
                i += 1;
            }
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
