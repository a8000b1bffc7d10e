//! Why `[${vars.a}, b]` does not parse, said at the `${`: inside a flow collection (`[...]`,
//! `{...}`) `{` is a YAML indicator, so an unquoted `${vars.a}` is a `$` followed by a mapping
//! and the YAML parser fails somewhere after it with a message about commas. Substitution runs
//! on the parsed tree, so it cannot help; the fix is the user's: quote the scalar.
//!
//! This is only asked after the YAML parser failed, and only answers when an unquoted `${`
//! inside a flow collection comes at or before the place the parser gave up; a rough scan of
//! the text (quotes, comments and brackets) is enough for that.

use super::super::yaml::Pos;

/// The position of the last unquoted `${` inside a flow collection at or before byte
/// `failed_at`, when there is one.
pub fn dollar_in_flow(src: &str, failed_at: usize) -> Option<Pos> {
    let mut scan = Scan::default();
    let mut found = None;
    let mut chars = src.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        if at > failed_at {
            break;
        }
        if c == '$'
            && scan.quote.is_none()
            && scan.depth > 0
            && matches!(chars.peek(), Some((_, '{')))
        {
            found = Some(scan.pos(at));
        }
        scan.step(c);
    }
    found
}

#[derive(Default)]
struct Scan {
    line: usize,
    col: usize,
    /// Open flow collections.
    depth: usize,
    /// Inside a quoted scalar: its quote.
    quote: Option<char>,
    comment: bool,
    /// The last character that was not a space (or `None` at a line's start).
    last: Option<char>,
}

impl Scan {
    fn pos(&self, offset: usize) -> Pos {
        Pos {
            line: self.line + 1,
            col: self.col + 1,
            offset,
        }
    }

    fn step(&mut self, c: char) {
        if c == '\n' {
            self.line += 1;
            self.col = 0;
            self.comment = false;
            if self.depth == 0 {
                self.quote = None;
            }
            self.last = None;
            return;
        }
        self.col += 1;
        if self.comment {
            return;
        }
        if let Some(q) = self.quote {
            if c == q {
                self.quote = None;
                self.last = Some(c);
            }
            return;
        }
        // Where a scalar or a collection may start: a line's start, or after an indicator.
        let at_start = matches!(self.last, None | Some('[' | '{' | ',' | ':' | '-'));
        match c {
            ' ' | '\t' => return,
            '#' => {
                self.comment = true;
                return;
            }
            '"' | '\'' if at_start => self.quote = Some(c),
            '[' | '{' if at_start || self.depth > 0 => self.depth += 1,
            ']' | '}' if self.depth > 0 => self.depth -= 1,
            _ => {}
        }
        self.last = Some(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(src: &str) -> Option<(usize, usize)> {
        dollar_in_flow(src, src.len()).map(|p| (p.line, p.col))
    }

    #[test]
    fn a_dollar_brace_in_a_flow_collection_is_found() {
        assert_eq!(at("to: [${vars.a}, b]\n"), Some((1, 6)));
        assert_eq!(at("x:\n  a: {y: ${vars.b}}\n"), Some((2, 10)));
        assert_eq!(at("x: [\n  a,\n  ${vars.b}\n]\n"), Some((3, 3)));
    }

    #[test]
    fn quoted_block_and_commented_ones_are_not() {
        assert_eq!(at("to: [\"${vars.a}\", b]\n"), None);
        assert_eq!(at("to: ['${vars.a}', b]\n"), None);
        assert_eq!(at("node: ${vars.a}\n"), None);
        assert_eq!(at("to: [a, b] # ${vars.a}\n"), None);
        assert_eq!(at("description: a [b ${vars.a}\n"), None);
        assert_eq!(at("to: [a, b]\nnode: ${vars.a}\n"), None);
    }

    #[test]
    fn one_after_the_failure_is_not_the_cause() {
        let src = "to: [a, b\nc: [${vars.a}]\n";
        assert_eq!(dollar_in_flow(src, 3), None);
    }
}
