use std::fmt::Write;
fn main() {
    let n = 1_000_000;
    let malware = "malware--00000000-0000-4000-8000-000000000000";
    let mut s = String::new();
    write!(
        s,
        r#"{{"type":"bundle","objects":[{{"type":"malware","id":"{malware}","name":"Synthetic"}}"#
    )
    .unwrap();
    for i in 1..=n {
        write!(s, r#",{{"type":"indicator","id":"indicator--00000000-0000-4000-8000-{i:012x}","pattern":"[domain-name:value = 'host-{i:07}.example{}.com']","pattern_type":"stix"}}"#, i % 997).unwrap();
        write!(s, r#",{{"type":"relationship","source_ref":"indicator--00000000-0000-4000-8000-{i:012x}","target_ref":"{malware}"}}"#).unwrap();
    }
    s.push_str("]}");
    eprintln!("{} MB", s.len() / 1_000_000);
    for _ in 0..3 {
        let t = std::time::Instant::now();
        let mut ind = portcullis_indicators::Indicators::new();
        ind.load_bundle(s.as_bytes(), std::path::Path::new("x.stix2"))
            .unwrap();
        eprintln!("total {:?}", t.elapsed());
        let t = std::time::Instant::now();
        drop(ind);
        eprintln!("drop {:?}", t.elapsed());
    }
}
