//! `portcullis-bench-gen`: writes the benchmark inputs (see `bench/README.md`).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use portcullis_bench_gen::plants::{self, Pegasus};
use portcullis_bench_gen::{android, hits, iocs, ios, network};

#[derive(Parser)]
#[command(
    name = "portcullis-bench-gen",
    about = "Deterministic synthetic inputs for Portcullis's benchmarks"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// An iOS backup folder; writes `<out>.planted.json` beside it.
    Ios {
        /// 1.0 = 500,000 messages, 300,000 Safari visits, 5,000 processes, 200,000 manifest rows.
        #[arg(long, default_value_t = 1.0)]
        scale: f64,
        #[arg(long, default_value_t = 5)]
        seed: u64,
        /// The Pegasus STIX2 bundle: one of its domains and one of its processes are planted.
        #[arg(long)]
        pegasus: Option<PathBuf>,
        #[arg(long)]
        out: PathBuf,
    },
    /// An unpacked Android bugreport; writes `<out>.planted.json` beside it.
    Android {
        #[arg(long, default_value_t = 5_000)]
        packages: usize,
        #[arg(long, default_value_t = 5)]
        seed: u64,
        #[arg(long)]
        out: PathBuf,
    },
    /// A STIX 2.1 bundle of synthetic indicators (plus the planted ones).
    Iocs {
        #[arg(long, default_value_t = 100_000)]
        domains: usize,
        #[arg(long, default_value_t = 100)]
        urls: usize,
        #[arg(long, default_value_t = 100)]
        processes: usize,
        #[arg(long, default_value_t = 100)]
        app_ids: usize,
        #[arg(long, default_value_t = 5)]
        seed: u64,
        #[arg(long)]
        out: PathBuf,
    },
    /// Network logs (Zeek dns.log, eve.json) or a pcap for the network benchmark; `--out -`
    /// writes to standard output.
    Network {
        #[arg(long, value_enum)]
        kind: network::Kind,
        /// Log records, or (for a pcap) flows of three packets each.
        #[arg(long)]
        records: u64,
        #[arg(long, default_value_t = 5)]
        seed: u64,
        /// Names in a capture's pool.
        #[arg(long, default_value_t = 10_000)]
        names: usize,
        /// Also write the pool as a STIX bundle (one domain indicator per name).
        #[arg(long)]
        names_bundle: Option<PathBuf>,
        #[arg(long)]
        out: PathBuf,
    },
    /// A stand-in for the Pegasus bundle, for machines without the real one.
    PegasusStandin {
        #[arg(long, default_value_t = 5)]
        seed: u64,
        #[arg(long)]
        out: PathBuf,
    },
    /// Compares the indicator hits in results folders (Portcullis's report.json or MVT's
    /// alerts.json) with a `.planted.json`; prints one JSON line per folder.
    Hits {
        #[arg(long)]
        planted: PathBuf,
        /// Results folders.
        results: Vec<PathBuf>,
    },
}

fn planted_path(out: &std::path::Path) -> PathBuf {
    let mut p = out.as_os_str().to_owned();
    p.push(".planted.json");
    PathBuf::from(p)
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let started = Instant::now();
    match cli.command {
        Command::Ios {
            scale,
            seed,
            pegasus,
            out,
        } => {
            let peg = match &pegasus {
                Some(p) => Pegasus::load(p, seed)?,
                None => Pegasus::default(),
            };
            let s = ios::Scale::of(scale);
            let w = ios::generate(&out, s, seed, &peg)?;
            let expected = plants::expected(&peg, true);
            std::fs::write(planted_path(&out), serde_json::to_vec_pretty(&expected)?)?;
            eprintln!(
                "{}: {} messages, {} visits, {} processes, {} manifest rows, {:.1} MB, in {:.1} s",
                w.root.display(),
                s.messages,
                s.visits,
                s.processes,
                w.manifest_rows,
                w.bytes as f64 / 1e6,
                started.elapsed().as_secs_f64()
            );
        }
        Command::Android {
            packages,
            seed,
            out,
        } => {
            let bytes = android::generate(&out, packages, seed)?;
            let expected = plants::expected(&Pegasus::default(), false);
            std::fs::write(planted_path(&out), serde_json::to_vec_pretty(&expected)?)?;
            eprintln!(
                "{}: {packages} packages, {:.1} MB",
                out.display(),
                bytes as f64 / 1e6
            );
        }
        Command::Iocs {
            domains,
            urls,
            processes,
            app_ids,
            seed,
            out,
        } => {
            let n = iocs::write_bundle(
                &out,
                iocs::Counts {
                    domains,
                    urls,
                    processes,
                    app_ids,
                },
                seed,
            )
            .with_context(|| format!("writing {}", out.display()))?;
            eprintln!(
                "{}: {n} indicators, {:.1} MB, in {:.1} s",
                out.display(),
                std::fs::metadata(&out)?.len() as f64 / 1e6,
                started.elapsed().as_secs_f64()
            );
        }
        Command::Network {
            kind,
            records,
            seed,
            names,
            names_bundle,
            out,
        } => {
            let pool = network::pool(seed, names);
            if let Some(bundle) = names_bundle {
                let patterns: Vec<String> = pool
                    .iter()
                    .map(|n| format!("[domain-name:value = '{n}']"))
                    .collect();
                let patterns: Vec<&str> = patterns.iter().map(String::as_str).collect();
                std::fs::write(
                    &bundle,
                    portcullis_indicators::test_bundle_json("NetPool", &patterns),
                )?;
            }
            let mut sink: Box<dyn std::io::Write> = if out == std::path::Path::new("-") {
                Box::new(std::io::stdout().lock())
            } else {
                Box::new(std::fs::File::create(&out)?)
            };
            let mut sink = std::io::BufWriter::with_capacity(1 << 20, &mut sink);
            let bytes = match kind {
                network::Kind::Pcap => network::write_pcap(&mut sink, records, &pool, seed)?,
                _ => network::write_log(&mut sink, kind, records, seed)?,
            };
            std::io::Write::flush(&mut sink)?;
            eprintln!(
                "{}: {records} records, {:.1} MB, in {:.1} s",
                out.display(),
                bytes as f64 / 1e6,
                started.elapsed().as_secs_f64()
            );
        }
        Command::PegasusStandin { seed, out } => iocs::write_pegasus_standin(&out, seed)?,
        Command::Hits { planted, results } => {
            let expected: Vec<serde_json::Value> = serde_json::from_slice(
                &std::fs::read(&planted)
                    .with_context(|| format!("reading {}", planted.display()))?,
            )?;
            for r in results {
                let mut s = hits::summary(&expected, &r)?;
                s["results"] = r.display().to_string().into();
                println!("{s}");
            }
        }
    }
    Ok(())
}
