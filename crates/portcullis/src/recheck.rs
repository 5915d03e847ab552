//! `portcullis recheck`: earlier results folders (Portcullis' or MVT's) matched again against
//! today's indicators, without the phone; the engine does the work.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Args;
use portcullis_core::Level;
use portcullis_engine::recheck;

use crate::check::{EXIT_ALERTS, EXIT_CLEAN, IndicatorArgs, load_indicators};

#[derive(Args, Debug)]
pub struct RecheckArgs {
    /// Results folders written by `portcullis check` or by MVT (`mvt-ios check-backup -o …`,
    /// `mvt-android check-… -o …`).
    #[arg(required = true, value_name = "RESULTS_DIR")]
    pub results: Vec<PathBuf>,
    #[command(flatten)]
    pub indicators: IndicatorArgs,
    /// Where to write the re-check (one results folder only; default: a new
    /// `recheck-<time>` folder inside each results folder).
    #[arg(short, long, value_name = "DIR")]
    pub output: Option<PathBuf>,
}

/// Re-checks each folder; exits 1 when any re-check found a new HIGH or CRITICAL alert.
pub fn run(args: &RecheckArgs) -> Result<ExitCode> {
    if args.output.is_some() && args.results.len() > 1 {
        bail!("--output names one folder: give one results folder with it");
    }
    let indicators = load_indicators(&args.indicators)?;
    if indicators.indicators.is_empty() {
        bail!(
            "no indicators to re-check against: install collections with `portcullis iocs \
             update` or give --iocs"
        );
    }
    let mut serious = false;
    let mut failed = 0;
    for results in &args.results {
        let output = args
            .output
            .clone()
            .unwrap_or_else(|| recheck::default_output(results, &portcullis_report::time::now()));
        match recheck::recheck(results, &indicators, &output)
            .with_context(|| format!("re-checking {}", results.display()))
        {
            Ok(done) => {
                let r = done
                    .report
                    .recheck
                    .as_ref()
                    .expect("a re-check has its section");
                let new = &done.report.alerts[..r.new_alerts];
                serious |= new.iter().any(|a| a.level >= Level::High);
                println!(
                    "{}: {} new alert(s) since the earlier check ({} by {}), {} already reported; \
                     {} earlier alert(s) no longer backed by an indicator",
                    results.display(),
                    r.new_alerts,
                    r.checked_at.as_deref().unwrap_or("date unknown"),
                    r.written_by,
                    done.report.alerts.len() - r.new_alerts,
                    r.withdrawn_alerts.len(),
                );
                for a in new {
                    println!("  NEW {}  {}: {}", a.level.as_str(), a.module, a.message);
                }
                if !done.report.warnings.is_empty() {
                    println!(
                        "  {} part(s) of the results could not be read; nothing new there means \
                         nothing (see the report's warnings)",
                        done.report.warnings.len()
                    );
                }
                println!(
                    "  report: {}",
                    done.output_dir.join("report.html").display()
                );
            }
            Err(e) => {
                failed += 1;
                eprintln!("portcullis: {e:#}");
            }
        }
    }
    if failed == args.results.len() {
        bail!("no results folder could be re-checked");
    }
    Ok(ExitCode::from(if serious {
        EXIT_ALERTS
    } else {
        EXIT_CLEAN
    }))
}
