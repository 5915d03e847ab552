//! Finding and opening the files of a network check: a file, a folder of them (rotated
//! files included), or standard input; gzip and zstd undone on the fly. Every byte read is
//! hashed on the way, and the rest of a file a format did not need is hashed after it, so
//! the report records the SHA-256 of every input file whole.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

/// Bytes of a file looked at to recognise its format.
pub const HEAD: usize = 64 * 1024;
/// Files taken from one folder at most.
const MAX_FILES: usize = 100_000;
/// Folder depth walked at most.
const MAX_DEPTH: usize = 8;

/// Where a file comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    File(PathBuf),
    /// `-`: standard input.
    Stdin,
}

impl Source {
    pub fn display(&self) -> String {
        match self {
            Source::File(p) => p.display().to_string(),
            Source::Stdin => "-".to_string(),
        }
    }
}

/// The files under `path` (itself when a file; `-` for standard input), in name order;
/// anything skipped (links, devices, a folder too deep) is named in the warnings.
pub fn collect(path: &Path) -> io::Result<(Vec<Source>, Vec<String>)> {
    if path == Path::new("-") {
        return Ok((vec![Source::Stdin], Vec::new()));
    }
    let meta = std::fs::symlink_metadata(path)?;
    if meta.is_file() {
        return Ok((vec![Source::File(path.to_path_buf())], Vec::new()));
    }
    let mut files = Vec::new();
    let mut warnings = Vec::new();
    walk(path, 0, &mut files, &mut warnings)?;
    files.sort_by(|a, b| rotation_order(a, b));
    Ok((files.into_iter().map(Source::File).collect(), warnings))
}

fn walk(
    dir: &Path,
    depth: usize,
    files: &mut Vec<PathBuf>,
    warnings: &mut Vec<String>,
) -> io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            if depth + 1 >= MAX_DEPTH {
                warnings.push(format!(
                    "{}: folder nested too deep, skipped",
                    path.display()
                ));
            } else if let Err(e) = walk(&path, depth + 1, files, warnings) {
                warnings.push(format!("{}: {e}", path.display()));
            }
        } else if kind.is_file() {
            if files.len() >= MAX_FILES {
                warnings.push(format!(
                    "{}: more than {MAX_FILES} files; the rest were not read",
                    dir.display()
                ));
                return Ok(());
            }
            files.push(path);
        } else if !path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        {
            warnings.push(format!(
                "{}: not a regular file (a link or device), not read",
                path.display()
            ));
        }
    }
    Ok(())
}

/// Rotated files in the order they were written: `dns.log.2.gz`, `dns.log.1`, `dns.log`.
fn rotation_order(a: &Path, b: &Path) -> std::cmp::Ordering {
    let key = |p: &Path| {
        let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
        let name = name.unwrap_or_default();
        let bare = name
            .strip_suffix(".gz")
            .or_else(|| name.strip_suffix(".zst"))
            .unwrap_or(&name);
        let (stem, generation) = match bare.rsplit_once('.') {
            Some((stem, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
                (stem.to_string(), n.parse::<u64>().unwrap_or(u64::MAX))
            }
            _ => (bare.to_string(), 0),
        };
        (
            p.parent().map(Path::to_path_buf),
            stem,
            std::cmp::Reverse(generation),
        )
    };
    key(a).cmp(&key(b))
}

/// A running SHA-256 of what was read, shared between the decoder and the caller.
#[derive(Clone, Default)]
struct Hashed(Arc<Mutex<(Sha256, u64)>>);

struct HashingReader<R> {
    inner: R,
    hash: Hashed,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Ok(mut state) = self.hash.0.lock() {
            state.0.update(&buf[..n]);
            state.1 += n as u64;
        }
        Ok(n)
    }
}

/// How a file was stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

/// An open file: its decompressed contents (head first), and the hash of the raw bytes.
pub struct Opened {
    pub reader: Box<dyn Read + Send>,
    /// The first [`HEAD`] bytes of the contents (also the first bytes `reader` gives).
    pub head: Vec<u8>,
    pub compression: Compression,
    /// The file's modification year (for logs that write no year).
    pub year: i16,
    hash: Hashed,
    rest: Option<Box<dyn Read + Send>>,
}

impl Opened {
    /// Opens `source`, undoing gzip or zstd.
    pub fn open(source: &Source) -> io::Result<Opened> {
        let hash = Hashed::default();
        let (raw, rest, year): (Box<dyn Read + Send>, Box<dyn Read + Send>, i16) = match source {
            Source::File(path) => {
                let file = File::open(path)?;
                let year = file
                    .metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| jiff::Timestamp::try_from(t).ok())
                    .map_or_else(current_year, |t| {
                        t.to_zoned_datetime(jiff::tz::TimeZone::UTC).year()
                    });
                let again = file.try_clone()?;
                (Box::new(file), Box::new(again), year)
            }
            Source::Stdin => (Box::new(io::stdin()), Box::new(io::stdin()), current_year()),
        };
        let mut raw = io::BufReader::new(HashingReader {
            inner: raw,
            hash: hash.clone(),
        });
        let magic = peek(&mut raw)?;
        let (mut reader, compression): (Box<dyn Read + Send>, _) =
            if magic.starts_with(&[0x1f, 0x8b]) {
                (
                    Box::new(flate2::read::MultiGzDecoder::new(raw)),
                    Compression::Gzip,
                )
            } else if magic.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
                (Box::new(ZstdFrames::new(raw)), Compression::Zstd)
            } else {
                (Box::new(raw), Compression::None)
            };
        let mut head = Vec::with_capacity(HEAD);
        reader.by_ref().take(HEAD as u64).read_to_end(&mut head)?;
        let reader = Box::new(io::Cursor::new(head.clone()).chain(reader));
        Ok(Opened {
            reader,
            head,
            compression,
            year,
            rest: Some(Box::new(HashingReader {
                inner: rest,
                hash: hash.clone(),
            })),
            hash,
        })
    }

    /// The SHA-256 and size of the whole file: what the format did not read is read now.
    pub fn finish(mut self) -> (String, u64) {
        drop(std::mem::replace(&mut self.reader, Box::new(io::empty())));
        if let Some(mut rest) = self.rest.take() {
            let _ = io::copy(&mut rest, &mut io::sink());
        }
        let state = self.hash.0.lock().map(|s| s.clone()).unwrap_or_default();
        (hex::encode(state.0.finalize()), state.1)
    }
}

fn current_year() -> i16 {
    jiff::ZonedDateTime::now().year()
}

/// The first bytes of a buffered reader, without consuming them.
fn peek(reader: &mut impl io::BufRead) -> io::Result<Vec<u8>> {
    Ok(reader.fill_buf()?.iter().take(4).copied().collect())
}

/// zstd, frame after frame (`pzstd` and `cat a.zst b.zst` write several).
struct ZstdFrames<R: Read> {
    state: Option<ZstdState<R>>,
}

enum ZstdState<R: Read> {
    Between(R),
    In(Box<ruzstd::decoding::StreamingDecoder<R, ruzstd::decoding::FrameDecoder>>),
}

impl<R: Read> ZstdFrames<R> {
    fn new(inner: R) -> Self {
        ZstdFrames {
            state: Some(ZstdState::Between(inner)),
        }
    }
}

impl<R: io::BufRead> Read for ZstdFrames<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.state.take() {
                None => return Ok(0),
                Some(ZstdState::Between(mut inner)) => {
                    if inner.fill_buf()?.is_empty() {
                        return Ok(0);
                    }
                    let decoder = ruzstd::decoding::StreamingDecoder::new(inner)
                        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
                    self.state = Some(ZstdState::In(Box::new(decoder)));
                }
                Some(ZstdState::In(mut decoder)) => {
                    let n = decoder.read(buf)?;
                    if n == 0 && !buf.is_empty() {
                        self.state = Some(ZstdState::Between(decoder.into_inner()));
                        continue;
                    }
                    self.state = Some(ZstdState::In(decoder));
                    return Ok(n);
                }
            }
        }
    }
}
