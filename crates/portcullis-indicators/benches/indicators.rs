//! Loading a million domain indicators, and host lookups against them.
//!
//! `cargo bench -p portcullis-indicators -- --sample-size 10`

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
/// domain), written compactly with the fields real bundles carry.
fn bundle(n: usize) -> Vec<u8> {
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
    ind.load_bundle(bytes, Path::new("synthetic.stix2")).unwrap();
    ind
}

fn benches(c: &mut Criterion) {
    let bytes = bundle(INDICATORS);
    println!("bundle: {INDICATORS} domain indicators, {} MB of JSON", bytes.len() / 1_000_000);

    let mut group = c.benchmark_group("load");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.throughput(Throughput::Elements(INDICATORS as u64));
    group.bench_function("load_bundle_1m_domains", |b| {
        b.iter_with_large_drop(|| load(black_box(&bytes)))
    });
    group.finish();

    let ind = load(&bytes);
    assert_eq!(ind.len(), INDICATORS);
    drop(bytes);
    // Half hits (the indicator itself, or a sub-domain of it, in a URL), half misses.
    let queries: Vec<String> = (0..10_000)
        .map(|k| {
            let i = 1 + (k * 7919) % INDICATORS;
            match k % 4 {
                0 => format!("https://{}/path?q={k}", domain(i)),
                1 => format!("https://cdn.www.{}:8443/", domain(i)),
                2 => format!("https://not-{}/", domain(i)),
                _ => format!("clean-{k}.example.com"),
            }
        })
        .collect();
    let hits = queries.iter().filter(|q| ind.check_url(q).is_some()).count();
    assert_eq!(hits, queries.len() / 2);

    let mut group = c.benchmark_group("lookup");
    group.throughput(Throughput::Elements(queries.len() as u64));
    group.bench_function("check_url_half_hits", |b| {
        b.iter(|| queries.iter().filter(|q| ind.check_url(black_box(q)).is_some()).count())
    });
    group.finish();
}

criterion_group!(indicators, benches);
criterion_main!(indicators);
