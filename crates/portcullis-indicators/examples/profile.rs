use std::fmt::Write;
use std::path::Path;
use std::time::Instant;
use portcullis_indicators::Indicators;
const TLDS: [&str; 5] = ["com", "net", "org", "info", "xyz"];
fn domain(i: usize) -> String {
    format!("host-{i:07}.example{}.{}", i % 997, TLDS[i % TLDS.len()])
}
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
fn main() {
    let bytes = bundle(1_000_000);
    for _ in 0..3 {
        let t = Instant::now();
        let mut ind = Indicators::new();
        ind.load_bundle(&bytes, Path::new("x")).unwrap();
        eprintln!("total {:?}", t.elapsed());
        let t = Instant::now();
        let mut hits = 0;
        for k in 0..1_000_000usize {
            let q = if k % 2 == 0 { "https://cdn.host-0000007.example7.com/x" } else { "clean.example.com" };
            hits += ind.check_url(q).is_some() as usize;
        }
        eprintln!("1M lookups {:?} {hits}", t.elapsed());
        let t = Instant::now();
        drop(ind);
        eprintln!("drop {:?}", t.elapsed());
    }
}
