//! Progress for people. On a live terminal a spinner shows the running step with its elapsed
//! and remaining time and what a wait last saw; elsewhere (pipes, `CI=true`) plain lines, with
//! a wait's progress every 15 seconds so CI logs show it is alive.

use std::io::Write;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::engine::{Event, Reporter, StepStatus, UndoStatus};
use crate::playbook::values::format_duration;

use super::out::clean;
use super::{mark, summary::status_mark, summary::status_word};

/// How often plain mode prints that a wait is still waiting.
const PLAIN_TICK: Duration = Duration::from_secs(15);

pub struct Human {
    out: Box<dyn Write + Send>,
    live: bool,
    bar: Option<ProgressBar>,
    last_tick: Duration,
}

impl Human {
    /// `live`: draw spinners (a TTY, not CI). Permanent lines go to `out`.
    pub fn new(out: Box<dyn Write + Send>, live: bool) -> Self {
        Human {
            out,
            live,
            bar: None,
            last_tick: Duration::ZERO,
        }
    }

    /// Writes a permanent line, control bytes escaped (names and values are not ours).
    fn line(&mut self, text: &str) {
        let text = clean(text);
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
                self.line(&format!("▶ {} ({})", plan.name, plan.file.display()));
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
                    self.line(&format!("{pad}… {}: {description}", step.label()));
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
                    self.line(&format!(
                        "    … still waiting after {} ({} left); last seen: {observed}",
                        format_duration(round(*elapsed)),
                        format_duration(round(left))
                    ));
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
                self.line(&format!(
                    "{pad}{} {}: {}{time}",
                    mark(result.status),
                    result.label(),
                    result.description
                ));
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
            }
            Event::UndoStarted { pending } => {
                self.line(&format!("  ↺ undoing {pending} change(s)"))
            }
            Event::UndoFinished { result } => {
                let text = match result.status {
                    UndoStatus::Undone => match &result.message {
                        Some(note) => format!("    ✔ undone: {} ({note})", result.description),
                        None => format!("    ✔ undone: {}", result.description),
                    },
                    UndoStatus::Failed => format!(
                        "    ✘ UNDO FAILED: {}: {}",
                        result.description,
                        result.message.as_deref().unwrap_or("")
                    ),
                    UndoStatus::Retained => {
                        format!("    ⚠ left in place (--retain): {}", result.description)
                    }
                    UndoStatus::Owed => format!("    ✘ NOT UNDONE: {}", result.description),
                };
                self.line(&text);
            }
            Event::PlaybookFinished { report } => {
                self.clear_bar();
                self.line(&format!(
                    "{} {} in {}",
                    status_mark(report),
                    status_word(report),
                    format_duration(round(report.duration))
                ));
            }
        }
    }
}

fn round(d: Duration) -> Duration {
    if d < Duration::from_secs(10) {
        Duration::from_millis(d.as_millis() as u64 / 100 * 100)
    } else {
        Duration::from_secs(d.as_secs())
    }
}
