//! The three requests of a drop: join the waiting room, read a ticket,
//! buy. Each names the client's address (`X-Forwarded-For`, believed from
//! a trusted proxy) and, for writes, carries the customer token if any.

use crate::bench::client::Call;
use bytes::Bytes;
use hyper::Method;
use serde_json::{json, Value};
use std::net::IpAddr;

/// `POST /v1/skus/{sku}/queue`; `customer` goes in the body (a bot
/// without a token must name one; with a token the token names it).
pub fn join(sku: &str, token: Option<&str>, customer: Option<&str>, from: IpAddr) -> Call {
    let body = match customer {
        Some(customer) => json!({"customer_id": customer}),
        None => json!({}),
    };
    write(format!("/v1/skus/{sku}/queue"), token, None, body, from)
}

/// `GET /v1/queue/{ticket}`.
pub fn read_ticket(ticket: &str, from: IpAddr) -> Call {
    Call {
        forwarded_for: Some(from),
        ..Call::get(format!("/v1/queue/{ticket}"))
    }
}

/// A purchase of one unit with Idempotency-Key `key`, with `admission`
/// when the buyer has one.
pub fn purchase(
    sku: &str,
    token: Option<&str>,
    customer: Option<&str>,
    key: String,
    admission: Option<&str>,
    from: IpAddr,
) -> Call {
    let mut body = json!({"quantity": 1});
    if let Some(customer) = customer {
        body["customer_id"] = json!(customer);
    }
    if let Some(admission) = admission {
        body["admission"] = json!(admission);
    }
    write(
        format!("/v1/skus/{sku}/purchase"),
        token,
        Some(key),
        body,
        from,
    )
}

fn write(
    path: String,
    token: Option<&str>,
    key: Option<String>,
    body: Value,
    from: IpAddr,
) -> Call {
    Call {
        method: Method::POST,
        path,
        key,
        body: Some(Bytes::from(body.to_string())),
        bearer: token.map(str::to_owned),
        forwarded_for: Some(from),
    }
}
