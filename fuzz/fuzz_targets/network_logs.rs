//! Every network format on the same bytes: each one that recognises them reads them to the
//! end (text logs through the parallel line reader, captures packet by packet), checked
//! against a few indicators so the matching runs too.
#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use portcullis_indicators::Indicators;
use portcullis_network::check::Check;
use portcullis_network::format::{ALL, Head, Input};

fn indicators() -> &'static Indicators {
    static IND: OnceLock<Indicators> = OnceLock::new();
    IND.get_or_init(|| {
        let mut ind = Indicators::new();
        let bundle = portcullis_indicators::test_bundle_json(
            "Fuzz",
            &[
                "[domain-name:value = 'evil.com']",
                "[ipv4-addr:value = '203.0.113.5']",
                "[url:value = 'http://evil.com/x']",
            ],
        );
        ind.load_bundle(bundle.as_bytes(), Path::new("fuzz.stix2"))
            .unwrap();
        ind
    })
}

fuzz_target!(|data: &[u8]| {
    let check = Check {
        indicators: indicators(),
    };
    let head = Head::new(data);
    for format in ALL {
        // Each format is also made to read bytes it did not claim (as `--kind` does).
        let module = format
            .recognise(&head)
            .unwrap_or(portcullis_network::format::Module {
                slug: "fuzz",
                name: "Fuzz",
            });
        let mut reader: &[u8] = data;
        let input = Input {
            reader: &mut reader,
            head: data,
            path: None,
            year: 2026,
        };
        let _ = format.read(module, input, &check);
    }
});
