//! Admin backup routes: take a backup of the running node, list them, show
//! one.

use super::auth::Admin;
use crate::backup::BackupInfo;
use crate::http::problem::{ApiError, Problem};
use crate::http::{idempotency_key, AppState};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct BackupList {
    /// Newest first.
    pub items: Vec<BackupInfo>,
}

#[utoipa::path(post, path = "/v1/admin/backups", tag = "admin",
    params(("Idempotency-Key" = Option<String>, Header, description = "a retry with the same key makes no second backup and answers the one the key made")),
    responses((status = 201, body = BackupInfo, description = "a consistent point-in-time backup of the store, written in the backup directory"),
        (status = 400, body = Problem, description = "a malformed Idempotency-Key"),
        (status = 401, body = Problem),
        (status = 409, body = Problem, description = "a backup is being taken (backup-in-progress), a request with the key is in progress, or the backup the key made has been removed since (backup-removed-since)"),
        (status = 422, body = Problem, description = "the key was used for another request"),
        (status = 500, body = Problem, description = "the backup file could not be written (backup-failed; the cause is logged)"),
        (status = 503, body = Problem, description = "writes outran the copy (backup-overloaded) or the store is unavailable; retry after Retry-After")),
    security(("admin_token" = [])))]
pub async fn create_backup(
    _admin: Admin,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let key = idempotency_key::optional(&req)?;
    let made = state.backups.create(key.as_ref()).await?;
    let mut res = HttpResponse::Created();
    res.insert_header(("Location", format!("/v1/admin/backups/{}", made.value.id)));
    if made.replayed {
        res.insert_header(idempotency_key::REPLAYED);
    }
    Ok(res.json(made.value))
}

#[utoipa::path(get, path = "/v1/admin/backups", tag = "admin",
    responses((status = 200, body = BackupList, description = "every complete backup in the backup directory, newest first"),
        (status = 401, body = Problem),
        (status = 500, body = Problem, description = "the backup directory could not be read")),
    security(("admin_token" = [])))]
pub async fn list_backups(
    _admin: Admin,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let backups = state.backups.clone();
    let items = web::block(move || backups.list())
        .await
        .map_err(|_| ApiError::internal())??;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(BackupList { items }))
}

#[utoipa::path(get, path = "/v1/admin/backups/{id}", tag = "admin",
    params(("id" = String, Path, description = "backup id")),
    responses((status = 200, body = BackupInfo),
        (status = 401, body = Problem),
        (status = 404, body = Problem, description = "no such backup (backup-not-found), also once rotation (`[backup] keep`) has deleted it"),
        (status = 500, body = Problem, description = "the backup directory could not be read")),
    security(("admin_token" = [])))]
pub async fn get_backup(
    _admin: Admin,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let backups = state.backups.clone();
    let id = id.into_inner();
    let info = web::block(move || backups.get(&id))
        .await
        .map_err(|_| ApiError::internal())??;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(info))
}
