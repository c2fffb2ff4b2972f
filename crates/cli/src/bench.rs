//! `sangam bench`: vault writes, vault lookups and registry inserts per second on this machine
//! and this store. Run it on an empty data directory or database: it adds data.

#![allow(
    clippy::print_stdout,
    reason = "the benchmark reports on standard output"
)]

use std::time::Instant;

use anyhow::bail;
use sangam_domain::{ConsentRef, IdNumber};
use sangam_hub::Hub;
use serde::Serialize;

const BATCH: u64 = 1_000;

#[derive(Debug, Serialize)]
struct Report {
    backend: &'static str,
    n: u64,
    vault_writes_per_sec: f64,
    vault_lookups_per_sec: f64,
    registry_residents_per_sec: f64,
    registry_households: u64,
    registry_residents: u64,
}

/// ID numbers no generator produces in this order: a fixed prefix and a counter.
fn id_number(i: u64) -> anyhow::Result<IdNumber> {
    IdNumber::from_eleven_digits(&format!("9{i:010}"))
        .map_err(|e| anyhow::anyhow!("benchmark number {i}: {}", e.message))
}

pub async fn run(hub: &Hub, n: u64) -> anyhow::Result<()> {
    if n == 0 {
        bail!("--n must be at least 1");
    }
    if hub.registry_counts().await?.households > 0 {
        bail!("the benchmark adds data: run it on an empty --data-dir or database");
    }
    let consent = ConsentRef::parse("BENCH").map_err(|e| anyhow::anyhow!(e.message))?;

    // Vault writes: seal, blind index and reference key, stored in batches.
    let started = Instant::now();
    let mut i = 0;
    while i < n {
        let end = (i + BATCH).min(n);
        let items = (i..end)
            .map(|k| Ok((id_number(k)?, consent.clone())))
            .collect::<anyhow::Result<Vec<_>>>()?;
        hub.vault().put_many(items).await?;
        i = end;
    }
    let writes = n as f64 / started.elapsed().as_secs_f64();

    // Vault lookups: one blind-index lookup per number, one after another.
    let lookups_n = n.min(20_000);
    let started = Instant::now();
    for k in 0..lookups_n {
        let id = id_number(k * (n / lookups_n).max(1))?;
        if hub.vault().find(&id).await?.is_none() {
            bail!("benchmark number {k} was written but not found");
        }
    }
    let lookups = lookups_n as f64 / started.elapsed().as_secs_f64();

    // Registry inserts: synthetic households with their members, IDs vaulted on the way.
    let households = (n * 10 / 43).max(1);
    let started = Instant::now();
    let loaded = hub.seed_demo(households, 7, |_| {}).await?;
    let residents = loaded.residents as f64 / started.elapsed().as_secs_f64();

    let report = Report {
        backend: hub.store().backend_name(),
        n,
        vault_writes_per_sec: writes.round(),
        vault_lookups_per_sec: lookups.round(),
        registry_residents_per_sec: residents.round(),
        registry_households: loaded.households,
        registry_residents: loaded.residents,
    };
    eprintln!(
        "{}: vault writes {:.0}/s, vault lookups {:.0}/s, registry inserts {:.0} residents/s",
        report.backend, writes, lookups, residents
    );
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}
