//! The one middleware every request passes: write admission, problem bodies
//! for bare error responses, and per-route telemetry.
//!
//! It is written out as a `Transform` rather than stacked layers because it
//! runs on every read, where everything else is cheap: each `from_fn` layer
//! boxes a future and calls through a boxed service. Here a read's future is
//! a concrete type with nothing allocated, and only a storefront write,
//! which waits for the committer anyway, is boxed. (Merging the three layers
//! gave about +3 % SKU reads/s; BENCHMARKS.md.)

use super::admission::{admit, is_storefront_write};
use super::route_metrics::{method_label, record};
use crate::http::problem::edge::with_problem_body;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{forward_ready, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::Error;
use futures_util::future::{Either, LocalBoxFuture};
use pin_project_lite::pin_project;
use std::future::{ready, Future, Ready};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{ready, Context, Poll};
use std::time::Instant;
use tracing::instrument::Instrumented;
use tracing::Instrument;

/// Wrap the app in this once (`App::new().wrap(Front)`).
pub struct Front;

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
        }))
    }
}

pub struct FrontService<S> {
    service: Rc<S>,
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
            Either::Right(Box::pin(async move {
                let (req, permit) = match admit(req).await {
                    Ok(admitted) => admitted,
                    Err(refused) => return Ok(refused.map_into_right_body()),
                };
                let res = service.call(req).await?;
                drop(permit);
                Ok(with_problem_body(res))
            }) as LocalBoxFuture<'static, Answer<B>>)
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
