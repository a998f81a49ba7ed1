//! The dashboard's pages, one file per section.

pub mod backups;
pub mod inventory;
pub mod orders;
pub mod overview;
pub mod products;
pub mod sign_in;
pub mod webhooks;

use super::layout::Fields;
use actix_web::{web, HttpRequest};

/// A page's query parameters by name (malformed ones read as none).
pub(super) fn query(req: &HttpRequest) -> Fields {
    Fields(
        web::Query::<Vec<(String, String)>>::from_query(req.query_string())
            .map(web::Query::into_inner)
            .unwrap_or_default(),
    )
}
