//! The merchant dashboard at `/admin`: server-rendered pages (maud) over
//! the same capability calls the JSON admin routes make, so there is no
//! second path to state. Assets are embedded in the binary, nothing is
//! loaded from elsewhere, and every page works without JavaScript (the
//! script adds the overview's live figures and confirmations).
//!
//! - `session.rs`: signing in with the admin token, the session cookie,
//!   CSRF tokens;
//! - `layout.rs`: the page shell, the signed-in extractor, forms;
//! - `pulse.rs`, `metrics_text.rs`: the overview's live figures, read from
//!   the process's metrics and the availability feed;
//! - `chart.rs`: SVG charts drawn here; `format.rs`: money, numbers, times;
//! - `pages/`: one file per section; `assets.rs`: CSS, JS, icon.
//!
//! These routes are HTML for people, not the JSON API: they are not in the
//! OpenAPI document.

mod assets;
mod chart;
mod format;
mod layout;
mod metrics_text;
mod pages;
mod pulse;
mod session;

pub use pulse::Pulse;
pub use session::Sessions;

use crate::clock::Clock;
use crate::config::AdminUiSettings;
use actix_web::web;
use pages::{backups, inventory, orders, overview, products, sign_in, webhooks};
use std::sync::Arc;

/// What the dashboard keeps: its sessions and its live figures.
pub struct Dashboard {
    pub sessions: Sessions,
    pub pulse: Pulse,
}

impl Dashboard {
    pub fn new(clock: Arc<dyn Clock>, settings: &AdminUiSettings) -> Self {
        Self {
            sessions: Sessions::new(clock, settings),
            pulse: Pulse::default(),
        }
    }
}

/// The routes under `/admin`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/admin")
            .service(web::resource("").get(overview::overview))
            .service(web::resource("/").get(overview::overview))
            .service(web::resource("/live").get(overview::live))
            .service(web::resource("/assets/{file}").get(assets::asset))
            .service(
                web::resource("/sign-in")
                    .get(sign_in::show)
                    .post(sign_in::sign_in),
            )
            .service(web::resource("/sign-out").post(sign_in::sign_out))
            .service(
                web::resource("/products")
                    .get(products::list)
                    .post(products::create),
            )
            .service(web::resource("/products/new").get(products::new))
            .service(
                web::resource("/products/{id}")
                    .get(products::edit)
                    .post(products::update),
            )
            .service(web::resource("/products/{id}/archive").post(products::archive))
            .service(web::resource("/inventory").get(inventory::list))
            .service(web::resource("/inventory/{sku}").get(inventory::sku))
            .service(web::resource("/inventory/{sku}/{change}").post(inventory::change))
            .service(web::resource("/orders").get(orders::list))
            .service(web::resource("/orders/{id}").get(orders::detail))
            .service(
                web::resource("/orders/{id}/{step}")
                    .get(orders::confirm_refund)
                    .post(orders::step),
            )
            .service(
                web::resource("/webhooks")
                    .get(webhooks::list)
                    .post(webhooks::register),
            )
            .service(web::resource("/webhooks/{id}").get(webhooks::detail))
            .service(web::resource("/webhooks/{id}/{action}").post(webhooks::act))
            .service(
                web::resource("/webhooks/{id}/dead-letters/{event}/replay")
                    .post(webhooks::replay_one),
            )
            .service(
                web::resource("/backups")
                    .get(backups::list)
                    .post(backups::take),
            )
            .default_service(web::to(sign_in::not_found)),
    );
}
