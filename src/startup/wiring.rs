//! The wiring of capabilities: what each one is given, in which order they
//! start, and the recovery that runs before anything serves.

use super::CANCELLATION_RETRY;
use crate::backup::Backups;
use crate::cart::{CartParts, Carts, StoredCarts};
use crate::catalog::{self, Catalog, Seeded};
use crate::checkout::{recovery, Checkouts};
use crate::clock::Clock;
use crate::config::Settings;
use crate::events::{Outbox, Webhooks};
use crate::http::{self, Admission, AppState, FrontDoor, Streams};
use crate::idempotency::Idempotency;
use crate::inventory::{Availability, Inventory, InventoryParts};
use crate::order::{OrderParts, Orders, UnpaidOrders};
use crate::payment::stripe::StripeGateway;
use crate::payment::{PaymentProvider, Payments};
use crate::payment_events::{StripeWebhook, StripeWebhookParts};
use crate::queue::{QueueParts, Queues};
use crate::store::Store;
use crate::tls::Tls;
use actix_web::web;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

/// The capabilities the handlers share.
pub(super) struct Parts {
    pub(super) catalog: Arc<Catalog>,
    pub(super) inventory: Inventory,
    pub(super) outbox: Outbox,
    pub(super) webhooks: Webhooks,
    pub(super) carts: Carts,
    pub(super) orders: Orders,
    pub(super) queues: Queues,
    pub(super) backups: Backups,
    pub(super) store: Store,
    /// How outbound connections (webhooks, Stripe) are made.
    pub(super) tls: Tls,
    /// The Stripe gateway, when it is the provider (for its webhook).
    pub(super) stripe: Option<Arc<StripeGateway>>,
}

impl Parts {
    /// Loads what the store holds and starts every capability, then
    /// recovers what a crash interrupted, before anything serves.
    pub(super) async fn start(
        settings: &Settings,
        store: &Store,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        let idempotency =
            Idempotency::load(store, settings.inventory.order_filter_items, clock.clone()).await?;
        let availability = Availability::default();
        let catalog = Arc::new(Catalog::load(
            store.clone(),
            availability.clone(),
            idempotency.clone(),
        )?);
        seed(&catalog, store, settings).await?;
        let outbox = Outbox::load(store)?;
        // Before anything records an event (recovery does): the outbox must
        // know which kinds the webhooks want, or those events are dropped.
        let webhooks = Webhooks::load(
            store.clone(),
            outbox.clone(),
            idempotency.clone(),
            clock.clone(),
            settings.events.webhooks_max,
        )?;
        let inventory = Inventory::start(InventoryParts {
            store: store.clone(),
            availability,
            outbox: outbox.clone(),
            idempotency: idempotency.clone(),
            lapsed: Arc::new(UnpaidOrders::new(store.clone(), outbox.clone())),
            clock: clock.clone(),
            settings: settings.inventory.clone(),
        });
        let queues = Queues::load(QueueParts {
            store: store.clone(),
            inventory: inventory.clone(),
            clock: clock.clone(),
            settings: settings.queue.clone(),
        })
        .await?;
        let tls = Tls::new(&settings.tls).map_err(|e| anyhow::anyhow!(e))?;
        let (payments, stripe) = match settings.payment.provider {
            PaymentProvider::Simulated => (Payments::simulated(&settings.payment), None),
            PaymentProvider::Stripe => {
                let (payments, gateway) = Payments::stripe(&settings.payment, tls.clone());
                (payments, Some(gateway))
            }
        };
        let orders = Orders::new(OrderParts {
            store: store.clone(),
            catalog: catalog.clone(),
            inventory: inventory.clone(),
            idempotency: idempotency.clone(),
            payments: Arc::new(payments),
            outbox: outbox.clone(),
            clock: clock.clone(),
            queues: queues.clone(),
        });
        let carts = Self::carts(settings, store, &catalog, &orders, &idempotency, &clock);
        let stored_carts = StoredCarts {
            store: store.clone(),
            clock: clock.clone(),
        };
        recover(&orders, &inventory, &stored_carts).await?;
        let backups = Backups::new(
            store.clone(),
            idempotency.clone(),
            clock.clone(),
            settings.backup.clone(),
            &settings.store.data_dir,
        );
        Ok(Self {
            catalog,
            inventory,
            outbox,
            webhooks,
            carts,
            orders,
            queues,
            backups,
            store: store.clone(),
            tls,
            stripe,
        })
    }

    fn carts(
        settings: &Settings,
        store: &Store,
        catalog: &Arc<Catalog>,
        orders: &Orders,
        idempotency: &Idempotency,
        clock: &Arc<dyn Clock>,
    ) -> Carts {
        Carts::new(CartParts {
            store: store.clone(),
            inventory: orders.inventory.clone(),
            catalog: catalog.clone(),
            checkouts: Checkouts::new(orders.clone(), settings.cart.checkout_hold_secs),
            idempotency: idempotency.clone(),
            settings: settings.cart.clone(),
            clock: clock.clone(),
        })
    }
}

pub(super) fn app_state(
    parts: Parts,
    settings: &Settings,
    ready: Arc<AtomicBool>,
    metrics: metrics_exporter_prometheus::PrometheusHandle,
    clock: Arc<dyn Clock>,
) -> web::Data<AppState> {
    let stripe_webhook = parts.stripe.map(|gateway| {
        Arc::new(StripeWebhook::new(StripeWebhookParts {
            secret: settings.payment.stripe_webhook_secret.clone(),
            tolerance_secs: settings.payment.stripe_webhook_tolerance_secs,
            gateway,
            carts: parts.carts.clone(),
            orders: parts.orders.clone(),
            store: parts.store.clone(),
            clock: clock.clone(),
        }))
    });
    web::Data::new(AppState {
        catalog: parts.catalog,
        catalog_settings: settings.catalog.clone(),
        default_currency: settings.cart.default_currency,
        reads: http::Reads::new(settings.catalog.cache_max_age_secs),
        inventory: parts.inventory,
        inventory_settings: settings.inventory.clone(),
        outbox: parts.outbox,
        webhooks: parts.webhooks,
        streams: Streams::new(
            settings.events.stream_clients_max,
            settings.events.stream_keepalive_secs,
        ),
        admission: Admission::new(
            settings.server.writes_in_flight_max,
            (settings.server.write_latency_target_ms > 0)
                .then(|| Duration::from_millis(settings.server.write_latency_target_ms)),
            settings.server.body_limit_bytes,
        ),
        front: Arc::new(FrontDoor::new(settings, clock.clone())),
        carts: parts.carts,
        orders: parts.orders,
        queues: parts.queues,
        backups: parts.backups,
        store: parts.store,
        stripe_webhook,
        ready,
        durability: settings.store.durability,
        metrics,
        dashboard: http::Dashboard::new(clock, &settings.admin_ui),
    })
}

/// Finishes or compensates the checkouts and cancellations a crash
/// interrupted. Runs before any SKU actor: a paid checkout's holds must not
/// expire first.
async fn recover(
    orders: &Orders,
    inventory: &Inventory,
    carts: &StoredCarts,
) -> anyhow::Result<()> {
    let recovered = recovery::checkouts(orders, inventory.availability(), carts).await?;
    let cancellations = recovery::cancellations(orders).await?;
    tracing::info!(
        checkouts_finished = recovered.checkouts_finished,
        checkouts_compensated = recovered.checkouts_compensated,
        cancellations,
        "recovered interrupted checkouts and cancellations"
    );
    Ok(())
}

/// Retries, every `CANCELLATION_RETRY`, the cancellations whose payment could
/// not be returned (gateway down) until they finish.
pub(super) fn retry_cancellations(orders: Orders) -> actix_web::rt::task::JoinHandle<()> {
    actix_web::rt::spawn(async move {
        let mut every = tokio::time::interval(CANCELLATION_RETRY);
        every.tick().await;
        loop {
            every.tick().await;
            if let Err(e) = orders.resume_cancellations().await {
                tracing::warn!(error = %e, "resuming cancellations");
            }
        }
    })
}

/// Seeds the catalog on the first start of an empty store, and says so.
async fn seed(catalog: &Catalog, store: &Store, settings: &Settings) -> anyhow::Result<()> {
    let file = &settings.catalog.seed_file;
    match catalog::seed(catalog, store, file).await? {
        Seeded::Loaded { products, skus } => {
            tracing::info!(products, skus, file = %file.display(), "seeded the demo catalog")
        }
        Seeded::NoFile if catalog.snapshot().is_empty() => {
            tracing::info!("starting with an empty catalog")
        }
        Seeded::NoFile | Seeded::Already => {}
    }
    Ok(())
}
