//! The server name of a TLS ClientHello (RFC 8446 §4.1.2, RFC 6066 §3), read from the first
//! TCP segment of the handshake: the extensions come early, so one segment nearly always
//! holds the name, and no stream is reassembled. With Encrypted Client Hello (ECH) the
//! inner hello is encrypted; the outer hello's name (the provider's public name) is the one
//! on the wire, and the one read.

/// The SNI host name of the ClientHello at the start of `payload`, if it is one.
pub fn client_hello_sni(payload: &[u8]) -> Option<String> {
    // Record: content type 22 (handshake), version 3.x, length.
    let (&kind, rest) = payload.split_first()?;
    if kind != 22 || rest.first() != Some(&3) || rest.get(1).is_none_or(|&m| m > 4) {
        return None;
    }
    let record_len = usize::from(u16::from_be_bytes([*rest.get(2)?, *rest.get(3)?]));
    let record = rest.get(4..)?;
    let record = &record[..record.len().min(record_len)];
    // Handshake: type 1 (ClientHello), 3-byte length; the body may run past this segment.
    let mut r = Reader(record);
    if r.u8()? != 1 {
        return None;
    }
    r.skip(3)?;
    r.skip(2 + 32)?; // legacy_version, random
    let session = usize::from(r.u8()?);
    r.skip(session)?;
    let suites = usize::from(r.u16()?);
    r.skip(suites)?;
    let compression = usize::from(r.u8()?);
    r.skip(compression)?;
    let extensions_len = usize::from(r.u16()?);
    let mut ext = Reader(r.take_up_to(extensions_len));
    while let (Some(kind), Some(len)) = (ext.u16(), ext.u16()) {
        let data = ext.take(usize::from(len))?;
        if kind == 0 {
            return server_name(data);
        }
    }
    None
}

/// The first `host_name` of a server_name extension.
fn server_name(data: &[u8]) -> Option<String> {
    let mut r = Reader(data);
    let list_len = usize::from(r.u16()?);
    let mut list = Reader(r.take_up_to(list_len));
    while let Some(kind) = list.u8() {
        let len = usize::from(list.u16()?);
        let name = list.take(len)?;
        if kind == 0 {
            let name = std::str::from_utf8(name).ok()?;
            let name = name.strip_suffix('.').unwrap_or(name);
            return (!name.is_empty()).then(|| name.to_ascii_lowercase());
        }
    }
    None
}

/// Big-endian reads off the front of a slice, `None` past its end.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.0.len() {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    /// Up to `n` bytes: a length that runs past the segment gives what the segment holds.
    fn take_up_to(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.0.len());
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        head
    }

    fn skip(&mut self, n: usize) -> Option<()> {
        self.take(n).map(|_| ())
    }

    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ClientHello with one cipher suite and the given extensions.
    fn hello(extensions: &[u8]) -> Vec<u8> {
        let mut body = vec![3, 3];
        body.extend_from_slice(&[7; 32]);
        body.push(0);
        body.extend_from_slice(&[0, 2, 0x13, 0x01, 1, 0]);
        body.extend_from_slice(&(extensions.len() as u16).to_be_bytes());
        body.extend_from_slice(extensions);
        let mut hs = vec![1, 0];
        hs.extend_from_slice(&(body.len() as u16).to_be_bytes());
        hs.extend_from_slice(&body);
        let mut rec = vec![22, 3, 1];
        rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
        rec.extend_from_slice(&hs);
        rec
    }

    fn sni(name: &str) -> Vec<u8> {
        let n = name.len() as u16;
        let mut e = vec![0, 0];
        e.extend_from_slice(&(n + 5).to_be_bytes());
        e.extend_from_slice(&(n + 3).to_be_bytes());
        e.push(0);
        e.extend_from_slice(&n.to_be_bytes());
        e.extend_from_slice(name.as_bytes());
        e
    }

    #[test]
    fn sni_after_other_extensions() {
        let mut ext = vec![0, 0x17, 0, 0]; // extended master secret, empty
        ext.extend(sni("Evil.COM."));
        assert_eq!(client_hello_sni(&hello(&ext)).as_deref(), Some("evil.com"));
    }

    #[test]
    fn not_a_hello_or_cut_short() {
        assert_eq!(client_hello_sni(b"GET / HTTP/1.1\r\n"), None);
        let full = hello(&sni("evil.com"));
        for cut in 0..full.len() {
            assert_eq!(client_hello_sni(&full[..cut]), None, "{cut}");
        }
        assert_eq!(client_hello_sni(&hello(&[])), None);
    }
}
