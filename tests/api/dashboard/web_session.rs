//! A dashboard user over plain HTTP: no redirects followed, cookies kept by
//! hand, forms posted as a browser posts them.

use crate::helpers::TestApp;
use reqwest::{Client, Response};

/// A client that shows redirects instead of following them.
pub fn client() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// Percent-encodes a form value.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub fn form_body(fields: &[(&str, &str)]) -> String {
    let pairs: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect();
    pairs.join("&")
}

/// The `Set-Cookie` headers of a response.
pub fn set_cookies(res: &Response) -> Vec<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_owned))
        .collect()
}

/// The `name=value` part of the `Set-Cookie` for `name`.
pub fn cookie_pair(set_cookies: &[String], name: &str) -> Option<String> {
    set_cookies
        .iter()
        .find(|c| c.starts_with(&format!("{name}=")))
        .and_then(|c| c.split(';').next())
        .map(str::to_owned)
}

/// The value of the first hidden `name` input in `html`.
pub fn hidden(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_owned())
}

pub fn location(res: &Response) -> String {
    res.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// A signed-in dashboard session.
#[derive(Debug)]
pub struct WebSession {
    pub client: Client,
    pub base: String,
    /// `surge_admin_session=…`
    pub cookie: String,
    /// The session's full `Set-Cookie`, to check its attributes.
    pub set_cookie: String,
    pub csrf: String,
}

impl WebSession {
    /// Signs in with `token` the way the sign-in form does.
    pub async fn sign_in(app: &TestApp, token: &str) -> Result<WebSession, Response> {
        let client = client();
        let form = client
            .get(app.url("/admin/sign-in"))
            .send()
            .await
            .expect("sign-in form");
        assert_eq!(form.status(), 200);
        let nonce = cookie_pair(&set_cookies(&form), "surge_admin_sign_in").expect("nonce cookie");
        let html = form.text().await.expect("html");
        let csrf = hidden(&html, "csrf").expect("sign-in csrf");
        let res = client
            .post(app.url("/admin/sign-in"))
            .header("cookie", nonce)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form_body(&[
                ("csrf", &csrf),
                ("token", token),
                ("next", "/admin"),
            ]))
            .send()
            .await
            .expect("sign in");
        if res.status() != 303 {
            return Err(res);
        }
        let cookies = set_cookies(&res);
        let set_cookie = cookies
            .iter()
            .find(|c| c.starts_with("surge_admin_session="))
            .cloned()
            .expect("session cookie");
        let cookie = cookie_pair(&cookies, "surge_admin_session").expect("session pair");
        let mut session = WebSession {
            client,
            base: app.address.clone(),
            cookie,
            set_cookie,
            csrf: String::new(),
        };
        let overview = session.get("/admin").await;
        assert_eq!(overview.status(), 200);
        session.csrf = hidden(&overview.text().await.expect("html"), "csrf").expect("csrf");
        Ok(session)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client
            .get(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .send()
            .await
            .expect("get")
    }

    /// Posts a form with exactly `fields` (add the CSRF token yourself).
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Response {
        self.client
            .post(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form_body(fields))
            .send()
            .await
            .expect("post")
    }
}
