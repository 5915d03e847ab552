//! Every network format on the same bytes: each one that recognises them reads them to the
//! end (text logs through the parallel line reader, captures packet by packet), checked
//! against a few indicators so the matching runs too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_network::check::Check;
use portcullis_network::format::{ALL, Head, Input};

fuzz_target!(|data: &[u8]| {
    let check = Check {
        indicators: portcullis_fuzz::indicators(),
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
