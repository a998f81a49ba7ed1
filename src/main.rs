//! The `surge` command: a thin shell over the library.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use surge::clock::SystemClock;
use surge::config::{LogFormat, Settings};
use surge::secrets::Secrets;
use surge::startup::Application;

#[derive(Parser)]
#[command(name = "surge", version, about = "A commerce core in one binary.")]
#[command(args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Options of `serve`, the default command.
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve(ServeArgs),
    /// Measure a node: drive load at a server and check its invariants.
    Bench(Box<surge::bench::BenchArgs>),
    /// Check a stopped store offline (exit 0 sound, 1 problems, 2 cannot run).
    ///
    /// Every record decodes and every invariant holds, or each problem is
    /// printed with the key of its record. It reads a private copy of the
    /// store and never writes to it.
    Check(surge::check::CheckArgs),
    /// Ask a running node for a backup (POST /v1/admin/backups).
    Backup(surge::backup::client::BackupArgs),
    /// Restore a backup file into a data directory (exit 0 restored, 1 the
    /// backup is damaged, 2 cannot run).
    ///
    /// Every checksum is verified before anything is written; a non-empty
    /// directory is refused unless --force.
    Restore(surge::backup::restore::RestoreArgs),
}

#[derive(Args, Clone, Default)]
struct ServeArgs {
    /// Config file [default: ./config.toml when present].
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Address to listen on, e.g. 127.0.0.1:8080 (server.bind).
    #[arg(long, value_name = "ADDR")]
    bind: Option<String>,
    /// Directory for the store and the admin token (store.data_dir).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Log format (log.format).
    #[arg(long, value_enum)]
    log_format: Option<LogFormat>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let args = match cli.command {
        Some(Command::Serve(args)) => args,
        Some(Command::Bench(args)) => return bench(*args),
        Some(Command::Check(args)) => return ExitCode::from(surge::check::run(args)),
        Some(Command::Backup(args)) => return ExitCode::from(surge::backup::client::run(args)),
        Some(Command::Restore(args)) => return ExitCode::from(surge::backup::restore::run(args)),
        None => cli.serve,
    };
    match serve(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("surge: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn bench(args: surge::bench::BenchArgs) -> ExitCode {
    // The in-process server logs only problems; the report is the output.
    surge::telemetry::init_logs(&surge::config::LogSettings {
        filter: "warn".into(),
        ..Default::default()
    });
    huge_pages_off();
    match surge::bench::run(args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("surge bench: an invariant was violated (see the report)");
            ExitCode::from(3)
        }
        Err(e) => {
            eprintln!("surge bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let mut settings = Settings::load(args.config.as_deref())?;
    if let Some(bind) = args.bind {
        settings.server.bind = bind;
    }
    if let Some(dir) = args.data_dir {
        settings.store.data_dir = dir;
    }
    if let Some(format) = args.log_format {
        settings.log.format = format;
    }
    surge::telemetry::init_logs(&settings.log);
    huge_pages_off();
    actix_web::rt::System::new().block_on(async move {
        let clock = std::sync::Arc::new(SystemClock);
        let app = Application::build(settings, Secrets::from_env(), clock).await?;
        app.run_until_stopped().await
    })
}

/// Transparent huge pages off for this process, unless `MIMALLOC_ALLOW_THP`
/// asks otherwise. mimalloc advises huge pages on its arenas and gives
/// freed memory back a second later; under a write load every page it
/// takes back is a 2 MiB page to zero again: it cost the committer a
/// sixth of its CPU on a hot SKU, doubled the open-loop p99 and held 30-50
/// MB more RSS than 4 KiB pages do (BENCHMARKS.md, "Huge pages").
fn huge_pages_off() {
    if std::env::var_os("MIMALLOC_ALLOW_THP").is_some() {
        return;
    }
    #[cfg(target_os = "linux")]
    if let Err(e) = nix::sys::prctl::set_thp_disable(true) {
        tracing::warn!(error = %e, "could not turn transparent huge pages off");
    }
}

/// mimalloc: the request path allocates many small, short-lived objects
/// across threads, where it measurably beats the system allocator (see
/// BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
