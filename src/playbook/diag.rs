//! Problems found in a playbook (or a manifest it names), with file, line and column, rendered
//! as code frames through miette.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use miette::{
    GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteError, MietteSpanContents,
    SourceSpan, SpanContents,
};

use super::yaml::Span;

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
