//! The few figures the overview needs, read from the Prometheus text that
//! `/metrics` serves: the dashboard reuses the process's metrics rather
//! than counting anything a second time.

use std::collections::BTreeMap;

/// The purchase route's label in `surge_http_request_duration_seconds`.
const PURCHASE_ROUTE: &str = "route=\"/v1/skus/{sku}/purchase\"";

/// Cumulative counts at one instant.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Totals {
    pub orders: u64,
    pub units: u64,
    /// Order value in minor units, by currency code.
    pub value: BTreeMap<String, u64>,
    /// Answers 429 and 503: rate-limited or shed.
    pub refused: u64,
    /// Purchases answered "sold out" from the published count.
    pub sold_out: u64,
    /// The purchase route's latency histogram: (upper bound in seconds,
    /// cumulative count), in bound order.
    pub purchase_buckets: Vec<(f64, u64)>,
    pub batch_ops_sum: f64,
    pub batch_count: u64,
}

/// Reads [`Totals`] from Prometheus text. Lines it does not know are skipped.
pub fn read(text: &str) -> Totals {
    let mut t = Totals::default();
    for (name, labels, value) in crate::telemetry::samples(text) {
        let count = value.max(0.0) as u64;
        match name {
            "surge_orders_placed_total" => t.orders += count,
            "surge_units_ordered_total" => t.units += count,
            "surge_order_value_minor_total" => {
                if let Some(currency) = label(labels, "currency") {
                    *t.value.entry(currency.to_owned()).or_default() += count;
                }
            }
            "surge_http_responses_total" => {
                if matches!(label(labels, "status"), Some("429" | "503")) {
                    t.refused += count;
                }
            }
            "surge_purchase_sold_out_fast_total" => t.sold_out += count,
            "surge_http_request_duration_seconds_bucket" if labels.contains(PURCHASE_ROUTE) => {
                let bound = match label(labels, "le") {
                    Some("+Inf") => f64::INFINITY,
                    Some(le) => le.parse().unwrap_or(f64::INFINITY),
                    None => continue,
                };
                t.purchase_buckets.push((bound, count));
            }
            "surge_commit_batch_ops_sum" => t.batch_ops_sum += value,
            "surge_commit_batch_ops_count" => t.batch_count += count,
            _ => {}
        }
    }
    t.purchase_buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    t
}

/// The value of label `name` in `a="x",b="y"`.
fn label<'a>(labels: &'a str, name: &str) -> Option<&'a str> {
    labels.split(',').find_map(|pair| {
        let (n, v) = pair.split_once('=')?;
        (n.trim() == name).then(|| v.trim().trim_matches('"'))
    })
}

/// The upper bound of the bucket holding quantile `q` of the samples
/// between two readings of a cumulative histogram (`None` without samples).
/// Buckets are coarse, so this says "at most", never an invented figure.
pub fn quantile_bound(before: &[(f64, u64)], after: &[(f64, u64)], q: f64) -> Option<f64> {
    let count_at =
        |h: &[(f64, u64)], bound: f64| h.iter().find(|(b, _)| *b == bound).map_or(0, |(_, c)| *c);
    let deltas: Vec<(f64, u64)> = after
        .iter()
        .map(|(b, c)| (*b, c.saturating_sub(count_at(before, *b))))
        .collect();
    let total = deltas.last()?.1;
    if total == 0 {
        return None;
    }
    let rank = (q * total as f64).ceil().max(1.0) as u64;
    deltas.iter().find(|(_, c)| *c >= rank).map(|(b, _)| *b)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"# TYPE surge_orders_placed_total counter
surge_orders_placed_total 7
surge_units_ordered_total 9
surge_order_value_minor_total{currency="EUR"} 12345
surge_http_responses_total{status="200"} 50
surge_http_responses_total{status="429"} 3
surge_http_responses_total{status="503"} 2
surge_http_request_duration_seconds_bucket{method="POST",route="/v1/skus/{sku}/purchase",le="0.001"} 4
surge_http_request_duration_seconds_bucket{method="POST",route="/v1/skus/{sku}/purchase",le="0.005"} 9
surge_http_request_duration_seconds_bucket{method="POST",route="/v1/skus/{sku}/purchase",le="+Inf"} 10
surge_http_request_duration_seconds_bucket{method="GET",route="/v1/skus/{sku}",le="0.001"} 99
surge_commit_batch_ops_sum 40
surge_commit_batch_ops_count 8
"#;

    #[test]
    fn the_overview_figures_are_read_from_prometheus_text() {
        let t = read(TEXT);
        assert_eq!((t.orders, t.units, t.refused), (7, 9, 5));
        assert_eq!(t.value.get("EUR"), Some(&12345));
        assert_eq!(t.purchase_buckets.len(), 3);
        assert_eq!((t.batch_ops_sum, t.batch_count), (40.0, 8));
    }

    #[test]
    fn quantiles_come_from_the_bucket_deltas() {
        let after = read(TEXT).purchase_buckets;
        assert_eq!(quantile_bound(&[], &after, 0.5), Some(0.005));
        assert_eq!(quantile_bound(&[], &after, 0.3), Some(0.001));
        assert_eq!(quantile_bound(&[], &after, 0.99), Some(f64::INFINITY));
        assert_eq!(quantile_bound(&after, &after, 0.5), None);
    }
}
