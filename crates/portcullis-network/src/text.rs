//! The line reader every text format shares: reads a stream in batches of whole lines, parses
//! and checks the batches on every core, and merges their tallies in file order, so memory
//! stays flat however long the log and line numbers stay exact.

use std::io::Read;
use std::sync::mpsc;

use rayon::prelude::*;

use crate::check::{Check, Tally};
use crate::line::{Line, Malformed};

/// Bytes read per batch: large enough that the per-batch cost vanishes, small enough that a
/// few in flight stay a few MiB.
const BATCH: usize = 1 << 20;
/// A line longer than this is not a log line: counted as malformed and skipped unread.
pub const MAX_LINE: usize = BATCH;
/// Batches read ahead of the parsers.
const READ_AHEAD: usize = 4;

/// A text log format: how to read one line, and (for formats with headers) the directive
/// lines that change how the lines after them are read.
pub trait TextLog: Sync {
    /// The first byte of a directive line (Zeek's `#`); `None` when every line is data.
    fn directive_prefix(&self) -> Option<u8> {
        None
    }

    /// Takes one directive line, in file order, before any line after it is parsed.
    fn directive(&mut self, _line: &str) -> Result<(), Malformed> {
        Ok(())
    }

    /// Reads one line (without its line ending) into `out`, which comes in empty.
    fn parse<'l>(&self, line: &'l str, out: &mut Line<'l>) -> Result<(), Malformed>;
}

/// What the reader thread hands the parsers, in file order.
enum Piece {
    /// Whole lines, the first of them line `first_line` (1-based).
    Lines {
        first_line: u64,
        bytes: Vec<u8>,
    },
    Directive {
        line_no: u64,
        bytes: Vec<u8>,
    },
    /// A line too long to be a log line.
    Overlong {
        line_no: u64,
    },
}

/// Reads `input` to the end as `log`, checking every line with `check`. An I/O error (a
/// truncated gzip stream) ends the file with what was read and is returned beside the tally.
pub fn read(
    input: &mut (dyn Read + Send),
    log: &mut dyn TextLog,
    check: &Check<'_>,
) -> (Tally, Option<std::io::Error>) {
    let prefix = log.directive_prefix();
    let (send, receive) = mpsc::sync_channel::<Piece>(READ_AHEAD);
    let mut tally = Tally::default();
    let mut failure = None;
    std::thread::scope(|scope| {
        let reader = scope.spawn(move || split(input, prefix, &send));
        let mut group: Vec<(u64, Vec<u8>)> = Vec::new();
        let group_size = rayon::current_num_threads().max(1) * 2;
        let run_group = |group: &mut Vec<(u64, Vec<u8>)>, log: &dyn TextLog, tally: &mut Tally| {
            let parts: Vec<Tally> = group
                .par_iter()
                .map(|(first, bytes)| read_lines(*first, bytes, log, check))
                .collect();
            for part in parts {
                tally.merge(part);
            }
            group.clear();
        };
        for piece in receive {
            match piece {
                Piece::Lines { first_line, bytes } => {
                    group.push((first_line, bytes));
                    if group.len() >= group_size {
                        run_group(&mut group, &*log, &mut tally);
                    }
                }
                Piece::Directive { line_no, bytes } => {
                    run_group(&mut group, &*log, &mut tally);
                    tally.lines += 1;
                    let text = String::from_utf8_lossy(&bytes);
                    if let Err(reason) = log.directive(trim_end(&text)) {
                        tally.malformed(line_no, &text, &reason);
                    }
                }
                Piece::Overlong { line_no } => {
                    run_group(&mut group, &*log, &mut tally);
                    tally.lines += 1;
                    tally.malformed(
                        line_no,
                        "",
                        &Malformed::new(format!("a line longer than {MAX_LINE} bytes")),
                    );
                }
            }
        }
        run_group(&mut group, &*log, &mut tally);
        failure = reader
            .join()
            .unwrap_or_else(|_| Some(std::io::Error::other("the reader stopped unexpectedly")));
    });
    (tally, failure)
}

/// Parses and checks one batch of whole lines.
fn read_lines(first_line: u64, bytes: &[u8], log: &dyn TextLog, check: &Check<'_>) -> Tally {
    let mut tally = Tally::default();
    let mut out = Line::default();
    let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    // Checked as UTF-8 once for the whole batch when it is (nearly always), else line by line.
    let whole = std::str::from_utf8(body).ok();
    let mut start = 0;
    let ends = memchr::memchr_iter(b'\n', body).chain(std::iter::once(body.len()));
    for (i, end) in ends.enumerate() {
        let raw = &body[start..end];
        let checked = whole.and_then(|w| w.get(start..end));
        start = end + 1;
        let line_no = first_line + i as u64;
        tally.lines += 1;
        let Some(text) = checked.or_else(|| std::str::from_utf8(raw).ok()) else {
            tally.malformed(
                line_no,
                &String::from_utf8_lossy(raw),
                &Malformed::new("not text (binary data in the log)"),
            );
            continue;
        };
        let text = trim_end(text);
        if text.trim().is_empty() {
            continue;
        }
        out.clear();
        match log.parse(text, &mut out) {
            Ok(()) => check.observe(&mut tally, line_no, text, &out),
            Err(reason) => tally.malformed(line_no, text, &reason),
        }
    }
    tally
}

fn trim_end(text: &str) -> &str {
    text.strip_suffix('\r').unwrap_or(text)
}

fn count_lines(bytes: &[u8]) -> u64 {
    memchr::memchr_iter(b'\n', bytes).count() as u64
}

/// The reader thread: cuts the stream into batches of whole lines and directive lines.
fn split(
    input: &mut (dyn Read + Send),
    prefix: Option<u8>,
    send: &mpsc::SyncSender<Piece>,
) -> Option<std::io::Error> {
    let mut next_line = 1u64;
    let mut carry: Vec<u8> = Vec::new();
    let mut skipping_overlong = false;
    loop {
        let mut buf = std::mem::take(&mut carry);
        buf.reserve(BATCH);
        let (eof, error) = fill(input, &mut buf, BATCH);
        if skipping_overlong {
            match memchr::memchr(b'\n', &buf) {
                Some(end) => {
                    buf.drain(..=end);
                    skipping_overlong = false;
                    next_line += 1;
                }
                None => {
                    if eof {
                        return error;
                    }
                    continue;
                }
            }
        }
        let cut = if eof {
            buf.len()
        } else {
            match memchr::memrchr(b'\n', &buf) {
                Some(last) => last + 1,
                None if buf.len() >= MAX_LINE => {
                    if send.send(Piece::Overlong { line_no: next_line }).is_err() {
                        return error;
                    }
                    skipping_overlong = true;
                    continue;
                }
                None => buf.len(),
            }
        };
        carry = buf.split_off(cut);
        if !send_lines(buf, prefix, &mut next_line, send) || eof {
            return error;
        }
    }
}

/// Sends whole lines, cutting out directive lines. False once the parsers have gone.
fn send_lines(
    mut bytes: Vec<u8>,
    prefix: Option<u8>,
    next_line: &mut u64,
    send: &mpsc::SyncSender<Piece>,
) -> bool {
    while !bytes.is_empty() {
        let directive_at = prefix.and_then(|p| {
            if bytes[0] == p {
                Some(0)
            } else {
                memchr::memmem::find(&bytes, &[b'\n', p]).map(|i| i + 1)
            }
        });
        match directive_at {
            Some(0) => {
                let end = memchr::memchr(b'\n', &bytes).map_or(bytes.len(), |e| e + 1);
                let rest = bytes.split_off(end);
                let mut line = bytes;
                if line.last() == Some(&b'\n') {
                    line.pop();
                }
                let piece = Piece::Directive {
                    line_no: *next_line,
                    bytes: line,
                };
                *next_line += 1;
                if send.send(piece).is_err() {
                    return false;
                }
                bytes = rest;
            }
            Some(at) => {
                let rest = bytes.split_off(at);
                if !send_batch(bytes, next_line, send) {
                    return false;
                }
                bytes = rest;
            }
            None => return send_batch(bytes, next_line, send),
        }
    }
    true
}

fn send_batch(bytes: Vec<u8>, next_line: &mut u64, send: &mpsc::SyncSender<Piece>) -> bool {
    let first_line = *next_line;
    let newlines = count_lines(&bytes);
    *next_line += newlines + u64::from(bytes.last() != Some(&b'\n'));
    send.send(Piece::Lines { first_line, bytes }).is_ok()
}

/// Reads until `buf` holds `want` more bytes or the input ends. Returns whether it ended, and
/// the error that ended it, if any.
fn fill(
    input: &mut (dyn Read + Send),
    buf: &mut Vec<u8>,
    want: usize,
) -> (bool, Option<std::io::Error>) {
    let target = buf.len() + want;
    let mut chunk = [0u8; 64 * 1024];
    while buf.len() < target {
        let room = (target - buf.len()).min(chunk.len());
        match input.read(&mut chunk[..room]) {
            Ok(0) => return (true, None),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return (true, Some(e)),
        }
    }
    (false, None)
}
