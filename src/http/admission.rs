//! Admission control for storefront writes. Every accepted write waits its
//! turn at a SKU actor and the committer, so past the node's capacity more
//! concurrent writes only add queueing delay to all of them. A bounded
//! number are admitted at once; the rest get an immediate 503 with
//! `Retry-After`, which keeps the latency of accepted writes bounded when a
//! sale sends more than the node can take (Little's law: in flight =
//! throughput × latency). Reads and admin calls are never shed: reads are
//! served from snapshots and atomics, and an operator must be able to act
//! during the storm.

use super::problem::ApiError;
use super::AppState;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{web, Error, ResponseError};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Storefront writes in flight, against their limit.
pub struct Admission {
    in_flight: Arc<AtomicUsize>,
    max: usize,
}

/// One admitted write; its place is given back when the response is done.
struct Permit(Arc<AtomicUsize>);

impl Drop for Permit {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Admission {
    pub fn new(max: usize) -> Self {
        Self {
            in_flight: Arc::default(),
            max,
        }
    }

    fn admit(&self) -> Option<Permit> {
        let taken = self.in_flight.fetch_add(1, Ordering::AcqRel);
        let permit = Permit(self.in_flight.clone());
        (taken < self.max).then_some(permit)
    }
}

/// Whether a request is a storefront write (shed under overload).
fn is_storefront_write(req: &ServiceRequest) -> bool {
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let path = req.path();
    !safe && path.starts_with("/v1/") && !path.starts_with("/v1/admin/")
}

pub async fn admit_writes(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let permit = match req.app_data::<web::Data<AppState>>() {
        Some(state) if is_storefront_write(&req) => match state.admission.admit() {
            Some(permit) => Some(permit),
            None => {
                metrics::counter!("surge_http_shed_total").increment(1);
                let problem = ApiError::unavailable(
                    "overloaded",
                    "the server is taking all the writes it can; retry shortly",
                    1,
                );
                let res = req.into_response(problem.error_response());
                return Ok(res.map_into_right_body());
            }
        },
        _ => None,
    };
    let res = next.call(req).await?;
    drop(permit);
    Ok(res.map_into_left_body())
}
