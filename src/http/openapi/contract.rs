//! What the handlers' annotations leave out because it is true of every
//! route alike, written once: problems are `application/problem+json`;
//! the statuses the edges answer before or around a handler (malformed
//! requests, wrong content type, body too large, missing admin token,
//! write admission, the store at capacity, `Idempotency-Key` misuse) are
//! added to each operation according to what it takes; parameters get
//! their real rules.
//!
//! It works on the document as JSON, after utoipa has built it, because
//! utoipa's types cannot say everything the document must (a response
//! header's `required`, for one).

use super::rules::{self, Limits};
use serde_json::{json, Map, Value};

const PROBLEM_JSON: &str = "application/problem+json";
const PROBLEM_REF: &str = "#/components/schemas/Problem";
const IDEMPOTENCY_KEY: &str = "Idempotency-Key";
const METHODS: [&str; 5] = ["get", "put", "post", "patch", "delete"];

/// What the edges of the server make of one operation.
struct Facts {
    admin: bool,
    write: bool,
    storefront: bool,
    path_params: bool,
    query_params: bool,
    body: bool,
    /// A required body is read by the JSON extractor, which insists on
    /// `Content-Type: application/json`; optional bodies are read as bytes
    /// (an empty one means "the defaults").
    json_body: bool,
    /// `Some(required)` when the operation takes an `Idempotency-Key`.
    idempotency_key: Option<bool>,
}

impl Facts {
    fn of(path: &str, method: &str, op: &Value) -> Self {
        let params = op["parameters"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let has = |place: &str| params.iter().any(|p| p["in"] == place);
        let key = params
            .iter()
            .find(|p| p["in"] == "header" && p["name"] == IDEMPOTENCY_KEY)
            .map(|p| p["required"] == true);
        let body = op.get("requestBody").is_some();
        Self {
            admin: op["security"]
                .as_array()
                .is_some_and(|s| s.iter().any(|r| r.get("admin_token").is_some())),
            write: method != "get",
            storefront: path.starts_with("/v1/") && !path.starts_with("/v1/admin/"),
            path_params: has("path"),
            query_params: has("query"),
            body,
            json_body: body && op["requestBody"]["required"] == true,
            idempotency_key: key,
        }
    }
}

pub fn apply(doc: &mut Value, limits: &Limits) {
    apply_body_rules(doc, limits);
    let query_rules = rules::query_rules(limits);
    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        for method in METHODS {
            let Some(op) = item.get_mut(method) else {
                continue;
            };
            let facts = Facts::of(path, method, op);
            parameters(op, path, &query_rules);
            edge_statuses(op, &facts, limits);
            responses(op, &facts);
        }
    }
}

/// Parameters: never JSON `null` (a value in a URL or header is text; an
/// absent one is simply not sent), the query rules, the key's rule.
fn parameters(op: &mut Value, path: &str, query_rules: &[(&str, &str, Value)]) {
    let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) else {
        return;
    };
    for p in params {
        let name = p["name"].as_str().unwrap_or_default().to_owned();
        let place = p["in"].as_str().unwrap_or_default().to_owned();
        if let Some(types) = p["schema"]["type"].as_array() {
            let kept: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
            p["schema"]["type"] = match kept.as_slice() {
                [one] => one.clone(),
                _ => Value::Array(kept),
            };
        }
        if place == "header" && name == IDEMPOTENCY_KEY {
            p["schema"] = rules::idempotency_key();
        }
        for (_, _, rule) in query_rules
            .iter()
            .filter(|(p_path, p_name, _)| place == "query" && *p_path == path && *p_name == name)
        {
            merge(&mut p["schema"], rule);
        }
    }
}

fn edge_statuses(op: &mut Value, f: &Facts, limits: &Limits) {
    let mut bad_request = Vec::new();
    if f.json_body || f.body {
        bad_request.push("a body that is not JSON (`malformed-json`) or does not fit its schema (`invalid-body`, `invalid-request` with per-field `errors`)");
    }
    if f.path_params {
        bad_request.push("a path segment that is not valid (`invalid-path`)");
    }
    if f.query_params {
        bad_request.push("a query parameter that is unknown or not valid (`invalid-query`, `invalid-request`, `invalid-cursor`)");
    }
    match f.idempotency_key {
        Some(true) => bad_request.push("no `Idempotency-Key` (`idempotency-key-required`) or a malformed one (`invalid-idempotency-key`)"),
        Some(false) => bad_request.push("a malformed `Idempotency-Key` (`invalid-idempotency-key`)"),
        None => {}
    }
    if !bad_request.is_empty() {
        let why = format!(
            "The request does not fit this document: {}.",
            bad_request.join("; ")
        );
        add_problem(op, "400", &why);
    }
    if f.admin {
        add_problem(op, "401", "No admin token, or a wrong one (`unauthorized`): send `Authorization: Bearer <admin token>`.");
    }
    if f.path_params {
        add_problem(op, "404", "Nothing has this id (`*-not-found`).");
    }
    if f.idempotency_key.is_some() {
        add_problem(op, "409", "`idempotency-key-in-use`: a request with this key is being served; retry after `retry_after_secs`.");
        add_problem(
            op,
            "422",
            "`idempotency-key-reused`: the key was sent before with another request.",
        );
    }
    if f.body {
        let why = format!(
            "`body-too-large`: the body is over the server's limit of {} bytes.",
            limits.body_limit_bytes
        );
        add_problem(op, "413", &why);
    }
    if f.json_body {
        add_problem(
            op,
            "415",
            "`unsupported-media-type`: send the body with `Content-Type: application/json`.",
        );
    }
    if f.write {
        let why = if f.storefront {
            "The server is taking all the writes it can, or its store is at capacity or shutting down (`overloaded`, `busy`, `shutting-down`, …): nothing was done; retry after `Retry-After`."
        } else {
            "The store is at capacity or shutting down (`overloaded`, `busy`, `shutting-down`, …): nothing was done; retry after `Retry-After`."
        };
        add_problem(op, "503", why);
    }
}

/// Adds a problem answer, or, when the handler documents that status
/// already, adds `why` to its description.
fn add_problem(op: &mut Value, status: &str, why: &str) {
    let responses = &mut op["responses"];
    match responses.get_mut(status) {
        Some(existing) => {
            let text = existing["description"].as_str().unwrap_or_default();
            existing["description"] = Value::String(if text.is_empty() {
                why.to_owned()
            } else {
                format!("{}. {why}", text.trim_end_matches('.'))
            });
            let content = &mut existing["content"];
            if content.as_object().is_none_or(Map::is_empty) {
                *content = json!({PROBLEM_JSON: {"schema": {"$ref": PROBLEM_REF}}});
            }
        }
        None => {
            responses[status] = json!({
                "description": why,
                "content": {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_REF}}},
            });
        }
    }
}

/// Every answer: a description, problems as `application/problem+json`,
/// and the headers the server sends with it.
fn responses(op: &mut Value, f: &Facts) {
    let Some(responses) = op["responses"].as_object_mut() else {
        return;
    };
    for (status, res) in responses.iter_mut() {
        if res["description"].as_str().is_none_or(str::is_empty) {
            res["description"] = Value::String(reason(status).to_owned());
        }
        if let Some(content) = res.get_mut("content").and_then(Value::as_object_mut) {
            let problem = content
                .get("application/json")
                .is_some_and(|c| c["schema"]["$ref"] == PROBLEM_REF);
            if problem {
                if let Some(c) = content.remove("application/json") {
                    content.insert(PROBLEM_JSON.to_owned(), c);
                }
            }
        }
        let mut headers = Map::new();
        match status.as_str() {
            "401" => {
                headers.insert(
                    "WWW-Authenticate".into(),
                    json!({
                        "required": true,
                        "description": "`Bearer realm=\"surge-admin\"`",
                        "schema": {"type": "string"},
                    }),
                );
            }
            "503" => {
                headers.insert(
                    "Retry-After".into(),
                    json!({
                        "required": true,
                        "description": "seconds to wait before retrying",
                        "schema": {"type": "integer", "minimum": 1},
                    }),
                );
            }
            s if s.starts_with('2') && f.idempotency_key.is_some() => {
                headers.insert("Idempotent-Replayed".into(), json!({
                    "description": "`true` when this is the stored answer to an earlier request with the same key",
                    "schema": {"type": "string", "enum": ["true"]},
                }));
            }
            _ => {}
        }
        if !headers.is_empty() {
            let own = &mut res["headers"];
            if !own.is_object() {
                *own = Value::Object(Map::new());
            }
            if let Some(own) = own.as_object_mut() {
                own.extend(headers);
            }
        }
    }
}

fn reason(status: &str) -> &'static str {
    status
        .parse::<u16>()
        .ok()
        .and_then(|s| actix_web::http::StatusCode::from_u16(s).ok())
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Answer")
}

/// Request body rules, merged into the body types' schemas.
fn apply_body_rules(doc: &mut Value, limits: &Limits) {
    for (schema, property, rule) in rules::body_rules(limits) {
        let target = &mut doc["components"]["schemas"][schema]["properties"][property];
        if target.is_object() {
            merge(target, &rule);
        }
    }
    if !limits.customer_tokens {
        // Without tokens the body names the buyer: it must.
        for schema in ["PurchaseBody", "JoinBody"] {
            require(&mut doc["components"]["schemas"][schema], "customer_id");
        }
    }
}

/// Makes `property` of an object schema required and not nullable.
fn require(schema: &mut Value, property: &str) {
    let target = &mut schema["properties"][property];
    if let Some(types) = target["type"].as_array() {
        let kept: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
        target["type"] = match kept.as_slice() {
            [one] => one.clone(),
            _ => Value::Array(kept),
        };
    }
    match schema["required"].as_array_mut() {
        Some(required) if !required.iter().any(|r| r == property) => required.push(json!(property)),
        Some(_) => {}
        None => schema["required"] = json!([property]),
    }
}

/// Puts `rule`'s keywords into `schema`, keeping `schema` nullable if it
/// was (`"type": [.., "null"]`): a rule says what a value must be, not
/// whether it may be left out.
fn merge(schema: &mut Value, rule: &Value) {
    let nullable = schema["type"]
        .as_array()
        .is_some_and(|t| t.iter().any(|t| t == "null"));
    let Some(rule) = rule.as_object() else {
        return;
    };
    for (key, value) in rule {
        let value = match key.as_str() {
            "type" if nullable => json!([value, "null"]),
            "enum" if nullable => {
                let mut values = value.as_array().cloned().unwrap_or_default();
                values.push(Value::Null);
                Value::Array(values)
            }
            // The rule's description says more than the type's own.
            "description" => match schema["description"].as_str() {
                Some(own) => {
                    Value::String(format!("{own} ({})", value.as_str().unwrap_or_default()))
                }
                None => value.clone(),
            },
            _ => value.clone(),
        };
        schema[key] = value;
    }
}
