//! The HTTP API driven over a real socket, on every backend: health, OpenAPI, metrics,
//! sign-in, the registry, changes with history, the audited reveal, and problem+json errors.
//! No response but the reveal ever carries a full ID number.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::sync::Arc;

use reqwest::{Client, StatusCode};
use sangam_hub::Hub;
use sangam_hub::bootstrap::open_hub;
use sangam_hub::clock::SystemClock;
use sangam_store::Role;
use sangam_synth::{Generator, GeneratorConfig};
use sangam_testkit::{TestBackend, backends};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple";
const SEED: u64 = 11;
const HOUSEHOLDS: u64 = 30;

struct Running {
    base: String,
    client: Client,
    server: sangam_server::RunningServer,
    generator: Generator,
    hub: Hub,
}

async fn start(backend: &TestBackend) -> Running {
    let key = sangam_vault::MasterKey::generate();
    let hub = open_hub(&backend.location, &key, Arc::new(SystemClock))
        .await
        .unwrap();
    hub.seed_demo(HOUSEHOLDS, SEED, |_| {}).await.unwrap();
    hub.save_user("admin", PASSWORD, Role::Admin, None, "test")
        .await
        .unwrap();
    hub.save_user(
        "officer",
        PASSWORD,
        Role::NodalOfficer,
        Some("civil-supplies"),
        "test",
    )
    .await
    .unwrap();
    let server = sangam_server::start(hub.clone(), "127.0.0.1:0".parse().unwrap(), false)
        .await
        .unwrap();
    let generator = Generator::new(GeneratorConfig {
        seed: SEED,
        households: HOUSEHOLDS,
        ..Default::default()
    });
    Running {
        base: format!("http://{}", server.addr),
        client: Client::new(),
        server,
        generator,
        hub,
    }
}

impl Running {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A GET as the signed-in user whose `Authorization` header value is `auth`.
    async fn get(&self, path: &str, auth: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .header("authorization", auth)
            .send()
            .await
            .unwrap()
    }

    async fn sign_in(&self, user: &str) -> String {
        let r = self
            .client
            .post(self.url("/v1/session"))
            .json(&json!({"username": user, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        r.json::<Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    fn all_id_numbers(&self) -> Vec<String> {
        self.generator
            .households()
            .flat_map(|h| h.members.into_iter().filter_map(|m| m.id_number))
            .collect()
    }
}

async fn problem(r: reqwest::Response, status: StatusCode) -> Value {
    assert_eq!(r.status(), status);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status"], status.as_u16());
    assert!(body["type"].as_str().unwrap().starts_with("https://"));
    body
}

fn assert_no_id_number(body: &str, numbers: &[String]) {
    if let Some(n) = sangam_testkit::find_any(body.as_bytes(), numbers) {
        panic!(
            "a full ID number (ending {}) appeared in a response",
            &n[8..]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_serves_the_registry_over_http() {
    for backend in backends("the_api_serves_the_registry_over_http").await {
        let app = start(&backend).await;
        let numbers = app.all_id_numbers();
        let c = &app.client;

        let health: Value = c
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(health["status"], "ok");
        let ready = c.get(app.url("/readyz")).send().await.unwrap();
        assert!(
            ready.headers().contains_key("x-request-id"),
            "every response carries a request id"
        );
        assert_eq!(
            ready.json::<Value>().await.unwrap()["backend"],
            backend.name
        );

        // Sign-in: a wrong password is a 401 that says nothing about which part was wrong.
        let r = c
            .post(app.url("/v1/session"))
            .json(&json!({"username": "admin", "password": "wrong-password-1"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["www-authenticate"], "Bearer");
        problem(r, StatusCode::UNAUTHORIZED).await;
        let token = app.sign_in("admin").await;
        let auth = format!("Bearer {token}");

        // A household by ration card, with its members; ID numbers only as reference keys.
        let expected = app.generator.household(3);
        let r = app
            .get(&format!("/v1/households/{}", expected.card_number), &auth)
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let text = r.text().await.unwrap();
        assert_no_id_number(&text, &numbers);
        let household: Value = serde_json::from_str(&text).unwrap();
        let members = household["members"].as_array().unwrap();
        assert_eq!(members.len(), expected.members.len());
        assert_eq!(household["village_code"], expected.village.village_code);
        let head = household["head_resident_id"]
            .as_str()
            .expect("the head is linked");
        assert!(
            members
                .iter()
                .any(|m| m["resident_id"] == head && m["relationship"] == "HEAD")
        );
        let with_id = expected
            .members
            .iter()
            .position(|m| m.id_number.is_some() && m.mobile.is_some())
            .expect("a member with ID and mobile");
        let member = members
            .iter()
            .find(|m| m["name"] == expected.members[with_id].name.as_str())
            .unwrap();
        let mobile = member["mobile"].as_str().unwrap();
        assert!(
            mobile.starts_with("XXXXXX") && mobile.len() == 10,
            "mobile masked: {mobile}"
        );
        let ref_key = member["id_ref_key"].as_str().unwrap().to_owned();
        let resident_id = member["resident_id"].as_str().unwrap().to_owned();

        // The same resident by id and by reference key.
        for path in [
            format!("/v1/residents/{resident_id}"),
            format!("/v1/residents/by-ref-key/{ref_key}"),
        ] {
            let r = app.get(&path, &auth).await;
            assert_eq!(r.status(), StatusCode::OK, "{path}");
            let body: Value = r.json().await.unwrap();
            assert_eq!(body["resident_id"], resident_id.as_str());
        }
        let r = app.get("/v1/residents/by-ref-key/not-a-key", &auth).await;
        let body = problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(body["errors"][0]["code"], "ref_key.format");
        let r = app.get("/v1/households/ZZ0000000000", &auth).await;
        problem(r, StatusCode::NOT_FOUND).await;

        // A change is versioned and every changed field lands in the history, masked.
        let r = c
            .patch(app.url(&format!("/v1/residents/{resident_id}")))
            .header("authorization", &auth)
            .json(&json!({"life_status": "deceased", "mobile": "9123456780", "reason": "death certificate 42"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let text = r.text().await.unwrap();
        assert!(
            !text.contains("9123456780"),
            "the new mobile comes back masked"
        );
        let updated: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            (updated["life_status"].as_str(), updated["version"].as_i64()),
            (Some("deceased"), Some(2))
        );
        let history: Value = app
            .get(&format!("/v1/residents/{resident_id}/history"), &auth)
            .await
            .json()
            .await
            .unwrap();
        let fields: Vec<&str> = history
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["field"].as_str().unwrap())
            .collect();
        assert_eq!(fields, ["mobile", "life_status"]);
        assert_eq!(history[1]["old_value"], "alive");
        assert_eq!(history[1]["actor"], "admin");
        assert_eq!(history[1]["reason"], "death certificate 42");
        assert_eq!(history[0]["new_value"], "XXXXXX6780");

        // Bad input: a clear problem naming the field and rule, never echoing the value.
        let r = c
            .patch(app.url(&format!("/v1/residents/{resident_id}")))
            .header("authorization", &auth)
            .json(&json!({"dob": "31-02-1980"}))
            .send()
            .await
            .unwrap();
        let body = problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(
            (
                body["errors"][0]["field"].as_str(),
                body["errors"][0]["code"].as_str()
            ),
            (Some("dob"), Some("dob.invalid_date"))
        );
        let r = c
            .patch(app.url(&format!("/v1/residents/{resident_id}")))
            .header("authorization", &auth)
            .json(&json!({"mobile": "12345"}))
            .send()
            .await
            .unwrap();
        let body = problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert!(
            !body.to_string().contains("12345"),
            "the rejected value is not echoed"
        );
        let r = c
            .patch(app.url(&format!("/v1/residents/{resident_id}")))
            .header("authorization", &auth)
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap();
        problem(r, StatusCode::BAD_REQUEST).await;

        // The reveal: purpose required, number returned, audit entry written.
        let r = c
            .post(app.url("/v1/vault/reveal"))
            .header("authorization", &auth)
            .json(&json!({"ref_key": ref_key, "purpose": ""}))
            .send()
            .await
            .unwrap();
        let body = problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(body["errors"][0]["code"], "purpose.format");
        let r = c
            .post(app.url("/v1/vault/reveal"))
            .header("authorization", &auth)
            .json(&json!({"ref_key": ref_key, "purpose": "ekyc.verification"}))
            .send()
            .await
            .unwrap();
        let revealed: Value = r.json().await.unwrap();
        assert_eq!(
            revealed["id_number"].as_str(),
            expected.members[with_id].id_number.as_deref()
        );
        let audit: Value = app
            .get("/v1/audit?limit=1000", &auth)
            .await
            .json()
            .await
            .unwrap();
        let audit_text = audit.to_string();
        assert_no_id_number(&audit_text, &numbers);
        assert!(
            audit
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["action"] == "vault.id_number_revealed" && e["actor"] == "admin")
        );
        let verify: Value = app
            .get("/v1/audit/verify", &auth)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(verify["intact"], true, "{verify}");

        // Roles: a nodal officer is not an administrator.
        let officer = app.sign_in("officer").await;
        let r = c
            .get(app.url("/v1/vault/status"))
            .header("authorization", format!("Bearer {officer}"))
            .send()
            .await
            .unwrap();
        problem(r, StatusCode::FORBIDDEN).await;

        // Unknown routes and methods are problems too.
        problem(
            c.get(app.url("/v1/nothing-here")).send().await.unwrap(),
            StatusCode::NOT_FOUND,
        )
        .await;
        problem(
            c.put(app.url("/healthz")).send().await.unwrap(),
            StatusCode::METHOD_NOT_ALLOWED,
        )
        .await;

        // Metrics count requests by route template, never by record.
        let metrics = c
            .get(app.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(metrics.contains("sangam_http_requests_total"), "{metrics}");
        assert!(metrics.contains("route=\"/v1/households/{card_number}\""));
        assert!(
            !metrics.contains(expected.card_number.as_str()),
            "no record identifiers in labels"
        );

        // Signing out ends the session at once.
        let r = c
            .delete(app.url("/v1/session"))
            .header("authorization", &auth)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        let r = app.get("/v1/registry/counts", &auth).await;
        problem(r, StatusCode::UNAUTHORIZED).await;

        app.server.shutdown().await.unwrap();
        drop(app.hub);
        backend.cleanup().await;
    }
}

/// Fills path parameters with harmless values.
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|seg| if seg.starts_with('{') { "x1234" } else { seg })
        .collect::<Vec<_>>()
        .join("/")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_is_3_1_and_every_v1_operation_requires_credentials() {
    let backend = sangam_testkit::sqlite();
    let app = start(&backend).await;
    let doc: Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.contains_key("/v1/households/{card_number}"));
    let mut checked = 0;
    for (path, item) in paths {
        if !path.starts_with("/v1/") {
            continue;
        }
        for (method, _) in item.as_object().unwrap() {
            if path == "/v1/session" && method == "post" {
                continue; // signing in is how credentials are obtained
            }
            let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let r = app
                .client
                .request(m, app.url(&concrete(path)))
                .json(&json!({}))
                .send()
                .await
                .unwrap();
            assert_eq!(
                r.status(),
                StatusCode::UNAUTHORIZED,
                "{method} {path} without credentials"
            );
            checked += 1;
        }
    }
    assert!(checked >= 12, "checked {checked} operations");
    app.server.shutdown().await.unwrap();
}

struct NoRejections(u64);

impl sangam_hub::uploads::RejectionSink for NoRejections {
    fn reject(&mut self, _row: sangam_ingest::report::RejectedRow) -> sangam_hub::HubResult<()> {
        self.0 += 1;
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_are_listed_with_their_counts() {
    for backend in backends("uploads_are_listed_with_their_counts").await {
        let app = start(&backend).await;
        // A small base-registry file of households the demo seed does not hold.
        let generator = Generator::new(GeneratorConfig {
            seed: 99,
            households: 12,
            ..Default::default()
        });
        let mut csv = Vec::new();
        let rows = sangam_synth::write_base_registry_csv(&generator, &mut csv).unwrap();
        let source = sangam_ingest::read::csv_source(std::io::Cursor::new(csv)).unwrap();
        let request = sangam_hub::uploads::UploadRequest {
            dataset: "base".into(),
            mode: sangam_hub::uploads::UploadMode::Full,
            organisation: Some("civil-supplies".into()),
            uploaded_by: "officer".into(),
            file_name: "cards.csv".into(),
            file_sha256: "00".repeat(32),
            idempotency_key: "test".into(),
            corrects: None,
            confirm_removals: false,
        };
        let mut sink = NoRejections(0);
        let outcome = app
            .hub
            .run_upload(request, source, &mut sink, &|_| {})
            .await
            .unwrap();
        let id = outcome.upload().id.clone();

        let auth = format!("Bearer {}", app.sign_in("admin").await);
        let list: Value = app
            .get("/v1/uploads?organisation=civil-supplies", &auth)
            .await
            .json()
            .await
            .unwrap();
        let list = list.as_array().unwrap();
        assert_eq!(list.len(), 1, "{list:?}");
        assert_eq!(list[0]["id"], id.as_str());
        assert_eq!(list[0]["status"], "committed");
        assert_eq!(list[0]["counts"]["rows"].as_u64(), Some(rows));
        assert_eq!(list[0]["counts"]["accepted"].as_u64(), Some(rows - sink.0));
        let other: Value = app
            .get("/v1/uploads?organisation=health", &auth)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(other.as_array().unwrap().len(), 0);

        let one: Value = app
            .get(&format!("/v1/uploads/{id}"), &auth)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(one["file_name"], "cards.csv");
        assert_eq!(one["dataset"], "base");
        let r = app.get("/v1/uploads/no-such-upload", &auth).await;
        problem(r, StatusCode::NOT_FOUND).await;
        let r = app.get("/v1/uploads?limit=0", &auth).await;
        let body = problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(body["errors"][0]["code"], "limit.range");

        app.server.shutdown().await.unwrap();
        drop(app.hub);
        backend.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verification_answers_yes_or_no_and_never_returns_data() {
    for backend in backends("verification_answers_yes_or_no_and_never_returns_data").await {
        let app = start(&backend).await;
        let officer = format!("Bearer {}", app.sign_in("officer").await);
        // A resident with an ID number and a full date of birth.
        let mut found = None;
        for household in app.generator.households() {
            for member in household.members {
                let Some(id) = member.id_number else { continue };
                let id = sangam_domain::IdNumber::parse(&id).unwrap();
                let resident = app.hub.resident_by_id_number(&id).await.unwrap();
                if let sangam_domain::DateOfBirth::Full(date) = resident.dob {
                    found = Some((resident, date));
                    break;
                }
            }
            if found.is_some() {
                break;
            }
        }
        let (resident, date) = found.expect("a resident with a full date of birth");
        let ref_key = resident.id_ref_key.as_ref().unwrap().to_string();
        let name = resident.name.as_str().to_owned();
        // The same name written another way: upper case, tokens reversed, a title in front.
        let mut tokens: Vec<&str> = name.split_whitespace().collect();
        tokens.reverse();
        let respelt = format!("Shri {}", tokens.join(" ").to_uppercase());
        let gender = resident.gender.code();
        let other_gender = if gender == "F" { "M" } else { "F" };
        let dob = date.format("%d/%m/%Y").to_string();

        let verify = |body: Value| {
            let c = app.client.clone();
            let url = app.url("/v1/verify");
            let auth = officer.clone();
            async move {
                c.post(url)
                    .header("authorization", auth)
                    .json(&body)
                    .send()
                    .await
                    .unwrap()
            }
        };
        let answer = |name: &str, dob: &str, gender: &str, overall: &str| json!({"name": name, "dob": dob, "gender": gender, "overall": overall});

        let r = verify(json!({"ref_key": ref_key, "name": respelt, "dob": dob, "gender": gender}))
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let text = r.text().await.unwrap();
        assert_eq!(
            serde_json::from_str::<Value>(&text).unwrap(),
            answer("yes", "yes", "yes", "yes"),
            "claims {respelt} / {dob} / {gender}"
        );
        assert!(
            !text.contains(&name) && !text.contains(&date.to_string()),
            "no data: {text}"
        );

        let r = verify(json!({"ref_key": ref_key, "name": "Zzyzx Qwerty", "gender": other_gender}))
            .await;
        assert_eq!(
            r.json::<Value>().await.unwrap(),
            answer("no", "not_given", "no", "no")
        );
        let next_day = (date + chrono::Days::new(1)).format("%Y-%m-%d").to_string();
        let r = verify(json!({"ref_key": ref_key, "dob": next_day})).await;
        assert_eq!(
            r.json::<Value>().await.unwrap(),
            answer("not_given", "no", "not_given", "no"),
            "a day off is another date"
        );
        let year = chrono::Datelike::year(&date).to_string();
        let r = verify(json!({"ref_key": ref_key, "dob": year})).await;
        assert_eq!(
            r.json::<Value>().await.unwrap()["dob"],
            "yes",
            "a year claimed"
        );

        let unknown = sangam_domain::RefKey::generate().to_string();
        let r = verify(json!({"ref_key": unknown, "name": name})).await;
        problem(r, StatusCode::NOT_FOUND).await;
        let r = verify(json!({"ref_key": ref_key})).await;
        let body = problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(body["errors"][0]["code"], "verify.nothing_claimed");
        let r = verify(json!({"ref_key": ref_key, "dob": "31-31-2000"})).await;
        let body = problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(body["errors"][0]["field"], "dob");
        let r = app
            .client
            .post(app.url("/v1/verify"))
            .json(&json!({"ref_key": ref_key, "name": name}))
            .send()
            .await
            .unwrap();
        problem(r, StatusCode::UNAUTHORIZED).await;
        app.server.shutdown().await.unwrap();
    }
}
