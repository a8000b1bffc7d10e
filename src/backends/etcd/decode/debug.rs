//! Reading prost's `Debug` text back into a tree: the one generic view of a k8s-pb value.
//!
//! k8s-pb's types have no serde support, prost has no reflection, and k8s-pb ships no
//! descriptor set; but prost derives a `Debug` that prints every field, by name, in Rust's
//! regular derive grammar (`Pod { metadata: Some(ObjectMeta { name: Some("web"), .. }), .. }`),
//! with each nested message's type name and `Some`/`None` for presence. That is all a JSON
//! walk needs: [`super::json`] turns the tree into the API's JSON. The grammar is Rust's own
//! derived `Debug` (structs, `Some(..)`, lists, maps, string and number literals); the tests
//! in `tests/etcd_decode.rs` pin it on every kind a kind cluster stores, so a change in it
//! shows up as a failing test, not as wrong output.
//!
//! Why not a maintained crate instead (checked for issue 16, December 2026):
//!
//! - prost-reflect 0.16.5 (prost 0.14, as here) decodes and serializes any message given a
//!   `DescriptorPool`, but there is none to give it: the k8s-pb 0.9.0 crate ships only the
//!   generated Rust (no `.proto` files, no descriptor set, `build = false`, no `prost::Name`
//!   impls, no serde), and k8s-openapi 0.29 is JSON-only. Kubernetes' `generated.proto` files
//!   would have to be copied into this repository (our rule: we write our own code, not
//!   paste upstream's) or rebuilt in `build.rs` by parsing k8s-pb's `#[prost(...)]`
//!   attributes out of the registry source: a hand-written parser again, of a less stable
//!   text than this one.
//! - Decoding into k8s-pb types and converting to k8s-openapi types: no conversion exists; one
//!   per type (hundreds) would be needed, and k8s-openapi's serializer still cannot show Go's
//!   zero values as the API does (see [`super::json`]).
//! - Even with reflection, the Go facts of [`super::go_types`] (pointers, `omitempty`,
//!   `Time`, `Quantity`, `IntOrString`) stay ours: protobuf does not carry them.
//!
//! Rust documents derived `Debug` output as not stable; what keeps this honest is that the
//! grammar is small and every stored kind's output is pinned by tests.

/// A parsed `Debug` value.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Node {
    None,
    Some(Box<Node>),
    Struct(String, Vec<(String, Node)>),
    Tuple(String, Vec<Node>),
    List(Vec<Node>),
    Map(Vec<(Node, Node)>),
    Str(String),
    Num(String),
    Bool(bool),
    Ident(String),
}

/// Parses the `Debug` text of a k8s-pb object.
pub(super) fn parse(text: &str) -> Result<Node, String> {
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
    };
    let node = p.value()?;
    p.ws();
    if p.i != p.s.len() {
        return Err(format!("unexpected text at byte {}", p.i));
    }
    Ok(node)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.s.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> Result<(), String> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(format!("expected `{}` at byte {}", c as char, self.i))
        }
    }

    fn value(&mut self) -> Result<Node, String> {
        match self.peek() {
            Some(b'"') => self.string().map(Node::Str),
            Some(b'[') => {
                self.i += 1;
                let items = self.seq(b']', Self::value)?;
                Ok(Node::List(items))
            }
            Some(b'{') => {
                self.i += 1;
                let pairs = self.seq(b'}', |p| {
                    let k = p.value()?;
                    p.eat(b':')?;
                    Ok((k, p.value()?))
                })?;
                Ok(Node::Map(pairs))
            }
            Some(c) if c == b'-' || c.is_ascii_digit() => Ok(Node::Num(self.number())),
            Some(c) if c.is_ascii_alphabetic() || c == b'_' => self.named(),
            Some(c) => Err(format!("unexpected `{}` at byte {}", c as char, self.i)),
            None => Err("unexpected end".into()),
        }
    }

    /// Items separated by commas up to `close` (a trailing comma allowed).
    fn seq<T>(
        &mut self,
        close: u8,
        mut item: impl FnMut(&mut Self) -> Result<T, String>,
    ) -> Result<Vec<T>, String> {
        let mut out = Vec::new();
        loop {
            if self.peek() == Some(close) {
                self.i += 1;
                return Ok(out);
            }
            out.push(item(self)?);
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(c) if c == close => {}
                _ => {
                    return Err(format!(
                        "expected `,` or `{}` at byte {}",
                        close as char, self.i
                    ));
                }
            }
        }
    }

    fn ident(&mut self) -> String {
        self.ws();
        let start = self.i;
        if self.s[self.i..].starts_with(b"r#") {
            self.i += 2;
        }
        while self.i < self.s.len()
            && (self.s[self.i].is_ascii_alphanumeric() || self.s[self.i] == b'_')
        {
            self.i += 1;
        }
        let raw = String::from_utf8_lossy(&self.s[start..self.i]).into_owned();
        raw.trim_start_matches("r#").to_string()
    }

    fn named(&mut self) -> Result<Node, String> {
        let name = self.ident();
        if name.is_empty() {
            return Err(format!("expected a name at byte {}", self.i));
        }
        match (name.as_str(), self.peek()) {
            ("None", _) => Ok(Node::None),
            ("true", _) => Ok(Node::Bool(true)),
            ("false", _) => Ok(Node::Bool(false)),
            ("inf" | "NaN", _) => Ok(Node::Num(name)),
            ("Some", Some(b'(')) => {
                self.i += 1;
                let v = self.value()?;
                self.eat(b')')?;
                Ok(Node::Some(Box::new(v)))
            }
            (_, Some(b'(')) => {
                self.i += 1;
                Ok(Node::Tuple(name, self.seq(b')', Self::value)?))
            }
            (_, Some(b'{')) => {
                self.i += 1;
                let fields = self.seq(b'}', |p| {
                    let f = p.ident();
                    p.eat(b':')?;
                    Ok((f, p.value()?))
                })?;
                Ok(Node::Struct(name, fields))
            }
            _ => Ok(Node::Ident(name)),
        }
    }

    fn number(&mut self) -> String {
        let start = self.i;
        while self.i < self.s.len()
            && matches!(
                self.s[self.i],
                b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'
            )
        {
            self.i += 1;
        }
        String::from_utf8_lossy(&self.s[start..self.i]).into_owned()
    }

    fn string(&mut self) -> Result<String, String> {
        self.eat(b'"')?;
        let mut out: Vec<u8> = Vec::new();
        while let Some(&c) = self.s.get(self.i) {
            self.i += 1;
            match c {
                b'"' => return String::from_utf8(out).map_err(|e| e.to_string()),
                b'\\' => {
                    let e = self.s.get(self.i).copied().ok_or("unterminated escape")?;
                    self.i += 1;
                    match e {
                        b'n' => out.push(b'\n'),
                        b't' => out.push(b'\t'),
                        b'r' => out.push(b'\r'),
                        b'0' => out.push(0),
                        b'u' => {
                            // \u{XXXX}
                            self.eat(b'{')?;
                            let start = self.i;
                            while self.s.get(self.i).is_some_and(|c| *c != b'}') {
                                self.i += 1;
                            }
                            let hex = String::from_utf8_lossy(&self.s[start..self.i]).into_owned();
                            self.eat(b'}')?;
                            let ch = u32::from_str_radix(&hex, 16)
                                .ok()
                                .and_then(char::from_u32)
                                .ok_or_else(|| format!("bad escape \\u{{{hex}}}"))?;
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                        }
                        other => out.push(other),
                    }
                }
                c => out.push(c),
            }
        }
        Err("unterminated string".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_text_parses_into_a_tree() {
        let text = r#"Pod { metadata: Some(ObjectMeta { name: Some("web"), labels: {"a": ""} }), r#type: Some("a \"q\" \u{1b}"), n: [1, -2], f: Some(0.5), e: Some(Time { seconds: None, nanos: None }) }"#;
        let Node::Struct(name, fields) = parse(text).unwrap() else {
            panic!("not a struct")
        };
        assert_eq!(name, "Pod");
        let names: Vec<_> = fields.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(names, ["metadata", "type", "n", "f", "e"]);
        assert_eq!(
            fields[1].1,
            Node::Some(Box::new(Node::Str("a \"q\" \u{1b}".into())))
        );
        assert_eq!(
            fields[2].1,
            Node::List(vec![Node::Num("1".into()), Node::Num("-2".into())])
        );
        assert!(parse("Pod { a: Some(1) } trailing").is_err());
        assert!(parse("Pod { a: Some(1)").is_err());
    }
}
