//! Admin routes under `/v1/admin`, one file per resource, and the bearer
//! token that guards them (`auth`): a handler that takes an [`auth::Admin`]
//! argument answers only callers that present the admin token.

pub mod auth;
pub mod backups;
pub mod catalog;
pub mod catalog_transfer;
pub mod inventory;
pub mod orders;
pub mod webhooks;
