//! Problems found in a playbook (or a manifest it names), with file, line and column, rendered
//! as code frames through miette.

use std::fmt;
use std::path::{Path, PathBuf};

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceSpan};

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
    source: NamedSource<String>,
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
        self.diag
            .span
            .map(|_| &self.source as &dyn miette::SourceCode)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let span = self.diag.span?;
        let len = span.len().clamp(1, 80);
        let text_len = self.source.inner().len();
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

/// Renders diagnostics as `error: ...` with a code frame that starts with `file:line:col`.
/// `source` is the text of the file the diagnostics are about.
pub fn render(
    diags: &[Diagnostic],
    source_of: &dyn Fn(&Path) -> Option<String>,
    color: bool,
) -> String {
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme).with_width(100);
    let mut out = String::new();
    for d in diags {
        let text = source_of(&d.file).unwrap_or_default();
        let framed = Framed {
            diag: d,
            source: NamedSource::new(d.file.display().to_string(), text),
        };
        if d.span.is_none() {
            out += &format!("{}:\n", d.file.display());
        }
        if handler.render_report(&mut out, &framed).is_err() {
            out += &format!("{d}\n");
        }
    }
    out
}
