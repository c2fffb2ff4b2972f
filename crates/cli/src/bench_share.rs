//! `sangam bench-share`: the throughput of the consumer resident lookup, authenticated,
//! policy-checked and access-logged, against the same lookup with the gate and the log
//! switched off, measured by `wrk` on loopback in the same run.
//!
//! It serves the demo hub in `--data-dir` (seeded by `sangam demo --no-serve`), takes an
//! access token with the demo application's credentials, and has `wrk` request random
//! residents by reference key from both routes in turn.

#![allow(
    clippy::print_stdout,
    reason = "the benchmark reports on standard output"
)]

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};
use sangam_hub::Hub;
use sangam_hub::demo::DemoCredentials;
use serde::Serialize;

#[derive(Debug, Serialize)]
struct Run {
    route: &'static str,
    requests_per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    non_2xx: u64,
}

#[derive(Debug, Serialize)]
struct Report {
    residents: usize,
    duration_seconds: u32,
    connections: u32,
    guarded: Run,
    baseline: Run,
    /// Guarded throughput over baseline throughput.
    ratio: f64,
}

/// `wrk`'s latency figure, e.g. `1.23ms`, `850.00us`, `1.02s`, in milliseconds.
fn millis(text: &str) -> Option<f64> {
    let (number, unit) = text.split_at(text.find(|c: char| c.is_ascii_alphabetic())?);
    let n: f64 = number.parse().ok()?;
    Some(match unit {
        "us" => n / 1000.0,
        "ms" => n,
        "s" => n * 1000.0,
        "m" => n * 60_000.0,
        _ => return None,
    })
}

fn parse_wrk(route: &'static str, out: &str) -> anyhow::Result<Run> {
    let mut run = Run {
        route,
        requests_per_second: 0.0,
        p50_ms: 0.0,
        p99_ms: 0.0,
        non_2xx: 0,
    };
    for line in out.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["Requests/sec:", n] => run.requests_per_second = n.parse()?,
            ["50%", t] => run.p50_ms = millis(t).unwrap_or_default(),
            ["99%", t] => run.p99_ms = millis(t).unwrap_or_default(),
            ["Non-2xx", "or", "3xx", "responses:", n] => run.non_2xx = n.parse()?,
            _ => {}
        }
    }
    if run.requests_per_second == 0.0 {
        bail!("could not read wrk's output:\n{out}");
    }
    Ok(run)
}

/// A wrk script that asks for random residents from `keys`.
fn script(keys: &[String], prefix: &str, headers: &[(&str, String)]) -> String {
    let list = keys
        .iter()
        .map(|k| format!("\"{k}\""))
        .collect::<Vec<_>>()
        .join(",");
    let headers = headers
        .iter()
        .map(|(k, v)| format!("wrk.headers[\"{k}\"] = \"{v}\"\n"))
        .collect::<String>();
    format!(
        "local keys = {{{list}}}\n{headers}math.randomseed(7)\n\
         request = function()\n  return wrk.format(\"GET\", \"{prefix}\" .. keys[math.random(#keys)])\nend\n"
    )
}

fn wrk(
    url: &str,
    script_path: &Path,
    seconds: u32,
    connections: u32,
    route: &'static str,
) -> anyhow::Result<Run> {
    let out = Command::new("wrk")
        .args([
            "-t1",
            &format!("-c{connections}"),
            &format!("-d{seconds}s"),
            "--latency",
            "-s",
        ])
        .arg(script_path)
        .arg(url)
        .output()
        .context("cannot run wrk: install it (apt-get install wrk)")?;
    if !out.status.success() {
        bail!("wrk failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    parse_wrk(route, &String::from_utf8_lossy(&out.stdout))
}

pub async fn run(hub: Hub, data_dir: &Path, seconds: u32, connections: u32) -> anyhow::Result<()> {
    let credentials: DemoCredentials = serde_json::from_slice(
        &std::fs::read(data_dir.join(crate::commands::DEMO_CREDENTIALS_FILE))
            .context("no demo credentials: seed the directory with `sangam demo --no-serve`")?,
    )?;
    let app = hub.active_application(&credentials.application_id).await?;
    let fields = app
        .doc
        .agreement()
        .and_then(|a| a.purpose(&credentials.purpose))
        .map(|p| p.fields.clone())
        .context("the demo application has no agreement for its purpose")?;
    let mut keys = Vec::new();
    let mut after: Option<String> = None;
    while keys.len() < 20_000 {
        let page = hub
            .store()
            .matchable_residents(after.as_deref(), 5_000)
            .await?;
        let Some(last) = page.last() else { break };
        after = Some(last.resident.resident_id.clone());
        keys.extend(page.iter().filter_map(|m| {
            m.resident
                .id_ref_key
                .as_ref()
                .map(|k| k.as_str().to_owned())
        }));
    }
    if keys.is_empty() {
        bail!("the hub has no residents with ID numbers");
    }
    let options = sangam_server::ServerOptions {
        trusted_proxies: Default::default(),
        benchmark_baseline: Some(fields),
    };
    let server = sangam_server::start_with(hub, "127.0.0.1:0".parse()?, false, options).await?;
    let base = format!("http://{}", server.addr);
    let token: serde_json::Value = reqwest::Client::new()
        .post(format!("{base}/oauth2/token"))
        .basic_auth(&credentials.client_id, Some(&credentials.client_secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let token = token["access_token"].as_str().context("no access token")?;
    let dir = tempfile::tempdir()?;
    let guarded = dir.path().join("guarded.lua");
    std::fs::write(
        &guarded,
        script(
            &keys,
            "/v1/share/residents/",
            &[
                ("Authorization", format!("Bearer {token}")),
                ("X-Purpose", credentials.purpose.clone()),
            ],
        ),
    )?;
    let baseline = dir.path().join("baseline.lua");
    std::fs::write(&baseline, script(&keys, "/bench/baseline/residents/", &[]))?;
    // A short warm-up of each, then the measured runs, guarded first.
    wrk(&base, &guarded, 2, connections, "guarded")?;
    wrk(&base, &baseline, 2, connections, "baseline")?;
    let guarded =
        tokio::task::block_in_place(|| wrk(&base, &guarded, seconds, connections, "guarded"))?;
    let baseline =
        tokio::task::block_in_place(|| wrk(&base, &baseline, seconds, connections, "baseline"))?;
    server.shutdown().await?;
    let report = Report {
        residents: keys.len(),
        duration_seconds: seconds,
        connections,
        ratio: guarded.requests_per_second / baseline.requests_per_second,
        guarded,
        baseline,
    };
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]
    use super::*;

    #[test]
    fn wrk_output_is_read() {
        let out = "  Latency Distribution\n     50%  812.00us\n     75%    1.20ms\n     99%    4.51ms\n\
                   Non-2xx or 3xx responses: 3\nRequests/sec:   6021.55\n";
        let run = parse_wrk("guarded", out).unwrap();
        assert!((run.requests_per_second - 6021.55).abs() < 1e-9);
        assert!((run.p50_ms - 0.812).abs() < 1e-9);
        assert!((run.p99_ms - 4.51).abs() < 1e-9);
        assert_eq!(run.non_2xx, 3);
        assert!(parse_wrk("x", "nothing").is_err());
    }
}
