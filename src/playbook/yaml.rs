//! A YAML tree that remembers where every node came from.
//!
//! serde's own YAML deserializers stop at the first error and forget positions once a value is
//! built. Playbook validation must report *every* problem with its file, line and column, so we
//! parse into this small tree first (with `saphyr-parser`'s event stream, which keeps duplicate
//! keys visible) and deserialize from it with [`super::de`].

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span as YSpan};

/// A position in the source: 1-based line and column, plus the byte offset for code frames.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
    pub offset: usize,
}

/// Where a node starts and ends in the source (byte offsets).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Span {
    pub start: Pos,
    pub end_offset: usize,
}

impl Span {
    pub fn len(&self) -> usize {
        self.end_offset.saturating_sub(self.start.offset)
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A scalar as written: its text and whether it was quoted (quoted scalars are always strings).
#[derive(Clone, Debug, PartialEq)]
pub struct Scalar {
    pub text: String,
    pub quoted: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub enum NodeKind {
    Scalar(Scalar),
    Seq(Vec<Node>),
    /// Entries in source order; duplicates are kept here and reported by the parser.
    Map(Vec<(Node, Node)>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub span: Span,
    pub kind: NodeKind,
}

impl Node {
    pub fn scalar_text(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Scalar(s) => Some(&s.text),
            _ => None,
        }
    }

    /// Looks a key up in a mapping node.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.kind {
            NodeKind::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.scalar_text() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// A short description for "expected X, found Y" messages.
    pub fn describe(&self) -> &'static str {
        match &self.kind {
            NodeKind::Scalar(_) => "a scalar",
            NodeKind::Seq(_) => "a list",
            NodeKind::Map(_) => "a mapping",
        }
    }
}

/// A YAML syntax error or structural problem found while building the tree.
#[derive(Clone, Debug, PartialEq)]
pub struct YamlError {
    pub pos: Pos,
    pub message: String,
}

/// Converts character indices (what the parser reports) into byte offsets.
struct Offsets<'a> {
    src: &'a str,
    ascii: bool,
}

impl Offsets<'_> {
    fn byte(&self, char_index: usize) -> usize {
        if self.ascii {
            return char_index.min(self.src.len());
        }
        self.src
            .char_indices()
            .nth(char_index)
            .map_or(self.src.len(), |(b, _)| b)
    }
}

/// One YAML document of a stream, with warnings such as duplicate keys.
pub struct Documents {
    pub docs: Vec<Node>,
    pub duplicate_keys: Vec<YamlError>,
}

/// Parses every document in `src`. Anchors and aliases are expanded by copying the anchored node.
pub fn parse(src: &str) -> Result<Documents, YamlError> {
    let offsets = Offsets {
        src,
        ascii: src.is_ascii(),
    };
    let mut builder = Builder {
        offsets: &offsets,
        stack: Vec::new(),
        anchors: HashMap::new(),
        docs: Vec::new(),
        duplicates: Vec::new(),
    };
    for item in Parser::new_from_str(src) {
        let (event, span) = item.map_err(|e| {
            let m = e.marker();
            YamlError {
                pos: Pos {
                    line: m.line(),
                    col: m.col() + 1,
                    offset: offsets.byte(m.index()),
                },
                message: e.info().to_string(),
            }
        })?;
        builder.event(event, span)?;
    }
    Ok(Documents {
        docs: builder.docs,
        duplicate_keys: builder.duplicates,
    })
}

enum Frame {
    Seq {
        span: Span,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        span: Span,
        anchor: usize,
        entries: Vec<(Node, Node)>,
        pending_key: Option<Node>,
    },
}

struct Builder<'a> {
    offsets: &'a Offsets<'a>,
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    docs: Vec<Node>,
    duplicates: Vec<YamlError>,
}

impl Builder<'_> {
    fn pos(&self, span: &YSpan) -> Span {
        Span {
            start: Pos {
                line: span.start.line(),
                col: span.start.col() + 1,
                offset: self.offsets.byte(span.start.index()),
            },
            end_offset: self.offsets.byte(span.end.index()),
        }
    }

    fn event(&mut self, event: Event<'_>, span: YSpan) -> Result<(), YamlError> {
        let here = self.pos(&span);
        match event {
            Event::Scalar(text, style, anchor, _tag) => {
                let node = Node {
                    span: here,
                    kind: NodeKind::Scalar(Scalar {
                        text: text.into_owned(),
                        quoted: !matches!(style, ScalarStyle::Plain),
                    }),
                };
                self.remember(anchor, &node);
                self.push(node);
            }
            Event::Alias(id) => {
                let node = self.anchors.get(&id).cloned().ok_or_else(|| YamlError {
                    pos: here.start,
                    message: "alias to an unknown anchor".into(),
                })?;
                self.push(node);
            }
            Event::SequenceStart(anchor, _) => self.stack.push(Frame::Seq {
                span: here,
                anchor,
                items: Vec::new(),
            }),
            Event::MappingStart(anchor, _) => self.stack.push(Frame::Map {
                span: here,
                anchor,
                entries: Vec::new(),
                pending_key: None,
            }),
            Event::SequenceEnd | Event::MappingEnd => {
                let end = here.end_offset;
                let node = match self.stack.pop() {
                    Some(Frame::Seq {
                        mut span,
                        anchor,
                        items,
                    }) => {
                        span.end_offset = end.max(span.start.offset);
                        let node = Node {
                            span,
                            kind: NodeKind::Seq(items),
                        };
                        self.remember(anchor, &node);
                        node
                    }
                    Some(Frame::Map {
                        mut span,
                        anchor,
                        entries,
                        ..
                    }) => {
                        span.end_offset = end.max(span.start.offset);
                        let node = Node {
                            span,
                            kind: NodeKind::Map(entries),
                        };
                        self.remember(anchor, &node);
                        node
                    }
                    None => {
                        return Err(YamlError {
                            pos: here.start,
                            message: "unbalanced YAML structure".into(),
                        });
                    }
                };
                self.push(node);
            }
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart(_)
            | Event::DocumentEnd => {}
        }
        Ok(())
    }

    fn remember(&mut self, anchor: usize, node: &Node) {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
    }

    fn push(&mut self, node: Node) {
        match self.stack.last_mut() {
            None => self.docs.push(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map {
                entries,
                pending_key,
                ..
            }) => match pending_key.take() {
                None => *pending_key = Some(node),
                Some(key) => {
                    if let Some(text) = key.scalar_text()
                        && entries.iter().any(|(k, _)| k.scalar_text() == Some(text))
                    {
                        self.duplicates.push(YamlError {
                            pos: key.span.start,
                            message: format!("duplicate key `{text}`"),
                        });
                    }
                    entries.push((key, node));
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based() {
        let docs = parse("a: 1\nb:\n  - x\n").unwrap().docs;
        let b = docs[0].get("b").unwrap();
        let NodeKind::Seq(items) = &b.kind else {
            panic!("not a seq")
        };
        assert_eq!(items[0].span.start.line, 3);
        assert_eq!(items[0].span.start.col, 5);
        assert_eq!(items[0].span.start.offset, 12);
    }

    #[test]
    fn duplicate_keys_are_reported() {
        let d = parse("a: 1\na: 2\n").unwrap();
        assert_eq!(d.duplicate_keys.len(), 1);
        assert_eq!(d.duplicate_keys[0].pos.line, 2);
    }

    #[test]
    fn syntax_errors_carry_a_position() {
        let e = parse("a: [1, 2\nb: 3\n").err().unwrap();
        assert!(e.pos.line >= 1, "{e:?}");
    }

    #[test]
    fn aliases_copy_the_anchored_node() {
        let d = parse("a: &x {k: v}\nb: *x\n").unwrap();
        assert_eq!(
            d.docs[0].get("b").unwrap().get("k").unwrap().scalar_text(),
            Some("v")
        );
    }

    #[test]
    fn multiple_documents_and_non_ascii_offsets() {
        let d = parse("é: 1\n---\nb: 2\n").unwrap();
        assert_eq!(d.docs.len(), 2);
        let (_, v) = match &d.docs[0].kind {
            NodeKind::Map(e) => e[0].clone(),
            _ => panic!(),
        };
        assert_eq!(v.span.start.offset, 4); // 'é' is two bytes
    }
}
