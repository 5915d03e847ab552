//! The DNS wire format (RFC 1035), as far as the check needs it: the questions, and the
//! addresses and CNAME targets of the answers. Written by hand so that every bound is ours:
//! names are read through compression pointers with a hop limit and the 255-byte name limit,
//! so a pointer loop or a forged count ends in an error, never a hang or a large allocation.

use std::net::{Ipv4Addr, Ipv6Addr};

/// Pointers followed in one name at most (a real name needs a few; a loop needs infinity).
const MAX_HOPS: usize = 32;
/// The longest name the wire format allows, in wire bytes (RFC 1035 §2.3.4).
const MAX_NAME: usize = 255;
/// Questions and answers read per message at most; a forged count stops here.
const MAX_RECORDS: usize = 64;

const TYPE_A: u16 = 1;
const TYPE_CNAME: u16 = 5;
const TYPE_AAAA: u16 = 28;

/// What one DNS message says.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Message {
    pub response: bool,
    pub questions: Vec<String>,
    /// Addresses of A and AAAA answers.
    pub addresses: Vec<String>,
    /// Targets of CNAME answers.
    pub cnames: Vec<String>,
}

/// Reads one DNS message (as carried over UDP, or over TCP after its length prefix).
///
/// A message cut short after its questions still gives them (a snaplen-cut response is
/// common); a message whose header or first question cannot be read is an error.
pub fn parse(msg: &[u8]) -> Result<Message, &'static str> {
    if msg.len() < 12 {
        return Err("DNS message shorter than its header");
    }
    let flags = u16::from_be_bytes([msg[2], msg[3]]);
    let qdcount = usize::from(u16::from_be_bytes([msg[4], msg[5]]));
    let ancount = usize::from(u16::from_be_bytes([msg[6], msg[7]]));
    let mut out = Message {
        response: flags & 0x8000 != 0,
        ..Message::default()
    };
    if flags & 0x7800 != 0 {
        // NOTIFY, UPDATE, STATUS…: not a lookup by the device; nothing to check.
        return Ok(out);
    }
    let mut at = 12;
    for i in 0..qdcount.min(MAX_RECORDS) {
        let name = match read_name(msg, at) {
            Ok(n) => n,
            Err(e) if i == 0 => return Err(e),
            Err(_) => return Ok(out),
        };
        at = name.end + 4;
        if at > msg.len() && i == 0 {
            return Err("DNS question cut short");
        }
        out.questions.push(name.text);
        if at > msg.len() {
            return Ok(out);
        }
    }
    if qdcount == 0 && !out.response {
        return Err("DNS query without a question");
    }
    for _ in 0..ancount.min(MAX_RECORDS) {
        let Ok(owner) = read_name(msg, at) else {
            break;
        };
        let fixed = owner.end;
        let Some(header) = msg.get(fixed..fixed + 10) else {
            break;
        };
        let rrtype = u16::from_be_bytes([header[0], header[1]]);
        let rdlength = usize::from(u16::from_be_bytes([header[8], header[9]]));
        let start = fixed + 10;
        let Some(rdata) = msg.get(start..start + rdlength) else {
            break;
        };
        match (rrtype, rdata.len()) {
            (TYPE_A, 4) => {
                out.addresses
                    .push(Ipv4Addr::new(rdata[0], rdata[1], rdata[2], rdata[3]).to_string());
            }
            (TYPE_AAAA, 16) => {
                let mut octets = [0u8; 16];
                octets.copy_from_slice(rdata);
                out.addresses.push(Ipv6Addr::from(octets).to_string());
            }
            (TYPE_CNAME, _) => {
                if let Ok(target) = read_name(msg, start) {
                    out.cnames.push(target.text);
                }
            }
            _ => {}
        }
        at = start + rdlength;
    }
    Ok(out)
}

/// A name read from a message, and where the bytes after it (in place, not after any
/// pointer) begin.
struct Name {
    text: String,
    end: usize,
}

/// Reads the name at `at`, following compression pointers. Labels are written with dots
/// between them; a byte that is not a printable ASCII character (or a dot inside a label) is
/// written `\DDD`, as `dig` does, so a crafted label can never read as another name.
fn read_name(msg: &[u8], mut at: usize) -> Result<Name, &'static str> {
    let mut text = String::new();
    let mut wire = 0usize;
    let mut hops = 0usize;
    let mut end = None;
    loop {
        let Some(&len) = msg.get(at) else {
            return Err("DNS name runs past the message");
        };
        match len & 0xc0 {
            0x00 => {
                if len == 0 {
                    return Ok(Name {
                        text,
                        end: end.unwrap_or(at + 1),
                    });
                }
                let len = usize::from(len);
                wire += len + 1;
                if wire > MAX_NAME {
                    return Err("DNS name longer than 255 bytes");
                }
                let Some(label) = msg.get(at + 1..at + 1 + len) else {
                    return Err("DNS label runs past the message");
                };
                if !text.is_empty() {
                    text.push('.');
                }
                for &b in label {
                    if b.is_ascii_graphic() && b != b'.' && b != b'\\' {
                        text.push(char::from(b));
                    } else {
                        text.push_str(&format!("\\{b:03}"));
                    }
                }
                at += 1 + len;
            }
            0xc0 => {
                let Some(&low) = msg.get(at + 1) else {
                    return Err("DNS name pointer cut short");
                };
                hops += 1;
                if hops > MAX_HOPS {
                    return Err("DNS name compression loops");
                }
                if end.is_none() {
                    end = Some(at + 2);
                }
                at = usize::from(u16::from_be_bytes([len & 0x3f, low]));
            }
            _ => return Err("DNS label of an unknown kind"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(flags: u16, qd: u16, an: u16) -> Vec<u8> {
        let mut m = vec![0x12, 0x34];
        for v in [flags, qd, an, 0, 0] {
            m.extend_from_slice(&v.to_be_bytes());
        }
        m
    }

    #[test]
    fn question_answers_and_compressed_names() {
        let mut m = header(0x8180, 1, 3);
        m.extend_from_slice(b"\x03www\x04evil\x03com\x00\x00\x01\x00\x01");
        // CNAME www.evil.com → cdn.evil.com (pointer to "evil.com" at 16).
        m.extend_from_slice(b"\xc0\x0c\x00\x05\x00\x01\x00\x00\x00\x3c\x00\x06\x03cdn\xc0\x10");
        m.extend_from_slice(b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\xcb\x00\x71\x05");
        m.extend_from_slice(b"\xc0\x0c\x00\x1c\x00\x01\x00\x00\x00\x3c\x00\x10");
        m.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        let msg = parse(&m).unwrap();
        assert!(msg.response);
        assert_eq!(msg.questions, ["www.evil.com"]);
        assert_eq!(msg.cnames, ["cdn.evil.com"]);
        assert_eq!(msg.addresses, ["203.0.113.5", "2001:db8::1"]);
    }

    #[test]
    fn pointer_loops_and_forged_lengths_end_in_errors() {
        let mut m = header(0x0100, 1, 0);
        m.extend_from_slice(b"\xc0\x0c\x00\x01\x00\x01");
        assert_eq!(parse(&m), Err("DNS name compression loops"));
        let mut m = header(0x0100, 1, 0);
        m.extend_from_slice(b"\x3fabc");
        assert_eq!(parse(&m), Err("DNS label runs past the message"));
        let mut m = header(0x0100, 1, 0);
        for _ in 0..5 {
            m.push(63);
            m.extend_from_slice(&[b'a'; 63]);
        }
        m.push(0);
        assert_eq!(parse(&m), Err("DNS name longer than 255 bytes"));
        assert_eq!(parse(&[0; 5]), Err("DNS message shorter than its header"));
    }

    #[test]
    fn odd_bytes_in_labels_are_escaped() {
        let mut m = header(0x0100, 1, 0);
        m.extend_from_slice(b"\x08evil.com\x00\x00\x01\x00\x01");
        assert_eq!(parse(&m).unwrap().questions, ["evil\\046com"]);
    }
}
