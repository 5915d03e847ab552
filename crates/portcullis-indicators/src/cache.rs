//! A compiled copy of loaded indicators, written to a file and read back in milliseconds: the
//! tables' keys and entries, collections, files and identities as they are in memory, so that
//! no JSON is parsed and no pattern compiled again. The hash tables are rebuilt on reading
//! (with a fresh random seed), which costs one hash per key.
//!
//! The file says which sources it was compiled from (path, size, modification time, as the
//! caller gives them) and until when it holds: the earliest `valid_until` of a loaded
//! indicator still in force, after which it would match an expired indicator. A cache that
//! does not fit is simply not used; a damaged one is an error the caller reports and replaces.

use std::net::IpAddr;
use std::path::PathBuf;

use crate::Indicators;
use crate::types::{IndicatorFile, IocType, LeftOut};

/// Changes whenever the layout below changes (the crate version is checked too).
const FORMAT: u32 = 1;
const MAGIC: &[u8; 4] = b"PCIX";

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("not an indicator cache of this version")]
    Version,
    #[error("damaged indicator cache: {0}")]
    Damaged(&'static str),
}

/// One source file a cache was compiled from, as the caller identifies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheSource {
    pub path: PathBuf,
    pub size: u64,
    /// Modification time, nanoseconds since the Unix epoch.
    pub modified_ns: u64,
}

/// What a cache file says about itself, read before the indicators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheHeader {
    pub sources: Vec<CacheSource>,
    pub include_expired: bool,
    /// The earliest `valid_until` (`YYYY-MM-DDTHH:MM:SS`) of an indicator in force when the
    /// cache was written: past it, the cache must be compiled again.
    pub good_until: Option<String>,
}

impl Indicators {
    /// The compiled form of these indicators, compiled from `sources`.
    pub fn to_cache(&self, sources: &[CacheSource]) -> Vec<u8> {
        let mut w = Writer(Vec::with_capacity(1 << 16));
        w.0.extend_from_slice(MAGIC);
        w.u32(FORMAT);
        w.str(env!("CARGO_PKG_VERSION"));
        w.len(sources.len());
        for s in sources {
            w.str(&s.path.to_string_lossy());
            w.u64(s.size);
            w.u64(s.modified_ns);
        }
        w.bool(self.validity.include_expired);
        w.opt_str(
            self.records
                .earliest_valid_until(&self.validity.now)
                .as_deref(),
        );

        w.len(self.files.len());
        for f in &self.files {
            w.str(&f.path.to_string_lossy());
            w.str(&f.sha256);
            w.u64(f.indicators as u64);
            w.strs(&f.unsupported);
            w.strs(&f.collections);
            w.u64(f.left_out.revoked as u64);
            w.u64(f.left_out.expired as u64);
        }
        w.len(self.collections.len());
        for c in &self.collections {
            for text in [&c.id, &c.name, &c.description, &c.file] {
                w.str(text);
            }
            w.str(&c.path.to_string_lossy());
            w.str(&c.sha256);
            for &n in &c.counts {
                w.u64(n as u64);
            }
        }
        for table in &self.tables {
            table.encode(&mut w);
        }
        self.ips.encode(&mut w);
        // Maps in key order, so that the same indicators always give the same bytes.
        let mut truncated: Vec<_> = self.truncated.iter().collect();
        truncated.sort_unstable();
        w.len(truncated.len());
        for (short, full) in truncated {
            w.str(short);
            w.str(full);
        }
        let mut repeated: Vec<_> = self.repeated.iter().collect();
        repeated.sort_unstable();
        w.len(repeated.len());
        for (collection, ioc_type, key) in repeated {
            w.u32(*collection);
            w.u8(*ioc_type as u8);
            w.str(key);
        }
        w.len(self.originals.len());
        for o in &self.originals {
            w.str(o);
        }
        w.u64(self.domain_label_counts);
        self.records.encode(&mut w);
        w.0
    }

    /// Reads the header of a cache: which sources it was compiled from and until when it
    /// holds. `Version` when it was written by another version of Portcullis.
    pub fn cache_header(bytes: &[u8]) -> Result<CacheHeader, CacheError> {
        let mut r = Reader::new(bytes);
        read_header(&mut r)
    }

    /// The indicators of a cache written by [`Indicators::to_cache`]. Whether it is current
    /// for its sources is the caller's to judge, from [`Indicators::cache_header`].
    pub fn from_cache(bytes: &[u8]) -> Result<Indicators, CacheError> {
        let mut r = Reader::new(bytes);
        let header = read_header(&mut r)?;
        // Files loaded after the cache are judged against the time of this load.
        let mut ind = Indicators::new().include_expired(header.include_expired);
        for _ in 0..r.len()? {
            ind.files.push(IndicatorFile {
                path: PathBuf::from(r.string()?),
                sha256: r.string()?,
                indicators: r.usize()?,
                unsupported: r.strings()?,
                collections: r.strings()?,
                left_out: LeftOut {
                    revoked: r.usize()?,
                    expired: r.usize()?,
                },
            });
        }
        for _ in 0..r.len()? {
            let mut c = crate::build::Collection {
                id: r.string()?,
                name: r.string()?,
                description: r.string()?,
                file: r.string()?,
                path: PathBuf::from(r.string()?),
                sha256: r.string()?,
                counts: [0; IocType::ALL.len()],
            };
            for n in &mut c.counts {
                *n = r.usize()?;
            }
            ind.collections.push(c);
        }
        for table in &mut ind.tables {
            *table = crate::keys::Table::decode(&mut r)?;
        }
        ind.ips = crate::keys::IpTable::decode(&mut r)?;
        for _ in 0..r.len()? {
            ind.truncated
                .insert(r.string()?.into_boxed_str(), r.string()?.into_boxed_str());
        }
        for _ in 0..r.len()? {
            let collection = r.u32()?;
            let ioc_type = *IocType::ALL
                .get(usize::from(r.u8()?))
                .ok_or(CacheError::Damaged("indicator type"))?;
            ind.repeated.insert((collection, ioc_type, r.string()?));
        }
        for _ in 0..r.len()? {
            ind.originals.push(r.string()?.into_boxed_str());
        }
        ind.domain_label_counts = r.u64()?;
        ind.records = crate::identity::Records::decode(&mut r)?;
        if r.rest() != 0 {
            return Err(CacheError::Damaged("bytes after the end"));
        }
        Ok(ind)
    }
}

fn read_header(r: &mut Reader<'_>) -> Result<CacheHeader, CacheError> {
    if r.take(4).ok() != Some(MAGIC.as_slice())
        || r.u32().ok() != Some(FORMAT)
        || r.string().ok().as_deref() != Some(env!("CARGO_PKG_VERSION"))
    {
        return Err(CacheError::Version);
    }
    let mut sources = Vec::new();
    for _ in 0..r.len()? {
        sources.push(CacheSource {
            path: PathBuf::from(r.string()?),
            size: r.u64()?,
            modified_ns: r.u64()?,
        });
    }
    Ok(CacheHeader {
        sources,
        include_expired: r.bool()?,
        good_until: r.opt_string()?,
    })
}

/// Little-endian numbers and length-prefixed text.
pub(crate) struct Writer(pub(crate) Vec<u8>);

impl Writer {
    pub(crate) fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    pub(crate) fn bool(&mut self, v: bool) {
        self.u8(u8::from(v));
    }
    pub(crate) fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub(crate) fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub(crate) fn u128(&mut self, v: u128) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub(crate) fn len(&mut self, n: usize) {
        self.u64(n as u64);
    }
    pub(crate) fn str(&mut self, s: &str) {
        self.len(s.len());
        self.0.extend_from_slice(s.as_bytes());
    }
    pub(crate) fn opt_str(&mut self, s: Option<&str>) {
        self.bool(s.is_some());
        if let Some(s) = s {
            self.str(s);
        }
    }
    pub(crate) fn strs<S: AsRef<str>>(&mut self, list: &[S]) {
        self.len(list.len());
        for s in list {
            self.str(s.as_ref());
        }
    }
    pub(crate) fn ip(&mut self, ip: IpAddr) {
        match ip {
            IpAddr::V4(v4) => {
                self.u8(4);
                self.0.extend_from_slice(&v4.octets());
            }
            IpAddr::V6(v6) => {
                self.u8(6);
                self.0.extend_from_slice(&v6.octets());
            }
        }
    }
}

/// Reads what [`Writer`] wrote; every length is checked against the bytes left, so a damaged
/// file cannot make it allocate more than the file's size.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, pos: 0 }
    }
    fn rest(&self) -> usize {
        self.bytes.len() - self.pos
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8], CacheError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or(CacheError::Damaged("truncated"))?;
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], CacheError> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }
    pub(crate) fn u8(&mut self) -> Result<u8, CacheError> {
        Ok(self.take(1)?[0])
    }
    pub(crate) fn bool(&mut self) -> Result<bool, CacheError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(CacheError::Damaged("flag")),
        }
    }
    pub(crate) fn u32(&mut self) -> Result<u32, CacheError> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    pub(crate) fn u64(&mut self) -> Result<u64, CacheError> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    pub(crate) fn u128(&mut self) -> Result<u128, CacheError> {
        Ok(u128::from_le_bytes(self.array()?))
    }
    pub(crate) fn usize(&mut self) -> Result<usize, CacheError> {
        usize::try_from(self.u64()?).map_err(|_| CacheError::Damaged("number"))
    }
    /// A count of items that each take at least one byte: never more than the bytes left.
    pub(crate) fn len(&mut self) -> Result<usize, CacheError> {
        let n = self.usize()?;
        if n > self.rest() {
            return Err(CacheError::Damaged("length"));
        }
        Ok(n)
    }
    pub(crate) fn string(&mut self) -> Result<String, CacheError> {
        let n = self.len()?;
        let bytes = self.take(n)?;
        std::str::from_utf8(bytes)
            .map(str::to_string)
            .map_err(|_| CacheError::Damaged("text"))
    }
    pub(crate) fn opt_string(&mut self) -> Result<Option<String>, CacheError> {
        if self.bool()? {
            Ok(Some(self.string()?))
        } else {
            Ok(None)
        }
    }
    pub(crate) fn strings(&mut self) -> Result<Vec<String>, CacheError> {
        (0..self.len()?).map(|_| self.string()).collect()
    }
    pub(crate) fn ip(&mut self) -> Result<IpAddr, CacheError> {
        match self.u8()? {
            4 => Ok(IpAddr::from(self.array::<4>()?)),
            6 => Ok(IpAddr::from(self.array::<16>()?)),
            _ => Err(CacheError::Damaged("address")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_bundle_json;
    use std::path::Path;

    fn loaded() -> Indicators {
        let mut ind = Indicators::new();
        let mut json = test_bundle_json(
            "Kitten",
            &[
                "[domain-name:value = 'Evil.Example.COM.']",
                "[ipv4-addr:value = '198.51.100.0/24']",
                "[ipv6-addr:value = '2001:db8::1']",
                "[process:name = 'averyveryverylongprocessname']",
                "[url:value = 'http://example.net/thisisbad']",
                "[url:value = '/hass/upload-log.php']",
                "[app:id = 'com.kitten.spy']",
                "[file:hashes.'SHA-256' = '570cd76bf49cf52e0cb347a68bdcf0590b2eaece134e1b1eba7e8d66261bdbe6']",
                "[email-addr:value = 'x@example.org']",
                "[file:name = 'implant']",
                "[process:name = 'Launch' AND x:y = 'z']",
            ],
        );
        // One indicator with a lifetime and marking, and one with an id that does not pack.
        json = json.replacen(
            "\"pattern_type\"",
            "\"valid_until\": \"2999-01-01T00:00:00Z\", \"confidence\": 80, \
             \"labels\": [\"apt\"], \"object_marking_refs\": \
             [\"marking-definition--f88d31f6-486f-44da-b317-01333bde0b82\"], \"pattern_type\"",
            1,
        );
        ind.load_bundle(json.as_bytes(), Path::new("kitten.stix2"))
            .unwrap();
        ind.load_bundle(
            test_bundle_json("Again", &["[domain-name:value = 'evil.example.com']"]).as_bytes(),
            Path::new("again.stix2"),
        )
        .unwrap();
        ind
    }

    #[test]
    fn a_cache_matches_as_the_indicators_it_was_made_from() {
        let ind = loaded();
        let sources = [CacheSource {
            path: "a.stix2".into(),
            size: 10,
            modified_ns: 20,
        }];
        let bytes = ind.to_cache(&sources);
        let header = Indicators::cache_header(&bytes).unwrap();
        assert_eq!(header.sources, sources);
        assert!(!header.include_expired);
        assert_eq!(header.good_until.as_deref(), Some("2999-01-01T00:00:00"));
        let back = Indicators::from_cache(&bytes).unwrap();
        assert_eq!(back.len(), ind.len());
        assert_eq!(back.counts(), ind.counts());
        assert_eq!(back.files(), ind.files());
        assert_eq!(back.collections_summary(), ind.collections_summary());
        type Lookup = fn(&Indicators, &str) -> Option<crate::IndicatorMatch>;
        let lookups: [(&str, Lookup); 11] = [
            ("https://a.evil.example.com/x", Indicators::check_url),
            ("198.51.100.7", Indicators::check_ip),
            ("2001:db8::1", Indicators::check_ip),
            ("averyveryverylon", Indicators::check_process),
            ("http://example.net/thisisbad", Indicators::check_url),
            (
                "https://any.example/hass/upload-log.php?x=1",
                Indicators::check_url,
            ),
            ("com.kitten.spy", Indicators::check_app_id),
            (
                "570cd76bf49cf52e0cb347a68bdcf0590b2eaece134e1b1eba7e8d66261bdbe6",
                Indicators::check_file_hash,
            ),
            ("x@example.org", Indicators::check_email),
            ("/var/tmp/implant", Indicators::check_file_path),
            ("nothing.example", Indicators::check_url),
        ];
        for (value, lookup) in lookups {
            assert_eq!(lookup(&back, value), lookup(&ind, value), "{value}");
            assert_eq!(
                lookup(&back, value).is_some(),
                value != "nothing.example",
                "{value}"
            );
        }
        let hit = back.check_url("https://a.evil.example.com/x").unwrap();
        assert_eq!(hit.value, "Evil.Example.COM.");
        assert_eq!(hit.collection, "Kitten");
        assert_eq!(hit.stix.confidence, Some(80));
        assert_eq!(hit.stix.tlp.as_deref(), Some("TLP:AMBER"));
        assert_eq!(
            back.to_cache(&sources),
            bytes,
            "written again, the same bytes"
        );
    }

    #[test]
    fn damaged_and_foreign_caches_are_refused() {
        let bytes = loaded().to_cache(&[]);
        for cut in [0, 3, 9, bytes.len() / 2, bytes.len() - 1] {
            assert!(
                Indicators::from_cache(&bytes[..cut]).is_err(),
                "cut at {cut}"
            );
        }
        let mut other = bytes.clone();
        other[4] ^= 1;
        assert!(matches!(
            Indicators::from_cache(&other),
            Err(CacheError::Version)
        ));
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(Indicators::from_cache(&longer).is_err());
        // A length far past the end fails before allocating.
        let mut huge = bytes[..4 + 4 + 8 + env!("CARGO_PKG_VERSION").len()].to_vec();
        huge.extend_from_slice(&u64::MAX.to_le_bytes());
        assert!(Indicators::from_cache(&huge).is_err());
    }
}
