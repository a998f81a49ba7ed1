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
mod checkout;
mod checkout_crash;
mod contract;
mod crash;
mod helpers;
mod inventory;
mod ops;
mod orders;
mod persistence;
mod process;
mod receiver;
mod seed;
mod stream;
mod webhooks;
