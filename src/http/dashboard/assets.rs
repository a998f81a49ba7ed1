//! The dashboard's stylesheet, script and icon, embedded in the binary
//! (`include_str!`): the dashboard works offline and loads nothing from
//! anywhere else. Browsers keep them five minutes, so an upgrade shows soon.

use actix_web::http::header;
use actix_web::{web, HttpResponse};

const CSS: &str = include_str!("assets/admin.css");
const JS: &str = include_str!("assets/admin.js");
const ICON: &str = include_str!("assets/icon.svg");

pub const CSS_PATH: &str = "/admin/assets/admin.css";
pub const JS_PATH: &str = "/admin/assets/admin.js";
pub const ICON_PATH: &str = "/admin/assets/icon.svg";

/// `GET /admin/assets/{file}`.
pub async fn asset(file: web::Path<String>) -> HttpResponse {
    let (body, kind) = match file.as_str() {
        "admin.css" => (CSS, "text/css; charset=utf-8"),
        "admin.js" => (JS, "text/javascript; charset=utf-8"),
        "icon.svg" => (ICON, "image/svg+xml"),
        _ => return HttpResponse::NotFound().finish(),
    };
    HttpResponse::Ok()
        .content_type(kind)
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .body(body)
}
