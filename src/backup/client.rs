//! `surge backup --url URL --admin-token TOKEN`: asks a running node for a
//! backup (`POST /v1/admin/backups`) and prints what it made.

use crate::bench::client::{Call, Connection};
use hyper::Method;

/// `surge backup`'s arguments.
#[derive(Debug, clap::Args)]
pub struct BackupArgs {
    /// The node, e.g. http://127.0.0.1:8080.
    #[arg(long, value_name = "URL")]
    pub url: String,
    /// The node's admin token.
    #[arg(long, env = "SURGE_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: String,
    /// Sent as Idempotency-Key: a retry with the same key makes no second
    /// backup and prints the first.
    #[arg(long, value_name = "KEY")]
    pub idempotency_key: Option<String>,
}

/// Runs `surge backup`: the backup's description on stdout (exit 0), or
/// the node's refusal on stderr (exit 1).
pub fn run(args: BackupArgs) -> u8 {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("surge backup: {e}");
            return 1;
        }
    };
    match runtime.block_on(request(&args)) {
        Ok(body) => {
            println!("{body}");
            0
        }
        Err(e) => {
            eprintln!("surge backup: {e:#}");
            1
        }
    }
}

async fn request(args: &BackupArgs) -> anyhow::Result<String> {
    let authority = args
        .url
        .strip_prefix("http://")
        .ok_or_else(|| anyhow::anyhow!("--url must start with http:// (got {})", args.url))?;
    let authority = authority.split('/').next().unwrap_or_default();
    let addr = tokio::net::lookup_host(authority)
        .await
        .map_err(|e| anyhow::anyhow!("{authority}: {e}"))?
        .next()
        .ok_or_else(|| anyhow::anyhow!("{authority} resolves to no address"))?;
    let mut conn = Connection::open(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot reach {}: {e}", args.url))?;
    let call = Call {
        method: Method::POST,
        path: "/v1/admin/backups".into(),
        key: args.idempotency_key.clone(),
        bearer: Some(args.admin_token.clone()),
        ..Call::default()
    };
    let (status, body) = conn.send(&call).await?;
    let body = String::from_utf8_lossy(&body).into_owned();
    if status.is_success() {
        Ok(body)
    } else {
        anyhow::bail!("the node answered {status}: {body}")
    }
}
