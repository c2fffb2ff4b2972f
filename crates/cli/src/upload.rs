//! `sangam upload`: sends a department's file to a running hub over its API, with a progress
//! bar, and ends with the counts; optionally fetches the rejected rows and the mapping.

#![allow(
    clippy::print_stdout,
    reason = "the command ends with one JSON line on standard output"
)]

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use futures_util::stream;
use sangam_hub::uploads::UploadMode;
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;

/// What the command was asked.
#[derive(Debug)]
pub struct UploadArgs {
    pub url: String,
    pub user: Option<String>,
    pub password: Option<String>,
    pub token: Option<String>,
    pub dataset: String,
    pub mode: UploadMode,
    pub idempotency_key: Option<String>,
    pub corrects: Option<String>,
    pub confirm_removals: bool,
    pub sheet: Option<String>,
    pub rejections: Option<PathBuf>,
    pub mapping: Option<PathBuf>,
    pub file: PathBuf,
}

/// Reads the upload's status until its load has ended, with a spinner; the upload as read
/// last. A failed read is tried again for a while (the load goes on whatever the client
/// does).
async fn follow(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    id: &str,
) -> anyhow::Result<Value> {
    let spinner = indicatif::ProgressBar::new_spinner();
    spinner.set_message("sent; the hub is validating and loading it");
    let mut failures = 0;
    loop {
        spinner.tick();
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        let read = client
            .get(format!("{base}/v1/uploads/{id}"))
            .bearer_auth(token)
            .send()
            .await;
        let upload: Value = match read {
            Ok(r) if r.status().is_success() => {
                r.json().await.context("the hub's answer is not JSON")?
            }
            Ok(r) if r.status().is_client_error() => return Err(refusal(r).await),
            Ok(_) | Err(_) if failures < 40 => {
                failures += 1;
                continue;
            }
            Ok(r) => return Err(refusal(r).await),
            Err(e) => {
                return Err(anyhow::Error::new(e)
                    .context(format!("cannot read the status of upload {id} from {base}")));
            }
        };
        failures = 0;
        if upload["status"] != "validating" && upload["status"] != "received" {
            spinner.finish_and_clear();
            return Ok(upload);
        }
    }
}

/// The problem+json detail of a refused request, or its status.
async fn refusal(response: reqwest::Response) -> anyhow::Error {
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    let detail = body["detail"].as_str().unwrap_or("");
    let codes: Vec<&str> = body["errors"]
        .as_array()
        .map(|e| e.iter().filter_map(|p| p["code"].as_str()).collect())
        .unwrap_or_default();
    if codes.is_empty() {
        anyhow::anyhow!("the hub refused the request ({status}): {detail}")
    } else {
        anyhow::anyhow!(
            "the hub refused the request ({status}): {detail} ({})",
            codes.join(", ")
        )
    }
}

async fn bearer(client: &reqwest::Client, base: &str, args: &UploadArgs) -> anyhow::Result<String> {
    if let Some(token) = &args.token {
        return Ok(token.clone());
    }
    let (Some(user), Some(password)) = (&args.user, &args.password) else {
        bail!(
            "sign in with --user (password from --password-file or standard input), or set SANGAM_TOKEN"
        );
    };
    let r = client
        .post(format!("{base}/v1/session"))
        .json(&json!({"username": user, "password": password}))
        .send()
        .await
        .with_context(|| format!("cannot reach the hub at {base}"))?;
    if !r.status().is_success() {
        return Err(refusal(r).await);
    }
    let body: Value = r
        .json()
        .await
        .context("the hub's sign-in answer is not JSON")?;
    body["token"]
        .as_str()
        .map(str::to_owned)
        .context("the hub's sign-in answer has no token")
}

async fn download(
    client: &reqwest::Client,
    url: String,
    token: &str,
    to: &Path,
) -> anyhow::Result<()> {
    let r = client.get(url).bearer_auth(token).send().await?;
    if !r.status().is_success() {
        return Err(refusal(r).await);
    }
    let bytes = r.bytes().await?;
    std::fs::write(to, &bytes).with_context(|| format!("cannot write {}", to.display()))
}

pub async fn run(args: UploadArgs) -> anyhow::Result<()> {
    let base = args.url.trim_end_matches('/').to_owned();
    let client = reqwest::Client::builder()
        .build()
        .context("cannot start the HTTP client")?;
    let token = bearer(&client, &base, &args).await?;

    let file = tokio::fs::File::open(&args.file)
        .await
        .with_context(|| format!("cannot open {}", args.file.display()))?;
    let size = file.metadata().await.map(|m| m.len()).unwrap_or(0);
    let bar = indicatif::ProgressBar::new(size);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:30} {bytes}/{total_bytes} sent ({bytes_per_sec}) {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let sending = bar.clone();
    // The file goes out in 1 MiB pieces, so memory stays flat whatever its size.
    let body = stream::unfold(file, move |mut file| {
        let bar = sending.clone();
        async move {
            let mut buf = vec![0u8; 1 << 20];
            match file.read(&mut buf).await {
                Ok(0) => None,
                Ok(n) => {
                    buf.truncate(n);
                    bar.inc(n as u64);
                    Some((Ok::<_, std::io::Error>(buf), file))
                }
                Err(e) => Some((Err(e), file)),
            }
        }
    });
    let file_name = args
        .file
        .file_name()
        .map_or_else(|| "upload".into(), |n| n.to_string_lossy().into_owned());
    let mut query = vec![
        ("dataset", args.dataset.clone()),
        ("mode", args.mode.code().to_owned()),
        ("file_name", file_name),
    ];
    if args.confirm_removals {
        query.push(("confirm_removals", "true".to_owned()));
    }
    for (name, value) in [
        ("idempotency_key", &args.idempotency_key),
        ("corrects", &args.corrects),
        ("sheet", &args.sheet),
    ] {
        if let Some(v) = value {
            query.push((name, v.clone()));
        }
    }
    let response = client
        .post(format!("{base}/v1/uploads"))
        .bearer_auth(&token)
        .query(&query)
        // Answered once the file is in and its header checked; the load is then followed
        // by its status, so that no proxy's time limit on one request can cut a long load.
        .header("prefer", "respond-async")
        .header(reqwest::header::CONTENT_LENGTH, size)
        .body(reqwest::Body::wrap_stream(body))
        .send();
    // Once the file is sent, the hub validates and loads it before it answers.
    let waiting = bar.clone();
    let ticker = tokio::spawn(async move {
        loop {
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            if waiting.position() >= waiting.length().unwrap_or(0) {
                waiting.set_message("sent; the hub is validating and loading it");
                waiting.tick();
            }
        }
    });
    let response = response
        .await
        .with_context(|| format!("cannot send the file to {base}"));
    ticker.abort();
    bar.finish_and_clear();
    let response = response?;
    if !response.status().is_success() {
        return Err(refusal(response).await);
    }
    let accepted = response.status() == reqwest::StatusCode::ACCEPTED;
    let mut result: Value = response
        .json()
        .await
        .context("the hub's answer is not JSON")?;
    let id = result["upload"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if accepted {
        result["upload"] = follow(&client, &base, &token, &id).await?;
    }
    let upload = &result["upload"];
    if upload["status"] == "failed" {
        anyhow::bail!(
            "upload {id} failed: {}",
            upload["error"].as_str().unwrap_or("no reason given")
        );
    }
    let c = &upload["counts"];
    if result["already_loaded"] == true {
        eprintln!(
            "this file was loaded before as upload {id} (same checksum and idempotency key); nothing was done"
        );
    } else {
        eprintln!(
            "upload {id}: {} rows, {} accepted, {} rejected (added {}, modified {}, deleted {}, unchanged {})",
            c["rows"],
            c["accepted"],
            c["rejected"],
            c["added"],
            c["modified"],
            c["deleted"],
            c["unchanged"]
        );
    }
    if let Some(to) = &args.rejections {
        let format = if to
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("xlsx"))
        {
            "xlsx"
        } else {
            "csv"
        };
        download(
            &client,
            format!("{base}/v1/uploads/{id}/rejections?format={format}"),
            &token,
            to,
        )
        .await?;
        eprintln!("rejected rows written to {}", to.display());
    }
    if let Some(to) = &args.mapping {
        download(
            &client,
            format!("{base}/v1/uploads/{id}/mapping"),
            &token,
            to,
        )
        .await?;
        eprintln!("reference-key mapping written to {}", to.display());
    }
    let line = json!({
        "upload_id": id,
        "status": upload["status"],
        "already_loaded": result["already_loaded"],
        "rows": c["rows"],
        "accepted": c["accepted"],
        "rejected": c["rejected"],
        "added": c["added"],
        "modified": c["modified"],
        "deleted": c["deleted"],
        "unchanged": c["unchanged"],
    });
    println!("{line}");
    Ok(())
}
