//! Exporting 1,000,000 indicators in every format (issue 14): the time to write them once
//! loaded, into a sink, so only the export is measured. The bundle has bench/gen's shape
//! (one malware, an indicator and its `indicates` relationship per value), made here so the
//! bench needs no other crate: 1,000,000 domains, a tenth of them marked TLP:AMBER.
//! `cargo bench -p portcullis-interchange --bench export`; figures in bench/RESULTS-feeds.md.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use portcullis_indicators::Indicators;
use portcullis_interchange::export::{Dataset, ExportFormat, Tlp, export};

const INDICATORS: usize = 1_000_000;

fn bundle() -> Vec<u8> {
    let mut s = String::with_capacity(INDICATORS * 420);
    s.push_str("{\"type\":\"bundle\",\"id\":\"bundle--00000000-0000-4000-8000-000000000000\",\"objects\":[\n");
    s.push_str("{\"type\":\"malware\",\"spec_version\":\"2.1\",\"id\":\"malware--00000000-0000-4000-8000-000000000000\",\"name\":\"Synthetic\",\"is_family\":false}");
    for i in 1..=INDICATORS {
        let marking = if i % 10 == 0 {
            ",\"object_marking_refs\":[\"marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421\"]"
        } else {
            ""
        };
        s.push_str(&format!(
            ",\n{{\"type\":\"indicator\",\"spec_version\":\"2.1\",\"id\":\"indicator--00000000-0000-4000-8000-{i:012x}\",\"created\":\"2024-01-01T00:00:00.000Z\",\"modified\":\"2024-01-01T00:00:00.000Z\",\"pattern\":\"[domain-name:value = 'host{i}.synthetic-{}.example']\",\"pattern_type\":\"stix\",\"valid_from\":\"2024-01-01T00:00:00.000Z\"{marking}}}\
             ,\n{{\"type\":\"relationship\",\"spec_version\":\"2.1\",\"id\":\"relationship--00000000-0000-4000-8000-{i:012x}\",\"relationship_type\":\"indicates\",\"source_ref\":\"indicator--00000000-0000-4000-8000-{i:012x}\",\"target_ref\":\"malware--00000000-0000-4000-8000-000000000000\"}}",
            i % 977
        ));
    }
    s.push_str("\n]}\n");
    s.into_bytes()
}

fn exports(c: &mut Criterion) {
    let mut indicators = Indicators::new();
    indicators
        .load_bundle(&bundle(), Path::new("synthetic.stix2"))
        .expect("the synthetic bundle loads");
    assert_eq!(indicators.len(), INDICATORS);
    let mut group = c.benchmark_group("export 1M indicators");
    group.sample_size(10);
    let formats = [
        ("zeek-intel", ExportFormat::ZeekIntel, None),
        (
            "suricata-dataset",
            ExportFormat::SuricataDataset(Dataset::Domains),
            None,
        ),
        ("hosts", ExportFormat::Hosts, None),
        ("csv", ExportFormat::Csv, None),
        ("csv --tlp-max green", ExportFormat::Csv, Some(Tlp::Green)),
        ("stix2", ExportFormat::Stix2, None),
    ];
    for (name, format, tlp) in formats {
        group.bench_function(name, |b| {
            b.iter(|| {
                let summary = export(&indicators, format, tlp, std::io::sink()).expect("exports");
                black_box(summary)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, exports);
criterion_main!(benches);
