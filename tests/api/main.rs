//! Integration tests: one binary, real HTTP against the real server started on
//! a free port with a temporary store (see `helpers::spawn_app`).

mod crash;
mod helpers;
mod inventory;
