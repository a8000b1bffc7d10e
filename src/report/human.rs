//! Progress for people. On a live terminal a spinner shows the running step with its elapsed
//! and remaining time and what a wait last saw; elsewhere (pipes, `CI=true`) plain lines, with
//! a wait's progress every 15 seconds so CI logs show it is alive.

use std::io::Write;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::engine::{Event, ProbeReport, Reporter, StepStatus, UndoStatus};
use crate::playbook::values::format_duration;

use super::out::clean;
use super::style::{Style, Tone};
use super::summary::status_word;
use crate::engine::{PlaybookReport, RunStatus};

/// How often plain mode prints that a wait is still waiting.
const PLAIN_TICK: Duration = Duration::from_secs(15);

pub struct Human {
    out: Box<dyn Write + Send>,
    live: bool,
    bar: Option<ProgressBar>,
    last_tick: Duration,
    style: Style,
}

impl Human {
    /// `live`: draw spinners (a TTY, not CI). Permanent lines go to `out`.
    pub fn new(out: Box<dyn Write + Send>, live: bool) -> Self {
        Human {
            out,
            live,
            bar: None,
            last_tick: Duration::ZERO,
            style: Style::default(),
        }
    }

    /// Colour and symbols for the stream `out` writes to (plain Unicode by default).
    pub fn with_style(mut self, style: Style) -> Self {
        self.style = style;
        self
    }

    /// A permanent line with a symbol (already styled) before its text.
    fn marked(&mut self, pad: &str, symbol: &str, text: &str) {
        let line = format!("{pad}{symbol} {}", clean(text));
        self.raw(&line);
    }

    /// Writes a permanent line, control bytes escaped (names and values are not ours).
    fn line(&mut self, text: &str) {
        let text = clean(text).into_owned();
        self.raw(&text);
    }

    /// Writes a permanent line as it is.
    fn raw(&mut self, text: &str) {
        let out = &mut self.out;
        match &self.bar {
            Some(b) => b.suspend(|| {
                let _ = writeln!(out, "{text}");
            }),
            None => {
                let _ = writeln!(out, "{text}");
            }
        }
        let _ = self.out.flush();
    }

    fn clear_bar(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}

impl Reporter for Human {
    fn event(&mut self, e: &Event<'_>) {
        match e {
            Event::PlaybookStarted { plan } => {
                let start = self.style.symbol("▶", ">", Tone::Plain);
                let text = format!("{} ({})", plan.name, plan.file.display());
                self.marked("", &start, &text);
                let mut targets = String::new();
                super::plan::resolved(&mut targets, plan);
                for line in targets.lines() {
                    self.line(line);
                }
            }
            Event::StepStarted {
                step,
                depth,
                description,
                ..
            } => {
                self.last_tick = Duration::ZERO;
                let pad = "  ".repeat(depth + 1);
                if self.live {
                    self.clear_bar();
                    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
                    let style = ProgressStyle::with_template("{prefix}{spinner} {msg} [{elapsed}]")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner());
                    bar.set_style(style);
                    bar.set_prefix(pad);
                    bar.set_message(
                        clean(&format!("{}: {description}", step.label())).into_owned(),
                    );
                    bar.enable_steady_tick(Duration::from_millis(120));
                    self.bar = Some(bar);
                } else if matches!(step.kind, crate::playbook::PlanStepKind::Action(ref a) if matches!(a.as_ref(), crate::playbook::model::Action::Wait(_) | crate::playbook::model::Action::Sleep(_)))
                {
                    let dots = self.style.symbol("…", "...", Tone::Plain);
                    self.marked(&pad, &dots, &format!("{}: {description}", step.label()));
                }
            }
            Event::WaitProgress {
                step,
                elapsed,
                timeout,
                observed,
            } => {
                let left = timeout.saturating_sub(*elapsed);
                if let Some(b) = &self.bar {
                    b.set_message(
                        clean(&format!(
                            "{}: waiting, {} left; last seen: {observed}",
                            step.label(),
                            format_duration(round(left))
                        ))
                        .into_owned(),
                    );
                } else if *elapsed >= self.last_tick + PLAIN_TICK {
                    self.last_tick = *elapsed;
                    let dots = self.style.symbol("…", "...", Tone::Plain);
                    let text = format!(
                        "still waiting after {} ({} left); last seen: {observed}",
                        format_duration(round(*elapsed)),
                        format_duration(round(left))
                    );
                    self.marked("    ", &dots, &text);
                }
            }
            Event::StepFinished { result, depth } => {
                self.clear_bar();
                let pad = "  ".repeat(depth + 1);
                let time = if result.status == StepStatus::Skipped {
                    String::new()
                } else {
                    format!(" ({})", format_duration(result.duration))
                };
                let mark = self.style.step_mark(result.status);
                let text = format!("{}: {}{time}", result.label(), result.description);
                self.marked(&pad, &mark, &text);
                match (&result.verdict, result.status) {
                    (Some(v), StepStatus::Failed) => {
                        self.line(&format!("{pad}    expected: {}", v.expected));
                        self.line(&format!("{pad}    observed: {}", v.observed));
                    }
                    (_, StepStatus::Error) => {
                        if let Some(m) = &result.message {
                            self.line(&format!("{pad}    error: {m}"));
                        }
                    }
                    _ => {}
                }
                if let Some(file) = &result.backup {
                    self.line(&format!("{pad}    backup: {file}"));
                }
                if let Some(p) = &result.probe {
                    self.line(&format!("{pad}    probe: {}", probe_line(p)));
                }
            }
            // Samples are summed up when their probe finishes (above).
            Event::ProbeSample { .. } => {}
            Event::UndoStarted { pending } => {
                let undo = self.style.symbol("↺", "<-", Tone::Plain);
                self.marked("  ", &undo, &format!("undoing {pending} change(s)"));
            }
            Event::UndoFinished { result } => {
                let s = self.style;
                let (mark, text) = match result.status {
                    UndoStatus::Undone => (
                        s.symbol("✔", "[ok]", Tone::Good),
                        match &result.message {
                            Some(note) => format!("undone: {} ({note})", result.description),
                            None => format!("undone: {}", result.description),
                        },
                    ),
                    UndoStatus::Failed => (
                        s.symbol("✘", "[FAIL]", Tone::Bad),
                        format!(
                            "UNDO FAILED: {}: {}",
                            result.description,
                            result.message.as_deref().unwrap_or("")
                        ),
                    ),
                    UndoStatus::Retained => (
                        s.symbol("⚠", "[WARN]", Tone::Warn),
                        format!("left in place (--retain): {}", result.description),
                    ),
                    UndoStatus::Owed => (
                        s.symbol("✘", "[FAIL]", Tone::Bad),
                        format!("NOT UNDONE: {}", result.description),
                    ),
                };
                self.marked("    ", &mark, &text);
            }
            // For the timeline only.
            Event::ApiObserved { .. } | Event::RealitySampled { .. } => {}
            Event::PlaybookFinished { report } => {
                self.clear_bar();
                let mark = outcome_mark(self.style, report);
                let text = format!(
                    "{} in {}",
                    status_word(report),
                    format_duration(round(report.duration))
                );
                self.marked("", &mark, &text);
            }
        }
    }
}

/// A probe in one line: `57/60 ok (95%), longest outage 3s, p95 12ms`.
fn probe_line(p: &ProbeReport) -> String {
    let s = &p.stats;
    let mut line = format!("{}/{} samples ok", s.ok, s.total);
    if let Some(a) = s.availability {
        line += &format!(" ({:.1}%)", a);
    }
    line += &format!(", longest outage {}", format_duration(s.longest_outage));
    if s.failing_at_end {
        line += " (still failing at the end)";
    }
    if let Some(p95) = s.latency.p95 {
        line += &format!(", p95 latency {}", format_duration(p95));
    }
    line
}

/// The mark before a playbook's outcome: a (green) tick only for a clean pass.
fn outcome_mark(s: Style, r: &PlaybookReport) -> String {
    match r.status {
        RunStatus::Passed => s.symbol("✔", "[ok]", Tone::Good),
        RunStatus::Retained => s.symbol("⚠", "[WARN]", Tone::Warn),
        RunStatus::RollbackFailed => s.symbol("✘✘", "[FAIL!!]", Tone::Bad),
        _ => s.symbol("✘", "[FAIL]", Tone::Bad),
    }
}

fn round(d: Duration) -> Duration {
    if d < Duration::from_secs(10) {
        Duration::from_millis(d.as_millis() as u64 / 100 * 100)
    } else {
        Duration::from_secs(d.as_secs())
    }
}
