//! The one middleware every request passes: the front door (customer
//! tokens and rate limits, when configured), write admission, problem
//! bodies for bare error responses, and per-route telemetry.
//!
//! It is written out as a `Transform` rather than stacked layers because it
//! runs on every read, where everything else is cheap: each `from_fn` layer
//! boxes a future and calls through a boxed service. Here a read's future is
//! a concrete type with nothing allocated, and only a storefront write,
//! which waits for the committer anyway, is boxed. (Merging the three layers
//! gave about +3 % SKU reads/s; BENCHMARKS.md.) With the front door idle
//! (the default: no customer tokens, no per-address limits), a request pays
//! one branch for it.

use super::admission::{admit, drain_body, is_storefront_read, is_storefront_write};
use super::front_door::FrontDoor;
use super::route_metrics::{method_label, record};
use crate::http::customer::Verified;
use crate::http::problem::edge::with_problem_body;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{forward_ready, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::{Error, HttpMessage, ResponseError};
use futures_util::future::{Either, LocalBoxFuture};
use pin_project_lite::pin_project;
use std::future::{ready, Future, Ready};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Instant;
use tracing::instrument::Instrumented;
use tracing::Instrument;

/// Wrap the app in this once (`App::new().wrap(Front::new(&door))`).
pub struct Front {
    /// `None` when the door has nothing to check.
    door: Option<Arc<FrontDoor>>,
}

impl Front {
    pub fn new(door: &Arc<FrontDoor>) -> Self {
        Self {
            door: door.is_needed().then(|| Arc::clone(door)),
        }
    }
}

impl<S, B> Transform<S, ServiceRequest> for Front
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = FrontService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(FrontService {
            service: Rc::new(service),
            door: self.door.clone(),
        }))
    }
}

pub struct FrontService<S> {
    service: Rc<S>,
    door: Option<Arc<FrontDoor>>,
}

type Answer<B> = Result<ServiceResponse<EitherBody<B>>, Error>;

impl<S, B> Service<ServiceRequest> for FrontService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = Observed<Either<Passed<S::Future>, LocalBoxFuture<'static, Answer<B>>>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let started = Instant::now();
        let method = method_label(req.method());
        let span = tracing::debug_span!("request", method, path = %req.path());
        let answer = if is_storefront_write(&req) {
            let service = Rc::clone(&self.service);
            let door = self.door.clone();
            Either::Right(Box::pin(async move {
                let req = match door {
                    Some(door) => match enter(&door, req).await {
                        Ok(req) => req,
                        Err(refused) => return Ok(refused.map_into_right_body()),
                    },
                    None => req,
                };
                let (req, permit) = match admit(req).await {
                    Ok(admitted) => admitted,
                    Err(refused) => return Ok(refused.map_into_right_body()),
                };
                let res = service.call(req).await?;
                drop(permit);
                Ok(with_problem_body(res))
            }) as LocalBoxFuture<'static, Answer<B>>)
        } else if let Some(refused) = self.door.as_ref().and_then(|door| refuse_read(door, &req)) {
            // Rare: no need for a concrete future type here.
            let res = req.into_response(refused.error_response());
            Either::Right(Box::pin(ready(Ok(res.map_into_right_body())))
                as LocalBoxFuture<'static, Answer<B>>)
        } else {
            Either::Left(Passed {
                inner: self.service.call(req),
            })
        };
        Observed {
            inner: answer.instrument(span),
            started,
            method,
        }
    }
}

/// Passes a storefront write through the front door, its verified
/// customer (if tokens are on) left in its extensions for the handler; or
/// the refusal (401, 429), its body read and dropped first so that the
/// connection stays usable.
async fn enter(
    door: &FrontDoor,
    mut req: ServiceRequest,
) -> Result<ServiceRequest, ServiceResponse> {
    match door.check_write(&req) {
        Ok(customer) => {
            if let Some(customer) = customer {
                req.extensions_mut().insert(Verified(customer));
            }
            Ok(req)
        }
        Err(refused) => {
            drain_body(&mut req, door.body_limit_bytes()).await;
            Err(req.into_response(refused.error_response()))
        }
    }
}

/// The 429 for a storefront read over its client's limit, if it is.
fn refuse_read(door: &FrontDoor, req: &ServiceRequest) -> Option<crate::http::ApiError> {
    if !is_storefront_read(req) {
        return None;
    }
    door.check_read(req).err()
}

pin_project! {
    /// A request passed straight to the app; its answer gets a problem body
    /// if it needs one.
    pub struct Passed<F> {
        #[pin]
        inner: F,
    }
}

impl<F, B> Future for Passed<F>
where
    F: Future<Output = Result<ServiceResponse<B>, Error>>,
    B: MessageBody + 'static,
{
    type Output = Answer<B>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let res = ready!(self.project().inner.poll(cx));
        Poll::Ready(res.map(with_problem_body))
    }
}

pin_project! {
    /// A request in flight, counted under its route when it is answered.
    pub struct Observed<F> {
        #[pin]
        inner: Instrumented<F>,
        started: Instant,
        method: &'static str,
    }
}

impl<F, B> Future for Observed<F>
where
    F: Future<Output = Answer<B>>,
{
    type Output = Answer<B>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let res = ready!(this.inner.poll(cx));
        if let Ok(res) = &res {
            record(
                this.method,
                res.request().match_pattern(),
                res.status().as_u16(),
                this.started.elapsed(),
            );
        }
        Poll::Ready(res)
    }
}
