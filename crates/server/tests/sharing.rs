//! Sharing with consuming applications over HTTP, on both backends: onboarding from
//! registration to live, the data APIs within the agreement and no further, the
//! authorisation matrix, rate limits, the access log, scraping and decoys, expiry, renewal
//! and termination.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code")]

mod common;

use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use reqwest::StatusCode;
use sangam_hub::Hub;
use sangam_hub::bootstrap::open_hub;
use sangam_hub::clock::ManualClock;
use sangam_store::Role;
use sangam_testkit::backends;
use serde_json::{Value, json};

use common::{Api, PASSWORD};

const PENSION: &str = "pension-eligibility";

fn organisation(id: &str, name: &str) -> Value {
    json!({
        "id": id, "name": name, "address": "Secretariat", "contact_person": "Nodal Officer",
        "designation": "Deputy Director", "email": "nodal@example.gov.in", "mobile": "9876543210",
        "city": "Puducherry", "state": "Puducherry", "pin_code": "605001", "category": "government"
    })
}

fn submission(name: &str, ips: &[&str]) -> Value {
    json!({
        "application": {
            "name": name, "description": "checks applicants", "contact_person": "Officer",
            "email": "officer@example.gov.in", "access_required_for": "eligibility checks",
            "public_ips": ips
        },
        "connectivity_request": {
            "head_of_department": "Director", "head_employee_id": "E-1",
            "nodal_officer": "Officer", "nodal_officer_contact": "officer@example.gov.in",
            "project_name": name, "project_scope": "pensions",
            "software_frameworks": "Django", "database_used": "PostgreSQL",
            "launch_date": "2026-12-01", "last_security_audit": "2026-10-01",
            "requested": [{"item": "name", "purpose": PENSION}],
            "client_public_ips": ips
        }
    })
}

fn terms(scopes: &[&str], purpose: &str, fields: &[&str], limits: Value, daily: u64) -> Value {
    json!({
        "scopes": scopes,
        "purposes": [{"code": purpose, "description": "why", "fields": fields}],
        "limits": limits,
        "approved_daily_records": daily
    })
}

fn generous() -> Value {
    json!({"per_second": 10000, "burst": 10000, "daily": 1000000, "monthly": 10000000})
}

struct Onboarded {
    id: String,
    client_id: String,
    secret: String,
    secret_id: String,
}

/// Registers, evaluates, approves, sandboxes and takes live an application of `org`.
async fn onboard(
    api: &Api,
    admin: &str,
    officer: &str,
    name: &str,
    ips: &[&str],
    terms: Value,
) -> Onboarded {
    let app = api
        .post_json(
            "/v1/applications",
            submission(name, ips),
            officer,
            StatusCode::CREATED,
        )
        .await;
    let id = app["id"].as_str().unwrap().to_owned();
    assert_eq!(app["status"], "submitted");
    let path = |p: &str| format!("/v1/applications/{id}/{p}");
    for to in ["preliminary_check", "technical_evaluation"] {
        api.post_json(&path("status"), json!({"to": to}), admin, StatusCode::OK)
            .await;
    }
    let approved = api
        .post_json(&path("approval"), terms, admin, StatusCode::OK)
        .await;
    assert_eq!(approved["status"], "approved");
    api.post_json(
        &path("secrets"),
        json!({"environment": "sandbox"}),
        admin,
        StatusCode::CREATED,
    )
    .await;
    for to in ["sandbox", "live"] {
        api.post_json(&path("status"), json!({"to": to}), admin, StatusCode::OK)
            .await;
    }
    let issued = api
        .post_json(
            &path("secrets"),
            json!({"environment": "live"}),
            admin,
            StatusCode::CREATED,
        )
        .await;
    Onboarded {
        id,
        client_id: issued["client_id"].as_str().unwrap().to_owned(),
        secret: issued["client_secret"].as_str().unwrap().to_owned(),
        secret_id: issued["secret_id"].as_str().unwrap().to_owned(),
    }
}

/// A token request; the answer and its status.
async fn token_request(api: &Api, app: &Onboarded, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let mut fields = vec![("grant_type", "client_credentials")];
    fields.extend_from_slice(form);
    let r = api
        .client
        .post(format!("{}/oauth2/token", api.base))
        .basic_auth(&app.client_id, Some(&app.secret))
        .form(&fields)
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap())
}

async fn token(api: &Api, app: &Onboarded, form: &[(&str, &str)]) -> String {
    let (status, body) = token_request(api, app, form).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    format!("Bearer {}", body["access_token"].as_str().unwrap())
}

/// A row of the matrix: what, credentials, purpose, extra headers, status, refusal code.
type Case<'a, A> = (
    &'a str,
    A,
    Option<&'a str>,
    &'a [(&'a str, &'a str)],
    StatusCode,
    &'a str,
);

/// One data call: (method, path, body).
type Call = (&'static str, String, Option<Value>);

async fn call(
    api: &Api,
    c: &Call,
    auth: Option<&str>,
    purpose: Option<&str>,
    headers: &[(&str, &str)],
) -> (StatusCode, Value) {
    let url = format!("{}{}", api.base, c.1);
    let mut r = match c.0 {
        "GET" => api.client.get(url),
        _ => api
            .client
            .post(url)
            .json(c.2.as_ref().unwrap_or(&Value::Null)),
    };
    if let Some(auth) = auth {
        r = r.header("authorization", auth);
    }
    if let Some(p) = purpose {
        r = r.header("x-purpose", p);
    }
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    let r = r.send().await.unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn code(body: &Value) -> &str {
    body["code"].as_str().unwrap_or("")
}

/// A hub on one backend, served behind a trusted proxy on loopback.
struct Served {
    backend: sangam_testkit::TestBackend,
    hub: Hub,
    key: sangam_vault::MasterKey,
    clock: Arc<ManualClock>,
    server: sangam_server::RunningServer,
}

async fn setup(test: &str) -> Vec<Served> {
    let mut out = Vec::new();
    for backend in backends(test).await {
        let clock = Arc::new(ManualClock::new(
            Utc.with_ymd_and_hms(2026, 11, 2, 5, 0, 0).unwrap(),
        ));
        let key = sangam_vault::MasterKey::generate();
        let hub = open_hub(&backend.location, &key, clock.clone())
            .await
            .unwrap();
        hub.seed_demo(60, 5, |_| {}).await.unwrap();
        for (user, role, org) in [
            ("admin", Role::Admin, None),
            ("hd-officer", Role::NodalOfficer, Some("health")),
            ("sw-officer", Role::NodalOfficer, Some("social-welfare")),
        ] {
            hub.save_user(user, PASSWORD, role, org, "test")
                .await
                .unwrap();
        }
        // The hub sits behind a proxy on loopback: X-Forwarded-For names the client.
        let options = sangam_server::ServerOptions {
            trusted_proxies: sangam_access::network::TrustedProxies::parse(&["127.0.0.1"]).unwrap(),
            benchmark_baseline: None,
        };
        let server =
            sangam_server::start_with(hub.clone(), "127.0.0.1:0".parse().unwrap(), false, options)
                .await
                .unwrap();
        out.push(Served {
            backend,
            hub,
            key,
            clock,
            server,
        });
    }
    out
}

/// A resident with an ID number, and their card.
/// A resident with an ID number, a full date of birth and a name no one else has: the tests
/// search for them by name and date of birth, and which resident comes first depends on the
/// random ids (one with only a year or a declared age, or a common name, made the search
/// check fail now and then).
async fn some_resident(hub: &Hub) -> (sangam_store::Resident, String) {
    let index = hub.store().matchable_residents(None, 1000).await.unwrap();
    let named = |n: &str| {
        index
            .iter()
            .filter(|m| m.resident.name.as_str().eq_ignore_ascii_case(n))
            .count()
    };
    for m in &index {
        let r = &m.resident;
        if r.id_ref_key.is_some()
            && matches!(r.dob, sangam_domain::DateOfBirth::Full(_))
            && named(r.name.as_str()) == 1
        {
            let card = r.card_number.as_str().to_owned();
            return (r.clone(), card);
        }
    }
    panic!("no resident with an ID number, a full date of birth and a name of their own");
}

#[tokio::test]
async fn an_application_goes_live_and_sees_its_agreement_and_no_more() {
    for Served {
        backend,
        hub,
        clock,
        server,
        ..
    } in setup("an_application_goes_live").await
    {
        let name = backend.name;
        let api = Api::new(server.addr);
        let admin = api.sign_in("admin").await;
        let hd = api.sign_in("hd-officer").await;
        let sw = api.sign_in("sw-officer").await;
        for (id, n) in [("health", "Health"), ("social-welfare", "Social Welfare")] {
            api.post_json(
                "/v1/organisations",
                organisation(id, n),
                &admin,
                StatusCode::CREATED,
            )
            .await;
        }
        // Bad input names the field.
        let mut bad = organisation("x", "X");
        bad["pin_code"] = json!("12");
        let problem = api
            .post_json(
                "/v1/organisations",
                bad,
                &admin,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        assert_eq!(problem["errors"][0]["field"], "pin_code", "{name}");
        let orgs = api.get_json("/v1/organisations", &hd, StatusCode::OK).await;
        assert_eq!(
            orgs.as_array().unwrap().len(),
            1,
            "a nodal officer sees their own organisation"
        );
        assert_eq!(
            orgs[0]["mobile"], "XXXXXX3210",
            "the mobile number is masked"
        );

        // Onboarding, step by step, with the roles allowed to take each step.
        let app = api
            .post_json(
                "/v1/applications",
                submission("Pension portal", &["127.0.0.1"]),
                &hd,
                StatusCode::CREATED,
            )
            .await;
        let id = app["id"].as_str().unwrap().to_owned();
        let path = |p: &str| format!("/v1/applications/{id}/{p}");
        api.get_json(
            &format!("/v1/applications/{id}"),
            &sw,
            StatusCode::NOT_FOUND,
        )
        .await;
        api.post_json(
            &path("status"),
            json!({"to": "preliminary_check"}),
            &hd,
            StatusCode::FORBIDDEN,
        )
        .await;
        api.post_json(
            &path("status"),
            json!({"to": "live"}),
            &admin,
            StatusCode::CONFLICT,
        )
        .await;
        api.post_json(
            &path("status"),
            json!({"to": "preliminary_check"}),
            &admin,
            StatusCode::OK,
        )
        .await;
        let r = api
            .client
            .post(format!("{}{}", api.base, path("notes")))
            .header("authorization", &admin)
            .json(&json!({"kind": "clarification_asked", "text": "Which fields exactly?"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        let r = api
            .client
            .post(format!("{}{}", api.base, path("notes")))
            .header("authorization", &hd)
            .json(&json!({"kind": "clarification_given", "text": "Name, gender, date of birth."}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        let r = api
            .client
            .post(format!("{}{}", api.base, path("notes")))
            .header("authorization", &hd)
            .json(&json!({"kind": "comment", "text": "approve us"}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            StatusCode::FORBIDDEN,
            "comments are the evaluators'"
        );
        api.post_json(
            &path("status"),
            json!({"to": "technical_evaluation"}),
            &admin,
            StatusCode::OK,
        )
        .await;
        let fields = ["name", "gender", "dob", "id_number", "village_code"];
        let scopes = [
            "residents.read",
            "households.read",
            "residents.search",
            "residents.profile",
            "ekyc.read",
        ];
        let mut wrong = terms(&scopes, PENSION, &["name", "salary"], generous(), 10_000);
        let problem = api
            .post_json(
                &path("approval"),
                wrong.clone(),
                &admin,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        assert_eq!(problem["errors"][0]["code"], "field.unknown");
        wrong = terms(&scopes, PENSION, &fields, generous(), 10_000);
        let approved = api
            .post_json(&path("approval"), wrong, &admin, StatusCode::OK)
            .await;
        let agreement = &approved["agreement"];
        assert_eq!(agreement["starts_on"], "2026-11-02");
        assert_eq!(agreement["ends_on"], "2029-11-01", "three years by default");
        assert_eq!(agreement["notice_days"], 30);
        api.post_json(
            &path("status"),
            json!({"to": "sandbox"}),
            &admin,
            StatusCode::OK,
        )
        .await;
        let sandbox_secret = api
            .post_json(
                &path("secrets"),
                json!({"environment": "sandbox"}),
                &admin,
                StatusCode::CREATED,
            )
            .await;
        api.post_json(
            &path("status"),
            json!({"to": "live"}),
            &admin,
            StatusCode::OK,
        )
        .await;
        let live_secret = api
            .post_json(
                &path("secrets"),
                json!({"environment": "live"}),
                &admin,
                StatusCode::CREATED,
            )
            .await;
        let app = Onboarded {
            id: id.clone(),
            client_id: live_secret["client_id"].as_str().unwrap().into(),
            secret: live_secret["client_secret"].as_str().unwrap().into(),
            secret_id: live_secret["secret_id"].as_str().unwrap().into(),
        };
        let timeline = api.get_json(&path("timeline"), &hd, StatusCode::OK).await;
        let actions: Vec<&str> = timeline
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect();
        for expected in [
            "application.submitted",
            "application.note_added",
            "agreement.approved",
            "client.secret_issued",
            "application.status_changed",
        ] {
            assert!(
                actions.contains(&expected),
                "{name}: {expected} in {actions:?}"
            );
        }
        let view = api
            .get_json(&format!("/v1/applications/{id}"), &hd, StatusCode::OK)
            .await;
        assert!(
            !view.to_string().contains(&app.secret),
            "a secret is shown once only"
        );

        // The data APIs, within the agreement.
        let (resident, card) = some_resident(&hub).await;
        let ref_key = resident.id_ref_key.as_ref().unwrap().as_str().to_owned();
        let live = token(&api, &app, &[]).await;

        // The token endpoint's refusals, and the keys that verify its tokens.
        let (status, body) =
            token_request(&api, &app, &[("scope", "residents.read id_number.reveal")]).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::BAD_REQUEST, "invalid_scope"),
            "{body}"
        );
        let r = api
            .client
            .post(format!("{}/oauth2/token", api.base))
            .form(&[("grant_type", "password")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert_eq!(code(&r.json().await.unwrap()), "unsupported_grant_type");
        let r = api
            .client
            .post(format!("{}/oauth2/token", api.base))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        let wrong = Onboarded {
            id: id.clone(),
            client_id: app.client_id.clone(),
            secret: format!("{}x", app.secret),
            secret_id: String::new(),
        };
        let (status, body) = token_request(&api, &wrong, &[]).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::UNAUTHORIZED, "invalid_client")
        );
        let jwks: Value = api
            .client
            .get(format!("{}/.well-known/jwks.json", api.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let header: Value = {
            use base64::Engine;
            let first = live
                .trim_start_matches("Bearer ")
                .split('.')
                .next()
                .unwrap();
            serde_json::from_slice(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(first)
                    .unwrap(),
            )
            .unwrap()
        };
        assert_eq!(header["alg"], "EdDSA");
        assert!(
            jwks["keys"]
                .as_array()
                .unwrap()
                .iter()
                .any(|k| k["kid"] == header["kid"] && k["kty"] == "OKP"),
            "{jwks}"
        );
        let (status, body) = call(
            &api,
            &("GET", format!("/v1/share/residents/{ref_key}"), None),
            Some(&live),
            Some(PENSION),
            &[],
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
        let mut keys: Vec<&str> = body
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "dob",
                "gender",
                "id_number",
                "name",
                "ref_key",
                "resident_id",
                "village_code"
            ],
            "{name}"
        );
        let id_number = hub
            .reveal_id_number(
                resident.id_ref_key.as_ref().unwrap(),
                "test.masked-form",
                "test",
            )
            .await
            .unwrap();
        let masked = body["id_number"].as_str().unwrap();
        assert!(
            masked.starts_with("XXXX XXXX ") && masked.ends_with(id_number.last_four()),
            "{masked}"
        );
        let (status, body) = call(
            &api,
            &(
                "POST",
                "/v1/share/residents/lookup".into(),
                Some(json!({"id_number": id_number.expose_digits()})),
            ),
            Some(&live),
            Some(PENSION),
            &[],
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["resident_id"], resident.resident_id.as_str());
        assert!(
            !body.to_string().contains(id_number.expose_digits()),
            "the ID number is never echoed"
        );
        let (status, body) = call(
            &api,
            &("GET", format!("/v1/share/households/{card}"), None),
            Some(&live),
            Some(PENSION),
            &[],
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(
            body["members"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m["resident_id"] == resident.resident_id.as_str())
        );
        let search = format!(
            "/v1/share/search?name={}&dob={}",
            resident.name.as_str(),
            resident.dob.to_storage()
        );
        let (status, body) = call(
            &api,
            &("GET", search, None),
            Some(&live),
            Some(PENSION),
            &[],
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(
            body.as_array()
                .unwrap()
                .iter()
                .any(|m| m["resident_id"] == resident.resident_id.as_str()),
            "{name}: {body}"
        );
        // Bad input to the data APIs names what is wrong.
        let (status, body) = call(
            &api,
            &("GET", "/v1/share/search?name=x".into(), None),
            Some(&live),
            Some(PENSION),
            &[],
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["errors"][0]["field"], "name");
        let (status, body) = call(
            &api,
            &("GET", "/v1/share/residents/not-a-key".into(), None),
            Some(&live),
            Some(PENSION),
            &[],
        )
        .await;
        assert_eq!(
            (status, body["errors"][0]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("ref_key")),
            "{body}"
        );
        // Object level: eKYC status is not among the approved fields.
        let (status, body) = call(
            &api,
            &("GET", format!("/v1/share/residents/{ref_key}/ekyc"), None),
            Some(&live),
            Some(PENSION),
            &[],
        )
        .await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::FORBIDDEN, "field.not_approved")
        );
        // Sandbox credentials see only the demonstration registry.
        let sandbox = Onboarded {
            id: id.clone(),
            client_id: app.client_id.clone(),
            secret: sandbox_secret["client_secret"].as_str().unwrap().into(),
            secret_id: String::new(),
        };
        let sandbox_token = token(&api, &sandbox, &[]).await;
        let (status, _) = call(
            &api,
            &("GET", format!("/v1/share/residents/{ref_key}"), None),
            Some(&sandbox_token),
            Some(PENSION),
            &[],
        )
        .await;
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "{name}: a live resident is not in the sandbox"
        );

        // The access log: who saw the resident, and why; what the application saw.
        let seen = api
            .get_json(
                &format!("/v1/residents/{}/access-log", resident.resident_id),
                &admin,
                StatusCode::OK,
            )
            .await;
        let seen = seen.as_array().unwrap();
        assert!(seen.len() >= 4, "{name}: {seen:?}");
        assert!(
            seen.iter()
                .all(|e| e["application_id"] == id.as_str() && e["purpose"] == PENSION)
        );
        assert!(
            seen.iter()
                .any(|e| e["operation"] == "resident_by_id_number")
        );
        let counts = api
            .get_json(&path("access-counts"), &hd, StatusCode::OK)
            .await;
        assert!(
            counts
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["resident_id"] == resident.resident_id.as_str()
                    && c["times"].as_u64().unwrap() >= 4)
        );
        api.get_json(&path("access-log"), &sw, StatusCode::NOT_FOUND)
            .await;
        let usage = api.get_json(&path("usage"), &hd, StatusCode::OK).await;
        assert!(usage["current"]["today"].as_u64().unwrap() >= 5, "{usage}");
        let verified = api
            .get_json("/v1/audit/verify", &admin, StatusCode::OK)
            .await;
        assert!(verified["broken"].is_null(), "{verified}");

        // Rotation: the replaced secret works through the overlap window, then stops.
        let rotated = api
            .post_json(
                &path("secrets"),
                json!({"environment": "live", "overlap_hours": 1}),
                &admin,
                StatusCode::CREATED,
            )
            .await;
        token(&api, &app, &[]).await;
        clock.advance(Duration::minutes(61));
        let (status, body) = token_request(&api, &app, &[]).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::UNAUTHORIZED, "invalid_client"),
            "{name}: the old secret outlived its overlap"
        );
        let app = Onboarded {
            secret: rotated["client_secret"].as_str().unwrap().into(),
            secret_id: rotated["secret_id"].as_str().unwrap().into(),
            ..app
        };
        token(&api, &app, &[]).await;

        // Expiry by the clock, renewal, termination.
        clock.advance(Duration::days(3 * 366));
        let admin = api.sign_in("admin").await;
        let hd = api.sign_in("hd-officer").await;
        let (status, body) = token_request(&api, &app, &[]).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::FORBIDDEN, "agreement.expired"),
            "{body}"
        );
        let view = api
            .get_json(&format!("/v1/applications/{id}"), &admin, StatusCode::OK)
            .await;
        assert_eq!(view["effective_status"], "expired");
        api.post_json(&path("renewal"), json!({}), &admin, StatusCode::OK)
            .await;
        let renewed = token(&api, &app, &[]).await;
        let (status, _) = call(
            &api,
            &("GET", format!("/v1/share/residents/{ref_key}"), None),
            Some(&renewed),
            Some(PENSION),
            &[],
        )
        .await;
        assert_eq!(status, StatusCode::OK, "access resumes on renewal");
        api.post_json(
            &path("termination"),
            json!({"reason": "project closed"}),
            &admin,
            StatusCode::OK,
        )
        .await;
        let (status, body) = call(
            &api,
            &("GET", format!("/v1/share/residents/{ref_key}"), None),
            Some(&renewed),
            Some(PENSION),
            &[],
        )
        .await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::FORBIDDEN, "application.terminated")
        );
        let done = api
            .post_json(
                &path("destruction"),
                json!({"reference": "DESTR/2029/7"}),
                &hd,
                StatusCode::OK,
            )
            .await;
        assert_eq!(
            done["agreement"]["destruction_confirmed"]["reference"],
            "DESTR/2029/7"
        );
        server.shutdown().await.unwrap();
    }
}

/// Every data endpoint, with a body where it needs one.
fn data_calls(ref_key: &str, card: &str) -> Vec<Call> {
    vec![
        ("GET", format!("/v1/share/residents/{ref_key}"), None),
        (
            "POST",
            "/v1/share/residents/lookup".into(),
            Some(json!({"id_number": "234123412346"})),
        ),
        ("GET", format!("/v1/share/households/{card}"), None),
        (
            "GET",
            format!("/v1/share/residents/{ref_key}/profile"),
            None,
        ),
        ("GET", format!("/v1/share/residents/{ref_key}/ekyc"), None),
        ("GET", "/v1/share/search?name=Lakshmi".into(), None),
        (
            "POST",
            "/v1/share/resident-requests".into(),
            Some(json!({"name": "Test Person", "gender": "F", "dob": "1980-01-01"})),
        ),
        ("GET", "/v1/share/usage".into(), None),
    ]
}

#[tokio::test]
async fn every_data_endpoint_refuses_what_the_policy_refuses() {
    for Served {
        backend,
        hub,
        clock,
        server,
        ..
    } in setup("every_data_endpoint_refuses").await
    {
        let name = backend.name;
        let api = Api::new(server.addr);
        let admin = api.sign_in("admin").await;
        let hd = api.sign_in("hd-officer").await;
        let sw = api.sign_in("sw-officer").await;
        for (id, n) in [("health", "Health"), ("social-welfare", "Social Welfare")] {
            api.post_json(
                "/v1/organisations",
                organisation(id, n),
                &admin,
                StatusCode::CREATED,
            )
            .await;
        }
        let all_scopes = [
            "residents.read",
            "households.read",
            "residents.search",
            "residents.profile",
            "ekyc.read",
            "residents.enrol",
        ];
        let all_fields = ["name", "gender", "dob", "ekyc_status"];
        let a = onboard(
            &api,
            &admin,
            &hd,
            "A",
            &["127.0.0.1"],
            terms(&all_scopes, PENSION, &all_fields, generous(), 100_000),
        )
        .await;
        let b = onboard(
            &api,
            &admin,
            &sw,
            "B",
            &["127.0.0.1", "::1"],
            terms(
                &["residents.read"],
                "housing",
                &["name"],
                generous(),
                100_000,
            ),
        )
        .await;
        let (resident, card) = some_resident(&hub).await;
        let ref_key = resident.id_ref_key.as_ref().unwrap().as_str().to_owned();
        let calls = data_calls(&ref_key, &card);
        let good = token(&api, &a, &[]).await;
        // The right credentials pass every endpoint (or find nothing).
        for c in &calls {
            let (status, body) = call(&api, c, Some(&good), Some(PENSION), &[]).await;
            assert!(
                [StatusCode::OK, StatusCode::ACCEPTED, StatusCode::NOT_FOUND].contains(&status),
                "{name} {c:?}: {status} {body}"
            );
        }
        // Residents missing from the hub: an ID number needs the consent it was collected under.
        let enrol = |body: Value| ("POST", "/v1/share/resident-requests".to_owned(), Some(body));
        let person = json!({"name": "Test Person", "gender": "F", "dob": "1980-01-01", "id_number": "234123412346"});
        let (status, body) = call(
            &api,
            &enrol(person.clone()),
            Some(&good),
            Some(PENSION),
            &[],
        )
        .await;
        assert_eq!(
            (status, body["errors"][0]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("consent_ref")),
            "{body}"
        );
        assert!(
            !body.to_string().contains("234123412346"),
            "the number is not echoed"
        );
        let mut consented = person;
        consented["consent_ref"] = json!("CF-2026-17");
        let (status, body) = call(&api, &enrol(consented), Some(&good), Some(PENSION), &[]).await;
        assert_eq!(
            (status, body["status"].as_str()),
            (StatusCode::ACCEPTED, Some("pending_verification")),
            "{body}"
        );
        assert_eq!(
            hub.store().resident_requests(&a.id).await.unwrap().len(),
            2,
            "{name}: the one from the loop above and this one"
        );

        let expired = token(&api, &a, &[]).await;
        let revoked_app = onboard(
            &api,
            &admin,
            &hd,
            "R",
            &["127.0.0.1"],
            terms(&all_scopes, PENSION, &all_fields, generous(), 100_000),
        )
        .await;
        let r = api
            .client
            .delete(format!(
                "{}/v1/applications/{}/secrets/{}",
                api.base, revoked_app.id, revoked_app.secret_id
            ))
            .header("authorization", &admin)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        let (status, body) = token_request(&api, &revoked_app, &[]).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::UNAUTHORIZED, "invalid_client"),
            "a revoked secret gets no token"
        );
        let now = hub.now().timestamp();
        let claims = |aud: &str| sangam_access::tokens::AccessClaims {
            iss: "sangam".into(),
            aud: aud.into(),
            sub: a.client_id.clone(),
            app: a.id.clone(),
            sid: a.secret_id.clone(),
            scope: all_scopes.iter().map(|s| (*s).to_owned()).collect(),
            purpose: None,
            env: "live".into(),
            iat: now,
            exp: now + 300,
            jti: "t".into(),
        };
        let suspended_app = onboard(
            &api,
            &admin,
            &hd,
            "S",
            &["127.0.0.1"],
            terms(&all_scopes, PENSION, &all_fields, generous(), 100_000),
        )
        .await;
        api.post_json(
            &format!("/v1/applications/{}/status", suspended_app.id),
            json!({"to": "suspended", "reason": "audit pending"}),
            &admin,
            StatusCode::OK,
        )
        .await;
        let short_app = onboard(&api, &admin, &hd, "E", &["127.0.0.1"], {
            let mut t = terms(&all_scopes, PENSION, &all_fields, generous(), 100_000);
            t["ends_on"] = json!("2026-11-02");
            t
        })
        .await;
        clock.advance(Duration::minutes(6));

        let forwarded: &[(&str, &str)] = &[("x-forwarded-for", "203.0.113.9")];
        let cases: Vec<Case<Option<String>>> = vec![
            (
                "no token",
                None,
                Some(PENSION),
                &[],
                StatusCode::UNAUTHORIZED,
                "token.missing",
            ),
            (
                "garbage token",
                Some("Bearer not.a.token".into()),
                Some(PENSION),
                &[],
                StatusCode::UNAUTHORIZED,
                "token.malformed",
            ),
            (
                "expired token",
                Some(expired.clone()),
                Some(PENSION),
                &[],
                StatusCode::UNAUTHORIZED,
                "token.expired",
            ),
        ];
        for (what, auth, purpose, headers, status, expected) in &cases {
            for c in &calls {
                let (got, body) = call(&api, c, auth.as_deref(), *purpose, headers).await;
                assert_eq!(
                    (got, code(&body)),
                    (*status, *expected),
                    "{name} {what} {c:?}: {body}"
                );
            }
        }
        // The tokens above were issued six minutes ago; the rest of the matrix uses fresh
        // ones (the clock moved) for the same applications.
        let good = token(&api, &a, &[]).await;
        let narrow_now = token(&api, &a, &[("scope", "residents.read")]).await;
        let other_now = token(&api, &b, &[]).await;
        let wrong_audience_now = {
            let now = hub.now().timestamp();
            let mut c = claims("another-api");
            c.iat = now;
            c.exp = now + 300;
            format!("Bearer {}", hub.sign_claims_for_tests(&c).await.unwrap())
        };
        // A revoked secret's token, fresh in time: issued before the revocation is impossible
        // now, so revoke a second secret after taking its token.
        let second = api
            .post_json(
                &format!("/v1/applications/{}/secrets", revoked_app.id),
                json!({"environment": "live", "overlap_hours": 0}),
                &admin,
                StatusCode::CREATED,
            )
            .await;
        let second = Onboarded {
            id: revoked_app.id.clone(),
            client_id: revoked_app.client_id.clone(),
            secret: second["client_secret"].as_str().unwrap().into(),
            secret_id: second["secret_id"].as_str().unwrap().into(),
        };
        let revoked_now = token(&api, &second, &[]).await;
        let r = api
            .client
            .delete(format!(
                "{}/v1/applications/{}/secrets/{}",
                api.base, second.id, second.secret_id
            ))
            .header("authorization", &admin)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        let cases: Vec<Case<String>> = vec![
            (
                "wrong audience",
                wrong_audience_now,
                Some(PENSION),
                &[],
                StatusCode::UNAUTHORIZED,
                "token.wrong_audience",
            ),
            (
                "revoked secret",
                revoked_now,
                Some(PENSION),
                &[],
                StatusCode::UNAUTHORIZED,
                "secret.revoked",
            ),
            (
                "another application's token",
                other_now.clone(),
                Some(PENSION),
                &[],
                StatusCode::FORBIDDEN,
                "purpose.not_approved",
            ),
            (
                "disallowed IP",
                good.clone(),
                Some(PENSION),
                forwarded,
                StatusCode::FORBIDDEN,
                "network.ip_not_allowed",
            ),
            (
                "purpose not approved",
                good.clone(),
                Some("marketing"),
                &[],
                StatusCode::FORBIDDEN,
                "purpose.not_approved",
            ),
            (
                "no purpose",
                good.clone(),
                None,
                &[],
                StatusCode::FORBIDDEN,
                "purpose.missing",
            ),
        ];
        for (what, auth, purpose, headers, status, expected) in &cases {
            for c in &calls {
                let (got, body) = call(&api, c, Some(auth), *purpose, headers).await;
                // Another application's token is refused by whichever of its own limits the
                // call crosses first: a scope it lacks, or our purpose it was not approved for.
                let accepted: &[&str] = if *what == "another application's token" {
                    &["scope.missing", "purpose.not_approved"]
                } else {
                    std::slice::from_ref(expected)
                };
                assert_eq!(got, *status, "{name} {what} {c:?}: {body}");
                assert!(
                    accepted.contains(&code(&body)),
                    "{name} {what} {c:?}: {body}"
                );
            }
        }
        // Missing scope: every endpoint but the two the token's scope covers, and usage.
        for c in &calls {
            let (got, body) = call(&api, c, Some(&narrow_now), Some(PENSION), &[]).await;
            let covered = c.1.starts_with(&format!("/v1/share/residents/{ref_key}"))
                && !c.1.contains("/profile")
                && !c.1.contains("/ekyc")
                || c.1 == "/v1/share/residents/lookup"
                || c.1 == "/v1/share/usage";
            if !covered {
                assert_eq!(
                    (got, code(&body)),
                    (StatusCode::FORBIDDEN, "scope.missing"),
                    "{name} missing scope {c:?}: {body}"
                );
            }
        }
        // A suspended application, and an expired agreement: the token endpoint refuses them
        // as the data endpoints would.
        let (status, body) = token_request(&api, &suspended_app, &[]).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::FORBIDDEN, "application.suspended"),
            "{name}"
        );
        clock.advance(Duration::days(1));
        let admin = api.sign_in("admin").await;
        let (status, body) = token_request(&api, &short_app, &[]).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::FORBIDDEN, "agreement.expired"),
            "{name}"
        );
        let good = token(&api, &a, &[]).await;
        // For the data endpoints: suspend A, then let its agreement lapse.
        api.post_json(
            &format!("/v1/applications/{}/status", a.id),
            json!({"to": "suspended", "reason": "review"}),
            &admin,
            StatusCode::OK,
        )
        .await;
        for c in &calls {
            let (got, body) = call(&api, c, Some(&good), Some(PENSION), &[]).await;
            assert_eq!(
                (got, code(&body)),
                (StatusCode::FORBIDDEN, "application.suspended"),
                "{name} suspended {c:?}: {body}"
            );
        }
        api.post_json(
            &format!("/v1/applications/{}/status", a.id),
            json!({"to": "live"}),
            &admin,
            StatusCode::OK,
        )
        .await;
        let good = token(&api, &a, &[]).await;
        let (status, _) = call(&api, &calls[0], Some(&good), Some(PENSION), &[]).await;
        assert_eq!(status, StatusCode::OK, "{name}: reinstated");
        clock.advance(Duration::days(3 * 366));
        for c in &calls {
            let (got, body) = call(&api, c, Some(&good), Some(PENSION), &[]).await;
            // The token outlived the agreement only because the clock jumped; the gate
            // checks the token first.
            assert_eq!(got, StatusCode::UNAUTHORIZED, "{name} {c:?}: {body}");
        }
        let (status, body) = token_request(&api, &a, &[]).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::FORBIDDEN, "agreement.expired"),
            "{name}"
        );
        // The other organisation's officer cannot manage A (sessions expired with the jump).
        let sw = api.sign_in("sw-officer").await;
        api.post_json(
            &format!("/v1/applications/{}/status", a.id),
            json!({"to": "suspended", "reason": "x"}),
            &sw,
            StatusCode::FORBIDDEN,
        )
        .await;
        server.shutdown().await.unwrap();
    }
}

#[tokio::test]
async fn rate_limits_answer_429_and_scrapers_are_cut_off() {
    for Served {
        backend,
        hub,
        key,
        clock,
        server,
    } in setup("rate_limits_and_scrapers").await
    {
        let name = backend.name;
        let api = Api::new(server.addr);
        let admin = api.sign_in("admin").await;
        let hd = api.sign_in("hd-officer").await;
        api.post_json(
            "/v1/organisations",
            organisation("health", "Health"),
            &admin,
            StatusCode::CREATED,
        )
        .await;
        let (resident, card) = some_resident(&hub).await;
        let ref_key = resident.id_ref_key.as_ref().unwrap().as_str().to_owned();
        let scopes = ["residents.read", "households.read"];

        // Burst limit: the clock stands still, so the third call in the same instant is over.
        let tight = onboard(
            &api,
            &admin,
            &hd,
            "T",
            &["127.0.0.1"],
            terms(
                &scopes,
                PENSION,
                &["name"],
                json!({"per_second": 1, "burst": 2, "daily": 100, "monthly": 1000}),
                1000,
            ),
        )
        .await;
        let t = token(&api, &tight, &[]).await;
        let lookup = ("GET", format!("/v1/share/residents/{ref_key}"), None);
        for _ in 0..2 {
            let (status, body) = call(&api, &lookup, Some(&t), Some(PENSION), &[]).await;
            assert_eq!(status, StatusCode::OK, "{name}: {body}");
        }
        let r = api
            .client
            .get(format!("{}{}", api.base, lookup.1))
            .header("authorization", &t)
            .header("x-purpose", PENSION)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(
            r.headers()
                .get("retry-after")
                .unwrap()
                .to_str()
                .unwrap()
                .parse::<u64>()
                .unwrap()
                >= 1
        );
        let body: Value = r.json().await.unwrap();
        assert_eq!(code(&body), "rate.burst");
        let usage = call(
            &api,
            &("GET", "/v1/share/usage".into(), None),
            Some(&t),
            Some(PENSION),
            &[],
        )
        .await;
        assert_eq!(
            usage.0,
            StatusCode::TOO_MANY_REQUESTS,
            "usage counts against the limit too"
        );

        // A legitimate client at its normal rate: a handful of lookups, never suspended.
        let legit = onboard(
            &api,
            &admin,
            &hd,
            "L",
            &["127.0.0.1"],
            terms(&scopes, PENSION, &["name"], generous(), 2000),
        )
        .await;
        let l = token(&api, &legit, &[]).await;
        let cards: Vec<String> = {
            let mut cards = Vec::new();
            for m in hub.store().matchable_residents(None, 1000).await.unwrap() {
                let r = m.resident;
                let c = r.card_number.as_str().to_owned();
                if !cards.contains(&c) {
                    cards.push(c);
                }
            }
            cards
        };
        for (i, c) in cards.iter().enumerate().filter(|(i, _)| i % 7 == 3).take(8) {
            let (status, body) = call(
                &api,
                &("GET", format!("/v1/share/households/{c}"), None),
                Some(&l),
                Some(PENSION),
                &[],
            )
            .await;
            assert_eq!(status, StatusCode::OK, "{name} {i}: {body}");
        }

        // A scraper walks ration card numbers in order: suspended within a bounded number
        // of requests.
        let scraper = onboard(
            &api,
            &admin,
            &hd,
            "W",
            &["127.0.0.1"],
            terms(&scopes, PENSION, &["name"], generous(), 2000),
        )
        .await;
        let w = token(&api, &scraper, &[]).await;
        let digits: String = card.chars().filter(char::is_ascii_digit).collect();
        let prefix: String = card.chars().take_while(|c| !c.is_ascii_digit()).collect();
        let start: u64 = digits.parse().unwrap();
        let mut cut_off_at = None;
        for i in 0..60u64 {
            let candidate = format!("{prefix}{:0width$}", start + i, width = digits.len());
            let (status, body) = call(
                &api,
                &("GET", format!("/v1/share/households/{candidate}"), None),
                Some(&w),
                Some(PENSION),
                &[],
            )
            .await;
            if status == StatusCode::FORBIDDEN {
                assert_eq!(code(&body), "application.suspended", "{body}");
                cut_off_at = Some(i);
                break;
            }
        }
        let cut_off_at =
            cut_off_at.unwrap_or_else(|| panic!("{name}: the scraper was never suspended"));
        assert!(
            cut_off_at <= 25,
            "{name}: suspended after {cut_off_at} requests"
        );
        let view = api
            .get_json(
                &format!("/v1/applications/{}", scraper.id),
                &admin,
                StatusCode::OK,
            )
            .await;
        assert_eq!(view["status"], "suspended");
        assert!(
            view["status_reason"]
                .as_str()
                .unwrap()
                .contains("scraping.sequential_walk"),
            "{view}"
        );
        let alerts = api
            .get_json(
                &format!("/v1/alerts?application={}", scraper.id),
                &admin,
                StatusCode::OK,
            )
            .await;
        assert!(!alerts.as_array().unwrap().is_empty());

        // Quotas hold across a restart: the counts are stored as records are served.
        let quota = onboard(
            &api,
            &admin,
            &hd,
            "Q",
            &["127.0.0.1"],
            terms(
                &scopes,
                PENSION,
                &["name"],
                json!({"per_second": 100, "burst": 100, "daily": 3, "monthly": 100}),
                1000,
            ),
        )
        .await;
        let q = token(&api, &quota, &[]).await;
        for _ in 0..2 {
            assert_eq!(
                call(&api, &lookup, Some(&q), Some(PENSION), &[]).await.0,
                StatusCode::OK
            );
        }
        let restarted = open_hub(&backend.location, &key, clock.clone())
            .await
            .unwrap();
        let second = sangam_server::start(restarted.clone(), "127.0.0.1:0".parse().unwrap(), false)
            .await
            .unwrap();
        let api2 = Api::new(second.addr);
        assert_eq!(
            call(&api2, &lookup, Some(&q), Some(PENSION), &[]).await.0,
            StatusCode::OK
        );
        let (status, body) = call(&api2, &lookup, Some(&q), Some(PENSION), &[]).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::TOO_MANY_REQUESTS, "quota.daily"),
            "{name}: {body}"
        );
        second.shutdown().await.unwrap();
        drop(restarted);

        // A decoy: the first touch suspends.
        let decoy_owner = onboard(
            &api,
            &admin,
            &hd,
            "D",
            &["127.0.0.1"],
            terms(&scopes, PENSION, &["name"], generous(), 2000),
        )
        .await;
        let d = token(&api, &decoy_owner, &[]).await;
        let r = api
            .client
            .post(format!("{}/v1/honeytokens", api.base))
            .header("authorization", &admin)
            .json(&json!({"resident_ids": [resident.resident_id]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        let (status, body) = call(&api, &lookup, Some(&d), Some(PENSION), &[]).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::FORBIDDEN, "application.suspended"),
            "{name}: {body}"
        );
        // The benchmark's unguarded route exists only on a server started for it.
        let bare = format!("/bench/baseline/residents/{ref_key}");
        assert_eq!(
            api.client
                .get(format!("{}{bare}", api.base))
                .send()
                .await
                .unwrap()
                .status(),
            StatusCode::NOT_FOUND
        );
        let options = sangam_server::ServerOptions {
            benchmark_baseline: Some(vec!["name".into()]),
            ..Default::default()
        };
        let bench =
            sangam_server::start_with(hub.clone(), "127.0.0.1:0".parse().unwrap(), false, options)
                .await
                .unwrap();
        let body: Value = reqwest::get(format!("http://{}{bare}", bench.addr))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let mut keys: Vec<&str> = body
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(keys, ["name", "ref_key", "resident_id"], "{name}");
        bench.shutdown().await.unwrap();

        // The legitimate client is still live.
        let view = api
            .get_json(
                &format!("/v1/applications/{}", legit.id),
                &admin,
                StatusCode::OK,
            )
            .await;
        assert_eq!(view["status"], "live", "{name}");
        server.shutdown().await.unwrap();
    }
}

#[tokio::test]
async fn every_v1_operation_refuses_a_request_without_credentials() {
    for Served {
        backend, server, ..
    } in setup("every_v1_operation_refuses").await
    {
        let api = Api::new(server.addr);
        let doc: Value = api
            .client
            .get(format!("{}/openapi.json", api.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let mut checked = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            if !path.starts_with("/v1/") {
                continue;
            }
            let concrete: String = path
                .split('/')
                .map(|seg| if seg.starts_with('{') { "x" } else { seg })
                .collect::<Vec<_>>()
                .join("/");
            for method in item.as_object().unwrap().keys() {
                let url = format!("{}{concrete}", api.base);
                let request = match method.as_str() {
                    "get" => api.client.get(url),
                    "post" => api.client.post(url).json(&json!({})),
                    "put" => api.client.put(url).body("x"),
                    "delete" => api.client.delete(url),
                    "patch" => api.client.patch(url).json(&json!({})),
                    other => panic!("unexpected method {other}"),
                };
                let status = request.send().await.unwrap().status();
                if path == "/v1/session" && method == "post" {
                    // Signing in is how credentials are obtained: it refuses bad input instead.
                    assert!(
                        !status.is_success(),
                        "{}: sign-in with nothing succeeded",
                        backend.name
                    );
                } else {
                    assert_eq!(
                        status,
                        StatusCode::UNAUTHORIZED,
                        "{} {method} {path}",
                        backend.name
                    );
                }
                checked += 1;
            }
        }
        assert!(checked > 50, "only {checked} operations");
        server.shutdown().await.unwrap();
    }
}
