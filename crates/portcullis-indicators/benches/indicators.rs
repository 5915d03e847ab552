//! Loading a million domain indicators, and host lookups against them.
//!
//! `cargo bench -p portcullis-indicators --bench indicators -- --sample-size 10`

use std::fmt::Write;
use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use portcullis_indicators::Indicators;

const INDICATORS: usize = 1_000_000;
const TLDS: [&str; 5] = ["com", "net", "org", "info", "xyz"];

fn domain(i: usize) -> String {
    format!("host-{i:07}.example{}.{}", i % 997, TLDS[i % TLDS.len()])
}

/// An MVT-style bundle (one malware, one indicator and one `indicates` relationship per
/// domain) with only the fields Portcullis reads: the 1 s target.
fn minimal_bundle(n: usize) -> Vec<u8> {
    let malware = "malware--00000000-0000-4000-8000-000000000000";
    let mut s = String::with_capacity(n * 250);
    write!(
        s,
        r#"{{"type":"bundle","objects":[{{"type":"malware","id":"{malware}","name":"Synthetic"}}"#
    )
    .unwrap();
    for i in 1..=n {
        write!(
            s,
            r#",{{"type":"indicator","id":"indicator--00000000-0000-4000-8000-{i:012x}","pattern":"[domain-name:value = '{}']","pattern_type":"stix"}}"#,
            domain(i)
        )
        .unwrap();
        write!(
            s,
            r#",{{"type":"relationship","source_ref":"indicator--00000000-0000-4000-8000-{i:012x}","target_ref":"{malware}"}}"#
        )
        .unwrap();
    }
    s.push_str("]}");
    s.into_bytes()
}

/// The same with every field real MVT bundles carry (timestamps, spec version, types…),
/// written compactly: about three times the bytes to parse.
fn full_bundle(n: usize) -> Vec<u8> {
    const TS: &str = "2021-01-01T00:00:00.000Z";
    let malware = "malware--00000000-0000-4000-8000-000000000000";
    let mut s = String::with_capacity(n * 560);
    write!(
        s,
        r#"{{"type":"bundle","id":"bundle--00000000-0000-4000-8000-000000000000","objects":[{{"type":"malware","spec_version":"2.1","id":"{malware}","created":"{TS}","modified":"{TS}","name":"Synthetic","is_family":false}}"#
    )
    .unwrap();
    for i in 1..=n {
        write!(
            s,
            r#",{{"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-{i:012x}","created":"{TS}","modified":"{TS}","indicator_types":["malicious-activity"],"pattern":"[domain-name:value = '{}']","pattern_type":"stix","pattern_version":"2.1","valid_from":"{TS}"}}"#,
            domain(i)
        )
        .unwrap();
        write!(
            s,
            r#",{{"type":"relationship","spec_version":"2.1","id":"relationship--00000000-0000-4000-8000-{i:012x}","created":"{TS}","modified":"{TS}","relationship_type":"indicates","source_ref":"indicator--00000000-0000-4000-8000-{i:012x}","target_ref":"{malware}"}}"#
        )
        .unwrap();
    }
    s.push_str("]}");
    s.into_bytes()
}

fn load(bytes: &[u8]) -> Indicators {
    let mut ind = Indicators::new();
    ind.load_bundle(bytes, Path::new("synthetic.stix2"))
        .unwrap();
    ind
}

fn benches(c: &mut Criterion) {
    let minimal = minimal_bundle(INDICATORS);
    let full = full_bundle(INDICATORS);
    let mut group = c.benchmark_group("load_1m_domains");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.throughput(Throughput::Elements(INDICATORS as u64));
    for (name, bytes) in [("minimal_fields", &minimal), ("all_fields", &full)] {
        println!("{name}: {} MB of JSON", bytes.len() / 1_000_000);
        group.bench_function(name, |b| b.iter_with_large_drop(|| load(black_box(bytes))));
    }
    group.finish();
    drop((minimal, full));

    // Half hits (the indicator itself, or a sub-domain of it, in a URL), half misses; against
    // a million indicators and against a realistic 10,000.
    lookups(c, "check_url_half_hits", queries, 2);
    // Bare host names, as modules check them most of the time (network logs, DNS records,
    // app domains): 1 % hits, the rest near misses and unrelated names.
    lookups(c, "check_host_1pct_hits", hosts, 100);
}

/// `check_url` over `inputs(n)` against `n` indicators, for a million and for 10,000; one
/// input in `one_hit_in` is a hit.
fn lookups(c: &mut Criterion, name: &str, inputs: fn(usize) -> Vec<String>, one_hit_in: usize) {
    let mut group = c.benchmark_group(name);
    for n in [INDICATORS, 10_000] {
        let ind = load(&minimal_bundle(n));
        assert_eq!(ind.len(), n);
        let inputs = inputs(n);
        let hits = inputs.iter().filter(|q| ind.check_url(q).is_some()).count();
        assert_eq!(hits, inputs.len() / one_hit_in);
        group.throughput(Throughput::Elements(inputs.len() as u64));
        group.bench_function(format!("{n}_indicators"), |b| {
            b.iter(|| {
                inputs
                    .iter()
                    .filter(|q| ind.check_url(black_box(q)).is_some())
                    .count()
            })
        });
    }
    group.finish();
}

fn hosts(indicators: usize) -> Vec<String> {
    (0..100_000)
        .map(|k| {
            let i = 1 + (k * 7919) % indicators;
            match k % 100 {
                0 => format!("cdn.{}", domain(i)),
                1..=49 => format!("api.not-{}", domain(i)),
                _ => format!("img{k}.static.example-cdn.net"),
            }
        })
        .collect()
}

fn queries(indicators: usize) -> Vec<String> {
    (0..10_000)
        .map(|k| {
            let i = 1 + (k * 7919) % indicators;
            match k % 4 {
                0 => format!("https://{}/path?q={k}", domain(i)),
                1 => format!("https://cdn.www.{}:8443/", domain(i)),
                2 => format!("https://not-{}/", domain(i)),
                _ => format!("clean-{k}.example.com"),
            }
        })
        .collect()
}

criterion_group!(indicators, benches);
criterion_main!(indicators);
