//! What each subcommand does.

#![allow(
    clippy::print_stdout,
    reason = "a command-line program reports on standard output"
)]

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use sangam_hub::Hub;
use sangam_hub::bootstrap::{self, StoreLocation, StoreUse};
use sangam_hub::clock::SystemClock;
use sangam_hub::demo::DemoCredentials;

use crate::config::{FlagOverrides, Settings};
use crate::{
    AuditCommand, Cli, Command, ConfigCommand, JobsCommand, KeysCommand, RoleArg, StoreArgs,
    UsersCommand,
};

/// The file `sangam demo` writes its sign-in and client credentials to.
pub const DEMO_CREDENTIALS_FILE: &str = "demo-credentials.json";

fn settings(
    cli_config: Option<&Path>,
    store: &StoreArgs,
    listen: Option<std::net::SocketAddr>,
) -> anyhow::Result<Settings> {
    let settings = Settings::load(
        cli_config,
        FlagOverrides {
            data_dir: store.data_dir.clone(),
            listen,
            database_url: store.database_url.clone(),
        },
    )?;
    crate::init_logging(&settings.log_level, settings.log_format);
    Ok(settings)
}

/// Whether a command may create a hub where there is none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Open {
    /// `serve`, `demo`, `users set`, `bench`: a new location becomes a new hub.
    CreateIfMissing,
    /// Commands that inspect or maintain a hub: a mistyped location is an error.
    Existing,
    /// `ingest`: as `CreateIfMissing`, with the store opened for a load on its own
    /// (`StoreUse::BulkLoad`).
    BulkLoad,
}

/// Opens the hub the settings describe: data directory, master key, store, vault.
pub async fn open_hub(settings: &Settings, open: Open) -> anyhow::Result<Hub> {
    // Settings that the hub checks are refused before anything is opened or created.
    let retention =
        sangam_hub::uploads::retention::RetentionPolicy::new(settings.rejections_retention_days)?;
    let location = settings.store_location()?;
    let mut key_source = settings.master_key_source()?;
    if open == Open::Existing
        && let bootstrap::MasterKeySource::File { create, .. } = &mut key_source
    {
        *create = false;
    }
    let creates_key = matches!(
        &key_source,
        bootstrap::MasterKeySource::File { create: true, .. }
    );
    if open != Open::Existing && (matches!(location, StoreLocation::Sqlite(_)) || creates_key) {
        bootstrap::prepare_data_dir(&settings.data_dir)?;
    }
    if open == Open::Existing
        && let StoreLocation::Sqlite(dir) = &location
        && !dir.join(bootstrap::SQLITE_DATABASE_FILE).exists()
    {
        anyhow::bail!(
            "there is no hub in {}: start one with `sangam serve` or `sangam demo`, or name the \
             right --data-dir",
            dir.display()
        );
    }
    let (master_key, created) = bootstrap::load_master_key(&key_source)?;
    if created {
        tracing::info!(fingerprint = %master_key.fingerprint(), "created a new master key file; back it up");
    }
    let clock = Arc::new(SystemClock);
    let hub = match open {
        Open::CreateIfMissing => bootstrap::open_hub(&location, &master_key, clock).await?,
        Open::Existing => bootstrap::open_existing_hub(&location, &master_key, clock).await?,
        Open::BulkLoad => {
            bootstrap::open_hub_for(&location, StoreUse::BulkLoad, &master_key, clock).await?
        }
    };
    hub.set_link_policy(sangam_hub::linking::LinkPolicy {
        link_at: settings.link_at,
        review_at: settings.review_at,
        ..sangam_hub::linking::LinkPolicy::default()
    })
    .context("link_at and review_at")?;
    hub.set_retention_policy(retention);
    tracing::info!(backend = hub.store().backend_name(), "hub opened");
    Ok(hub)
}

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let config = cli.config.as_deref();
    match cli.command {
        Command::Serve { store, listen } => {
            let settings = settings(config, &store, listen)?;
            let hub = open_hub(&settings, Open::CreateIfMissing).await?;
            serve(hub, &settings).await?;
        }
        Command::Demo {
            store,
            listen,
            households,
            seed,
            no_serve,
        } => {
            let settings = settings(config, &store, listen)?;
            let hub = open_hub(&settings, Open::CreateIfMissing).await?;
            let credentials = seed_demo(&hub, &settings.data_dir, households, seed).await?;
            if no_serve {
                print_demo_banner(&credentials, None, &settings.data_dir);
            } else {
                let server = sangam_server::start_with(
                    hub,
                    settings.listen,
                    true,
                    server_options(&settings)?,
                )
                .await
                .with_context(|| format!("cannot listen on {}", settings.listen))?;
                print_demo_banner(&credentials, Some(server.addr), &settings.data_dir);
                wait_for_signal(server).await?;
            }
        }
        Command::Ingest {
            store,
            dataset,
            mode,
            organisation,
            idempotency_key,
            report,
            confirm_removals,
            sheet,
            file,
        } => {
            let settings = settings(config, &store, None)?;
            let hub = open_hub(&settings, Open::BulkLoad).await?;
            let args = crate::ingest::IngestArgs {
                dataset,
                mode: mode.into(),
                file,
                organisation,
                idempotency_key,
                report,
                sheet,
                confirm_removals,
            };
            crate::ingest::run(&hub, args).await?;
        }
        Command::Upload {
            url,
            user,
            password_file,
            dataset,
            mode,
            idempotency_key,
            corrects,
            confirm_removals,
            sheet,
            rejections,
            mapping,
            file,
        } => {
            let token = std::env::var("SANGAM_TOKEN").ok().filter(|t| !t.is_empty());
            let password = match (&token, &user) {
                (None, Some(_)) => Some(read_password(password_file.as_deref())?),
                _ => None,
            };
            crate::upload::run(crate::upload::UploadArgs {
                url,
                user,
                password,
                token,
                dataset,
                mode: mode.into(),
                idempotency_key,
                corrects,
                confirm_removals,
                sheet,
                rejections,
                mapping,
                file,
            })
            .await?;
        }
        Command::Match {
            left,
            right,
            out,
            id_column,
            threshold,
            reference_date,
            explain,
            report,
        } => {
            let config = if cli.config_on_command_line {
                cli.config.clone()
            } else {
                None
            };
            // Matching is CPU-bound and runs on rayon's pool, off the async runtime.
            tokio::task::spawn_blocking(move || {
                crate::matching::run(crate::matching::MatchArgs {
                    left,
                    right,
                    out,
                    id_column,
                    config,
                    threshold,
                    reference_date,
                    explain,
                    report,
                })
            })
            .await??;
        }
        Command::Synth {
            households,
            seed,
            out,
            linkage,
            noise,
            scheme_share,
        } => {
            if let Some(dir) = linkage {
                let config = sangam_synth::LinkageConfig {
                    seed,
                    households,
                    noise,
                    scheme_share,
                    ..Default::default()
                };
                let counts = sangam_synth::write_linkage_dir(&config, &dir)
                    .with_context(|| format!("cannot write linkage data to {}", dir.display()))?;
                eprintln!(
                    "wrote {} base residents and {} scheme records ({} duplicates, {} not in base) to {}",
                    counts.base,
                    counts.scheme,
                    counts.duplicates,
                    counts.outside,
                    dir.display()
                );
                return Ok(ExitCode::SUCCESS);
            }
            let out = out.context("--out or --linkage is required")?;
            let file = std::fs::File::create(&out)
                .with_context(|| format!("cannot create {}", out.display()))?;
            let generator = sangam_synth::Generator::new(sangam_synth::GeneratorConfig {
                seed,
                households,
                ..Default::default()
            });
            let rows =
                sangam_synth::write_base_registry_csv(&generator, std::io::BufWriter::new(file))
                    .with_context(|| format!("cannot write {}", out.display()))?;
            eprintln!(
                "wrote {rows} member rows of {households} households to {}",
                out.display()
            );
        }
        Command::Users {
            command:
                UsersCommand::Set {
                    store,
                    username,
                    role,
                    organisation,
                    password_file,
                },
        } => {
            let settings = settings(config, &store, None)?;
            let password = read_password(password_file.as_deref())?;
            let hub = open_hub(&settings, Open::CreateIfMissing).await?;
            let role = match role {
                RoleArg::Admin => sangam_store::Role::Admin,
                RoleArg::NodalOfficer => sangam_store::Role::NodalOfficer,
            };
            hub.save_user(&username, &password, role, organisation.as_deref(), "cli")
                .await?;
            eprintln!("user {username} saved with role {}", role.code());
        }
        Command::Keys { command } => keys(config, command).await?,
        Command::Jobs {
            command: JobsCommand::Run { store },
        } => {
            let settings = settings(config, &store, None)?;
            let hub = open_hub(&settings, Open::Existing).await?;
            // The purge is recurring work a worker makes sure of at its start.
            hub.schedule_rejection_purge().await?;
            let mut failed = 0;
            while let Some(run) = hub.run_next_job().await? {
                println!("{}", serde_json::to_string(&run)?);
                // A step that failed is retried later, or given up after too many attempts.
                failed += usize::from(matches!(run.outcome, "failed" | "retry"));
            }
            if failed > 0 {
                eprintln!(
                    "{failed} job step(s) failed (retried later, or given up); the log and the \
                     jobs table have their errors"
                );
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::Audit {
            command: AuditCommand::Verify { store },
        } => {
            let settings = settings(config, &store, None)?;
            let hub = open_hub(&settings, Open::Existing).await?;
            let report = hub.verify_audit().await?;
            println!("{}", serde_json::to_string(&report)?);
            if let Some(broken) = report.broken {
                eprintln!("the audit log is broken: {broken}");
                return Ok(ExitCode::FAILURE);
            }
            eprintln!(
                "the audit log is intact: {} entries, head {}",
                report.entries, report.head
            );
        }
        Command::Config {
            command: ConfigCommand::Default,
        } => print!("{}", crate::config::EXAMPLE),
        Command::Bench { store, n } => {
            let settings = settings(config, &store, None)?;
            let hub = open_hub(&settings, Open::CreateIfMissing).await?;
            crate::bench::run(&hub, n).await?;
        }
        Command::BenchShare {
            store,
            seconds,
            connections,
        } => {
            let settings = settings(config, &store, None)?;
            let hub = open_hub(&settings, Open::Existing).await?;
            crate::bench_share::run(hub, &settings.data_dir, seconds, connections).await?;
        }
        Command::BenchValidate {
            store,
            queries,
            limit,
            concurrency,
            with_id_numbers,
            url,
            username,
            password_file,
            dataset,
        } => {
            let queries = crate::bench_validate::read_queries(&queries, limit, with_id_numbers)?;
            match (url, username, password_file, dataset) {
                (Some(url), Some(username), Some(password_file), Some(dataset)) => {
                    let password = std::fs::read_to_string(&password_file)
                        .with_context(|| format!("cannot read {}", password_file.display()))?;
                    let target = crate::bench_validate::Target::Http {
                        url: &url,
                        username: &username,
                        password: password.trim_end_matches(['\n', '\r']),
                        dataset: &dataset,
                    };
                    crate::bench_validate::run(target, queries, 1).await?;
                }
                _ => {
                    let settings = settings(config, &store, None)?;
                    let hub = open_hub(&settings, Open::Existing).await?;
                    crate::bench_validate::run(
                        crate::bench_validate::Target::InProcess(&hub),
                        queries,
                        concurrency.unwrap_or_else(|| {
                            std::thread::available_parallelism().map_or(1, usize::from)
                        }),
                    )
                    .await?;
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn keys(config: Option<&Path>, command: KeysCommand) -> anyhow::Result<()> {
    match command {
        KeysCommand::Rotate { store, wait } => {
            let settings = settings(config, &store, None)?;
            let hub = open_hub(&settings, Open::Existing).await?;
            let version = hub.rotate_data_key("cli").await?;
            if wait {
                let runs = hub.run_jobs_until_idle().await?;
                eprintln!(
                    "data key version {version} is active; {} re-encryption steps done",
                    runs.len()
                );
            } else {
                eprintln!(
                    "data key version {version} is active; a serving hub re-encrypts the vault in the background \
                     (or run `sangam keys rotate --wait`)"
                );
            }
            println!("{}", serde_json::to_string(&hub.vault().status().await?)?);
        }
        KeysCommand::Retire { store, version } => {
            let settings = settings(config, &store, None)?;
            let hub = open_hub(&settings, Open::Existing).await?;
            hub.retire_data_key(version, "cli").await?;
            println!("{}", serde_json::to_string(&hub.vault().status().await?)?);
        }
        KeysCommand::Status { store } => {
            let settings = settings(config, &store, None)?;
            let hub = open_hub(&settings, Open::Existing).await?;
            println!("{}", serde_json::to_string(&hub.vault().status().await?)?);
        }
    }
    Ok(())
}

fn server_options(settings: &Settings) -> anyhow::Result<sangam_server::ServerOptions> {
    let trusted_proxies = sangam_access::network::TrustedProxies::parse(&settings.trusted_proxies)
        .map_err(|e| anyhow::anyhow!("trusted_proxies: {e}"))?;
    Ok(sangam_server::ServerOptions {
        trusted_proxies,
        benchmark_baseline: None,
    })
}

async fn serve(hub: Hub, settings: &Settings) -> anyhow::Result<()> {
    let listen = settings.listen;
    let server = sangam_server::start_with(hub, listen, true, server_options(settings)?)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    tracing::info!(addr = %server.addr, "serving");
    eprintln!("Sangam is serving on http://{}", server.addr);
    wait_for_signal(server).await
}

/// Serves until Ctrl-C or SIGTERM, then lets requests in flight finish.
async fn wait_for_signal(server: sangam_server::RunningServer) -> anyhow::Result<()> {
    let stop = server.shutdown_sender();
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(s) => s,
                    Err(_) => {
                        let _ = ctrl_c.await;
                        let _ = stop.send(true);
                        return;
                    }
                };
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        tracing::info!("shutting down");
        let _ = stop.send(true);
    });
    server
        .wait()
        .await
        .context("the server stopped with an error")
}

/// Seeds an empty hub and writes the demo credentials; an already seeded hub keeps its data
/// and its credentials file.
async fn seed_demo(
    hub: &Hub,
    data_dir: &Path,
    households: u64,
    seed: u64,
) -> anyhow::Result<DemoCredentials> {
    let path = data_dir.join(DEMO_CREDENTIALS_FILE);
    let counts = hub.registry_counts().await?;
    if counts.households == 0 {
        let bar = indicatif::ProgressBar::new(households);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} seeding {pos}/{len} households [{bar:40}] {per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        let started = std::time::Instant::now();
        let loaded = hub
            .seed_demo(households, seed, |done| bar.set_position(done))
            .await?;
        bar.finish_and_clear();
        eprintln!(
            "seeded {} households, {} residents, {} ID numbers in the vault in {:.1}s",
            loaded.households,
            loaded.residents,
            loaded.id_numbers,
            started.elapsed().as_secs_f64()
        );
    } else if let Some(credentials) = std::fs::read_to_string(&path)
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .and_then(|json| credentials_from_json(&json))
    {
        eprintln!(
            "{} already holds {} households; serving them",
            data_dir.display(),
            counts.households
        );
        return Ok(credentials);
    }
    let credentials = hub.issue_demo_credentials().await?;
    write_private(&path, &serde_json::to_vec_pretty(&credentials)?)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(credentials)
}

fn credentials_from_json(v: &serde_json::Value) -> Option<DemoCredentials> {
    serde_json::from_value(v.clone()).ok()
}

/// Writes a file only its owner can read.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(bytes)
}

fn print_demo_banner(c: &DemoCredentials, addr: Option<std::net::SocketAddr>, data_dir: &Path) {
    let base = addr.map(|a| format!("http://{a}"));
    println!("Sangam demo hub");
    if let Some(base) = &base {
        println!(
            "  API:          {base}/v1/   (OpenAPI: {base}/openapi.json, health: {base}/healthz)"
        );
    }
    println!(
        "  Sign in:      user {}  password {}",
        c.admin_username, c.admin_password
    );
    println!(
        "  Credentials:  {}",
        data_dir.join(DEMO_CREDENTIALS_FILE).display()
    );
    if let Some(base) = &base {
        println!(
            "  Try:          curl -s -X POST {base}/v1/session -H 'content-type: application/json' \
             -d '{{\"username\":\"{}\",\"password\":\"{}\"}}'",
            c.admin_username, c.admin_password
        );
        println!(
            "  Application:  {} (live; purpose {}): curl -s -u {}:<client_secret from the \
             credentials file> -d grant_type=client_credentials {base}/oauth2/token",
            c.application_id, c.purpose, c.client_id
        );
        println!("  Stop with Ctrl-C.");
    }
}

/// The first line of the password file, or of standard input.
fn read_password(file: Option<&Path>) -> anyhow::Result<String> {
    let text = match file {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the password file {}", path.display()))?,
        None => {
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .context("cannot read the password from standard input")?;
            line
        }
    };
    let password = text.lines().next().unwrap_or("").to_owned();
    if password.is_empty() {
        anyhow::bail!(
            "no password given: put it on the first line of --password-file or of standard input"
        );
    }
    Ok(password)
}
