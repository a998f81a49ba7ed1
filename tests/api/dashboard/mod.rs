//! The merchant dashboard at /admin: over plain HTTP (cookies' attributes,
//! CSRF, redirects, expiry; `forms.rs`) and in a real browser driven over
//! WebDriver (`browser.rs`, with chromium started by `webdriver.rs`).

mod backups;
mod browser;
mod forms;
mod web_session;
mod webdriver;
