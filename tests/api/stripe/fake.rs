//! A local fake of Stripe's API, as far as surge uses it, following Stripe's
//! documented behaviour: form-encoded requests with a Bearer secret key;
//! PaymentIntents created and confirmed with a test PaymentMethod
//! (`pm_card_visa` is authorized, `pm_card_visa_chargeDeclined…` declined
//! with 402 and Stripe's error object, `pm_card_threeDSecure2Required`
//! needs the customer's action); capture, cancel, refunds; every POST with
//! an `Idempotency-Key` is answered from its first result when repeated
//! with the same request, and refused (400 `idempotency_error`) with
//! another. Tests can make the next requests fail with 429 or 5xx before
//! anything is done (as a rate limit or a load balancer would), or answer
//! late after doing it (a timeout whose request went through).

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use parking_lot::Mutex;
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

pub const SECRET_KEY: &str = "sk_test_fake_0123456789";

/// One request as the fake received it.
#[derive(Debug, Clone)]
pub struct Logged {
    pub method: String,
    pub path: String,
    pub idempotency_key: Option<String>,
    pub form: HashMap<String, String>,
    /// Whether it was acted on (not refused before, not a replay).
    pub executed: bool,
}

#[derive(Default)]
struct State {
    intents: HashMap<String, Value>,
    /// Idempotency-Key -> (request fingerprint, status, body).
    answered: HashMap<String, (String, u16, Value)>,
    log: Vec<Logged>,
    /// Statuses for the next POSTs, answered before doing anything.
    failures: VecDeque<u16>,
    /// Delay the answer of the next POSTs by this much, after doing them.
    late: VecDeque<Duration>,
    next_id: u64,
    refunded: HashMap<String, i64>,
}

#[derive(Clone, Default)]
pub struct FakeStripe {
    pub base: String,
    state: Arc<Mutex<State>>,
}

impl FakeStripe {
    /// Serves on a free loopback port in its own thread.
    pub fn start() -> FakeStripe {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let fake = FakeStripe {
            base: format!("http://127.0.0.1:{port}"),
            state: Arc::default(),
        };
        let serving = fake.clone();
        std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let data = web::Data::new(serving);
                let server = HttpServer::new(move || {
                    App::new()
                        .app_data(data.clone())
                        .default_service(web::to(handle))
                })
                .workers(1)
                .listen(listener)
                .expect("listen")
                .run();
                let _ = server.await;
            })
        });
        fake
    }

    /// The next POSTs are answered with these statuses, doing nothing.
    pub fn fail_next(&self, statuses: &[u16]) {
        self.state.lock().failures.extend(statuses);
    }

    /// The next POST is done, then answered after `delay`.
    pub fn answer_late(&self, delay: Duration) {
        self.state.lock().late.push_back(delay);
    }

    pub fn log(&self) -> Vec<Logged> {
        self.state.lock().log.clone()
    }

    /// The requests to `path` that were acted on.
    pub fn executed(&self, method: &str, path: &str) -> Vec<Logged> {
        self.log()
            .into_iter()
            .filter(|l| l.executed && l.method == method && l.path == path)
            .collect()
    }

    pub fn intent(&self, id: &str) -> Value {
        self.state
            .lock()
            .intents
            .get(id)
            .cloned()
            .unwrap_or(Value::Null)
    }

    pub fn intents(&self) -> Vec<Value> {
        self.state.lock().intents.values().cloned().collect()
    }

    /// The customer completed 3-D Secure: the PaymentIntent is authorized.
    pub fn authenticate(&self, id: &str) {
        let mut state = self.state.lock();
        let intent = state.intents.get_mut(id).expect("intent");
        intent["status"] = json!("requires_capture");
        intent["next_action"] = Value::Null;
        intent["amount_capturable"] = intent["amount"].clone();
    }

    /// The customer failed 3-D Secure.
    pub fn fail_authentication(&self, id: &str) {
        let mut state = self.state.lock();
        let intent = state.intents.get_mut(id).expect("intent");
        intent["status"] = json!("requires_payment_method");
        intent["next_action"] = Value::Null;
        intent["last_payment_error"] = card_error("authentication_required", None)["error"].clone();
    }

    /// Money paid back from the dashboard (not through surge).
    pub fn refund_in_dashboard(&self, intent: &str, amount: i64) {
        *self
            .state
            .lock()
            .refunded
            .entry(intent.to_owned())
            .or_default() += amount;
    }

    pub fn refunded(&self, intent: &str) -> i64 {
        self.state.lock().refunded.get(intent).copied().unwrap_or(0)
    }
}

async fn handle(req: HttpRequest, body: web::Bytes, fake: web::Data<FakeStripe>) -> HttpResponse {
    let method = req.method().to_string();
    let path = req.path().to_owned();
    let key = header(&req, "idempotency-key");
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let form: HashMap<String, String> = pairs.into_iter().collect();
    let mut logged = Logged {
        method: method.clone(),
        path: path.clone(),
        idempotency_key: key.clone(),
        form: form.clone(),
        executed: false,
    };
    if header(&req, "authorization") != Some(format!("Bearer {SECRET_KEY}")) {
        fake.state.lock().log.push(logged);
        return answer(
            401,
            error("invalid_request_error", None, "Invalid API Key provided"),
        );
    }
    let (status, body, delay, replayed) = {
        let mut state = fake.state.lock();
        let outcome = respond(
            &mut state,
            &method,
            &path,
            key.as_deref(),
            &form,
            &body,
            &mut logged,
        );
        state.log.push(logged);
        outcome
    };
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    let mut res = answer(status, body);
    if replayed {
        res.headers_mut().insert(
            actix_web::http::header::HeaderName::from_static("idempotent-replayed"),
            actix_web::http::header::HeaderValue::from_static("true"),
        );
    }
    res
}

type Outcome = (u16, Value, Option<Duration>, bool);

fn respond(
    state: &mut State,
    method: &str,
    path: &str,
    key: Option<&str>,
    form: &HashMap<String, String>,
    raw: &[u8],
    logged: &mut Logged,
) -> Outcome {
    if method == "GET" {
        logged.executed = true;
        let id = path.trim_start_matches("/v1/payment_intents/");
        return match state.intents.get(id) {
            Some(intent) => (200, intent.clone(), None, false),
            None => (
                404,
                error(
                    "invalid_request_error",
                    Some("resource_missing"),
                    "No such payment_intent",
                ),
                None,
                false,
            ),
        };
    }
    if let Some(status) = state.failures.pop_front() {
        let kind = if status == 429 {
            "rate_limit_error"
        } else {
            "api_error"
        };
        return (status, error(kind, None, "try again"), None, false);
    }
    let fingerprint = format!("{method} {path} {}", String::from_utf8_lossy(raw));
    if let Some(key) = key {
        if let Some((seen, status, body)) = state.answered.get(key) {
            if *seen != fingerprint {
                let e = error("idempotency_error", None, "Keys for idempotent requests can only be used with the same parameters they were first used with.");
                return (400, e, None, false);
            }
            return (*status, body.clone(), None, true);
        }
    }
    logged.executed = true;
    let (status, body) = execute(state, path, form);
    if let Some(key) = key {
        state
            .answered
            .insert(key.to_owned(), (fingerprint, status, body.clone()));
    }
    (status, body, state.late.pop_front(), false)
}

fn execute(state: &mut State, path: &str, form: &HashMap<String, String>) -> (u16, Value) {
    let parts: Vec<&str> = path.trim_start_matches("/v1/").split('/').collect();
    match parts.as_slice() {
        ["payment_intents"] => create_intent(state, form),
        ["payment_intents", id, verb] => match state.intents.get_mut(*id) {
            Some(intent) => act(intent, verb, form),
            None => (
                404,
                error(
                    "invalid_request_error",
                    Some("resource_missing"),
                    "No such payment_intent",
                ),
            ),
        },
        ["refunds"] => refund(state, form),
        _ => (
            404,
            error("invalid_request_error", None, "Unrecognized request URL"),
        ),
    }
}

fn create_intent(state: &mut State, form: &HashMap<String, String>) -> (u16, Value) {
    let amount: Option<i64> = form.get("amount").and_then(|a| a.parse().ok());
    let currency = form.get("currency").cloned().unwrap_or_default();
    let (Some(amount), true) = (
        amount,
        currency.len() == 3 && currency == currency.to_lowercase(),
    ) else {
        return (
            400,
            error(
                "invalid_request_error",
                Some("parameter_invalid"),
                "amount and a lowercase currency are required",
            ),
        );
    };
    if form.get("confirm").map(String::as_str) != Some("true")
        || form.get("capture_method").map(String::as_str) != Some("manual")
    {
        return (
            400,
            error(
                "invalid_request_error",
                None,
                "surge confirms with manual capture",
            ),
        );
    }
    state.next_id += 1;
    let id = format!("pi_fake{}", state.next_id);
    let pm = form.get("payment_method").cloned().unwrap_or_default();
    let metadata: HashMap<String, String> = form
        .iter()
        .filter_map(|(k, v)| {
            Some((
                k.strip_prefix("metadata[")?.strip_suffix(']')?.to_owned(),
                v.clone(),
            ))
        })
        .collect();
    let mut intent = json!({
        "id": id, "object": "payment_intent", "amount": amount, "currency": currency,
        "payment_method": pm, "capture_method": "manual", "metadata": metadata,
        "client_secret": format!("{id}_secret_fake"), "amount_received": 0,
        "status": "requires_capture", "next_action": null, "last_payment_error": null,
    });
    let declined = match pm.as_str() {
        "pm_card_visa" | "pm_card_mastercard" => None,
        "pm_card_visa_chargeDeclined" => Some("generic_decline"),
        "pm_card_visa_chargeDeclinedInsufficientFunds" => Some("insufficient_funds"),
        "pm_card_threeDSecure2Required" => {
            intent["status"] = json!("requires_action");
            intent["next_action"] = json!({"type": "use_stripe_sdk",
                "use_stripe_sdk": {"type": "three_d_secure_redirect", "stripe_js": "https://hooks.stripe.com/3d_secure_2/fake"}});
            None
        }
        _ => {
            return (
                400,
                error(
                    "invalid_request_error",
                    Some("resource_missing"),
                    "No such PaymentMethod",
                ),
            )
        }
    };
    if let Some(decline_code) = declined {
        let mut e = card_error("card_declined", Some(decline_code));
        intent["status"] = json!("requires_payment_method");
        intent["last_payment_error"] = e["error"].clone();
        e["error"]["payment_intent"] = intent.clone();
        state.intents.insert(id, intent);
        return (402, e);
    }
    state.intents.insert(id, intent.clone());
    (200, intent)
}

fn act(intent: &mut Value, verb: &str, form: &HashMap<String, String>) -> (u16, Value) {
    let status = intent["status"].as_str().unwrap_or("").to_owned();
    let next = match (verb, status.as_str()) {
        ("capture", "requires_capture") => "succeeded",
        ("cancel", "requires_capture" | "requires_action" | "requires_payment_method") => {
            "canceled"
        }
        _ => {
            let mut e = error(
                "invalid_request_error",
                Some("payment_intent_unexpected_state"),
                &format!(
                    "This PaymentIntent could not be {verb}d because it has a status of {status}."
                ),
            );
            e["error"]["payment_intent"] = intent.clone();
            return (400, e);
        }
    };
    if next == "succeeded" {
        let amount = form
            .get("amount_to_capture")
            .and_then(|a| a.parse::<i64>().ok());
        intent["amount_received"] = json!(amount.unwrap_or(intent["amount"].as_i64().unwrap_or(0)));
    }
    intent["status"] = json!(next);
    (200, intent.clone())
}

fn refund(state: &mut State, form: &HashMap<String, String>) -> (u16, Value) {
    let pi = form.get("payment_intent").cloned().unwrap_or_default();
    let amount: i64 = form.get("amount").and_then(|a| a.parse().ok()).unwrap_or(0);
    let Some(intent) = state.intents.get(&pi) else {
        return (
            404,
            error(
                "invalid_request_error",
                Some("resource_missing"),
                "No such payment_intent",
            ),
        );
    };
    let received = intent["amount_received"].as_i64().unwrap_or(0);
    let refunded = state.refunded.get(&pi).copied().unwrap_or(0);
    if intent["status"] != "succeeded" || amount <= 0 || refunded + amount > received {
        return (
            400,
            error(
                "invalid_request_error",
                Some("charge_already_refunded"),
                "refund not possible",
            ),
        );
    }
    state.next_id += 1;
    *state.refunded.entry(pi.clone()).or_default() += amount;
    let id = format!("re_fake{}", state.next_id);
    (
        200,
        json!({"id": id, "object": "refund", "amount": amount, "payment_intent": pi, "status": "succeeded"}),
    )
}

fn card_error(code: &str, decline_code: Option<&str>) -> Value {
    json!({"error": {"type": "card_error", "code": code, "decline_code": decline_code,
        "message": "Your card was declined."}})
}

fn error(kind: &str, code: Option<&str>, message: &str) -> Value {
    json!({"error": {"type": kind, "code": code, "message": message}})
}

fn answer(status: u16, body: Value) -> HttpResponse {
    let status = actix_web::http::StatusCode::from_u16(status)
        .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR);
    HttpResponse::build(status).json(body)
}

fn header(req: &HttpRequest, name: &str) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}
