//! Crafted hostile inputs, built in code for the regression tests of every crate (feature
//! `hostile-inputs`): what spyware controlling a phone's files could write to stop or exhaust a
//! check. Each builder makes the smallest input that shows the attack.

/// An XML property list of `levels` nested arrays.
pub fn nested_xml_plist(levels: usize) -> Vec<u8> {
    let mut s = String::from(r#"<?xml version="1.0" encoding="UTF-8"?><plist version="1.0">"#);
    s.push_str(&"<array>".repeat(levels));
    s.push_str(&"</array>".repeat(levels));
    s.push_str("</plist>");
    s.into_bytes()
}

/// A binary property list of `levels` nested one-element arrays.
pub fn nested_binary_plist(levels: usize) -> Vec<u8> {
    let last = levels.saturating_sub(1);
    binary_plist(levels.max(1), |i| {
        if i < last {
            BinaryObject::Array(vec![i + 1])
        } else {
            BinaryObject::Array(Vec::new())
        }
    })
}

/// A binary property list of `doublings` arrays each holding two references to the next: a few
/// hundred bytes that expand to 2^`doublings` strings ("billion laughs").
pub fn exponential_binary_plist(doublings: usize) -> Vec<u8> {
    binary_plist(doublings + 1, |i| {
        if i < doublings {
            BinaryObject::Array(vec![i + 1, i + 1])
        } else {
            BinaryObject::Ascii("lol".into())
        }
    })
}

enum BinaryObject {
    Array(Vec<usize>),
    Ascii(String),
}

/// Writes `count` objects (`object(i)`, object 0 the root) as a `bplist00` file with 4-byte
/// references and offsets.
fn binary_plist(count: usize, object: impl Fn(usize) -> BinaryObject) -> Vec<u8> {
    fn marker(out: &mut Vec<u8>, kind: u8, len: usize) {
        if len < 15 {
            out.push(kind | len as u8);
        } else {
            out.push(kind | 0x0f);
            out.push(0x12); // a 4-byte integer follows
            out.extend_from_slice(&(len as u32).to_be_bytes());
        }
    }
    let mut out = b"bplist00".to_vec();
    let mut offsets = Vec::with_capacity(count);
    for i in 0..count {
        offsets.push(out.len() as u32);
        match object(i) {
            BinaryObject::Array(refs) => {
                marker(&mut out, 0xa0, refs.len());
                for r in refs {
                    out.extend_from_slice(&(r as u32).to_be_bytes());
                }
            }
            BinaryObject::Ascii(s) => {
                marker(&mut out, 0x50, s.len());
                out.extend_from_slice(s.as_bytes());
            }
        }
    }
    let table = out.len() as u64;
    for offset in offsets {
        out.extend_from_slice(&offset.to_be_bytes());
    }
    out.extend_from_slice(&[0; 6]);
    out.push(4); // offset size
    out.push(4); // reference size
    out.extend_from_slice(&(count as u64).to_be_bytes());
    out.extend_from_slice(&0u64.to_be_bytes());
    out.extend_from_slice(&table.to_be_bytes());
    out
}

/// A raw deflate stream of `len` zero bytes (rounded up to whole MiB) and its CRC-32, made in
/// milliseconds: one MiB of zeros is compressed once, flushed to a byte boundary with no
/// back-references across it, and repeated.
pub fn deflated_zeros(len: u64) -> (Vec<u8>, u32) {
    use flate2::{Compress, Compression, FlushCompress};
    const MIB: usize = 1 << 20;
    let mut block = Vec::with_capacity(8 << 10);
    let mut compress = Compress::new(Compression::best(), false);
    compress
        .compress_vec(&vec![0u8; MIB], &mut block, FlushCompress::Full)
        .expect("deflate");
    let repeats = len.div_ceil(MIB as u64) as usize;
    let mut stream = Vec::with_capacity(block.len() * repeats + 2);
    for _ in 0..repeats {
        stream.extend_from_slice(&block);
    }
    stream.extend_from_slice(&[0x03, 0x00]); // a final, empty fixed-Huffman block
    let mut crc = flate2::Crc::new();
    let zeros = vec![0u8; MIB];
    for _ in 0..repeats {
        crc.update(&zeros);
    }
    (stream, crc.sum())
}

/// One zip entry as written by [`zip_of`]: stored or deflated bytes, with the sizes and CRC the
/// central directory declares.
pub struct RawEntry {
    pub name: String,
    pub data: Vec<u8>,
    pub deflated: bool,
    pub size: u32,
    pub crc32: u32,
}

impl RawEntry {
    /// An entry stored as is.
    pub fn stored(name: &str, contents: &[u8]) -> RawEntry {
        let mut crc = flate2::Crc::new();
        crc.update(contents);
        RawEntry {
            name: name.into(),
            data: contents.to_vec(),
            deflated: false,
            size: contents.len() as u32,
            crc32: crc.sum(),
        }
    }

    /// An honest zip bomb: `len` zero bytes (whole MiB, under 4 GiB), declared truthfully.
    pub fn zeros(name: &str, len: u64) -> RawEntry {
        let (data, crc32) = deflated_zeros(len);
        RawEntry {
            name: name.into(),
            data,
            deflated: true,
            size: len.div_ceil(1 << 20).saturating_mul(1 << 20) as u32,
            crc32,
        }
    }
}

/// A zip of `entries`. Each of `overlaps` adds a central-directory record that points at the
/// local header of entry 0 under another name: the "overlapping files" bomb, where every name
/// inflates the same stream again.
pub fn zip_of(entries: &[RawEntry], overlaps: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    let mut records = 0u16;
    let mut record = |central: &mut Vec<u8>, e: &RawEntry, name: &str, offset: u32| {
        central.extend_from_slice(b"PK\x01\x02");
        central.extend_from_slice(&[20, 3, 20, 0, 0, 0]); // made by, needed, flags
        central.extend_from_slice(&(if e.deflated { 8u16 } else { 0 }).to_le_bytes());
        central.extend_from_slice(&[0, 0, 0x21, 0]); // DOS time and date (1980-01-01)
        central.extend_from_slice(&e.crc32.to_le_bytes());
        central.extend_from_slice(&(e.data.len() as u32).to_le_bytes());
        central.extend_from_slice(&e.size.to_le_bytes());
        central.extend_from_slice(&(name.len() as u16).to_le_bytes());
        central.extend_from_slice(&[0; 8]); // extra, comment, disk, internal attributes
        central.extend_from_slice(&(0o100644u32 << 16).to_le_bytes());
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
        records += 1;
    };
    for e in entries {
        let offset = out.len() as u32;
        out.extend_from_slice(b"PK\x03\x04");
        out.extend_from_slice(&[20, 0, 0, 0]);
        out.extend_from_slice(&(if e.deflated { 8u16 } else { 0 }).to_le_bytes());
        out.extend_from_slice(&[0, 0, 0x21, 0]);
        out.extend_from_slice(&e.crc32.to_le_bytes());
        out.extend_from_slice(&(e.data.len() as u32).to_le_bytes());
        out.extend_from_slice(&e.size.to_le_bytes());
        out.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(e.name.as_bytes());
        out.extend_from_slice(&e.data);
        record(&mut central, e, &e.name, offset);
    }
    if let Some(first) = entries.first() {
        for name in overlaps {
            record(&mut central, first, name, 0);
        }
    }
    let central_start = out.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(b"PK\x05\x06");
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&records.to_le_bytes());
    out.extend_from_slice(&records.to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&central_start.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}
