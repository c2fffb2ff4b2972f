//! Conflict reports over HTTP, on every backend: schemes declared with `exclusive_with` and
//! `one_per_household`, rows uploaded with registry residents' ID numbers so that they link,
//! a resident marked deceased through the registry API; then each scheme's report as JSON
//! (whole and page by page) and as CSV, a resident's conflicts, who may read what, and the
//! errors for bad input. No response carries a full ID number.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use reqwest::StatusCode;
use sangam_domain::IdNumber;
use sangam_hub::bootstrap::open_hub;
use sangam_hub::clock::SystemClock;
use sangam_store::Role;
use sangam_synth::{Generator, GeneratorConfig};
use sangam_testkit::{
    backends,
    fixtures::{ADULT_RULE, scheme_spec},
};
use serde_json::{Value, json};

use common::{Api, PASSWORD};

const SEED: u64 = 11;
const HOUSEHOLDS: u64 = 30;

fn csv_rows(rows: &[[&str; 3]]) -> String {
    let mut csv = String::from("beneficiary_id,aadhaar,dob\n");
    for r in rows {
        csv.push_str(&r.join(","));
        csv.push('\n');
    }
    csv
}

/// The conflicts of a JSON answer as (kind, other dataset, sorted record keys, rule).
fn shape(conflicts: &Value) -> BTreeSet<(String, String, String, String)> {
    conflicts
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let mut keys: Vec<String> = c["records"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    format!(
                        "{}:{}",
                        r["dataset"].as_str().unwrap(),
                        r["record_key"].as_str().unwrap()
                    )
                })
                .collect();
            keys.sort();
            let text = |v: &Value| v.as_str().unwrap_or("").to_owned();
            (
                text(&c["kind"]),
                text(&c["other_dataset"]),
                keys.join(" "),
                text(&c["rule"]),
            )
        })
        .collect()
}

fn expect(items: &[(&str, &str, &str, &str)]) -> BTreeSet<(String, String, String, String)> {
    items
        .iter()
        .map(|(a, b, c, d)| ((*a).into(), (*b).into(), (*c).into(), (*d).into()))
        .collect()
}

fn assert_no_id_number(body: &str, numbers: &[String]) {
    if let Some(n) = sangam_testkit::find_any(body.as_bytes(), numbers) {
        panic!("a full ID number (ending {}) appeared", &n[8..]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflict_reports_over_http() {
    for backend in backends("conflict_reports_over_http").await {
        let key = sangam_vault::MasterKey::generate();
        let hub = open_hub(&backend.location, &key, Arc::new(SystemClock))
            .await
            .unwrap();
        hub.seed_demo(HOUSEHOLDS, SEED, |_| {}).await.unwrap();
        for (name, role, org) in [
            ("admin", Role::Admin, None),
            ("welfare", Role::NodalOfficer, Some("social-welfare")),
            ("food", Role::NodalOfficer, Some("food-dept")),
        ] {
            hub.save_user(name, PASSWORD, role, org, "test")
                .await
                .unwrap();
        }
        let server = sangam_server::start(hub.clone(), "127.0.0.1:0".parse().unwrap(), false)
            .await
            .unwrap();
        let api = Api::new(server.addr);
        let admin = api.sign_in("admin").await;
        let welfare = api.sign_in("welfare").await;
        let food = api.sign_in("food").await;

        let generator = Generator::new(GeneratorConfig {
            seed: SEED,
            households: HOUSEHOLDS,
            ..Default::default()
        });
        let all_numbers: Vec<String> = generator
            .households()
            .flat_map(|h| h.members.into_iter().filter_map(|m| m.id_number))
            .collect();
        let households: Vec<_> = generator.households().collect();
        let numbered = |h: &sangam_synth::Household| -> Vec<String> {
            h.members
                .iter()
                .filter_map(|m| m.id_number.clone())
                .collect()
        };
        let pair = households.iter().find(|h| numbered(h).len() >= 2).unwrap();
        let mut ids: Vec<String> = numbered(pair)[..2].to_vec();
        ids.extend(
            households
                .iter()
                .filter(|h| h.card_number != pair.card_number)
                .filter_map(|h| numbered(h).into_iter().next())
                .take(2),
        );
        let mut residents = Vec::new();
        for id in &ids {
            let r = hub
                .resident_by_id_number(&IdNumber::parse(id).unwrap())
                .await
                .unwrap();
            residents.push(r);
        }
        // Through the registry API: three adults, a child, and later a death.
        for (i, r) in residents.iter().enumerate() {
            let dob = if i == 3 { "01-01-2015" } else { "01-01-1970" };
            let res = api
                .client
                .patch(format!("{}/v1/residents/{}", api.base, r.resident_id))
                .header("authorization", &admin)
                .json(&json!({"dob": dob, "reason": "corrected from the birth register"}))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), StatusCode::OK);
        }
        let m1 = &residents[0];
        let m3 = &residents[2];

        // Bad specs: a scheme excluding itself, a household limit on the base registry's name.
        let r = api
            .post(
                "/v1/datasets",
                scheme_spec(
                    "pension_a",
                    "exclusive_with = [\"pension_a\", \"base\"]",
                    "",
                ),
                &welfare,
            )
            .await;
        let p = api.json(r, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(p["errors"][0]["code"], "spec.invalid");
        let detail = p["detail"].as_str().unwrap();
        assert!(
            detail.contains("exclusive_with[0]") && detail.contains("exclusive_with[1]"),
            "{detail}"
        );

        for (spec, auth) in [
            (
                scheme_spec("pension_a", "exclusive_with = [\"pension_b\"]", ""),
                &welfare,
            ),
            (scheme_spec("pension_b", "", ""), &welfare),
            (
                scheme_spec("ration_kit", "one_per_household = true", ADULT_RULE),
                &food,
            ),
        ] {
            let r = api.post("/v1/datasets", spec, auth).await;
            api.json(r, StatusCode::CREATED).await;
        }
        // The spec as served keeps the new fields.
        let served = api
            .json(
                api.get("/v1/datasets/pension_a", &welfare).await,
                StatusCode::OK,
            )
            .await;
        assert_eq!(served["spec"]["exclusive_with"], json!(["pension_b"]));

        let uploads: [(&str, &str, Vec<[&str; 3]>); 3] = [
            (
                "pension_a",
                &welfare,
                vec![
                    ["A-1", &ids[0], "1970"],
                    ["A-3", &ids[2], "1970"],
                    ["A-4", "", "1970"],
                ],
            ),
            (
                "pension_b",
                &welfare,
                vec![["B-1", &ids[2], "1970"], ["B-2", &ids[1], "1970"]],
            ),
            (
                "ration_kit",
                &food,
                vec![
                    ["K-1", &ids[0], "1970"],
                    ["K-2", &ids[1], "1970"],
                    // A record key a spreadsheet would run as a formula.
                    ["=K-3", &ids[3], "1970"],
                    ["K-4", &ids[2], "1970"],
                ],
            ),
        ];
        for (dataset, auth, rows) in &uploads {
            let r = api
                .client
                .post(format!(
                    "{}/v1/uploads?dataset={dataset}&file_name=rows.csv",
                    api.base
                ))
                .header("authorization", *auth)
                .body(csv_rows(rows))
                .send()
                .await
                .unwrap();
            let result = api.json(r, StatusCode::CREATED).await;
            assert_eq!(result["upload"]["counts"]["rejected"], 0, "{result}");
        }

        // The same person again, in a later file (one file may not hold a number twice).
        let r = api
            .client
            .post(format!(
                "{}/v1/uploads?dataset=pension_a&mode=incremental&file_name=more.csv",
                api.base
            ))
            .header("authorization", &welfare)
            .body(format!(
                "operation,beneficiary_id,aadhaar,dob\nA,A-2,{},1970\n",
                ids[0]
            ))
            .send()
            .await
            .unwrap();
        let result = api.json(r, StatusCode::CREATED).await;
        assert_eq!(result["upload"]["counts"]["added"], 1, "{result}");

        let r = api
            .client
            .patch(format!("{}/v1/residents/{}", api.base, m3.resident_id))
            .header("authorization", &admin)
            .json(&json!({"life_status": "deceased", "reason": "death registered"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);

        // Each scheme's report.
        let report = |name: &'static str, auth: String| {
            let api = &api;
            async move {
                let r = api
                    .get(&format!("/v1/datasets/{name}/conflicts"), &auth)
                    .await;
                let text = r.text().await.unwrap();
                serde_json::from_str::<Value>(&text).unwrap()
            }
        };
        let a = report("pension_a", welfare.clone()).await;
        assert_no_id_number(&a.to_string(), &all_numbers);
        assert_eq!(a["exclusive_with"], json!(["pension_b"]));
        assert_eq!(a["next"], Value::Null);
        assert_eq!(
            shape(&a["conflicts"]),
            expect(&[
                ("duplicate_in_scheme", "", "pension_a:A-1 pension_a:A-2", ""),
                (
                    "mutually_exclusive",
                    "pension_b",
                    "pension_a:A-3 pension_b:B-1",
                    ""
                ),
                ("deceased", "", "pension_a:A-3", ""),
            ]),
            "{a}"
        );
        let dup = &a["conflicts"][0];
        assert_eq!(dup["kind"], "duplicate_in_scheme", "duplicates come first");
        assert_eq!(dup["records"][0]["resident_id"], m1.resident_id.as_str());
        assert_eq!(
            dup["records"][0]["ref_key"],
            m1.id_ref_key.as_ref().unwrap().as_str()
        );
        let b = report("pension_b", admin.clone()).await;
        assert_eq!(
            shape(&b["conflicts"]),
            expect(&[
                (
                    "mutually_exclusive",
                    "pension_a",
                    "pension_a:A-3 pension_b:B-1",
                    ""
                ),
                ("deceased", "", "pension_b:B-1", ""),
            ]),
            "symmetric: {b}"
        );
        let k = report("ration_kit", food.clone()).await;
        assert_eq!(
            shape(&k["conflicts"]),
            expect(&[
                ("household_limit", "", "ration_kit:K-1 ration_kit:K-2", ""),
                ("ineligible", "", "ration_kit:=K-3", "adult"),
                ("deceased", "", "ration_kit:K-4", ""),
            ]),
            "{k}"
        );

        // Page by page: the same conflicts.
        let mut paged = Vec::new();
        let mut path = "/v1/datasets/pension_a/conflicts?limit=1".to_owned();
        let mut pages = 0;
        loop {
            let page = api
                .json(api.get(&path, &welfare).await, StatusCode::OK)
                .await;
            pages += 1;
            paged.extend(page["conflicts"].as_array().unwrap().iter().cloned());
            match page["next"].as_str() {
                Some(next) => {
                    path = format!("/v1/datasets/pension_a/conflicts?limit=1&after={next}")
                }
                None => break,
            }
        }
        assert!(pages >= 3, "{pages}");
        assert_eq!(Value::Array(paged), a["conflicts"]);

        // CSV: a header, one row per record, formulas neutralised.
        let r = api
            .get("/v1/datasets/ration_kit/conflicts?format=csv", &food)
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/csv")
        );
        let text = r.text().await.unwrap();
        assert_no_id_number(&text, &all_numbers);
        let mut reader = csv::Reader::from_reader(text.trim_start_matches('\u{feff}').as_bytes());
        let header: Vec<String> = reader
            .headers()
            .unwrap()
            .iter()
            .map(str::to_owned)
            .collect();
        assert_eq!(
            header,
            [
                "conflict",
                "kind",
                "dataset",
                "other_dataset",
                "record_dataset",
                "record_key",
                "resident_id",
                "ref_key",
                "card_number",
                "rule",
                "message"
            ]
        );
        let rows: Vec<Vec<String>> = reader
            .records()
            .map(|r| r.unwrap().iter().map(str::to_owned).collect())
            .collect();
        assert_eq!(rows.len(), 4, "two records of the household, one each else");
        let kinds: Vec<&str> = rows.iter().map(|r| r[1].as_str()).collect();
        assert_eq!(
            kinds,
            [
                "household_limit",
                "household_limit",
                "ineligible",
                "deceased"
            ]
        );
        assert_eq!(rows[0][0], rows[1][0], "one conflict, two rows");
        assert_eq!(rows[2][5], "'=K-3", "neutralised");
        assert_eq!(rows[2][9], "adult");
        // A scheme without conflicts: the header alone.
        hub.create_dataset(
            &scheme_spec("quiet", "", ""),
            sangam_hub::datasets::SpecFormat::Toml,
            "food-dept",
            &hub.store().user("food").await.unwrap().unwrap(),
        )
        .await
        .unwrap();
        let text = api
            .get("/v1/datasets/quiet/conflicts?format=csv", &food)
            .await
            .text()
            .await
            .unwrap();
        assert_eq!(text.trim_start_matches('\u{feff}').lines().count(), 1);

        // A resident's conflicts, by resident id and by reference key.
        let by_id = api
            .json(
                api.get(
                    &format!("/v1/residents/{}/conflicts", m3.resident_id),
                    &admin,
                )
                .await,
                StatusCode::OK,
            )
            .await;
        assert_eq!(
            shape(&by_id["conflicts"]),
            expect(&[
                (
                    "mutually_exclusive",
                    "pension_b",
                    "pension_a:A-3 pension_b:B-1",
                    ""
                ),
                ("deceased", "", "pension_a:A-3", ""),
                ("deceased", "", "pension_b:B-1", ""),
                ("deceased", "", "ration_kit:K-4", ""),
            ])
        );
        let ref_key = m3.id_ref_key.as_ref().unwrap().as_str();
        let by_key = api
            .json(
                api.get(
                    &format!("/v1/residents/by-ref-key/{ref_key}/conflicts"),
                    &admin,
                )
                .await,
                StatusCode::OK,
            )
            .await;
        assert_eq!(by_key, by_id);
        let for_food = api
            .json(
                api.get(
                    &format!("/v1/residents/{}/conflicts", m3.resident_id),
                    &food,
                )
                .await,
                StatusCode::OK,
            )
            .await;
        assert_eq!(
            shape(&for_food["conflicts"]),
            expect(&[("deceased", "", "ration_kit:K-4", "")]),
            "an organisation sees its own datasets' conflicts"
        );
        let m4 = &residents[3];
        let r = api
            .get(
                &format!("/v1/residents/{}/conflicts", m4.resident_id),
                &welfare,
            )
            .await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "not one of theirs");

        // Who may read, and bad input.
        let problem = |r: reqwest::Response, status: StatusCode| async move {
            assert_eq!(r.status(), status);
            assert_eq!(r.headers()["content-type"], "application/problem+json");
            r.json::<Value>().await.unwrap()
        };
        problem(
            api.get("/v1/datasets/pension_a/conflicts", &food).await,
            StatusCode::FORBIDDEN,
        )
        .await;
        problem(
            api.get("/v1/datasets/pension_a/conflicts?format=csv", &food)
                .await,
            StatusCode::FORBIDDEN,
        )
        .await;
        let p = problem(
            api.get("/v1/datasets/no_such_scheme/conflicts", &admin)
                .await,
            StatusCode::NOT_FOUND,
        )
        .await;
        assert!(p["detail"].as_str().unwrap().contains("no_such_scheme"));
        let p = problem(
            api.get("/v1/datasets/pension_a/conflicts?format=xml", &admin)
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert_eq!(p["errors"][0]["code"], "format.unknown");
        let p = problem(
            api.get("/v1/datasets/pension_a/conflicts?after=nonsense", &admin)
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert_eq!(p["errors"][0]["code"], "cursor.invalid");
        let p = problem(
            api.get("/v1/datasets/pension_a/conflicts?limit=0", &admin)
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert_eq!(p["errors"][0]["code"], "limit.range");
        let p = problem(
            api.get("/v1/datasets/base/conflicts", &admin).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert_eq!(p["errors"][0]["code"], "dataset.base");
        problem(
            api.get("/v1/residents/no-such-resident/conflicts", &admin)
                .await,
            StatusCode::NOT_FOUND,
        )
        .await;
        problem(
            api.get("/v1/residents/by-ref-key/short/conflicts", &admin)
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        let r = api
            .client
            .get(format!("{}/v1/datasets/pension_a/conflicts", api.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

        // In the OpenAPI document.
        let doc: Value = api
            .client
            .get(format!("{}/openapi.json", api.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for path in [
            "/v1/datasets/{name}/conflicts",
            "/v1/residents/{resident_id}/conflicts",
            "/v1/residents/by-ref-key/{ref_key}/conflicts",
        ] {
            assert!(doc["paths"][path]["get"].is_object(), "{path}");
        }

        server.shutdown().await.unwrap();
        drop(hub);
        backend.cleanup().await;
    }
}
