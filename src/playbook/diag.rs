//! Problems found in a playbook (or a manifest it names), with file, line and column, rendered
//! as code frames through miette; and the hints for shapes people commonly write wrong (a node
//! name where a mapping is expected, a selector as a mapping, a command as one string), so the
//! error says what to write instead of only what type was expected.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use miette::{
    GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteError, MietteSpanContents,
    SourceSpan, SpanContents,
};

use super::yaml::{Node, NodeKind, Span};

/// One problem in one file.
#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    pub file: PathBuf,
    pub span: Option<Span>,
    pub message: String,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn new(file: &Path, span: Option<Span>, message: impl Into<String>) -> Self {
        Diagnostic {
            file: file.to_path_buf(),
            span,
            message: message.into(),
            help: None,
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// `file:line:col` (or just the file when the problem has no position).
    pub fn location(&self) -> String {
        match self.span {
            Some(s) => format!("{}:{}:{}", self.file.display(), s.start.line, s.start.col),
            None => self.file.display().to_string(),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location(), self.message)?;
        if let Some(h) = &self.help {
            write!(f, " ({h})")?;
        }
        Ok(())
    }
}

#[derive(Debug)]
struct Framed<'a> {
    diag: &'a Diagnostic,
    /// `None` when the file may not be shown (it is not YAML structure) or was never read.
    source: Option<Windowed>,
}

impl fmt::Display for Framed<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diag.message)
    }
}

impl std::error::Error for Framed<'_> {}

impl miette::Diagnostic for Framed<'_> {
    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.diag
            .help
            .as_ref()
            .map(|h| Box::new(h.clone()) as Box<dyn fmt::Display>)
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.diag.span?;
        self.source.as_ref().map(|s| s as &dyn miette::SourceCode)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let span = self.diag.span?;
        let len = span.len().clamp(1, 80);
        let text_len = self.source.as_ref()?.text.len();
        // A problem at the very end of the file (e.g. an unclosed bracket) points at its last
        // character, so the frame still shows a line.
        let start = span.start.offset.min(text_len.saturating_sub(1));
        let len = len
            .min(text_len.saturating_sub(start))
            .max(usize::from(start < text_len));
        Some(Box::new(std::iter::once(LabeledSpan::new_with_span(
            Some("here".into()),
            SourceSpan::from((start, len)),
        ))))
    }
}

/// A file's text for miette that hands over only the lines around a span. miette's own
/// `SourceCode` for strings scans from the start of the text for every frame, which made
/// rendering many problems in a large file quadratic; this finds the lines by binary search.
#[derive(Debug, Clone)]
struct Windowed {
    name: String,
    text: Arc<str>,
    /// Byte offset of the start of every line.
    line_starts: Arc<Vec<usize>>,
}

impl Windowed {
    fn new(name: String, text: Arc<str>) -> Self {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Windowed {
            name,
            text,
            line_starts: Arc::new(line_starts),
        }
    }

    /// The 0-based line holding byte `offset`.
    fn line_of(&self, offset: usize) -> usize {
        self.line_starts
            .partition_point(|&s| s <= offset)
            .saturating_sub(1)
    }
}

impl miette::SourceCode for Windowed {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        before: usize,
        after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let start = span.offset().min(self.text.len());
        let end = (start + span.len()).min(self.text.len());
        let first = self.line_of(start).saturating_sub(before);
        // A line more than miette takes: it decides where the frame ends within the window.
        let last = self.line_of(end) + after + 2;
        let from = self.line_starts[first];
        let to = self
            .line_starts
            .get(last)
            .copied()
            .unwrap_or(self.text.len());
        let window = self.text.get(from..to).ok_or(MietteError::OutOfBounds)?;
        let inner = window.read_span(
            &SourceSpan::from((start - from, end - start)),
            before,
            after,
        )?;
        Ok(Box::new(MietteSpanContents::new_named(
            self.name.clone(),
            inner.data(),
            SourceSpan::from((inner.span().offset() + from, inner.span().len())),
            inner.line() + first,
            inner.column(),
            inner.line_count(),
        )))
    }
}

/// Renders diagnostics as `error: ...` with a code frame that starts with `file:line:col`.
/// Problems past the first [`MAX_RENDERED`], and the `omitted` ones never kept, are counted
/// on a last line. `source_of` gives the text of a file, or `None` when it must not be shown: then only the
/// location is printed.
pub fn render(
    diags: &[Diagnostic],
    omitted: usize,
    source_of: &dyn Fn(&Path) -> Option<Arc<str>>,
    color: bool,
) -> String {
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme).with_width(100);
    let mut out = String::new();
    let mut windows: HashMap<&Path, Option<Windowed>> = HashMap::new();
    for d in diags.iter().take(MAX_RENDERED) {
        let source = windows
            .entry(&d.file)
            .or_insert_with(|| {
                source_of(&d.file).map(|t| Windowed::new(d.file.display().to_string(), t))
            })
            .clone();
        if d.span.is_none() || source.is_none() {
            out += &format!("{}:\n", d.location());
        }
        let framed = Framed { diag: d, source };
        if handler.render_report(&mut out, &framed).is_err() {
            out += &format!("{d}\n");
        }
    }
    let more = diags
        .len()
        .saturating_sub(MAX_RENDERED)
        .saturating_add(omitted);
    if more > 0 {
        out += &format!("  … and {more} more problems, not shown (fix the ones above first)\n");
    }
    out
}

/// At most this many problems are rendered; the rest are counted. A file with thousands of
/// broken steps gets a readable answer in bounded time.
pub const MAX_RENDERED: usize = 100;

/// Actions whose body is a mapping with one name field, and that field: `node-pause: NODE` is
/// a common slip for `node-pause: {node: NODE}`.
const ONE_FIELD_BODIES: &[(&str, &str)] = &[
    ("kubelet-stop", "node"),
    ("node-pause", "node"),
    ("node-stop", "node"),
    ("node-kill", "node"),
    ("node-cordon", "node"),
    ("node-taint", "node"),
    ("exec", "node"),
    ("network-partition", "node"),
    ("network-delay", "node"),
    ("network-loss", "node"),
    ("network-bandwidth", "node"),
    ("cpu-hog", "node"),
    ("namespace-delete", "namespace"),
    ("namespace-finalize", "namespace"),
];

/// What to write instead, when the value under `key` failed to parse and has a shape people
/// commonly write by mistake; `None` when nothing better than the error itself can be said.
pub(crate) fn shape_hint(key: &str, value: &Node, message: &str) -> Option<String> {
    match (&value.kind, key) {
        // `grace-period: 0`, as kubectl's flag is written: a duration needs its unit.
        (NodeKind::Scalar(s), _)
            if message.starts_with("invalid duration")
                && !s.text.is_empty()
                && s.text.bytes().all(|b| b.is_ascii_digit()) =>
        {
            Some(format!(
                "a duration needs its unit: write `{key}: {}s` for seconds",
                s.text
            ))
        }
        (NodeKind::Scalar(s), _) if !s.text.is_empty() => {
            if let Some((_, field)) = ONE_FIELD_BODIES.iter().find(|(k, _)| *k == key) {
                let more = if *field == "node"
                    && !matches!(key, "kubelet-stop" | "node-pause" | "node-cordon")
                {
                    ", with its other fields beside `node`"
                } else {
                    ""
                };
                return Some(format!(
                    "the body is a mapping: write `{key}: {{{field}: {}}}`{more}",
                    flow(&s.text)
                ));
            }
            if matches!(key, "command" | "undo") {
                let words: Vec<String> = s.text.split_whitespace().map(flow).collect();
                return Some(format!(
                    "a command is a list of arguments, never passed through a shell: write `{key}: [{}]`, or `{key}: [\"sh\", \"-c\", {}]` for shell syntax",
                    words.join(", "),
                    quoted(&s.text)
                ));
            }
            None
        }
        (NodeKind::Map(entries), "selector") => {
            let pairs: Option<Vec<String>> = entries
                .iter()
                .map(|(k, v)| Some(format!("{}={}", k.scalar_text()?, v.scalar_text()?)))
                .collect();
            let example = pairs
                .filter(|p| !p.is_empty())
                .map_or_else(|| "app=web".to_string(), |p| p.join(","));
            Some(format!(
                "a selector is written as kubectl's `-l` string: write `selector: {example}`"
            ))
        }
        _ => None,
    }
}

/// A scalar as a YAML flow value: plain when it is a simple word, else double-quoted.
fn flow(text: &str) -> String {
    let plain = text.starts_with(|c: char| c.is_ascii_alphabetic() || c == '/')
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
        && !matches!(
            text.to_ascii_lowercase().as_str(),
            "true" | "false" | "null" | "yes" | "no" | "on" | "off"
        );
    if plain {
        text.to_string()
    } else {
        quoted(text)
    }
}

/// A double-quoted YAML string (JSON's escapes are YAML's).
fn quoted(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| format!("\"{text}\""))
}

#[cfg(test)]
mod hint_tests {
    use super::*;

    fn node(src: &str) -> Node {
        let docs = crate::playbook::yaml::parse(src).unwrap();
        let root = docs.docs.into_iter().next().unwrap();
        match root.kind {
            NodeKind::Map(mut e) => e.remove(0).1,
            _ => panic!("not a mapping"),
        }
    }

    #[test]
    fn a_node_name_instead_of_a_body() {
        assert_eq!(
            shape_hint("node-pause", &node("k: kind-worker"), "").unwrap(),
            "the body is a mapping: write `node-pause: {node: kind-worker}`"
        );
        assert!(
            shape_hint("node-stop", &node("k: w"), "")
                .unwrap()
                .contains("with its other fields beside `node`")
        );
        assert_eq!(shape_hint("sleep", &node("k: w"), ""), None);
    }

    #[test]
    fn a_bare_number_of_seconds_gets_its_unit() {
        assert_eq!(
            shape_hint(
                "grace-period",
                &node("k: 0"),
                "invalid duration `0`: missing unit"
            )
            .unwrap(),
            "a duration needs its unit: write `grace-period: 0s` for seconds"
        );
        assert_eq!(shape_hint("grace-period", &node("k: 0"), "other"), None);
    }

    #[test]
    fn a_selector_mapping_becomes_the_string() {
        assert_eq!(
            shape_hint("selector", &node("k: {app: web, tier: db}"), "").unwrap(),
            "a selector is written as kubectl's `-l` string: write `selector: app=web,tier=db`"
        );
    }

    #[test]
    fn a_command_string_becomes_a_list() {
        assert_eq!(
            shape_hint("command", &node("k: rm -rf /tmp/x"), "").unwrap(),
            "a command is a list of arguments, never passed through a shell: write `command: [rm, \"-rf\", /tmp/x]`, or `command: [\"sh\", \"-c\", \"rm -rf /tmp/x\"]` for shell syntax"
        );
    }
}
