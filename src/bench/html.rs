//! The report as one self-contained HTML page: the figures, throughput and
//! latency over time, and the latency distribution, as inline SVG (no script,
//! nothing fetched).

use super::report::Report;
use std::fmt::Write;

const W: f64 = 720.0;
const H: f64 = 220.0;
const PAD: f64 = 40.0;

pub fn render(r: &Report) -> String {
    let l = &r.latency_ms;
    let throughput: Vec<f64> = r
        .timeline_per_sec
        .iter()
        .map(|s| s.requests as f64)
        .collect();
    let mean: Vec<f64> = r
        .timeline_per_sec
        .iter()
        .map(|s| s.latency_sum_us as f64 / s.requests.max(1) as f64 / 1000.0)
        .collect();
    let max: Vec<f64> = r
        .timeline_per_sec
        .iter()
        .map(|s| s.latency_max_us as f64 / 1000.0)
        .collect();
    let distribution: Vec<(f64, f64)> = r
        .percentiles
        .iter()
        .enumerate()
        .map(|(i, &(_, ms))| (i as f64, ms))
        .collect();
    let labels: Vec<String> = r.percentiles.iter().map(|(p, _)| format!("{p}")).collect();
    let statuses: String = r
        .statuses
        .iter()
        .map(|(s, n)| format!("<tr><td>{s}</td><td>{n}</td></tr>"))
        .collect();
    let invariants = if r.invariants.violations.is_empty() {
        format!(
            "all hold on {} SKUs (orders {} = reserved {} + sold {})",
            r.invariants.skus_checked,
            r.invariants.orders,
            r.invariants.reserved,
            r.invariants.sold
        )
    } else {
        format!(
            "<b>VIOLATED</b>: {}",
            escape(&r.invariants.violations.join("; "))
        )
    };
    let mut checks = String::new();
    if let (Some(b), Some(share)) = (&r.baseline, r.baseline_share()) {
        checks = format!(
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
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>surge bench {scenario}</title>\
<style>body{{font-family:sans-serif;max-width:780px;margin:2em auto}}td{{padding:2px 12px}}svg{{background:#fafafa}}</style></head><body>\
<h1>surge bench {scenario}</h1><p>{target}; {conns} connections, {mode}, {secs:.1} s</p>\
<table><tr><td>requests</td><td>{req} ({tp:.0}/s)</td></tr><tr><td>errors</td><td>{err}</td></tr>\
<tr><td>latency p50 / p90 / p99 / p99.9 / max</td><td>{p50:.2} / {p90:.2} / {p99:.2} / {p999:.2} / {pmax:.2} ms</td></tr>\
<tr><td>invariants</td><td>{invariants}</td></tr>{checks}</table><h2>Statuses</h2><table>{statuses}</table>\
<h2>Throughput (requests/s)</h2>{t}<h2>Latency over time (ms: mean, max)</h2>{lat}\
<h2>Latency distribution (ms by percentile)</h2>{dist}</body></html>",
        scenario = r.scenario.name(),
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
        t = chart(&[(&indexed(&throughput), "#2a6")], None),
        lat = chart(&[(&indexed(&mean), "#26a"), (&indexed(&max), "#a33")], None),
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

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
