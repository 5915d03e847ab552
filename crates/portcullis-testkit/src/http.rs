//! A static HTTP/1.1 file server on 127.0.0.1 for tests that download: it serves a folder,
//! answers conditional requests with 304 (ETag = the file's length and a checksum), counts
//! what it answered, and can be told to replace, refuse or cut short a path.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the server does instead of serving a path's file.
#[derive(Debug, Clone)]
pub enum Override {
    /// Serve these bytes (with their own ETag).
    Body(Vec<u8>),
    /// Answer with this status and an empty body.
    Status(u16),
    /// Announce these bytes but send only the first `n` of them, then hang.
    Stall(Vec<u8>, usize),
}

#[derive(Default)]
struct State {
    overrides: HashMap<String, Override>,
    /// (path, status) of every answer, in order.
    answers: Vec<(String, u16)>,
}

pub struct FileServer {
    pub url: String,
    state: Arc<Mutex<State>>,
}

impl FileServer {
    /// Serves `root` on a free port until the process ends.
    pub fn serve(root: impl Into<PathBuf>) -> FileServer {
        let root = root.into();
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let state = Arc::new(Mutex::new(State::default()));
        let shared = Arc::clone(&state);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (root, state) = (root.clone(), Arc::clone(&shared));
                std::thread::spawn(move || answer(stream, &root, &state));
            }
        });
        FileServer { url, state }
    }

    pub fn set(&self, path: &str, o: Override) {
        self.state.lock().unwrap().overrides.insert(path.into(), o);
    }

    pub fn clear(&self, path: &str) {
        self.state.lock().unwrap().overrides.remove(path);
    }

    /// Every answer so far as (path, status), and forgets them.
    pub fn take_answers(&self) -> Vec<(String, u16)> {
        std::mem::take(&mut self.state.lock().unwrap().answers)
    }
}

fn etag(bytes: &[u8]) -> String {
    let sum = bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    });
    format!("\"{:x}-{sum:016x}\"", bytes.len())
}

fn answer(stream: TcpStream, root: &std::path::Path, state: &Mutex<State>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(&stream);
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut if_none_match = None;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) == 0 || header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("if-none-match")
        {
            if_none_match = Some(value.trim().to_string());
        }
    }
    let chosen = state.lock().unwrap().overrides.get(&path).cloned();
    let file = || {
        let rel = path.trim_start_matches('/');
        if rel.split('/').any(|c| c == "..") {
            return None;
        }
        std::fs::read(root.join(rel)).ok()
    };
    let (status, body, stall) = match chosen {
        Some(Override::Status(s)) => (s, Vec::new(), None),
        Some(Override::Body(b)) => (200, b, None),
        Some(Override::Stall(b, n)) => (200, b, Some(n)),
        None => match file() {
            Some(b) => (200, b, None),
            None => (404, Vec::new(), None),
        },
    };
    let tag = etag(&body);
    let status = if status == 200 && if_none_match.as_deref() == Some(tag.as_str()) {
        304
    } else {
        status
    };
    state.lock().unwrap().answers.push((path, status));
    let mut out = &stream;
    let head = format!(
        "HTTP/1.1 {status} X\r\nETag: {tag}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        if status == 200 { body.len() } else { 0 }
    );
    let _ = out.write_all(head.as_bytes());
    if status == 200 {
        match stall {
            Some(n) => {
                let _ = out.write_all(&body[..n.min(body.len())]);
                let _ = out.flush();
                std::thread::sleep(Duration::from_secs(3600));
            }
            None => {
                let _ = out.write_all(&body);
            }
        }
    }
}
