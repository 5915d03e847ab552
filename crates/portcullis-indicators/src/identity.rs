//! What each loaded indicator says of itself (its id, lifetime, marking) and its collection,
//! kept compact: ids as generators write them (`indicator--` and a lower-case UUID) cost 16
//! bytes, timestamps of STIX's usual shape 8, and anything else is kept as written.

use crate::FastMap;
use crate::stix;
use crate::types::{IndicatorInfo, LeftOut, tlp_of};

/// Every loaded indicator, by load order: its collection, and what it says of itself. The
/// rarer properties are kept only for the indicators that have them.
#[derive(Debug, Default)]
pub(crate) struct Records {
    /// Each indicator's collection, as runs: (first indicator, collection), in order. A
    /// bundle of one malware is one run, so no per-indicator array is needed.
    collection: CollectionRuns,
    /// How many indicators are recorded.
    count: u32,
    /// The identity of each part's indicators, with the first one's position (kept as the
    /// parts made them: concatenating would copy and fault in megabytes for nothing).
    parts: Vec<(u32, Identities)>,
    extras: FastMap<u32, Extras>,
}

/// The ids and lifetimes of consecutive indicators.
#[derive(Debug, Default)]
struct Identities {
    ids: Column<Uuid>,
    valid_from: Column<Stamp>,
    valid_until: Column<Stamp>,
}

/// A part's records, before they join [`Records`] (positions relative to the part).
#[derive(Default)]
pub(crate) struct PartRecords {
    count: u32,
    identities: Identities,
    extras: Vec<(u32, Extras)>,
    /// Filled by [`crate::build::KeyedPart::assign`]: the collection of each of the part's
    /// indicators.
    pub(crate) collection: Vec<u32>,
}

impl PartRecords {
    pub(crate) fn push(&mut self, indicator: &stix::Indicator<'_>) {
        let at = self.count;
        self.count = self.count.saturating_add(1);
        let lifetime = &indicator.lifetime;
        let identities = &mut self.identities;
        identities.ids.push(at, Some(&indicator.id));
        identities
            .valid_from
            .push(at, lifetime.valid_from.as_deref());
        identities
            .valid_until
            .push(at, lifetime.valid_until.as_deref());
        if let Some(extras) = Extras::of(lifetime) {
            self.extras.push((at, extras));
        }
    }
}

impl Records {
    pub(crate) fn len(&self) -> u32 {
        self.count
    }

    /// Appends a part's records; `base` is its first indicator's position.
    pub(crate) fn append(&mut self, part: &mut PartRecords, base: u32) {
        let part = std::mem::take(part);
        for (at, extras) in part.extras {
            self.extras.insert(base + at, extras);
        }
        self.collection.extend(base, &part.collection);
        self.parts.push((base, part.identities));
        self.count = self.count.saturating_add(part.count);
    }

    pub(crate) fn collection(&self, indicator: u32) -> u32 {
        self.collection.of(indicator)
    }

    /// The indicator's STIX id.
    pub(crate) fn id(&self, indicator: u32) -> String {
        let at = self.parts.partition_point(|&(base, _)| base <= indicator);
        at.checked_sub(1)
            .and_then(|p| self.parts.get(p))
            .and_then(|(base, identities)| identities.ids.get(indicator - base))
            .unwrap_or_default()
    }

    /// The TLP level of the indicator's markings, when it has one.
    pub(crate) fn tlp(&self, indicator: u32) -> Option<&'static str> {
        let extras = self.extras.get(&indicator)?;
        tlp_of(extras.markings.iter().map(|m| &**m))
    }

    pub(crate) fn info(&self, indicator: u32) -> IndicatorInfo {
        let extras = self.extras.get(&indicator).cloned().unwrap_or_default();
        let at = self.parts.partition_point(|&(base, _)| base <= indicator);
        let part = at.checked_sub(1).and_then(|p| self.parts.get(p));
        let get = |column: fn(&Identities) -> &Column<_>| {
            part.and_then(|(base, identities)| column(identities).get(indicator - base))
        };
        IndicatorInfo {
            id: self.id(indicator),
            valid_from: get(|i| &i.valid_from),
            valid_until: get(|i| &i.valid_until),
            revoked: extras.revoked,
            confidence: extras.confidence,
            labels: extras.labels.iter().map(|l| l.to_string()).collect(),
            tlp: tlp_of(extras.markings.iter().map(|m| &**m)).map(str::to_string),
            markings: extras.markings.iter().map(|m| m.to_string()).collect(),
        }
    }
}

use crate::cache::{CacheError, Reader, Writer};

impl Records {
    /// The earliest `valid_until` after `now` of the indicators held (`YYYY-MM-DDTHH:MM:SS`):
    /// when a cache of them stops holding.
    pub(crate) fn earliest_valid_until(&self, now: &str) -> Option<String> {
        self.parts
            .iter()
            .flat_map(|(_, identities)| {
                let column = &identities.valid_until;
                let len = column.packed.len() as u32;
                let packed = (0..len).filter_map(|at| column.get(at));
                let odd = column.odd.values().map(|t| t.to_string());
                packed.chain(odd).collect::<Vec<_>>()
            })
            .filter_map(|until| until.get(..19).map(str::to_string))
            .filter(|until| until.as_str() > now)
            .min()
    }

    /// The most restrictive TLP level any indicator is marked with.
    pub(crate) fn strictest_tlp(&self) -> Option<&'static str> {
        tlp_of(
            self.extras
                .values()
                .flat_map(|e| e.markings.iter().map(|m| &**m)),
        )
    }

    pub(crate) fn encode(&self, w: &mut Writer) {
        w.len(self.collection.0.len());
        for &(first, collection) in &self.collection.0 {
            w.u32(first);
            w.u32(collection);
        }
        w.u32(self.count);
        w.len(self.parts.len());
        for (base, identities) in &self.parts {
            w.u32(*base);
            identities.ids.encode(w, |w, v| w.u128(v.0));
            identities.valid_from.encode(w, |w, v| w.u64(v.0));
            identities.valid_until.encode(w, |w, v| w.u64(v.0));
        }
        let mut extras: Vec<_> = self.extras.iter().collect();
        extras.sort_unstable_by_key(|e| *e.0);
        w.len(extras.len());
        for (&at, e) in extras {
            w.u32(at);
            w.bool(e.revoked);
            w.bool(e.confidence.is_some());
            w.u8(e.confidence.unwrap_or(0));
            w.strs(&e.labels);
            w.strs(&e.markings);
        }
    }

    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Records, CacheError> {
        let mut records = Records::default();
        for _ in 0..r.len()? {
            records.collection.0.push((r.u32()?, r.u32()?));
        }
        records.count = r.u32()?;
        for _ in 0..r.len()? {
            let base = r.u32()?;
            let identities = Identities {
                ids: Column::decode(r, |r| Ok(Uuid(r.u128()?)))?,
                valid_from: Column::decode(r, |r| Ok(Stamp(r.u64()?)))?,
                valid_until: Column::decode(r, |r| Ok(Stamp(r.u64()?)))?,
            };
            records.parts.push((base, identities));
        }
        for _ in 0..r.len()? {
            let at = r.u32()?;
            let revoked = r.bool()?;
            let has_confidence = r.bool()?;
            let confidence = r.u8()?;
            let text = |list: Vec<String>| list.into_iter().map(String::into_boxed_str).collect();
            let extras = Extras {
                revoked,
                confidence: has_confidence.then_some(confidence),
                labels: text(r.strings()?),
                markings: text(r.strings()?),
            };
            records.extras.insert(at, extras);
        }
        Ok(records)
    }
}

impl<P: Packing> Column<P> {
    fn encode(&self, w: &mut Writer, value: fn(&mut Writer, P)) {
        w.len(self.packed.len());
        for block in &self.packed.0 {
            for &v in block {
                value(w, v);
            }
        }
        let mut odd: Vec<_> = self.odd.iter().collect();
        odd.sort_unstable_by_key(|e| *e.0);
        w.len(odd.len());
        for (&at, text) in odd {
            w.u32(at);
            w.str(text);
        }
    }

    fn decode(
        r: &mut Reader<'_>,
        value: fn(&mut Reader<'_>) -> Result<P, CacheError>,
    ) -> Result<Self, CacheError> {
        let mut column = Column::default();
        for _ in 0..r.len()? {
            column.packed.push(value(r)?);
        }
        for _ in 0..r.len()? {
            column.odd.insert(r.u32()?, r.string()?.into_boxed_str());
        }
        Ok(column)
    }
}

/// A string property stored compactly: `P` where the text packs, else the text itself.
trait Packing: Copy + Default + PartialEq {
    /// `None` when the text does not have the shape `P` holds (never packs to the default).
    fn pack(text: &str) -> Option<Self>;
    fn unpack(self) -> String;
}

/// One property of consecutive indicators.
#[derive(Debug, Default)]
struct Column<P> {
    /// By indicator; the default for one without the property or whose text did not pack.
    /// Empty until the first indicator that has it, so an absent property costs nothing.
    packed: Blocks<P>,
    /// The text of values that did not pack, by indicator.
    odd: FastMap<u32, Box<str>>,
}

impl<P: Packing> Column<P> {
    /// Records indicator `at`'s value (`at` is one past the last indicator pushed).
    fn push(&mut self, at: u32, value: Option<&str>) {
        let Some(text) = value else {
            if !self.packed.is_empty() {
                self.packed.push(P::default());
            }
            return;
        };
        self.packed.pad_to(at as usize, P::default());
        match P::pack(text) {
            Some(packed) => self.packed.push(packed),
            None => {
                self.packed.push(P::default());
                self.odd.insert(at, text.into());
            }
        }
    }

    fn get(&self, at: u32) -> Option<String> {
        match self.packed.get(at as usize) {
            Some(&packed) if packed != P::default() => Some(packed.unpack()),
            _ => self.odd.get(&at).map(|text| text.to_string()),
        }
    }
}

/// A vector grown in fixed blocks, so that pushing never copies what it holds (a million
/// ids would otherwise be copied, and their pages faulted in again, at every doubling).
#[derive(Debug)]
struct Blocks<P>(Vec<Vec<P>>);

impl<P> Default for Blocks<P> {
    fn default() -> Self {
        Blocks(Vec::new())
    }
}

impl<P: Copy> Blocks<P> {
    const BLOCK: usize = 1 << 14;

    fn len(&self) -> usize {
        let full = self.0.len().saturating_sub(1) * Self::BLOCK;
        full + self.0.last().map_or(0, Vec::len)
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn push(&mut self, value: P) {
        match self.0.last_mut() {
            Some(block) if block.len() < Self::BLOCK => block.push(value),
            _ => {
                let mut block = Vec::with_capacity(Self::BLOCK);
                block.push(value);
                self.0.push(block);
            }
        }
    }

    /// Pushes `value` until there are `len` values.
    fn pad_to(&mut self, len: usize, value: P) {
        for _ in self.len()..len {
            self.push(value);
        }
    }

    fn get(&self, at: usize) -> Option<&P> {
        self.0.get(at / Self::BLOCK)?.get(at % Self::BLOCK)
    }
}

/// Eight lower-case hex digits (the first in the lowest byte) as their 32-bit value, a word
/// at a time (this runs for every indicator loaded): each byte is range-checked by adding
/// offsets that set its high bit, which no byte starts with.
fn hex_word(word: u64) -> Option<u32> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = ONES * 0x80;
    // The high bit of each byte of `at_least(lo)` is set where that byte is ≥ lo.
    let at_least = |lo: u64| word + ONES * (0x80 - lo);
    let digit = at_least(b'0'.into()) & !at_least(u64::from(b'9') + 1);
    let letter = at_least(b'a'.into()) & !at_least(u64::from(b'f') + 1);
    if word & HIGH != 0 || (digit | letter) & HIGH != HIGH {
        return None;
    }
    // '0'–'9' are 0x30–0x39, 'a'–'f' 0x61–0x66: the low nibble, plus 9 for a letter (bit 6).
    let nibbles = (word & (ONES * 0x0f)) + ((word >> 6) & ONES) * 9;
    // The first digit to the top: then pairs, quads and octets of nibbles merge in place.
    let mut n = nibbles.swap_bytes();
    n = (n | n >> 4) & 0x00ff_00ff_00ff_00ff;
    n = (n | n >> 8) & 0x0000_ffff_0000_ffff;
    n = (n | n >> 16) & 0x0000_0000_ffff_ffff;
    u32::try_from(n).ok()
}

/// An indicator id `indicator--` + a UUID in canonical lower-case form, as 128 bits.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct Uuid(u128);

impl Packing for Uuid {
    fn pack(text: &str) -> Option<Self> {
        let uuid: &[u8; 36] = text
            .strip_prefix("indicator--")?
            .as_bytes()
            .try_into()
            .ok()?;
        let hyphens = [8, 13, 18, 23].iter().all(|&i| uuid[i] == b'-');
        let eight = |a: &[u8], b: &[u8]| {
            let mut word = [0; 8];
            word[..a.len()].copy_from_slice(a);
            word[a.len()..].copy_from_slice(b);
            hex_word(u64::from_le_bytes(word))
        };
        let value = [
            eight(&uuid[0..8], &[]),
            eight(&uuid[9..13], &uuid[14..18]),
            eight(&uuid[19..23], &uuid[24..28]),
            eight(&uuid[28..36], &[]),
        ]
        .into_iter()
        .try_fold(0u128, |value, part| Some(value << 32 | u128::from(part?)))?;
        // The nil UUID would read as "no value": kept as text.
        (hyphens && value != 0).then_some(Uuid(value))
    }

    fn unpack(self) -> String {
        let v = self.0;
        format!(
            "indicator--{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            v >> 96,
            (v >> 80) & 0xffff,
            (v >> 64) & 0xffff,
            (v >> 48) & 0xffff,
            v & 0xffff_ffff_ffff
        )
    }
}

/// A STIX timestamp `YYYY-MM-DDTHH:MM:SS[.f]Z` with up to six fraction digits, its fields
/// packed as written (no calendar arithmetic: the text comes back byte for byte). From the
/// top: a marker bit, year (14 bits), month (4), day (5), hour (5), minute (6), second (6),
/// fraction digits (3), fraction (20).
#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct Stamp(u64);

impl Stamp {
    /// (shift, width) of the fields, in the order they are written.
    const FIELDS: [(u32, u32); 6] = [(49, 14), (45, 4), (40, 5), (35, 5), (29, 6), (23, 6)];
}

impl Packing for Stamp {
    fn pack(text: &str) -> Option<Self> {
        let b = text.as_bytes();
        let number = |range: std::ops::Range<usize>| {
            let digits = b.get(range)?;
            digits.iter().try_fold(0u64, |n, &d| {
                d.is_ascii_digit().then(|| n * 10 + u64::from(d - b'0'))
            })
        };
        let punctuated = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')]
            .iter()
            .all(|&(i, c)| b.get(i) == Some(&c));
        let (fraction, digits) = match b.get(19..)? {
            b"Z" => (0, 0),
            [b'.', rest @ .., b'Z'] if (1..=6).contains(&rest.len()) => {
                (number(20..20 + rest.len())?, rest.len() as u64)
            }
            _ => return None,
        };
        let fields = [
            number(0..4)?,
            number(5..7)?,
            number(8..10)?,
            number(11..13)?,
            number(14..16)?,
            number(17..19)?,
        ];
        let [_, month, day, hour, minute, second] = fields;
        let in_range = (1..=12).contains(&month)
            && (1..=31).contains(&day)
            && hour <= 23
            && minute <= 59
            && second <= 60;
        (punctuated && in_range).then_some(())?;
        let packed = Self::FIELDS
            .iter()
            .zip(fields)
            .fold(1 << 63 | digits << 20 | fraction, |v, (&(shift, _), n)| {
                v | n << shift
            });
        Some(Stamp(packed))
    }

    fn unpack(self) -> String {
        let [year, month, day, hour, minute, second] =
            Self::FIELDS.map(|(shift, width)| (self.0 >> shift) & ((1 << width) - 1));
        let digits = ((self.0 >> 20) & 0b111) as usize;
        let fraction = self.0 & 0xf_ffff;
        let mut text = format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}");
        if digits > 0 {
            text.push_str(&format!(".{fraction:0digits$}"));
        }
        text.push('Z');
        text
    }
}

/// Properties most indicators do not have.
#[derive(Debug, Default, Clone)]
struct Extras {
    revoked: bool,
    confidence: Option<u8>,
    labels: Vec<Box<str>>,
    markings: Vec<Box<str>>,
}

impl Extras {
    fn of(lifetime: &stix::Lifetime<'_>) -> Option<Extras> {
        let any = lifetime.revoked
            || lifetime.confidence.is_some()
            || !lifetime.labels.is_empty()
            || !lifetime.markings.is_empty();
        any.then(|| Extras {
            revoked: lifetime.revoked,
            confidence: lifetime.confidence,
            labels: lifetime.labels.iter().map(|l| (**l).into()).collect(),
            markings: lifetime.markings.iter().map(|m| (**m).into()).collect(),
        })
    }
}

/// Indicators' collections as runs of equal values.
#[derive(Debug, Default)]
struct CollectionRuns(Vec<(u32, u32)>);

impl CollectionRuns {
    /// Appends the collections of indicators `first..`, in order.
    fn extend(&mut self, first: u32, collections: &[u32]) {
        for (i, &c) in (first..).zip(collections) {
            if self.0.last().is_none_or(|&(_, last)| last != c) {
                self.0.push((i, c));
            }
        }
    }

    fn of(&self, indicator: u32) -> u32 {
        let at = self.0.partition_point(|&(first, _)| first <= indicator);
        at.checked_sub(1)
            .and_then(|i| self.0.get(i))
            .map_or(u32::MAX, |&(_, c)| c)
    }
}

/// Which indicators may match: by default those their author revoked and those whose
/// `valid_until` has passed are left out.
#[derive(Debug, Clone)]
pub(crate) struct Validity {
    pub(crate) include_expired: bool,
    /// The time of the check, `YYYY-MM-DDTHH:MM:SS` (UTC), compared with `valid_until` as text.
    pub(crate) now: String,
}

impl Default for Validity {
    fn default() -> Self {
        Validity {
            include_expired: false,
            now: now_utc(),
        }
    }
}

/// The current time as STIX writes timestamps (`YYYY-MM-DDTHH:MM:SS`, UTC), to the second.
fn now_utc() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%S")
        .to_string()
}

impl Validity {
    /// Why an indicator must not match, if it must not: revoked, or expired. A `valid_until`
    /// that is not a STIX timestamp is not trusted to expire anything.
    pub(crate) fn left_out(&self, lifetime: &stix::Lifetime<'_>) -> Option<fn(&mut LeftOut)> {
        if self.include_expired {
            return None;
        }
        if lifetime.revoked {
            return Some(|l| l.revoked += 1);
        }
        let until = lifetime.valid_until.as_deref()?;
        let stamp = until.get(..19)?;
        let shape = stamp.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            10 => b == b'T' || b == b't',
            13 | 16 => b == b':',
            _ => b.is_ascii_digit(),
        });
        // Compared as text, `t` read as `T`: both are UTC timestamps of the same shape.
        let stamp = stamp.bytes().map(|b| if b == b't' { b'T' } else { b });
        (shape && stamp.lt(self.now.bytes())).then_some(|l: &mut LeftOut| l.expired += 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every value comes back as written, packed or not.
    fn round_trip<P: Packing + std::fmt::Debug>(text: &str, packs: bool) {
        assert_eq!(P::pack(text).is_some(), packs, "{text}");
        let mut column = Column::<P>::default();
        column.push(0, None);
        column.push(1, Some(text));
        column.push(2, None);
        assert_eq!(column.get(0), None);
        assert_eq!(column.get(1).as_deref(), Some(text));
        assert_eq!(column.get(2), None);
    }

    #[test]
    fn hex_words_read_every_digit_and_nothing_else() {
        let word = |s: &[u8; 8]| hex_word(u64::from_le_bytes(*s));
        assert_eq!(word(b"0123abcd"), Some(0x0123_abcd));
        assert_eq!(word(b"fedcba98"), Some(0xfedc_ba98));
        assert_eq!(word(b"00000000"), Some(0));
        for byte in 0..=255u8 {
            let mut text = *b"01234567";
            text[3] = byte;
            let expect = (byte as char)
                .to_digit(16)
                .filter(|_| !byte.is_ascii_uppercase());
            let got = word(&text).map(|v| (v >> 16) & 0xf);
            assert_eq!(got, expect, "byte {byte:#x}");
        }
    }

    #[test]
    fn ids_pack_only_in_canonical_form() {
        round_trip::<Uuid>("indicator--8a6b1a3c-36c6-4d56-9a0f-0c8a2d9e1f00", true);
        round_trip::<Uuid>("indicator--ffffffff-ffff-ffff-ffff-ffffffffffff", true);
        round_trip::<Uuid>("indicator--00000000-0000-4000-8000-000000000001", true);
        for odd in [
            "indicator--00000000-0000-0000-0000-000000000000",
            "indicator--8A6B1A3C-36C6-4D56-9A0F-0C8A2D9E1F00",
            "indicator--8a6b1a3c36c6-4d56-9a0f-0c8a2d9e1f00-",
            "indicator--8a6b1a3c-36c6-4d56-9a0f-0c8a2d9e1f0",
            "malware--8a6b1a3c-36c6-4d56-9a0f-0c8a2d9e1f00",
            "",
            "indicator--ünïcode",
        ] {
            round_trip::<Uuid>(odd, false);
        }
    }

    #[test]
    fn timestamps_pack_as_written() {
        for packs in [
            "2024-01-26T21:28:21.013288Z",
            "2023-03-29T12:58:43.40085Z",
            "2021-07-18T00:00:00.000Z",
            "2021-07-18T00:00:00.0Z",
            "2016-12-31T23:59:60Z",
            "0000-01-01T00:00:00.000001Z",
            "9999-12-31T23:59:59.999999Z",
        ] {
            round_trip::<Stamp>(packs, true);
        }
        for odd in [
            "2021-07-18T00:00:00.0000001Z",
            "2021-07-18t00:00:00Z",
            "2021-07-18T00:00:00+00:00",
            "2021-07-18T00:00:00",
            "2021-13-18T00:00:00Z",
            "2021-07-00T00:00:00Z",
            "2021-07-18T24:00:00Z",
            "2021-07-18T00:00:00.Z",
            "2021-07-18T00:00:00.12a4Z",
            "next tuesday",
        ] {
            round_trip::<Stamp>(odd, false);
        }
    }
}
