//! `sangam bench-validate`: how fast the hub finds candidate beneficiaries in the base data.
//! In-process (`--data-dir` or `--database-url`): the resident index's build time, then each
//! query matched one at a time, with no batch run (the incremental matching rate). Over HTTP
//! (`--url`): `POST /v1/validate` for each query against a running hub, with its latency.
//! Queries are a CSV of people (for example `scheme.csv` of `sangam synth --linkage`); their
//! columns are recognised by name, and their ID numbers are left out unless asked for, so
//! that the model does the finding.

#![allow(
    clippy::print_stdout,
    reason = "the benchmark reports on standard output"
)]

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures_util::StreamExt;
use sangam_hub::Hub;
use sangam_hub::linking::validate::{Candidate, Presence};
use sangam_matching::roles::{Role, assign_roles};
use serde::Serialize;
use serde_json::json;

/// Where the queries go.
pub enum Target<'a> {
    InProcess(&'a Hub),
    Http {
        url: &'a str,
        username: &'a str,
        password: &'a str,
        dataset: &'a str,
    },
}

#[derive(Debug, Serialize)]
struct Report {
    mode: &'static str,
    queries: usize,
    concurrency: usize,
    index_residents: Option<usize>,
    index_build_seconds: Option<f64>,
    seconds: f64,
    per_second: f64,
    p50_ms: f64,
    p95_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    yes: usize,
    possible: usize,
    no: usize,
}

/// Reads up to `limit` candidates from a CSV of people.
pub fn read_queries(path: &Path, limit: usize, with_ids: bool) -> anyhow::Result<Vec<Candidate>> {
    let mut reader =
        csv::Reader::from_path(path).with_context(|| format!("cannot read {}", path.display()))?;
    let header: Vec<String> = reader.headers()?.iter().map(str::to_owned).collect();
    let roles = assign_roles(&header, &[], None);
    let column = |role: Role| roles.iter().position(|r| r.role == role);
    let columns = [
        column(Role::IdNumber),
        column(Role::FullName),
        column(Role::RelativeName),
        column(Role::BirthDate),
        column(Role::Gender),
        column(Role::VillageCode),
        column(Role::Pincode),
    ];
    if columns[1].is_none() {
        bail!("{} has no name column", path.display());
    }
    let mut out = Vec::new();
    for record in reader.records().take(limit) {
        let record = record?;
        let cell = |i: Option<usize>| {
            i.and_then(|i| record.get(i))
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        out.push(Candidate {
            dataset: String::new(),
            id_number: if with_ids { cell(columns[0]) } else { None },
            ref_key: None,
            name: cell(columns[1]),
            relative_name: cell(columns[2]),
            dob: cell(columns[3]),
            gender: cell(columns[4]),
            village_code: cell(columns[5]),
            pincode: cell(columns[6]),
        });
    }
    Ok(out)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

pub async fn run(
    target: Target<'_>,
    queries: Vec<Candidate>,
    concurrency: usize,
) -> anyhow::Result<()> {
    let concurrency = concurrency.max(1);
    let mut latencies = Vec::with_capacity(queries.len());
    let (mut yes, mut possible, mut no) = (0, 0, 0);
    let index_build;
    let mut residents = None;
    let started;
    match target {
        Target::InProcess(hub) => {
            let building = Instant::now();
            let index = hub
                .fresh_link_index()
                .await?
                .context("the registry is empty: load the base registry first")?;
            index_build = Some(building.elapsed().as_secs_f64());
            residents = Some(index.residents());
            started = Instant::now();
            // As many lookups at once as there are cores: each is a few CPU-bound
            // milliseconds at most, so more would only queue.
            let mut answers = futures_util::stream::iter(queries.iter().map(|q| {
                let (hub, q) = (hub.clone(), q.clone());
                tokio::spawn(async move {
                    let one = Instant::now();
                    let found = hub.find_candidate(&q).await;
                    (one.elapsed(), found)
                })
            }))
            .buffer_unordered(concurrency);
            while let Some(answer) = answers.next().await {
                let (took, found) = answer?;
                latencies.push(took);
                match found?.in_base_data {
                    Presence::Yes => yes += 1,
                    Presence::Possible => possible += 1,
                    Presence::No => no += 1,
                }
            }
        }
        Target::Http {
            url,
            username,
            password,
            dataset,
        } => {
            let client = reqwest::Client::new();
            let url = url.trim_end_matches('/');
            let session: serde_json::Value = client
                .post(format!("{url}/v1/session"))
                .json(&json!({"username": username, "password": password}))
                .send()
                .await?
                .error_for_status()
                .context("signing in")?
                .json()
                .await?;
            let token = session["token"]
                .as_str()
                .context("the session answer has no token")?
                .to_owned();
            // The first call may wait for the index to be built: it is not a lookup's time.
            let warming = Instant::now();
            if let Some(q) = queries.first() {
                client
                    .post(format!("{url}/v1/validate"))
                    .bearer_auth(&token)
                    .json(&body(q, dataset))
                    .send()
                    .await?
                    .error_for_status()?;
            }
            index_build = Some(warming.elapsed().as_secs_f64());
            started = Instant::now();
            for q in &queries {
                let one = Instant::now();
                let answer: serde_json::Value = client
                    .post(format!("{url}/v1/validate"))
                    .bearer_auth(&token)
                    .json(&body(q, dataset))
                    .send()
                    .await?
                    .error_for_status()?
                    .json()
                    .await?;
                latencies.push(one.elapsed());
                match answer["in_base_data"].as_str() {
                    Some("yes") => yes += 1,
                    Some("possible") => possible += 1,
                    _ => no += 1,
                }
            }
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let report = Report {
        mode: if residents.is_some() {
            "in_process"
        } else {
            "http"
        },
        queries: latencies.len(),
        concurrency,
        index_residents: residents,
        index_build_seconds: index_build,
        seconds,
        per_second: latencies.len() as f64 / seconds.max(1e-9),
        p50_ms: percentile(&latencies, 0.50),
        p95_ms: percentile(&latencies, 0.95),
        p99_ms: percentile(&latencies, 0.99),
        max_ms: percentile(&latencies, 1.0),
        yes,
        possible,
        no,
    };
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

fn body(q: &Candidate, dataset: &str) -> serde_json::Value {
    json!({
        "dataset": dataset,
        "id_number": q.id_number,
        "name": q.name,
        "relative_name": q.relative_name,
        "dob": q.dob,
        "gender": q.gender,
        "village_code": q.village_code,
        "pincode": q.pincode,
    })
}
