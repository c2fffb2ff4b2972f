//! `sangam`: the hub's one binary. It serves the API, seeds a demo, manages the vault's keys,
//! verifies the audit log and measures the hub's speed. Errors end the process with one clear
//! line and a non-zero exit status.

mod bench;
mod bench_share;
mod bench_validate;
mod commands;
mod config;
mod ingest;
mod matching;
mod upload;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::config::LogFormat;

#[derive(Debug, Parser)]
#[command(
    name = "sangam",
    version,
    about = "The unified data hub of a state's welfare schemes"
)]
struct Cli {
    /// A TOML configuration file (`sangam config default` prints an example). For
    /// `sangam match`, the matching configuration instead (column roles, threshold).
    #[arg(long, global = true, env = "SANGAM_CONFIG")]
    config: Option<PathBuf>,
    /// Whether `--config` was written on the command line (not taken from SANGAM_CONFIG):
    /// `sangam match` reads only a file it was given explicitly.
    #[arg(skip)]
    config_on_command_line: bool,
    #[command(subcommand)]
    command: Command,
}

/// Where the hub's data is: shared by every subcommand that touches the store.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// Data directory of the embedded store (and of the default master key file).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// PostgreSQL URL; the embedded store is used when absent.
    #[arg(long)]
    database_url: Option<String>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the API and the background worker.
    Serve {
        #[command(flatten)]
        store: StoreArgs,
        /// Address to listen on, e.g. 0.0.0.0:8080.
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
    },
    /// Seed a data directory with synthetic households and serve it.
    Demo {
        #[command(flatten)]
        store: StoreArgs,
        /// Address to listen on, e.g. 127.0.0.1:8080 (port 0 picks a free port).
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
        /// Number of synthetic households (about 4.3 residents each).
        #[arg(long, default_value_t = 1000)]
        households: u64,
        /// Seed of the generator: the same seed gives the same people.
        #[arg(long, default_value_t = 2026)]
        seed: u64,
        /// Seed and write the credentials, then exit instead of serving.
        #[arg(long)]
        no_serve: bool,
    },
    /// Load a department's file straight into the store (first-time migration of large files).
    /// Ends with one JSON line of counts; rejected rows go to the report file it names.
    Ingest {
        #[command(flatten)]
        store: StoreArgs,
        /// The dataset: `base` for the base registry (one row per member).
        #[arg(long)]
        dataset: String,
        /// `full` (the dataset's whole content) or `incremental` (rows say add, modify or delete).
        #[arg(long, value_enum, default_value_t = ModeArg::Full)]
        mode: ModeArg,
        /// The organisation the data comes from (default: the dataset's own).
        #[arg(long)]
        organisation: Option<String>,
        /// With the file's checksum, makes the same upload load once only.
        #[arg(long, default_value = "cli")]
        idempotency_key: String,
        /// Where to write rejected rows (default: FILE.rejected.csv beside the file).
        #[arg(long)]
        report: Option<PathBuf>,
        /// Let a full upload of a scheme remove more than a fifth of the records the hub
        /// holds (without it, such an upload stops and keeps nothing, in case the file is not
        /// whole).
        #[arg(long)]
        confirm_removals: bool,
        /// The sheet of an XLSX file (default: the first).
        #[arg(long)]
        sheet: Option<String>,
        /// The file: CSV, XLSX or JSON Lines.
        file: PathBuf,
    },
    /// Send a department's file to a running hub over its API, with a progress bar; ends with
    /// one JSON line of counts.
    Upload {
        /// The hub's address, for example http://127.0.0.1:8080.
        #[arg(long, env = "SANGAM_URL")]
        url: String,
        /// Sign in as this user (the password from --password-file or standard input).
        #[arg(long)]
        user: Option<String>,
        /// A file whose first line is the password.
        #[arg(long)]
        password_file: Option<PathBuf>,
        /// The dataset: `base` or a scheme's dataset name.
        #[arg(long)]
        dataset: String,
        #[arg(long, value_enum, default_value_t = ModeArg::Full)]
        mode: ModeArg,
        /// With the file's checksum, makes the same upload load once only.
        #[arg(long)]
        idempotency_key: Option<String>,
        /// The upload whose rejected rows this file corrects.
        #[arg(long)]
        corrects: Option<String>,
        /// Let a full upload of a scheme remove more than a fifth of the records the hub
        /// holds (without it, such an upload stops and keeps nothing, in case the file is not
        /// whole).
        #[arg(long)]
        confirm_removals: bool,
        /// The sheet of an XLSX file (default: the first).
        #[arg(long)]
        sheet: Option<String>,
        /// Also write the rejected rows here (.csv or .xlsx).
        #[arg(long)]
        rejections: Option<PathBuf>,
        /// Also write the reference-key mapping here (CSV).
        #[arg(long)]
        mapping: Option<PathBuf>,
        /// The file: CSV, XLSX or JSON Lines.
        file: PathBuf,
    },
    /// Find the same people in CSV files, with no hub: de-duplicate one file or link two.
    /// Column roles are recognised from common header names and printed; the model trains
    /// itself on the data. `--config FILE` (TOML) may set `threshold`, `id_column`,
    /// `reference_date`, `max_block`, `id_numbers` ("checked" or "strict") and `[columns]`
    /// ("Header" = "role").
    Match {
        /// The file to de-duplicate, or the list to link (say, a scheme's beneficiaries):
        /// each of its records joins at most one record of --right, its best match.
        #[arg(long)]
        left: PathBuf,
        /// The file to link the left one to (say, the base registry, one record a person).
        #[arg(long)]
        right: Option<PathBuf>,
        /// Where to write `id,cluster_id,match_probability`, one row per input record.
        #[arg(long, required_unless_present = "explain")]
        out: Option<PathBuf>,
        /// The column holding each record's id (default: a column named id, rec_id,
        /// record_id, ...; else the row number).
        #[arg(long)]
        id_column: Option<String>,
        /// Match probability at or above which records are put together (default 0.5).
        #[arg(long)]
        threshold: Option<f64>,
        /// The day ages in the files were recorded on (default: today).
        #[arg(long)]
        reference_date: Option<chrono::NaiveDate>,
        /// Print why two records do or do not match: each field's level and weight.
        #[arg(long, num_args = 2, value_names = ["ID1", "ID2"])]
        explain: Option<Vec<String>>,
        /// Write the trained model (comparisons, rules, m and u per level) as JSON here.
        #[arg(long)]
        report: Option<PathBuf>,
    },
    /// Write a synthetic base-registry CSV (one row per member), for trials and benchmarks;
    /// with --linkage, record-linkage test data with ground truth instead.
    #[command(group(clap::ArgGroup::new("target").required(true).args(["out", "linkage"])))]
    Synth {
        /// Number of households (about 4.3 members each).
        #[arg(long, default_value_t = 1000)]
        households: u64,
        #[arg(long, default_value_t = 2026)]
        seed: u64,
        /// The CSV file to write.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Write base.csv, scheme.csv (a noisy beneficiary list) and truth.csv into DIR.
        #[arg(long, value_name = "DIR")]
        linkage: Option<PathBuf>,
        /// With --linkage: how often a scheme record's fields are varied (0 to 1).
        #[arg(long, default_value_t = 0.5, requires = "linkage")]
        noise: f64,
        /// With --linkage: share of residents the scheme enrols.
        #[arg(long, default_value_t = 0.1, requires = "linkage")]
        scheme_share: f64,
    },
    /// Manage the people who sign in to the hub.
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// Manage the vault's data keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Run the hub's queued background work now and exit: what a serving hub's worker does
    /// (linking scheme records, the relink after a base upload, key re-encryption, the purge
    /// of old rejected rows), for a hub loaded with `sangam ingest` and not yet served.
    Jobs {
        #[command(subcommand)]
        command: JobsCommand,
    },
    /// Inspect the audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Configuration helpers.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Measure vault and registry throughput on this machine and store.
    Bench {
        #[command(flatten)]
        store: StoreArgs,
        /// Operations per measurement.
        #[arg(long, default_value_t = 100_000)]
        n: u64,
    },
    /// Measure the consumer resident lookup (token, policy, access log) against the same
    /// lookup unguarded, with `wrk` on loopback. Needs a directory seeded by
    /// `sangam demo --no-serve`.
    BenchShare {
        #[command(flatten)]
        store: StoreArgs,
        /// Seconds per measured run.
        #[arg(long, default_value_t = 20)]
        seconds: u32,
        /// Connections held open by the load generator.
        #[arg(long, default_value_t = 64)]
        connections: u32,
    },
    /// Measure finding candidate beneficiaries in the base data: in-process (the resident
    /// index and incremental matching) with --data-dir or --database-url, or
    /// `POST /v1/validate` of a running hub with --url.
    BenchValidate {
        #[command(flatten)]
        store: StoreArgs,
        /// A CSV of people to look up (columns recognised by name).
        #[arg(long)]
        queries: std::path::PathBuf,
        /// Look up at most this many.
        #[arg(long, default_value_t = 10_000)]
        limit: usize,
        /// Lookups at once in-process (default: the number of cores); over HTTP, requests
        /// go one at a time.
        #[arg(long)]
        concurrency: Option<usize>,
        /// Send the queries' ID numbers too (by default only their details).
        #[arg(long)]
        with_id_numbers: bool,
        /// A running hub to measure over HTTP instead.
        #[arg(long, requires_all = ["username", "password_file", "dataset"])]
        url: Option<String>,
        #[arg(long)]
        username: Option<String>,
        #[arg(long)]
        password_file: Option<std::path::PathBuf>,
        /// The scheme dataset the candidates are validated for (over HTTP).
        #[arg(long)]
        dataset: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum JobsCommand {
    /// Run every job that is due, one step after another, until none is; one JSON line per
    /// step run.
    Run {
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Add a new data-key version; entries are re-encrypted in the background by a serving hub
    /// (or here, with --wait).
    Rotate {
        #[command(flatten)]
        store: StoreArgs,
        /// Re-encrypt every entry now instead of leaving it to a serving hub.
        #[arg(long)]
        wait: bool,
    },
    /// Retire a data-key version that no entry uses any more.
    Retire {
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long)]
        version: u32,
    },
    /// Show the data-key versions and how many entries each seals.
    Status {
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Debug, Subcommand)]
enum UsersCommand {
    /// Create a user or set its password and role. The password is read from --password-file,
    /// or else from the first line of standard input, never from a flag (flags show in `ps`).
    Set {
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long)]
        username: String,
        #[arg(long, value_enum)]
        role: RoleArg,
        /// The organisation a nodal officer uploads for (for example `civil-supplies`).
        #[arg(long, required_if_eq("role", "nodal-officer"))]
        organisation: Option<String>,
        /// A file whose first line is the password.
        #[arg(long)]
        password_file: Option<PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ModeArg {
    Full,
    Incremental,
}

impl From<ModeArg> for sangam_hub::uploads::UploadMode {
    fn from(mode: ModeArg) -> Self {
        match mode {
            ModeArg::Full => Self::Full,
            ModeArg::Incremental => Self::Incremental,
        }
    }
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum RoleArg {
    /// Hub administrator.
    Admin,
    /// A department's nodal officer.
    NodalOfficer,
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Walk the hash chain and name the first broken link (exit status 1 if broken).
    Verify {
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Print a commented example configuration file.
    Default,
}

fn init_logging(level: &str, format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SANGAM_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// An upload allocates and frees a few dozen small strings per row, on several threads at
/// once (reading, validating, sealing, building and binding records). Measured on a
/// million-row ingest on an otherwise idle machine: a fifth less CPU than the system
/// allocator, for about 20 MiB more at the peak.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    use clap::{CommandFactory, FromArgMatches};
    let matches = Cli::command().get_matches();
    let mut cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    cli.config_on_command_line =
        matches.value_source("config") == Some(clap::parser::ValueSource::CommandLine);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
