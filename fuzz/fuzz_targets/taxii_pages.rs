//! A hostile TAXII 2.1 server: the input is cut into pages (length-prefixed fields: the status
//! code, the `X-TAXII-Date-Added-Last` header, the body), served one per request on localhost,
//! and a collection sync (`taxii::fetch`, the code `iocs update` runs) is made against it. It
//! must end, with the objects or an error, whatever the pages say about `more` and `next`.
#![no_main]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use libfuzzer_sys::fuzz_target;
use portcullis_feeds::{http, taxii};

/// One page as served: status, `X-TAXII-Date-Added-Last` (empty: none) and body.
struct Page {
    status: u16,
    added_last: String,
    body: Vec<u8>,
}

fuzz_target!(|data: &[u8]| {
    let pages: Vec<Page> = portcullis_fuzz::length_prefixed(data)
        .chunks_exact(3)
        .map(|page| Page {
            status: std::str::from_utf8(page[0])
                .ok()
                .and_then(|s| s.parse().ok())
                .filter(|s| (200..600).contains(s))
                .unwrap_or(200),
            added_last: String::from_utf8_lossy(page[1])
                .chars()
                .filter(|c| c.is_ascii_graphic())
                .collect(),
            body: page[2].to_vec(),
        })
        .collect();
    let listener = TcpListener::bind("127.0.0.1:0").expect("a local port");
    let address = listener.local_addr().expect("its address");
    let done = Arc::new(AtomicBool::new(false));
    let server = {
        let done = Arc::clone(&done);
        std::thread::spawn(move || serve(&listener, &pages, &done))
    };
    let state = taxii::TaxiiState {
        api_root: format!("http://{address}/api/"),
        collection: "fuzz-collection".to_string(),
        auth: None,
        cursor: taxii::Cursor::default(),
    };
    let _ = taxii::fetch(&http::agent(), &state, &BTreeMap::new(), &|_| {});
    done.store(true, Ordering::SeqCst);
    // Wakes the server if it is waiting for a request that will not come.
    let _ = TcpStream::connect(address);
    server.join().expect("the server thread ends");
});

/// Answers each request with the next page, one connection each; once the pages run out (or
/// the sync is over) it stops, so the client meets a refused connection.
fn serve(listener: &TcpListener, pages: &[Page], done: &AtomicBool) {
    for page in pages {
        let Ok((mut stream, _)) = listener.accept() else {
            return;
        };
        if done.load(Ordering::SeqCst) {
            return;
        }
        let mut request = Vec::new();
        let mut buf = [0u8; 4096];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => request.extend_from_slice(&buf[..n]),
            }
        }
        let mut head = format!(
            "HTTP/1.1 {} Fuzz\r\nContent-Type: application/taxii+json;version=2.1\r\n\
             Content-Length: {}\r\nConnection: close\r\n",
            page.status,
            page.body.len()
        );
        if !page.added_last.is_empty() {
            head.push_str(&format!("X-TAXII-Date-Added-Last: {}\r\n", page.added_last));
        }
        head.push_str("\r\n");
        let _ = stream.write_all(head.as_bytes());
        let _ = stream.write_all(&page.body);
    }
}
