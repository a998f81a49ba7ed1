//! Integration tests: one binary, real HTTP against the real server started on
//! a free port with a temporary store (see `helpers::spawn_app`).

mod admin;
mod admission;
mod auth;
mod bad_input;
mod bad_requests;
mod bench;
mod binary;
mod carts;
mod catalog;
mod catalog_transfer;
mod check;
mod checkout;
mod checkout_crash;
mod contract;
mod cors;
mod crash;
mod customers;
mod dashboard;
mod helpers;
mod idempotency;
mod inventory;
mod ops;
mod orders;
mod persistence;
mod process;
mod product_defaults;
mod queue;
mod queue_crash;
mod rate_limits;
mod receiver;
mod refund_crash;
mod seed;
mod stream;
mod webhooks;
