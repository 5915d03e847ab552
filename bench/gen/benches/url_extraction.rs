//! URL extraction from message text.
//!
//! The link finder Portcullis uses (`portcullis_ios::modules::sms::find_links`) is private to the
//! iOS modules, so it is measured two ways here:
//! - `find_links_pattern`: the same pattern (`(?i)https?://\S+`, MVT's rule) over the same kind of
//!   text, as a stand-in for the private function;
//! - `sms_module`: the public path that uses it, the whole SMS module (read sms.db, extract links,
//!   check them against Pegasus-sized plus 100,000 synthetic domain indicators) on a generated
//!   backup of 50,000 messages.
//!
//! `cargo bench -p portcullis-bench-gen --bench url_extraction`

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use portcullis_bench_gen::plants::Pegasus;
use portcullis_bench_gen::rng::Rng;
use portcullis_bench_gen::{iocs, ios, pools};
use portcullis_indicators::Indicators;
use portcullis_ios::{Backup, Context};
use regex::Regex;

/// Message texts like the generator's: 2-30 words, 4% with a link, some with two.
fn texts(n: usize) -> Vec<String> {
    let mut rng = Rng::new(1, "bench-texts");
    (0..n)
        .map(|_| {
            let words = 2 + rng.below(28) as usize;
            let mut s = pools::sentence(&mut rng, words);
            if rng.chance(0.04) {
                s.push(' ');
                s.push_str(&pools::benign_url(&mut rng, pools::SITES));
                if rng.chance(0.2) {
                    s.push(' ');
                    s.push_str(&pools::benign_url(&mut rng, pools::SITES));
                }
            }
            s
        })
        .collect()
}

fn extraction(c: &mut Criterion) {
    let link = Regex::new(r"(?i)https?://\S+").expect("valid pattern");
    let find_links =
        |t: &str| -> Vec<String> { link.find_iter(t).map(|m| m.as_str().to_string()).collect() };
    let corpus = texts(100_000);
    let bytes: usize = corpus.iter().map(String::len).sum();
    let links: usize = corpus.iter().map(|t| find_links(t).len()).sum();
    println!(
        "corpus: {} messages, {bytes} bytes, {links} links",
        corpus.len()
    );

    let mut group = c.benchmark_group("url_extraction");
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function("find_links_pattern_100k_messages", |b| {
        b.iter(|| {
            corpus
                .iter()
                .map(|t| find_links(black_box(t)).len())
                .sum::<usize>()
        })
    });
    group.finish();
}

fn sms_module(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temporary folder");
    let scale = ios::Scale {
        messages: 50_000,
        visits: 10,
        processes: 10,
        manifest: 10,
    };
    let written = ios::generate(&dir.path().join("backup"), scale, 5, &Pegasus::default())
        .expect("backup generated");
    let bundle = dir.path().join("synthetic.stix2");
    iocs::write_bundle(
        &bundle,
        iocs::Counts {
            domains: 100_000,
            urls: 100,
            processes: 100,
            app_ids: 0,
        },
        5,
    )
    .expect("bundle written");
    let mut indicators = Indicators::new();
    indicators
        .load_file(Path::new(&bundle))
        .expect("bundle loads");
    let backup = Backup::open(&written.root).expect("backup opens");
    let sms = portcullis_ios::modules::all()
        .into_iter()
        .find(|m| m.slug() == "sms")
        .expect("an sms module");
    let ctx = Context {
        backup: &backup,
        indicators: &indicators,
        spool: None,
    };

    let mut group = c.benchmark_group("sms_module");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    group.throughput(Throughput::Elements(scale.messages as u64));
    group.bench_function("50k_messages_100k_domains", |b| {
        b.iter(|| {
            let out = sms.run(&ctx).expect("module runs");
            assert_eq!(out.alerts.len(), 1, "the planted link");
            out.urls.len()
        })
    });
    group.finish();
}

criterion_group!(benches, extraction, sms_module);
criterion_main!(benches);
