//! `surge bench`: the built-in load generator. It starts a server in this
//! process (or targets `--url`), creates the SKUs of its scenario, drives
//! keep-alive connections in a closed or open loop, shows live progress, and
//! ends with a report and a check of the invariants read back from the
//! server. A broken invariant makes the command fail.

pub(crate) mod client;
mod drop;
mod goals;
mod html;
mod load;
mod report;
mod scenario;
mod shopper;
mod target;

pub use scenario::Scenario;
pub use shopper::Mix;

use crate::config::Settings;
use hyper::Method;
use indicatif::{ProgressBar, ProgressStyle};
use load::{Live, Load};
use report::Report;
use scenario::Plan;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use target::Target;

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    #[arg(value_enum)]
    pub scenario: Scenario,
    /// A running server to load (http://host:port) instead of one in-process.
    #[arg(long)]
    pub url: Option<String>,
    /// Admin token of the server at --url.
    #[arg(long, env = "SURGE_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Concurrent keep-alive connections [default: 256; drop: 64, the bots'].
    #[arg(long)]
    pub connections: Option<usize>,
    /// How long to run, e.g. 10s or 1m [default: 10s; flash-sale: until
    /// sold out + 2s; drop: until every human is done, at most 3m].
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Stop after this many requests in total.
    #[arg(long)]
    pub requests: Option<u64>,
    /// Run the load this long before measuring, e.g. 1s: a freshly started
    /// server's first fraction of a second is not its steady state. Units
    /// bought meanwhile still count in the invariant check. Only with
    /// --duration (a run bounded by requests or sold-out stock has no
    /// steady state to wait for).
    #[arg(long, value_parser = parse_duration, requires = "duration")]
    pub warmup: Option<Duration>,
    /// Open loop: this many requests per second in total (latency from when each was due).
    #[arg(long)]
    pub rate: Option<f64>,
    /// Units of each SKU the run creates [default: 10000; drop: 1000].
    #[arg(long)]
    pub stock: Option<u64>,
    /// SKUs for spread, browse and mixed.
    #[arg(long, default_value_t = 10_000)]
    pub skus: usize,
    /// The mixed scenario's proportions, as name=weight pairs.
    #[arg(long, default_value = "browse=60,product=20,cart=12,checkout=6,pay=2")]
    pub mix: Mix,
    /// Write the report as JSON to this file.
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
    /// Write the report as a self-contained HTML page with charts.
    #[arg(long, value_name = "PATH")]
    pub html: Option<PathBuf>,
    /// Config file for the in-process server.
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Before the run, the same load of GETs against this URL (for the
    /// browse target: a static `return 200` nginx on the same machine); the
    /// report gives the run's rate as a share of it.
    #[arg(long, value_name = "URL")]
    pub baseline: Option<String>,
    /// Drop: people at the drop (at most 5000), each with one ticket,
    /// waiting as told.
    #[arg(long, default_value_t = 2_000)]
    pub humans: usize,
    /// Drop: bot requests per human request, kept to as the run goes (0:
    /// no bots).
    #[arg(long, default_value_t = 10.0)]
    pub bot_ratio: f64,
    /// Drop: the waiting room's admissions per second.
    #[arg(long, default_value_t = 100)]
    pub admit_per_sec: u32,
    /// Drop: the humans arrive evenly over this time; the sale opens (the
    /// lottery closes) a fifth of the way in.
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    pub arrive_over: Duration,
    /// Drop: the customer token secret of the server at --url, which the
    /// bench mints tokens with as the merchant's site would (an in-process
    /// server gets a random one).
    #[arg(long, env = "SURGE_CUSTOMERS__TOKEN_SECRET", hide_env_values = true)]
    pub customer_token_secret: Option<String>,
}

/// Connections when `--connections` is not given (not for the drop).
const CONNECTIONS_DEFAULT: usize = 256;
/// Units per SKU when `--stock` is not given (not for the drop).
const STOCK_DEFAULT: u64 = 10_000;

/// Longest a flash sale runs while waiting to sell out.
const FLASH_SALE_MAX: Duration = Duration::from_secs(120);

/// Runs the benchmark; `Ok(false)` when an invariant was violated.
pub fn run(args: BenchArgs) -> anyhow::Result<bool> {
    if args.connections == Some(0) || args.rate.is_some_and(|r| r <= 0.0) {
        anyhow::bail!("--connections and --rate must be positive");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    if args.scenario == Scenario::Drop {
        return drop::run(&args, &runtime);
    }
    let target = match &args.url {
        Some(url) => runtime.block_on(Target::remote(
            url,
            args.admin_token.clone().unwrap_or_default(),
        ))?,
        None => Target::in_process(Settings::load(args.config.as_deref())?)?,
    };
    let report = runtime.block_on(measure(&args, &target));
    target.stop()?;
    let report = report?;
    report.print();
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_vec_pretty(&report)?)?;
    }
    if let Some(path) = &args.html {
        std::fs::write(path, html::render(&report))?;
    }
    Ok(report.invariants.violations.is_empty())
}

async fn measure(args: &BenchArgs, target: &Target) -> anyhow::Result<Report> {
    let plan = Arc::new(Plan::new(args.scenario, args.skus, args.mix));
    for body in plan.setup_products(args.stock.unwrap_or(STOCK_DEFAULT)) {
        target
            .admin(Method::POST, "/v1/admin/products".into(), Some(body))
            .await?;
    }
    let until_sold_out =
        args.scenario == Scenario::FlashSale && args.duration.is_none() && args.requests.is_none();
    let default = if until_sold_out {
        FLASH_SALE_MAX
    } else {
        Duration::from_secs(10)
    };
    let connections = args.connections.unwrap_or(CONNECTIONS_DEFAULT);
    let load = Load {
        addr: target.addr,
        connections,
        duration: args.duration.unwrap_or(default),
        requests: args.requests,
        rate: args.rate,
        warmup: args.warmup.unwrap_or_default(),
        until_sold_out,
    };
    let baseline = match &args.baseline {
        Some(url) => Some(measure_baseline(url, &load).await?),
        None => None,
    };
    let purchases = matches!(args.scenario, Scenario::FlashSale | Scenario::Spread);
    let cpu_before = committer_cpu(target, purchases).await;
    let (stats, elapsed) = drive(load, plan.clone()).await?;
    let cpu_after = committer_cpu(target, purchases).await;
    let mut mode = match args.rate {
        Some(rate) => format!("open loop at {rate}/s"),
        None => "closed loop".to_owned(),
    };
    if let Some(warmup) = args.warmup.filter(|w| !w.is_zero()) {
        mode.push_str(&format!(", after {:.1} s unmeasured", warmup.as_secs_f64()));
    }
    let mut report = Report::new(&plan, target, mode, connections, &stats, elapsed);
    report.invariants = report::check(&plan, target, &stats).await?;
    report.baseline = baseline;
    let created: u64 = stats.created.values().sum();
    report.committer_cpu_us = cpu_before
        .zip(cpu_after)
        .filter(|_| created > 0)
        .map(|(before, after)| (after - before) * 1e6 / created as f64);
    let conditions = goals::Conditions {
        closed_loop: args.rate.is_none(),
        strict: target.durability == "strict",
        skus: plan.skus,
        until_sold_out,
    };
    report.targets = goals::check(&report, &conditions);
    Ok(report)
}

/// The server's committer thread CPU so far (seconds), for a run that
/// measures purchases; `None` when the server does not say.
async fn committer_cpu(target: &Target, wanted: bool) -> Option<f64> {
    if !wanted {
        return None;
    }
    let text = target
        .admin(Method::GET, "/metrics".into(), None)
        .await
        .ok()?;
    gauge(
        &String::from_utf8_lossy(&text),
        "surge_committer_cpu_seconds",
    )
}

/// The value of the unlabelled gauge `name` in a Prometheus text exposition.
fn gauge(text: &str, name: &str) -> Option<f64> {
    crate::telemetry::samples(text)
        .find(|&(series, labels, _)| series == name && labels.is_empty())
        .map(|(_, _, value)| value)
}

/// Runs `load` with live progress; the merged stats and the time measured.
async fn drive(load: Load, plan: Arc<Plan>) -> anyhow::Result<(load::Stats, Duration)> {
    let live = Arc::new(Live::default());
    let progress = tokio::spawn(show_progress(live.clone()));
    let result = tokio::task::spawn_blocking(move || load::run(Arc::new(load), plan, live)).await;
    progress.abort();
    result?
}

/// The same connections, loop and duration as the run, each request a
/// `GET` of the baseline URL.
async fn measure_baseline(url: &str, like: &Load) -> anyhow::Result<report::Baseline> {
    let (addr, path) = target::resolve(url)?;
    eprintln!("baseline: {url}");
    let load = Load {
        addr,
        until_sold_out: false,
        ..*like
    };
    let (stats, elapsed) = drive(load, Arc::new(Plan::fixed(path))).await?;
    // A yardstick that answered errors would make any run look fast.
    let failed: u64 = stats
        .statuses
        .iter()
        .filter(|(status, _)| !(200..300).contains(*status))
        .map(|(_, n)| n)
        .sum();
    if failed > 0 || stats.errors > 0 {
        anyhow::bail!(
            "the baseline {url} answered {failed} requests with a non-2xx status \
             and failed {} more: it cannot be a yardstick",
            stats.errors
        );
    }
    Ok(report::Baseline {
        url: url.to_owned(),
        throughput_per_sec: stats.latency.len() as f64 / elapsed.as_secs_f64().max(1e-9),
        statuses: stats.statuses,
    })
}

/// A live line: a progress spinner on a terminal, a plain line a second otherwise.
async fn show_progress(live: Arc<Live>) {
    let tty = std::io::stderr().is_terminal();
    let bar = tty.then(|| {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {elapsed} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar
    });
    let started = Instant::now();
    let (mut last_done, mut last_at) = (0u64, Instant::now());
    loop {
        tokio::time::sleep(Duration::from_millis(if tty { 250 } else { 1000 })).await;
        let done = live.done.load(Ordering::Relaxed);
        let rate = (done - last_done) as f64 / last_at.elapsed().as_secs_f64();
        (last_done, last_at) = (done, Instant::now());
        let line = format!(
            "{done} requests, {rate:.0}/s, {} errors",
            live.errors.load(Ordering::Relaxed)
        );
        match &bar {
            Some(bar) => bar.set_message(line),
            None => eprintln!("[{:>5.1}s] {line}", started.elapsed().as_secs_f64()),
        }
    }
}

/// `10s`, `2m`, `500ms` or plain seconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("'{text}' is not a duration (e.g. 10s, 2m, 500ms)");
    let (number, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let n: u64 = number.parse().map_err(|_| bad())?;
    match unit {
        "" | "s" => Ok(Duration::from_secs(n)),
        "ms" => Ok(Duration::from_millis(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("7"), Ok(Duration::from_secs(7)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("ten").is_err());
        assert!(parse_duration("5h").is_err());
    }

    #[test]
    fn a_gauge_is_read_by_its_exact_name() {
        let text = "# TYPE surge_committer_cpu_seconds gauge\n\
                    surge_committer_cpu_seconds_other 9\n\
                    surge_committer_cpu_seconds 12.5\n";
        assert_eq!(gauge(text, "surge_committer_cpu_seconds"), Some(12.5));
        assert_eq!(gauge(text, "surge_indexer_cpu_seconds"), None);
    }
}
