//! Charts drawn by the server as SVG: no chart library, no script needed to
//! see them, and the live stream sends the same markup again. Presentation
//! attributes only (no `style`), so the page's CSP can forbid inline styles.

use maud::{html, Markup, PreEscaped};
use std::fmt::Write;

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 180.0;
const LEFT: f64 = 44.0;
const BOTTOM: f64 = 22.0;
const TOP: f64 = 10.0;

/// An area chart of `points` (oldest first, one per second), labelled with
/// the span it covers.
pub fn area(points: &[u64], label: &str) -> Markup {
    let max = nice_max(points.iter().copied().max().unwrap_or(0));
    let plot_w = WIDTH - LEFT - 8.0;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let n = points.len().max(2) as f64 - 1.0;
    let x = |i: usize| LEFT + plot_w * i as f64 / n;
    let y = |v: u64| TOP + plot_h - plot_h * v as f64 / max as f64;
    let mut line = String::new();
    for (i, v) in points.iter().enumerate() {
        let _ = write!(
            line,
            "{}{:.1},{:.1} ",
            if i == 0 { "M" } else { "L" },
            x(i),
            y(*v)
        );
    }
    let area = match points.len() {
        0 => String::new(),
        len => format!(
            "{line}L{:.1},{:.1} L{:.1},{:.1} Z",
            x(len - 1),
            TOP + plot_h,
            x(0),
            TOP + plot_h
        ),
    };
    let span = format_span(points.len());
    html! {
        svg class="chart" viewBox=(format!("0 0 {WIDTH} {HEIGHT}")) role="img"
            aria-label=(format!("{label} over the last {span}; peak {}", points.iter().max().unwrap_or(&0))) {
            @for step in 0..=4u64 {
                @let v = max * step / 4;
                line x1=(LEFT) x2=(WIDTH - 8.0) y1=(y(v)) y2=(y(v)) stroke="#e3e6ee" stroke-width="1" {}
                text x=(LEFT - 6.0) y=(y(v) + 4.0) text-anchor="end" font-size="11" fill="#6b7280" { (v) }
            }
            @if !points.is_empty() {
                path d=(area) fill="#4f46e5" fill-opacity="0.14" {}
                path d=(line) fill="none" stroke="#4f46e5" stroke-width="2" stroke-linejoin="round" {}
            }
            text x=(LEFT) y=(HEIGHT - 5.0) font-size="11" fill="#6b7280" { (format!("−{span}")) }
            text x=(WIDTH - 8.0) y=(HEIGHT - 5.0) text-anchor="end" font-size="11" fill="#6b7280" { "now" }
            @if points.len() < 2 {
                text x=(LEFT + plot_w / 2.0) y=(TOP + plot_h / 2.0) text-anchor="middle" font-size="13" fill="#6b7280" {
                    "collecting…"
                }
            }
        }
    }
}

/// The chart's markup as a string (what the live stream sends).
pub fn area_string(points: &[u64], label: &str) -> String {
    let PreEscaped(s) = area(points, label);
    s
}

/// A round axis maximum at or above `max`: four gridlines of a round step
/// (1, 2 or 5 times a power of ten).
fn nice_max(max: u64) -> u64 {
    let quarter = max.div_ceil(4).max(1);
    let mut scale = 1u64;
    loop {
        for m in [1, 2, 5] {
            let step = m * scale;
            if step >= quarter {
                return step * 4;
            }
        }
        scale = scale.saturating_mul(10);
    }
}

fn format_span(seconds: usize) -> String {
    if seconds >= 120 {
        format!("{} min", seconds / 60)
    } else {
        format!("{seconds} s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_axis_is_round_and_the_chart_is_svg_without_inline_styles() {
        assert_eq!(nice_max(0), 4);
        assert_eq!(nice_max(7), 8);
        assert_eq!(nice_max(180), 200);
        assert_eq!(nice_max(1042), 2000);
        assert_eq!(nice_max(2001), 4000);
        let svg = area_string(&[0, 3, 9, 4], "orders per minute");
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("<path"));
        assert!(!svg.contains("style="));
    }
}
