//! `sangam match`: the matching engine on plain CSV files, with no hub.
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line tool reports on its standard streams"
)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use chrono::NaiveDate;
use sangam_matching::io::{Config, Table, read_table, write_outcome};
use sangam_matching::{Engine, Options, Task};

/// What `sangam match` was asked to do.
#[derive(Debug)]
pub struct MatchArgs {
    pub left: PathBuf,
    pub right: Option<PathBuf>,
    pub out: Option<PathBuf>,
    pub id_column: Option<String>,
    pub config: Option<PathBuf>,
    pub threshold: Option<f64>,
    pub reference_date: Option<NaiveDate>,
    pub explain: Option<Vec<String>>,
    pub report: Option<PathBuf>,
}

pub fn run(args: MatchArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let config = match &args.config {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    let config_path = args.config.clone().unwrap_or_default();
    let overrides = config.overrides(&config_path)?;
    let id_column = args.id_column.as_deref().or(config.id_column.as_deref());
    let mut options = Options::default();
    if let Some(date) = args.reference_date.or(config.reference_date) {
        options.reference_date = date;
    }
    if let Some(threshold) = args.threshold.or(config.threshold) {
        options.threshold = threshold;
    }
    if let Some(policy) = config.id_numbers {
        options.id_policy = policy;
    }
    if let Some(max_block) = config.max_block {
        options.max_block = max_block.max(2);
    }

    let read = |path: &Path| -> anyhow::Result<Table> {
        let table = read_table(path, &overrides, id_column, options.reference_date)?;
        eprintln!(
            "{}: {} records; column roles:\n{}",
            path.display(),
            table.records.len(),
            table.describe_roles()
        );
        if table.truncated_fields > 0 {
            eprintln!(
                "{}: {} values longer than {} bytes were cut to that length",
                path.display(),
                table.truncated_fields,
                sangam_matching::io::MAX_COMPARED_BYTES
            );
        }
        if table.unreadable > 0 {
            eprintln!(
                "{}: {} records could not be read and are left out ({}{})",
                path.display(),
                table.unreadable,
                table.unreadable_reasons.join("; "),
                if table.unreadable > table.unreadable_reasons.len() {
                    "; ..."
                } else {
                    ""
                }
            );
        }
        Ok(table)
    };
    let left = read(&args.left)?;
    let right = args.right.as_deref().map(read).transpose()?;
    let task = match &right {
        Some(r) => Task::Link {
            queries: &left.records,
            targets: &r.records,
        },
        None => Task::Dedupe(&left.records),
    };
    let read_time = started.elapsed();
    let engine = Engine::train(task, options)?;
    let report = engine.report();
    eprintln!(
        "model: comparisons {}; blocking rules {}; {} blocking keys too common to use; u from {} random pairs; m from {} candidate pairs ({} patterns, {}); share of matches among candidates {:.4}; prior {:.3e}",
        report.comparisons.join(", "),
        report.rules.join(", "),
        report.oversized_keys,
        report.u_pairs,
        report.em_pairs,
        report.em_patterns,
        match report.anchored_on {
            Some(anchor) => format!("fitted on exact {anchor} agreements"),
            None => format!("{} EM iterations", report.em_iterations),
        },
        report.prior_among_candidates,
        report.prior
    );
    if let Some(path) = &args.report {
        let body = serde_json::json!({
            "training": report,
            "parameters": engine.model().parameters,
        });
        std::fs::write(path, serde_json::to_vec_pretty(&body)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }

    if let Some(ids) = &args.explain {
        let (a, b) = (&ids[0], &ids[1]);
        let find = |id: &str| -> anyhow::Result<&sangam_matching::Record> {
            let in_left = left.position(id).map(|p| &left.records[p]);
            let in_right = right
                .as_ref()
                .and_then(|r| r.position(id).map(|p| &r.records[p]));
            in_left
                .or(in_right)
                .ok_or_else(|| sangam_matching::MatchError::UnknownRecord(id.to_string()).into())
        };
        let explanation = engine.explain(find(a)?, find(b)?);
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "{a} and {b}:")?;
        write!(stdout, "{}", explanation.to_text())?;
    }

    if let Some(out_path) = &args.out {
        let outcome = engine.run(task);
        let file = std::fs::File::create(out_path)
            .with_context(|| format!("cannot create {}", out_path.display()))?;
        let mut writer = std::io::BufWriter::new(file);
        let prefixed = write_outcome(&mut writer, &left, right.as_ref(), &outcome)
            .with_context(|| format!("cannot write {}", out_path.display()))?;
        writer
            .flush()
            .with_context(|| format!("cannot write {}", out_path.display()))?;
        if prefixed {
            eprintln!("the two files share record ids, so ids are written as left:ID and right:ID");
        }
        let s = &outcome.stats;
        eprintln!(
            "{} candidate pairs scored; {} accepted; {} refused for joining two ID numbers; {} clusters, {} records in clusters of two or more; wrote {} (read {:.1}s, total {:.1}s)",
            s.candidate_pairs,
            s.accepted_pairs,
            s.refused_for_id_numbers,
            s.clusters,
            s.records_in_clusters_of_two_or_more,
            out_path.display(),
            read_time.as_secs_f64(),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}
