//! The HTML report a facilitator can mail after a game day (`--html FILE`, `chaos report`):
//! ONE self-contained file (inline CSS and SVG, no script, no fetch of anything), readable with
//! colour vision deficiencies (Okabe-Ito colours, patterns, symbols and words for every
//! status) and printable. It carries the outcome, the timeline chart, the assertions (expected
//! versus observed), what was undone and the nodes' reality at the first and last sample.
//! Rendered from the JSON report read back, so `chaos report` reproduces it byte for byte.

use std::fmt::Write;

use crate::engine::timeline::{Entry, NodeSample, What};
use crate::engine::{PlaybookReport, RunStatus, StepStatus, UndoStatus};

use super::json::SavedReport;
use super::lanes::{self, Tone};
use super::summary::status_word;
use super::svg;

/// Escapes text for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

const CSS: &str = r#"
body { font-family: sans-serif; margin: 1.5em; color: #111; max-width: 1000px; }
h1 { font-size: 1.5em; } h2 { border-bottom: 2px solid #333; padding-bottom: .2em; }
table { border-collapse: collapse; margin: .5em 0 1em; font-size: .9em; }
th, td { border: 1px solid #999; padding: .25em .5em; text-align: left; vertical-align: top; }
th { background: #eee; }
.badge { display: inline-block; padding: .1em .6em; border: 2px solid #000; font-weight: bold; }
.good { background: #009E73; color: #fff; } .bad { background: #D55E00; color: #fff; }
.warn { background: #E69F00; color: #000; } .neutral { background: #ddd; color: #000; }
.legend span { display: inline-block; margin-right: 1em; }
.legend svg { vertical-align: middle; }
.note { color: #444; font-size: .9em; }
svg.timeline { max-width: 100%; height: auto; border: 1px solid #ccc; }
@media print {
  body { margin: 0; max-width: none; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  section, table, svg { break-inside: avoid; page-break-inside: avoid; }
}
"#;

/// The report as one HTML document.
pub fn render(r: &SavedReport) -> String {
    let mut s = String::new();
    let title = match r.playbooks.as_slice() {
        [one] => format!("chaos report: {}", one.name),
        _ => format!("chaos report: {} playbooks", r.playbooks.len()),
    };
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<h1>{}</h1>\n",
        esc(&title),
        esc(&title)
    );
    let _ = writeln!(
        s,
        "<p>Exit code <b>{}</b> &middot; kind-chaos {} &middot; report schema {}</p>",
        r.exit_code,
        esc(&r.tool_version),
        esc(&r.schema)
    );
    for (i, p) in r.playbooks.iter().enumerate() {
        playbook(&mut s, p, i);
    }
    s += "</body>\n</html>\n";
    s
}

/// The CSS class and symbol of a run's status: a tick only for a clean pass.
fn status_look(st: RunStatus) -> (&'static str, &'static str) {
    match st {
        RunStatus::Passed => ("good", "✔"),
        RunStatus::Retained | RunStatus::Interrupted => ("warn", "⚠"),
        RunStatus::RollbackFailed => ("bad", "✘✘"),
        RunStatus::Failed | RunStatus::NotSteady | RunStatus::Error => ("bad", "✘"),
    }
}

pub(crate) fn step_look(st: StepStatus) -> (&'static str, &'static str) {
    match st {
        StepStatus::Passed => ("good", "✔ passed"),
        StepStatus::Failed => ("bad", "✘ failed"),
        StepStatus::Error => ("bad", "✘ error"),
        StepStatus::Skipped => ("neutral", "– skipped"),
        StepStatus::Interrupted => ("warn", "⚠ interrupted"),
    }
}

pub(crate) fn undo_look(st: UndoStatus) -> (&'static str, &'static str) {
    match st {
        UndoStatus::Undone => ("good", "✔ undone"),
        UndoStatus::Failed => ("bad", "✘ FAILED"),
        UndoStatus::Retained => ("warn", "⚠ retained"),
        UndoStatus::Owed => ("bad", "✘ NOT UNDONE"),
    }
}

fn playbook(s: &mut String, p: &PlaybookReport, i: usize) {
    let (class, mark) = status_look(p.status);
    let _ = writeln!(
        s,
        "<section>\n<h2>{} <span class=\"badge {class}\">{mark} {}</span></h2>",
        esc(&p.name),
        esc(status_word(p))
    );
    let _ = writeln!(
        s,
        "<p>{} &middot; started {} &middot; took {:.1} s</p>",
        esc(&p.file),
        esc(&p.started_at),
        p.duration.as_secs_f64()
    );
    s.push_str("<h3>Timeline</h3>\n");
    match lanes::chart(&p.timeline) {
        Some(chart) => {
            let _ = writeln!(
                s,
                "<p class=\"note\">Seconds from {} (wall clock). Hover a bar for its times.</p>",
                esc(&chart.start)
            );
            s.push_str(&svg::render(&chart, &format!("p{i}")));
            s.push('\n');
            legend(s, &format!("p{i}"));
            if chart.pods_left_out > 0 {
                let _ = writeln!(
                    s,
                    "<p class=\"note\">{} more pod(s) not drawn.</p>",
                    chart.pods_left_out
                );
            }
            let ghosts = lanes::drift_intervals(&chart);
            if !ghosts.is_empty() {
                s.push_str("<h4>Ghost and phantom intervals</h4>\n<table><tr><th>pod</th><th>what</th><th>from</th><th>to</th></tr>\n");
                for (pod, sp) in ghosts {
                    let _ = writeln!(
                        s,
                        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                        esc(&pod),
                        esc(&sp.label),
                        svg::offset(sp.from),
                        svg::offset(sp.to)
                    );
                }
                s.push_str("</table>\n");
            }
        }
        None => s.push_str("<p>No timeline recorded.</p>\n"),
    }
    if p.timeline.dropped > 0 {
        let _ = writeln!(
            s,
            "<p class=\"note\">{} older sample(s) were thinned out to keep the timeline bounded.</p>",
            p.timeline.dropped
        );
    }
    steps(s, p);
    undo(s, p);
    reality(s, &p.timeline.entries);
    s.push_str("</section>\n");
}

fn legend(s: &mut String, id: &str) {
    s.push_str("<p class=\"legend\">");
    for (tone, word) in [
        (Tone::Good, "passed / Ready / running / ok"),
        (Tone::Info, "running step / shims"),
        (Tone::Bad, "failed / NotReady / stopped"),
        (Tone::Warn, "Unknown / not ready / terminating"),
        (Tone::Fault, "fault in place"),
        (Tone::Ghost, "ghost"),
        (Tone::Phantom, "phantom"),
    ] {
        let _ = write!(s, "<span>{}{}</span>", svg::swatch(tone, id), esc(word));
    }
    s.push_str("</p>\n");
}

/// The cells of the Steps table of the HTML and Markdown reports, escaped by `esc`: step,
/// phase, action, time taken, and what it did (its description, then its message, if any,
/// between `around`), with the status each report shows its own way.
pub(crate) fn step_rows<'a>(
    p: &'a PlaybookReport,
    esc: fn(&str) -> String,
    around: (&'a str, &'a str),
) -> impl Iterator<Item = (StepStatus, [String; 5])> + 'a {
    p.steps.iter().map(move |st| {
        let mut what = esc(&st.description);
        if let Some(m) = &st.message {
            let _ = write!(what, "{}{}{}", around.0, esc(m), around.1);
        }
        let cells = [
            esc(st.label()),
            st.phase.as_str().to_string(),
            esc(&st.action),
            format!("{:.1} s", st.duration.as_secs_f64()),
            what,
        ];
        (st.status, cells)
    })
}

fn steps(s: &mut String, p: &PlaybookReport) {
    s.push_str("<h3>Steps</h3>\n<table><tr><th>step</th><th>phase</th><th>action</th><th>status</th><th>took</th><th>what</th></tr>\n");
    for (status, [label, phase, action, took, what]) in step_rows(p, esc, ("<br><i>", "</i>")) {
        let (class, word) = step_look(status);
        let _ = writeln!(
            s,
            "<tr><td>{label}</td><td>{phase}</td><td>{action}</td><td class=\"{class}\">{word}</td><td>{took}</td><td>{what}</td></tr>"
        );
    }
    s.push_str("</table>\n");
    let checked: Vec<_> = p.steps.iter().filter(|st| st.verdict.is_some()).collect();
    if checked.is_empty() {
        return;
    }
    s.push_str("<h3>Assertions</h3>\n<table><tr><th>step</th><th>holds</th><th>expected</th><th>observed</th></tr>\n");
    for st in checked {
        if let Some(v) = &st.verdict {
            let (class, word) = if v.holds {
                ("good", "✔ yes")
            } else {
                ("bad", "✘ no")
            };
            let _ = writeln!(
                s,
                "<tr><td>{}</td><td class=\"{class}\">{word}</td><td>{}</td><td>{}</td></tr>",
                esc(st.label()),
                esc(&v.expected),
                esc(&v.observed)
            );
        }
    }
    s.push_str("</table>\n");
}

fn undo(s: &mut String, p: &PlaybookReport) {
    s.push_str("<h3>Undone</h3>\n");
    if p.undo.is_empty() {
        s.push_str("<p>Nothing to undo.</p>\n");
        return;
    }
    s.push_str(
        "<table><tr><th>step</th><th>undo</th><th>status</th><th>at</th><th>note</th></tr>\n",
    );
    for u in &p.undo {
        let (class, word) = undo_look(u.status);
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td>{}</td><td class=\"{class}\">{word}</td><td>{}</td><td>{}</td></tr>",
            esc(&u.step),
            esc(&u.description),
            esc(u.at.as_deref().unwrap_or("")),
            esc(u.message.as_deref().unwrap_or(""))
        );
    }
    s.push_str("</table>\n");
}

/// The first and the last reality sample of the run.
pub(crate) fn first_last(entries: &[Entry]) -> Option<(&Entry, &Entry)> {
    let mut samples = entries
        .iter()
        .filter(|e| matches!(e.what, What::Reality { .. }));
    let first = samples.next()?;
    Some((first, samples.next_back().unwrap_or(first)))
}

fn reality(s: &mut String, entries: &[Entry]) {
    let Some((first, last)) = first_last(entries) else {
        return;
    };
    s.push_str("<h3>Reality on the nodes</h3>\n");
    for (word, e) in [("First sample", first), ("Last sample", last)] {
        let What::Reality { nodes, .. } = &e.what else {
            continue;
        };
        let _ = writeln!(s, "<h4>{word}, {}</h4>", esc(&e.at));
        s.push_str("<table><tr><th>node</th><th>kubelet</th><th>shims</th><th>sandboxes</th><th>ghosts</th><th>phantoms</th></tr>\n");
        for n in nodes {
            let _ = writeln!(s, "{}", reality_row(n));
        }
        s.push_str("</table>\n");
    }
}

fn reality_row(n: &NodeSample) -> String {
    let count = |c: Option<u32>| c.map_or("?".to_string(), |c| c.to_string());
    let (class, kubelet) = if n.kubelet_running {
        ("good", "✔ running")
    } else {
        ("bad", "✘ stopped")
    };
    format!(
        "<tr><td>{}</td><td class=\"{class}\">{kubelet}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        esc(&n.node),
        n.shims,
        n.sandboxes,
        count(n.ghosts),
        count(n.phantoms)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            esc(r#"<a href="x">&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;"
        );
    }
}
