//! The timeline chart as inline SVG, for the HTML report: one band per lane, one row per
//! interval kind, a time axis in seconds from the first entry. Colours are the Okabe-Ito
//! palette (safe with colour vision deficiencies), and every tone that signals trouble also has
//! a pattern and a text label, so the chart reads in greyscale and on paper too. No script,
//! no external reference: a `<title>` on each shape says its interval and label.

use std::fmt::Write;

use super::html::esc;
use super::lanes::{Chart, Tone};

const WIDTH: f64 = 960.0;
const LABEL: f64 = 210.0;
const ROW: f64 = 18.0;
const HEADER: f64 = 18.0;
const AXIS: f64 = 24.0;

/// Fill of a tone: a colour, or a pattern (defined in [`defs`]) over one.
fn fill(tone: Tone, id: &str) -> String {
    match tone {
        Tone::Good => "#009E73".into(),
        Tone::Info => "#56B4E9".into(),
        Tone::Neutral => "#BBBBBB".into(),
        Tone::Bad => format!("url(#{id}-bad)"),
        Tone::Warn => format!("url(#{id}-warn)"),
        Tone::Fault => format!("url(#{id}-fault)"),
        Tone::Ghost => format!("url(#{id}-ghost)"),
        Tone::Phantom => format!("url(#{id}-phantom)"),
    }
}

/// The patterns: hatched vermillion (bad), dotted orange (warn), reverse-hatched reddish
/// purple (fault), cross-hatched vermillion on black (ghost), dashed blue (phantom).
fn defs(id: &str) -> String {
    let hatch = |name: &str, bg: &str, fg: &str, rotate: i32| {
        format!(
            r#"<pattern id="{id}-{name}" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate({rotate})"><rect width="6" height="6" fill="{bg}"/><line x1="0" y1="0" x2="0" y2="6" stroke="{fg}" stroke-width="2"/></pattern>"#
        )
    };
    let mut d = String::from("<defs>");
    d += &hatch("bad", "#D55E00", "#ffffff", 45);
    d += &hatch("fault", "#CC79A7", "#ffffff", -45);
    d += &format!(
        r##"<pattern id="{id}-warn" width="6" height="6" patternUnits="userSpaceOnUse"><rect width="6" height="6" fill="#E69F00"/><circle cx="3" cy="3" r="1.2" fill="#ffffff"/></pattern>"##
    );
    d += &format!(
        r##"<pattern id="{id}-ghost" width="6" height="6" patternUnits="userSpaceOnUse"><rect width="6" height="6" fill="#D55E00"/><path d="M0 0L6 6M6 0L0 6" stroke="#000000" stroke-width="1.2"/></pattern>"##
    );
    d += &format!(
        r##"<pattern id="{id}-phantom" width="8" height="8" patternUnits="userSpaceOnUse"><rect width="8" height="8" fill="#0072B2"/><line x1="0" y1="4" x2="4" y2="4" stroke="#ffffff" stroke-width="2"/></pattern>"##
    );
    d += "</defs>";
    d
}

/// A small square of a tone, for the legend (uses the patterns of the chart `id`).
pub fn swatch(tone: Tone, id: &str) -> String {
    format!(
        r##"<svg width="22" height="12" aria-hidden="true"><rect width="20" height="10" x="1" y="1" fill="{}" stroke="#333333"/></svg> "##,
        fill(tone, id)
    )
}

/// Ghost and phantom intervals: what the chart is for, so never too thin to see.
fn is_drift(tone: Tone) -> bool {
    matches!(tone, Tone::Ghost | Tone::Phantom)
}

/// The narrowest ghost or phantom bar: two tiles of its pattern, so a ghost of a few seconds
/// in a chart of many minutes still shows its cross-hatching.
const MIN_DRIFT: f64 = 12.0;

/// Where a span's bar starts and how wide it is: at least 2 px, a ghost or phantom at least
/// [`MIN_DRIFT`], widened to the right or, at the plot's right edge `end`, to the left.
fn span_box(x0: f64, x1: f64, tone: Tone, end: f64) -> (f64, f64) {
    let min = if is_drift(tone) { MIN_DRIFT } else { 2.0 };
    let w = (x1 - x0).max(min);
    (x0.min(end - w).max(0.0), w)
}

/// A tick step that gives about eight ticks over `length` seconds.
fn tick_step(length: f64) -> f64 {
    const STEPS: [f64; 12] = [
        1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0,
    ];
    STEPS
        .iter()
        .copied()
        .find(|s| length / s <= 8.0)
        .unwrap_or(3600.0 * (length / 3600.0 / 8.0).ceil())
}

/// `+1m30s`-style offsets for the axis.
pub fn offset(secs: f64) -> String {
    let s = secs.round() as u64;
    match (s / 3600, s / 60 % 60, s % 60) {
        (0, 0, s) => format!("+{s}s"),
        (0, m, 0) => format!("+{m}m"),
        (0, m, s) => format!("+{m}m{s}s"),
        (h, m, _) => format!("+{h}h{m:02}m"),
    }
}

/// The chart; `id` keeps pattern ids apart when one page holds several charts.
pub fn render(chart: &Chart, id: &str) -> String {
    let rows: usize = chart.lanes.iter().map(|l| l.rows.len()).sum();
    let height = AXIS + chart.lanes.len() as f64 * (HEADER + 4.0) + rows as f64 * ROW + 8.0;
    let plot = WIDTH - LABEL - 10.0;
    let x = |t: f64| LABEL + (t / chart.length).clamp(0.0, 1.0) * plot;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="timeline" viewBox="0 0 {WIDTH} {height:.0}" width="{WIDTH}" height="{height:.0}" role="img" aria-label="timeline of the run from {}" font-family="sans-serif" font-size="11">"#,
        esc(&chart.start)
    );
    s += &defs(id);
    // The axis, with light grid lines down the whole chart.
    let step = tick_step(chart.length);
    let mut t = 0.0;
    while t <= chart.length + 1e-9 {
        let _ = write!(
            s,
            r##"<line x1="{0:.1}" y1="{AXIS}" x2="{0:.1}" y2="{height:.0}" stroke="#dddddd"/><text x="{0:.1}" y="14" text-anchor="middle">{1}</text>"##,
            x(t),
            offset(t)
        );
        t += step;
    }
    let mut y = AXIS;
    for lane in &chart.lanes {
        let _ = write!(
            s,
            r##"<text x="2" y="{:.0}" font-weight="bold">{}</text><line x1="0" y1="{:.0}" x2="{WIDTH}" y2="{:.0}" stroke="#999999"/>"##,
            y + 13.0,
            esc(&lane.title),
            y + 1.0,
            y + 1.0,
        );
        y += HEADER + 4.0;
        for r in &lane.rows {
            let _ = write!(
                s,
                r#"<text x="12" y="{:.0}">{}</text>"#,
                y + 12.0,
                esc(&r.label)
            );
            for sp in &r.spans {
                let (x0, w) = span_box(x(sp.from), x(sp.to), sp.tone, LABEL + plot);
                let _ = write!(
                    s,
                    r##"<rect x="{x0:.1}" y="{:.1}" width="{w:.1}" height="{:.1}" fill="{}" stroke="#333333" stroke-width="0.5"><title>{} ({} to {})</title></rect>"##,
                    y + 2.0,
                    ROW - 4.0,
                    fill(sp.tone, id),
                    esc(&sp.label),
                    offset(sp.from),
                    offset(sp.to)
                );
                // The label inside when it fits (about 6 px a character), on a white plate so
                // it reads over any pattern.
                let chars = sp.label.chars().count() as f64;
                if is_drift(sp.tone) && w <= chars * 6.0 + 6.0 {
                    // Too short for its label: a ghost or phantom says what it is beside its
                    // bar (after it, or before it at the chart's right end).
                    let (plate, text_x, anchor) = if x0 + w + chars * 6.0 + 6.0 <= WIDTH {
                        (x0 + w + 2.0, x0 + w + 3.0, "start")
                    } else {
                        (x0 - chars * 6.0 - 4.0, x0 - 3.0, "end")
                    };
                    let _ = write!(
                        s,
                        r##"<rect x="{plate:.1}" y="{:.1}" width="{:.1}" height="11" fill="#ffffff" opacity="0.85"/><text x="{text_x:.1}" y="{:.1}" text-anchor="{anchor}" font-weight="bold">{}</text>"##,
                        y + 3.5,
                        chars * 6.0 + 2.0,
                        y + 12.5,
                        esc(&sp.label)
                    );
                } else if w > chars * 6.0 + 6.0 {
                    let _ = write!(
                        s,
                        r##"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="11" fill="#ffffff" opacity="0.85"/><text x="{:.1}" y="{:.1}">{}</text>"##,
                        x0 + 2.0,
                        y + 3.5,
                        chars * 6.0 + 2.0,
                        x0 + 3.0,
                        y + 12.5,
                        esc(&sp.label)
                    );
                }
            }
            for m in &r.marks {
                let cx = x(m.at);
                let cy = y + ROW / 2.0;
                let shape = match m.tone {
                    // A filled circle for a success, a cross for a failure: shape, not colour.
                    Tone::Good => format!(
                        r##"<circle cx="{cx:.1}" cy="{cy:.1}" r="3" fill="#009E73"><title>{} {}</title></circle>"##,
                        offset(m.at),
                        esc(&m.title)
                    ),
                    _ => format!(
                        r##"<path d="M{:.1} {:.1}l8 8m0 -8l-8 8" stroke="#D55E00" stroke-width="2"><title>{} {}</title></path>"##,
                        cx - 4.0,
                        cy - 4.0,
                        offset(m.at),
                        esc(&m.title)
                    ),
                };
                s += &shape;
            }
            y += ROW;
        }
    }
    s += "</svg>";
    s
}

#[cfg(test)]
mod tests {
    use super::super::lanes::{Lane, Row, Span};
    use super::*;

    #[test]
    fn ticks_and_offsets_read_as_times() {
        assert_eq!(tick_step(40.0), 5.0);
        assert_eq!(tick_step(7.0), 1.0);
        assert_eq!(tick_step(1000.0), 300.0);
        assert_eq!(offset(0.0), "+0s");
        assert_eq!(offset(90.0), "+1m30s");
        assert_eq!(offset(120.0), "+2m");
        assert_eq!(offset(3720.0), "+1h02m");
    }

    fn one_span(from: f64, to: f64, tone: Tone, label: &str) -> Chart {
        Chart {
            start: "2026-12-02T05:39:35Z".into(),
            length: 360.0,
            lanes: vec![Lane {
                title: "pod default/web".into(),
                rows: vec![Row {
                    label: "ghost / phantom".into(),
                    spans: vec![Span {
                        from,
                        to,
                        label: label.into(),
                        tone,
                    }],
                    marks: vec![],
                }],
            }],
            pods_left_out: 0,
        }
    }

    /// The `(x, width)` of the chart's only span bar.
    fn bar(svg: &str) -> (f64, f64) {
        let rect = svg
            .split("<rect ")
            .find(|r| r.contains("<title>"))
            .expect("a span bar");
        let attr = |name: &str| -> f64 {
            let at = rect
                .find(&format!(" {name}=\""))
                .or_else(|| rect.find(&format!("{name}=\"")))
                .expect(name);
            let v = &rect[at..];
            let v = &v[v.find('"').expect("quote") + 1..];
            v[..v.find('"').expect("quote")].parse().expect("number")
        };
        (attr("x"), attr("width"))
    }

    #[test]
    fn a_short_ghost_at_the_end_of_a_long_chart_stays_visible_and_named() {
        let svg = render(
            &one_span(357.0, 360.0, Tone::Ghost, "ghost on kind-worker"),
            "t",
        );
        let (x, w) = bar(&svg);
        assert_eq!(w, MIN_DRIFT, "{svg}");
        // Inside the plot: its right edge is the plot's.
        assert!((x + w - (WIDTH - 10.0)).abs() < 0.01, "{x} {w}");
        // Named beside it, before it (no room after it).
        assert!(
            svg.contains(r#"text-anchor="end" font-weight="bold">ghost on kind-worker</text>"#),
            "{svg}"
        );
    }

    #[test]
    fn a_short_step_keeps_its_thin_bar_and_no_label() {
        let svg = render(&one_span(100.0, 101.0, Tone::Good, "a-step"), "t");
        let (_, w) = bar(&svg);
        assert!(w < 3.0, "{w}");
        assert!(!svg.contains(">a-step</text>"), "{svg}");
    }

    #[test]
    fn a_short_phantom_is_named_after_its_bar() {
        let svg = render(&one_span(10.0, 11.0, Tone::Phantom, "phantom on w"), "t");
        let (x, w) = bar(&svg);
        assert_eq!(w, MIN_DRIFT);
        assert!(
            svg.contains(&format!(r#"<text x="{:.1}""#, x + w + 3.0)),
            "{svg}"
        );
        assert!(svg.contains(">phantom on w</text>"), "{svg}");
    }
}
