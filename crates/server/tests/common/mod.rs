//! What the HTTP tests share: a client of the running server that signs in, sends and reads
//! JSON, and uploads files, and a CSV writer for the files.

#![allow(dead_code, reason = "each test file uses its own share of the helpers")]

use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

/// A fresh hub on `backend` (its clock at 1 November 2026, 09:00 UTC, a new master key) with
/// `users`, served on a free port without the background worker; with a client of it.
pub async fn served_hub(
    backend: &sangam_testkit::TestBackend,
    users: &[(&str, sangam_store::Role, Option<&str>)],
) -> (sangam_hub::Hub, sangam_server::RunningServer, Api) {
    let (hub, server, api, _) = served_hub_with_clock(backend, users).await;
    (hub, server, api)
}

/// [`served_hub`], with the hub's clock, for tests that move time on.
pub async fn served_hub_with_clock(
    backend: &sangam_testkit::TestBackend,
    users: &[(&str, sangam_store::Role, Option<&str>)],
) -> (
    sangam_hub::Hub,
    sangam_server::RunningServer,
    Api,
    std::sync::Arc<sangam_hub::clock::ManualClock>,
) {
    use chrono::TimeZone;
    let clock = std::sync::Arc::new(sangam_hub::clock::ManualClock::new(
        chrono::Utc
            .with_ymd_and_hms(2026, 11, 1, 9, 0, 0)
            .single()
            .expect("a valid time"),
    ));
    let key = sangam_vault::MasterKey::generate();
    let hub = sangam_hub::bootstrap::open_hub(&backend.location, &key, clock.clone())
        .await
        .unwrap();
    save_users(&hub, users).await;
    let server = sangam_server::start(hub.clone(), "127.0.0.1:0".parse().unwrap(), false)
        .await
        .unwrap();
    let api = Api::new(server.addr);
    (hub, server, api, clock)
}

/// Saves each of `users` (name, role, organisation) on `hub`, with [`PASSWORD`].
pub async fn save_users(hub: &sangam_hub::Hub, users: &[(&str, sangam_store::Role, Option<&str>)]) {
    for (name, role, organisation) in users {
        hub.save_user(name, PASSWORD, *role, *organisation, "test")
            .await
            .unwrap();
    }
}

/// Every test user's password.
pub const PASSWORD: &str = "correct horse battery staple";

/// The server under test, as a client sees it.
pub struct Api {
    pub base: String,
    pub client: Client,
}

impl Api {
    pub fn new(addr: std::net::SocketAddr) -> Self {
        Api {
            base: format!("http://{addr}"),
            client: Client::new(),
        }
    }

    /// Signs `user` in with [`PASSWORD`] and returns the `authorization` header value.
    pub async fn sign_in(&self, user: &str) -> String {
        let r = self
            .client
            .post(format!("{}/v1/session", self.base))
            .json(&json!({"username": user, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        let token = r.json::<Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_owned();
        format!("Bearer {token}")
    }

    pub async fn get(&self, path: &str, auth: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base))
            .header("authorization", auth)
            .send()
            .await
            .unwrap()
    }

    /// The answer's JSON, which must come with `status`.
    pub async fn json(&self, r: reqwest::Response, status: StatusCode) -> Value {
        let got = r.status();
        let text = r.text().await.unwrap();
        assert_eq!(got, status, "{text}");
        serde_json::from_str(&text).unwrap()
    }

    pub async fn get_json(&self, path: &str, auth: &str, status: StatusCode) -> Value {
        self.json(self.get(path, auth).await, status).await
    }

    pub async fn post(&self, path: &str, body: String, auth: &str) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.base))
            .header("authorization", auth)
            .body(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn post_json(
        &self,
        path: &str,
        body: Value,
        auth: &str,
        status: StatusCode,
    ) -> Value {
        let r = self
            .client
            .post(format!("{}{path}", self.base))
            .header("authorization", auth)
            .json(&body)
            .send()
            .await
            .unwrap();
        self.json(r, status).await
    }

    /// Sends `body` as the raw file.
    pub async fn upload_raw(&self, query: &str, body: Vec<u8>, auth: &str) -> reqwest::Response {
        self.client
            .post(format!("{}/v1/uploads?{query}", self.base))
            .header("authorization", auth)
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// Sends `body` as the raw file and returns the answer, which must have `status`.
    pub async fn upload(
        &self,
        query: &str,
        body: Vec<u8>,
        auth: &str,
        status: StatusCode,
    ) -> Value {
        self.json(self.upload_raw(query, body, auth).await, status)
            .await
    }
}

/// A CSV file of `rows` under `header`.
pub fn to_csv(header: &[&str], rows: &[Vec<String>]) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(header).unwrap();
    for r in rows {
        w.write_record(r).unwrap();
    }
    w.into_inner().unwrap()
}
