//! A YAML tree that remembers where every node came from.
//!
//! serde's own YAML deserializers stop at the first error and forget positions once a value is
//! built. Playbook validation must report *every* problem with its file, line and column, so we
//! parse into this small tree first (with `saphyr-parser`'s event stream, which keeps duplicate
//! keys visible) and deserialize from it with [`super::de`].

use std::collections::{HashMap, HashSet};

use saphyr_parser::{Event, Parser, ScalarStyle, Span as YSpan};

use super::limits;

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

/// Converts character indices (what the parser reports) into byte offsets. The parser reports
/// positions in (almost) increasing order, so walking from the last answer keeps the whole
/// conversion linear in the size of the text even when it is not ASCII.
struct Offsets<'a> {
    src: &'a str,
    ascii: bool,
    /// The last conversion: (character index, byte offset).
    cursor: std::cell::Cell<(usize, usize)>,
}

impl<'a> Offsets<'a> {
    fn new(src: &'a str) -> Self {
        Offsets {
            src,
            ascii: src.is_ascii(),
            cursor: std::cell::Cell::new((0, 0)),
        }
    }

    fn byte(&self, char_index: usize) -> usize {
        if self.ascii {
            return char_index.min(self.src.len());
        }
        let (mut c, mut b) = self.cursor.get();
        if char_index >= c {
            for ch in self.src[b..].chars() {
                if c == char_index {
                    break;
                }
                c += 1;
                b += ch.len_utf8();
            }
        } else {
            for ch in self.src[..b].chars().rev() {
                if c == char_index {
                    break;
                }
                c -= 1;
                b -= ch.len_utf8();
            }
        }
        self.cursor.set((c, b));
        b
    }
}

/// One YAML document of a stream, with warnings such as duplicate keys.
pub struct Documents {
    pub docs: Vec<Node>,
    pub duplicate_keys: Vec<YamlError>,
}

/// Whether `src` looks like the kind of file it is read as: its first document is a mapping
/// with at least one of `keys` at its top level (`apiVersion`, `kind`...). Only such text is
/// ever shown in a code frame: a PEM key, `/proc/self/environ` or `/etc/shadow` (which scans as
/// a mapping with one odd key) are reported by path and position alone.
pub fn looks_like(src: &str, keys: &[&str]) -> bool {
    let (mut depth, mut is_key) = (0usize, true);
    for item in Parser::new_from_str(src) {
        let Ok((event, _)) = item else {
            return false;
        };
        match event {
            Event::MappingStart(..) if depth == 0 => depth = 1,
            Event::SequenceStart(..) | Event::Scalar(..) | Event::Alias(_) if depth == 0 => {
                return false;
            }
            Event::Scalar(text, ..) if depth == 1 => {
                if is_key && keys.contains(&text.as_ref()) {
                    return true;
                }
                is_key = !is_key;
            }
            Event::Alias(_) if depth == 1 => is_key = !is_key,
            Event::SequenceStart(..) | Event::MappingStart(..) => depth += 1,
            Event::SequenceEnd | Event::MappingEnd => {
                depth = depth.saturating_sub(1);
                match depth {
                    0 => return false,
                    1 => is_key = !is_key,
                    _ => {}
                }
            }
            _ => {}
        }
    }
    false
}

/// Parses every document in `src`. Anchors and aliases are expanded by copying the anchored
/// node, within [`limits::MAX_ALIAS_NODES`]; nesting is limited to [`limits::MAX_DEPTH`].
pub fn parse(src: &str) -> Result<Documents, YamlError> {
    let offsets = Offsets::new(src);
    let mut builder = Builder {
        offsets: &offsets,
        stack: Vec::new(),
        anchors: HashMap::new(),
        alias_nodes: 0,
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
                message: if e.info().contains("recursion limit exceeded") {
                    // The scanner's own bound on flow nesting, met while it looks ahead.
                    too_deep_message()
                } else {
                    e.info().to_string()
                },
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
        /// The scalar keys so far, so duplicates are found in constant time.
        keys: HashSet<String>,
        pending_key: Option<Node>,
    },
}

/// An anchored node, with what copying it costs: its number of nodes and its depth.
struct Anchored {
    node: Node,
    nodes: usize,
    depth: usize,
}

struct Builder<'a> {
    offsets: &'a Offsets<'a>,
    stack: Vec<Frame>,
    anchors: HashMap<usize, Anchored>,
    /// Nodes added by aliases so far.
    alias_nodes: usize,
    docs: Vec<Node>,
    duplicates: Vec<YamlError>,
}

fn too_deep_message() -> String {
    format!(
        "nested more than {} levels deep (the nesting depth limit)",
        limits::MAX_DEPTH
    )
}

/// (number of nodes, depth) of a tree. Trees are at most [`limits::MAX_DEPTH`] deep.
fn measure(node: &Node) -> (usize, usize) {
    match &node.kind {
        NodeKind::Scalar(_) => (1, 0),
        NodeKind::Seq(items) => items.iter().fold((1, 1), |(n, d), i| {
            let (ni, di) = measure(i);
            (n + ni, d.max(di + 1))
        }),
        NodeKind::Map(entries) => entries.iter().fold((1, 1), |(n, d), (k, v)| {
            let (nk, dk) = measure(k);
            let (nv, dv) = measure(v);
            (n + nk + nv, d.max(dk.max(dv) + 1))
        }),
    }
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

    fn too_deep(&self, at: Pos) -> YamlError {
        YamlError {
            pos: at,
            message: too_deep_message(),
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
                let a = self.anchors.get(&id).ok_or_else(|| YamlError {
                    pos: here.start,
                    message: "alias to an unknown anchor".into(),
                })?;
                if self.stack.len() + a.depth > limits::MAX_DEPTH {
                    return Err(self.too_deep(here.start));
                }
                self.alias_nodes = self.alias_nodes.saturating_add(a.nodes);
                if self.alias_nodes > limits::MAX_ALIAS_NODES {
                    return Err(YamlError {
                        pos: here.start,
                        message: format!(
                            "aliases expand to more than {} nodes (the alias expansion limit)",
                            limits::MAX_ALIAS_NODES
                        ),
                    });
                }
                let node = a.node.clone();
                self.push(node);
            }
            Event::SequenceStart(..) | Event::MappingStart(..)
                if self.stack.len() >= limits::MAX_DEPTH =>
            {
                return Err(self.too_deep(here.start));
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
                keys: HashSet::new(),
                pending_key: None,
            }),
            Event::SequenceEnd | Event::MappingEnd => {
                let end = here.end_offset;
                let (mut span, anchor, kind) = match self.stack.pop() {
                    Some(Frame::Seq {
                        span,
                        anchor,
                        mut items,
                    }) => {
                        // Small lists and mappings are the common case; the spare capacity
                        // of a growing vector would triple their size.
                        items.shrink_to_fit();
                        (span, anchor, NodeKind::Seq(items))
                    }
                    Some(Frame::Map {
                        span,
                        anchor,
                        mut entries,
                        ..
                    }) => {
                        entries.shrink_to_fit();
                        (span, anchor, NodeKind::Map(entries))
                    }
                    None => {
                        return Err(YamlError {
                            pos: here.start,
                            message: "unbalanced YAML structure".into(),
                        });
                    }
                };
                span.end_offset = end.max(span.start.offset);
                let node = Node { span, kind };
                self.remember(anchor, &node);
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
            let (nodes, depth) = measure(node);
            self.anchors.insert(
                anchor,
                Anchored {
                    node: node.clone(),
                    nodes,
                    depth,
                },
            );
        }
    }

    fn push(&mut self, node: Node) {
        match self.stack.last_mut() {
            None => self.docs.push(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map {
                entries,
                keys,
                pending_key,
                ..
            }) => match pending_key.take() {
                None => *pending_key = Some(node),
                Some(key) => {
                    if let Some(text) = key.scalar_text()
                        && !keys.insert(text.to_string())
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
mod tests;
