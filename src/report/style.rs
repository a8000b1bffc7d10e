//! How progress looks on the stream it goes to: colour (green for a pass, red for a failure,
//! yellow for a fault left in place) and Unicode or ASCII symbols. People's terminals get
//! colour; pipes and logs do not, unless asked. The conventions users already set decide it:
//! `NO_COLOR` (no-color.org) turns colour off and wins over everything, `CLICOLOR_FORCE` (not
//! `0`) turns it on where the stream is not a terminal (CI logs that render colour), and
//! `TERM=dumb` means a terminal that knows neither colour nor Unicode, so ASCII symbols.

use crate::engine::StepStatus;

/// The colour of a symbol: what kind of news it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Good,
    Bad,
    Warn,
    Plain,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Style {
    pub color: bool,
    pub ascii: bool,
}

impl Style {
    /// The style for a stream, from whether it is a terminal and the environment (`var` reads
    /// one variable; an empty value counts as unset, as no-color.org says).
    pub fn from_env(is_terminal: bool, var: impl Fn(&str) -> Option<String>) -> Style {
        let set = |name: &str| var(name).filter(|v| !v.is_empty());
        let dumb = set("TERM").is_some_and(|t| t == "dumb");
        let color = if set("NO_COLOR").is_some() {
            false
        } else if set("CLICOLOR_FORCE").is_some_and(|v| v != "0") {
            true
        } else {
            is_terminal && !dumb
        };
        Style { color, ascii: dumb }
    }

    /// The style of this process's stream (`stdout` or stderr).
    pub fn of_stream(stdout: bool) -> Style {
        use std::io::IsTerminal;
        let tty = if stdout {
            std::io::stdout().is_terminal()
        } else {
            std::io::stderr().is_terminal()
        };
        Style::from_env(tty, |k| std::env::var(k).ok())
    }

    /// A symbol: its Unicode or ASCII form, in its tone's colour.
    pub fn symbol(&self, unicode: &str, ascii: &str, tone: Tone) -> String {
        let s = if self.ascii { ascii } else { unicode };
        self.paint(s, tone)
    }

    /// `text` in the tone's colour (as is without colour).
    pub fn paint(&self, text: &str, tone: Tone) -> String {
        let code = match tone {
            Tone::Good => "32",
            Tone::Bad => "31",
            Tone::Warn => "33",
            Tone::Plain => return text.to_string(),
        };
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    /// The mark of a step's status.
    pub fn step_mark(&self, s: StepStatus) -> String {
        match s {
            StepStatus::Passed => self.symbol("✔", "[ok]", Tone::Good),
            StepStatus::Failed => self.symbol("✘", "[FAIL]", Tone::Bad),
            StepStatus::Error => self.symbol("!", "[ERROR]", Tone::Bad),
            StepStatus::Skipped => self.symbol("-", "[skip]", Tone::Plain),
            StepStatus::Interrupted => self.symbol("⏹", "[stop]", Tone::Warn),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn style(tty: bool, vars: &[(&str, &str)]) -> Style {
        Style::from_env(tty, |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn a_terminal_gets_colour_and_a_pipe_does_not() {
        assert_eq!(
            style(true, &[]),
            Style {
                color: true,
                ascii: false
            }
        );
        assert_eq!(
            style(false, &[]),
            Style {
                color: false,
                ascii: false
            }
        );
    }

    #[test]
    fn no_color_wins_over_everything_but_only_when_not_empty() {
        assert!(!style(true, &[("NO_COLOR", "1")]).color);
        assert!(!style(false, &[("NO_COLOR", "1"), ("CLICOLOR_FORCE", "1")]).color);
        assert!(style(true, &[("NO_COLOR", "")]).color);
    }

    #[test]
    fn clicolor_force_colours_a_pipe_unless_it_is_zero() {
        assert!(style(false, &[("CLICOLOR_FORCE", "1")]).color);
        assert!(!style(false, &[("CLICOLOR_FORCE", "0")]).color);
    }

    #[test]
    fn a_dumb_terminal_gets_ascii_and_no_colour() {
        let s = style(true, &[("TERM", "dumb")]);
        assert_eq!(
            s,
            Style {
                color: false,
                ascii: true
            }
        );
        assert_eq!(s.step_mark(StepStatus::Passed), "[ok]");
        assert!(style(true, &[("TERM", "dumb"), ("CLICOLOR_FORCE", "1")]).color);
    }

    #[test]
    fn colours_say_what_kind_of_news_it_is() {
        let s = Style {
            color: true,
            ascii: false,
        };
        assert_eq!(s.step_mark(StepStatus::Passed), "\x1b[32m✔\x1b[0m");
        assert_eq!(s.step_mark(StepStatus::Failed), "\x1b[31m✘\x1b[0m");
        assert_eq!(s.symbol("⚠", "[WARN]", Tone::Warn), "\x1b[33m⚠\x1b[0m");
        assert_eq!(s.step_mark(StepStatus::Skipped), "-");
    }
}
