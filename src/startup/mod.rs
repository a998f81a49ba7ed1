//! Start-up and shutdown: the one place that knows every piece. It opens the
//! store, loads (and on first start seeds) the catalog, binds the listener and
//! wires the HTTP app; on a signal or a [`Shutdown`] request it stops taking
//! connections, lets in-flight requests finish, and flushes the store.

use crate::clock::Clock;
use crate::config::Settings;
use crate::events;
use crate::http::{self, AdminToken, AppState};
use crate::idempotency;
use crate::inventory::Inventory;
use crate::queue;
use crate::secrets::{self, Secrets, TokenSource};
use crate::store::Store;
use actix_web::dev::Server;
use actix_web::{web, App, HttpServer};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use wiring::{app_state, retry_cancellations, Parts};

mod wiring;

/// Asks a running application to shut down gracefully.
#[derive(Clone, Default)]
pub struct Shutdown(Arc<Notify>);

impl Shutdown {
    pub fn trigger(&self) {
        self.0.notify_one();
    }
}

/// How often unfinished cancellations are retried.
const CANCELLATION_RETRY: std::time::Duration = std::time::Duration::from_secs(30);

pub struct Application {
    port: u16,
    server: Server,
    store: Store,
    inventory: Inventory,
    ready: Arc<AtomicBool>,
    shutdown: Shutdown,
    handle_signals: bool,
    /// Background tasks holding the store, stopped before it is released.
    background: Vec<actix_web::rt::task::JoinHandle<()>>,
    /// Shared with the handlers; shutdown closes the live streams through it.
    state: web::Data<AppState>,
}

impl Application {
    /// Builds the application: store open, catalog loaded, listener bound.
    /// Business time (expiries, sale windows, timestamps) comes from `clock`:
    /// the system's in production, one a test can move in tests.
    /// Must run inside an actix system.
    pub async fn build(
        settings: Settings,
        secrets: Secrets,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        settings
            .validate()
            .map_err(|e| anyhow::anyhow!("invalid settings: {e}"))?;
        let metrics = crate::telemetry::metrics();
        let store = Store::open(&settings.store.sled_dir(), settings.store.committer())?;
        let token = admin_token(&secrets, &settings.store.data_dir)?;
        let parts = Parts::start(&settings, &store, clock.clone()).await?;
        let mut background = vec![
            retry_cancellations(parts.orders.clone()),
            idempotency::purge_periodically(
                store.clone(),
                clock.clone(),
                settings.idempotency.clone(),
            ),
            actix_web::rt::spawn(events::delivery::run(
                parts.webhooks.clone(),
                settings.events.clone(),
                parts.tls.clone(),
            )),
            actix_web::rt::spawn(queue::run(parts.queues.clone())),
        ];
        background.extend(parts.backups.schedule());
        let woken = parts.inventory.wake_held()?;
        tracing::info!(
            skus = woken,
            "woke the SKUs holding stock, to expire lapsed holds"
        );
        let inventory = parts.inventory.clone();
        let listener = TcpListener::bind(&settings.server.bind)
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", settings.server.bind))?;
        let port = listener.local_addr()?.port();
        let ready = Arc::new(AtomicBool::new(false));
        let state = app_state(parts, &settings, ready.clone(), metrics.clone(), clock);
        let pulse = state.dashboard.pulse.clone();
        let availability = state.inventory.availability().clone();
        let mut background = background;
        background.push(actix_web::rt::spawn(pulse.run(metrics, availability)));
        let server = serve(listener, state.clone(), AdminToken::new(&token), &settings)?;
        tracing::info!(address = %format!("http://{}:{port}", listener_host(&settings.server.bind)), "listening");
        ready.store(true, Ordering::Release);
        Ok(Self {
            port,
            server,
            store,
            inventory,
            ready,
            shutdown: Shutdown::default(),
            handle_signals: true,
            background,
            state,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn shutdown_handle(&self) -> Shutdown {
        self.shutdown.clone()
    }

    /// Whether SIGTERM/SIGINT stop the application (on by default; tests that
    /// run many apps in one process turn it off).
    pub fn with_signals(mut self, on: bool) -> Self {
        self.handle_signals = on;
        self
    }

    /// Serves until a signal or a shutdown request, then stops gracefully:
    /// not ready, no new connections, in-flight requests finish, store flushed.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let Application {
            server,
            store,
            inventory,
            ready,
            shutdown,
            handle_signals,
            background,
            state,
            ..
        } = self;
        let handle = server.handle();
        let mut server = actix_web::rt::spawn(server);
        tokio::select! {
            finished = &mut server => {
                drop(state);
                release(inventory, store, background).await?;
                return finished?.map_err(anyhow::Error::from);
            }
            () = shutdown.0.notified() => tracing::info!("shutdown requested"),
            () = signal(handle_signals) => tracing::info!("signal received; shutting down"),
        }
        ready.store(false, Ordering::Release);
        // Live streams never finish by themselves; end them so that the
        // graceful stop waits only for real requests.
        state.streams.close();
        // A backup in progress would hold the store for as long as it runs.
        state.backups.stop();
        drop(state);
        handle.stop(true).await;
        let served = server.await;
        release(inventory, store, background).await?;
        tracing::info!("store flushed; bye");
        served?.map_err(anyhow::Error::from)
    }
}

/// The admin token, logging where it came from (never the token).
fn admin_token(secrets: &Secrets, data_dir: &std::path::Path) -> anyhow::Result<String> {
    let (token, source) = secrets::admin_token(secrets, data_dir)?;
    match source {
        TokenSource::Environment => tracing::info!("admin token: from SURGE_ADMIN_TOKEN"),
        TokenSource::File(p) => tracing::info!(path = %p.display(), "admin token: read from file"),
        TokenSource::Generated(p) => tracing::info!(path = %p.display(), "admin token: generated"),
    }
    Ok(token)
}

/// After HTTP is down (so no new work): stops the actors, drains the
/// committer (every acknowledged write is already flushed), and waits until
/// the last store handle is gone so the store can be reopened at once.
async fn release(
    inventory: Inventory,
    store: Store,
    background: Vec<actix_web::rt::task::JoinHandle<()>>,
) -> anyhow::Result<()> {
    for task in &background {
        task.abort();
    }
    for task in background {
        let _ = task.await;
    }
    inventory.stop();
    drop(inventory);
    store.close()?;
    if !store.wait_released(Duration::from_secs(5)).await {
        tracing::warn!("the store is still referenced after shutdown");
    }
    Ok(())
}

fn serve(
    listener: TcpListener,
    state: web::Data<AppState>,
    token: AdminToken,
    settings: &Settings,
) -> anyhow::Result<Server> {
    let body_limit = settings.server.body_limit_bytes;
    let cors_origins = settings.server.cors_origins.clone();
    // Built once: it states this server's configured limits.
    let doc = Arc::new(http::api_document(&http::ApiLimits::from(settings)));
    let mut server = HttpServer::new(move || {
        let (state, token, doc) = (state.clone(), token.clone(), doc.clone());
        App::new()
            .wrap(http::Front::new(&state.front))
            .wrap(http::storefront_cors(&cors_origins))
            .configure(move |cfg| http::app_data(cfg, state, token, body_limit))
            .configure(move |cfg| http::routes(cfg, &doc))
    })
    .disable_signals()
    .shutdown_timeout(settings.server.shutdown_timeout_secs)
    .max_connections(settings.server.connections_per_worker_max);
    if settings.server.workers > 0 {
        server = server.workers(settings.server.workers);
    }
    Ok(server.listen(listener)?.run())
}

fn listener_host(bind: &str) -> &str {
    bind.rsplit_once(':').map_or(bind, |(host, _)| host)
}

/// Resolves on SIGTERM or SIGINT; never when `enabled` is false.
async fn signal(enabled: bool) {
    if !enabled {
        return std::future::pending().await;
    }
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            },
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch SIGTERM; only Ctrl-C stops the server");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
