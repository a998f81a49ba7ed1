//! The report as one self-contained HTML page: the figures, throughput and
//! latency over time, and the latency distribution, as inline SVG (no script,
//! nothing fetched).

use super::load::Second;
use super::report::Report;
use std::fmt::Write;

const W: f64 = 720.0;
const H: f64 = 220.0;
const PAD: f64 = 40.0;

pub fn render(r: &Report) -> String {
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>surge bench {scenario}</title>\
<style>body{{font-family:sans-serif;max-width:780px;margin:2em auto}}td{{padding:2px 12px}}svg{{background:#fafafa}}</style></head><body>\
<h1>surge bench {scenario}</h1>{figures}{charts}</body></html>",
        scenario = r.scenario.name(),
        figures = figures(r),
        charts = charts(r),
    )
}

/// The run, its figures, the checks of its invariants, baseline and
/// targets, and the count of each status.
fn figures(r: &Report) -> String {
    let l = &r.latency_ms;
    let statuses: String = r
        .statuses
        .iter()
        .map(|(s, n)| format!("<tr><td>{s}</td><td>{n}</td></tr>"))
        .collect();
    format!(
        "<p>{target}; {conns} connections, {mode}, {secs:.1} s</p>\
<table><tr><td>requests</td><td>{req} ({tp:.0}/s)</td></tr><tr><td>errors</td><td>{err}</td></tr>\
<tr><td>latency p50 / p90 / p99 / p99.9 / max</td><td>{p50:.2} / {p90:.2} / {p99:.2} / {p999:.2} / {pmax:.2} ms</td></tr>\
<tr><td>invariants</td><td>{invariants}</td></tr>{checks}</table><h2>Statuses</h2><table>{statuses}</table>",
        target = escape(&r.target),
        conns = r.connections,
        mode = escape(&r.mode),
        secs = r.elapsed_secs,
        req = r.requests,
        tp = r.throughput_per_sec,
        err = r.errors,
        p50 = l.p50,
        p90 = l.p90,
        p99 = l.p99,
        p999 = l.p99_9,
        pmax = l.max,
        invariants = invariants(r),
        checks = checks(r),
    )
}

/// Whether the invariants held, with the counts they were checked on.
fn invariants(r: &Report) -> String {
    let i = &r.invariants;
    if i.violations.is_empty() {
        format!(
            "all hold on {} SKUs (orders {} = reserved {} + sold {})",
            i.skus_checked, i.orders, i.reserved, i.sold
        )
    } else {
        format!("<b>VIOLATED</b>: {}", escape(&i.violations.join("; ")))
    }
}

/// Table rows for the committer's CPU and the baseline (when measured) and
/// each target checked.
fn checks(r: &Report) -> String {
    let mut checks = String::new();
    if let Some(us) = r.committer_cpu_us {
        checks = format!("<tr><td>committer</td><td>{us:.1} µs of CPU per purchase</td></tr>");
    }
    if let (Some(b), Some(share)) = (&r.baseline, r.baseline_share()) {
        checks += &format!(
            "<tr><td>baseline</td><td>{}: {:.0} req/s; this run {:.0} % of it</td></tr>",
            escape(&b.url),
            b.throughput_per_sec,
            100.0 * share
        );
    }
    for goal in &r.targets {
        checks.push_str(&format!(
            "<tr><td>target: {}</td><td>{}; this run {}: <b>{}</b></td></tr>",
            escape(goal.name),
            escape(&goal.wanted),
            escape(&goal.measured),
            if goal.met { "met" } else { "missed" }
        ));
    }
    checks
}

/// Throughput and latency by second, and the latency distribution.
fn charts(r: &Report) -> String {
    let per_sec = |f: fn(&Second) -> f64| -> Vec<(f64, f64)> {
        let values: Vec<f64> = r.timeline_per_sec.iter().map(f).collect();
        indexed(&values)
    };
    let throughput = per_sec(|s| s.requests as f64);
    let mean = per_sec(|s| s.latency_sum_us as f64 / s.requests.max(1) as f64 / 1000.0);
    let max = per_sec(|s| s.latency_max_us as f64 / 1000.0);
    let distribution: Vec<(f64, f64)> = r
        .percentiles
        .iter()
        .enumerate()
        .map(|(i, &(_, ms))| (i as f64, ms))
        .collect();
    let labels: Vec<String> = r.percentiles.iter().map(|(p, _)| format!("{p}")).collect();
    format!(
        "<h2>Throughput (requests/s)</h2>{t}<h2>Latency over time (ms: mean, max)</h2>{lat}\
<h2>Latency distribution (ms by percentile)</h2>{dist}",
        t = chart(&[(&throughput, "#2a6")], None),
        lat = chart(&[(&mean, "#26a"), (&max, "#a33")], None),
        dist = chart(&[(&distribution, "#62a")], Some(&labels)),
    )
}

fn indexed(values: &[f64]) -> Vec<(f64, f64)> {
    values
        .iter()
        .enumerate()
        .map(|(i, &v)| (i as f64, v))
        .collect()
}

/// A line chart of `series` (points, colour), with x labels if given
/// (otherwise x is seconds).
fn chart(series: &[(&Vec<(f64, f64)>, &str)], labels: Option<&[String]>) -> String {
    let xmax = series
        .iter()
        .flat_map(|(s, _)| s.iter().map(|p| p.0))
        .fold(1.0, f64::max);
    let ymax = series
        .iter()
        .flat_map(|(s, _)| s.iter().map(|p| p.1))
        .fold(1e-9, f64::max);
    let x = |v: f64| PAD + v / xmax * (W - 2.0 * PAD);
    let y = |v: f64| H - PAD + -(v / ymax) * (H - 2.0 * PAD);
    let mut svg = axes(xmax, ymax, labels, x);
    for (points, colour) in series {
        let path: Vec<String> = points
            .iter()
            .map(|&(px, py)| format!("{:.1},{:.1}", x(px), y(py)))
            .collect();
        let _ = write!(
            svg,
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" points=\"{}\"/>",
            path.join(" ")
        );
    }
    svg.push_str("</svg>");
    svg
}

/// The opening of a chart's SVG: its x axis, the y range, and the x labels
/// placed by `x` (or the seconds the chart spans).
fn axes(xmax: f64, ymax: f64, labels: Option<&[String]>, x: impl Fn(f64) -> f64) -> String {
    let mut svg =
        format!("<svg width=\"{W}\" height=\"{H}\" xmlns=\"http://www.w3.org/2000/svg\">");
    let _ = write!(
        svg,
        "<line x1=\"{PAD}\" y1=\"{0}\" x2=\"{1}\" y2=\"{0}\" stroke=\"#999\"/>",
        H - PAD,
        W - PAD
    );
    let _ = write!(
        svg,
        "<text x=\"2\" y=\"{}\" font-size=\"11\">{:.1}</text>",
        PAD, ymax
    );
    let _ = write!(
        svg,
        "<text x=\"2\" y=\"{}\" font-size=\"11\">0</text>",
        H - PAD
    );
    match labels {
        Some(labels) => {
            for (i, label) in labels.iter().enumerate() {
                let _ = write!(svg, "<text x=\"{:.0}\" y=\"{}\" font-size=\"9\" text-anchor=\"middle\">{label}</text>", x(i as f64), H - PAD + 14.0);
            }
        }
        None => {
            let _ = write!(
                svg,
                "<text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\">{xmax:.0} s</text>",
                W - PAD,
                H - PAD + 14.0
            );
        }
    }
    svg
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
