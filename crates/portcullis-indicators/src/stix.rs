//! Serde view of a STIX 2.1 bundle: only the objects and fields MVT uses, borrowed from the
//! input bytes, and sorted by type while parsing (so a million-object bundle is never held as a
//! list of generic objects). A large bundle is parsed on every core, and its indicators are
//! handed to a keyer as they are read; only their ids are kept.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::fmt;

use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// A `malware` or `report`: each becomes a collection.
#[derive(Debug)]
pub(crate) struct Named<'a> {
    pub id: Cow<'a, str>,
    pub name: Option<Cow<'a, str>>,
    pub description: Option<Cow<'a, str>>,
}

#[derive(Debug)]
pub(crate) struct Report<'a> {
    pub named: Named<'a>,
    pub object_refs: Vec<Cow<'a, str>>,
}

#[derive(Debug)]
pub(crate) struct Indicator<'a> {
    pub id: Cow<'a, str>,
    pub pattern: Option<Cow<'a, str>>,
    pub pattern_type: Option<Cow<'a, str>>,
    pub lifetime: Lifetime<'a>,
}

/// What an indicator says of its own validity and provenance, kept for the alerts it raises
/// and to leave out what its author withdrew.
#[derive(Debug, Default, Clone)]
pub(crate) struct Lifetime<'a> {
    pub valid_from: Option<Cow<'a, str>>,
    pub valid_until: Option<Cow<'a, str>>,
    pub revoked: bool,
    /// 0–100, when given as an integer.
    pub confidence: Option<u8>,
    pub labels: Vec<Cow<'a, str>>,
    pub markings: Vec<Cow<'a, str>>,
}

#[derive(Debug)]
pub(crate) struct Relationship<'a> {
    pub source_ref: Cow<'a, str>,
    pub target_ref: Cow<'a, str>,
}

/// The objects of a bundle that matter, each list in file order.
///
/// Indicators are given to a keyer as they are read ([`Bundle::unkeyed`] holds those not
/// given yet); only their ids stay, for the collections. Relationships that follow the
/// pattern of [`Links`] are not kept either: they are implied by the ids.
#[derive(Debug, Default)]
pub(crate) struct Bundle<'a> {
    pub malware: Vec<Named<'a>>,
    pub reports: Vec<Report<'a>>,
    /// The id of every indicator, in pieces as parsed.
    pub ids: Chunks<Cow<'a, str>>,
    /// Indicators read and not yet keyed.
    pub unkeyed: Vec<Indicator<'a>>,
    /// The relationships of each piece of `ids`.
    links: Vec<Links<'a>>,
}

/// Relationships that follow the indicators of a piece in order, all to one target, as in
/// MVT's and Amnesty's files (`indicator`, its `indicates` relationship, the next…):
/// noticed while the piece is read, when the ids just parsed are still in the cache, so
/// that [`Bundle::proven_aligned`] need not compare a million ids afterwards.
#[derive(Debug, Default)]
struct Links<'a> {
    /// The relationships that broke the pattern, and all after them.
    stored: Vec<Relationship<'a>>,
    /// The target of the piece's relationships.
    target: Option<Cow<'a, str>>,
    /// Relationships before the first one from this piece's first indicator: from
    /// indicators of earlier pieces, in order.
    leading: Vec<Cow<'a, str>>,
    /// How many of the piece's first indicators the relationships came from, in order.
    matched: usize,
    /// Set by any relationship out of that pattern.
    broken: bool,
}

/// Leading relationships kept per piece before giving up on proving the pattern.
const MAX_LEADING: usize = 100_000;

impl<'a> Links<'a> {
    /// Notes a relationship read after the indicator `ids` of its piece: kept only once the
    /// pattern is broken.
    fn note(&mut self, rel: Relationship<'a>, ids: &[Cow<'a, str>]) {
        if self.broken {
            self.stored.push(rel);
            return;
        }
        let target = self.target.get_or_insert_with(|| rel.target_ref.clone());
        if *target == rel.target_ref {
            if ids
                .get(self.matched)
                .is_some_and(|id| *id == rel.source_ref)
            {
                self.matched += 1;
                return;
            }
            if self.matched == 0 && self.leading.len() < MAX_LEADING {
                self.leading.push(rel.source_ref);
                return;
            }
        }
        // Out of the pattern: the relationships it implied so far are kept from now on.
        self.broken = true;
        let implied: Vec<_> = self.implied(ids).collect();
        self.stored = implied
            .into_iter()
            .map(|(source_ref, target_ref)| Relationship {
                source_ref: source_ref.clone(),
                target_ref: target_ref.clone(),
            })
            .collect();
        self.leading = Vec::new();
        self.matched = 0;
        self.stored.push(rel);
    }

    /// The relationships the pattern stands for (none once it is broken), as (source,
    /// target) in file order; `ids` are those of the piece.
    fn implied<'s>(
        &'s self,
        ids: &'s [Cow<'a, str>],
    ) -> impl Iterator<Item = (&'s Cow<'a, str>, &'s Cow<'a, str>)> + 's {
        let sources = self
            .leading
            .iter()
            .chain(ids.get(..self.matched).unwrap_or_default());
        sources.zip(self.target.iter().cycle())
    }

    /// The piece's relationships, as (source, target) in file order.
    fn relationships<'s>(
        &'s self,
        ids: &'s [Cow<'a, str>],
    ) -> impl Iterator<Item = (&'s str, &'s str)> + 's {
        let stored = self.stored.iter().map(|r| (&r.source_ref, &r.target_ref));
        self.implied(ids)
            .chain(stored)
            .map(|(source, target)| (&**source, &**target))
    }
}

/// From this size on, a bundle's objects are parsed on several threads.
const PARALLEL_FROM: usize = 8 << 20;

/// What the parse does with the indicators as it reads them: `K` is one piece's state, given
/// the piece's next indicators in batches, while their text is still in the cache.
pub(crate) type Keyer<'k, K> = dyn Fn(&mut K, &[Indicator<'_>]) + Sync + 'k;

/// Parses bundle bytes; the error is a human-readable reason. A large bundle is parsed in
/// pieces on several threads and each piece given to `key` as it goes: then the states come
/// back too, one per piece of [`Bundle::indicators`]; `None` means nothing was keyed.
pub(crate) fn parse<'t, K: Default + Send>(
    bytes: &'t [u8],
    key: &Keyer<'_, K>,
) -> Result<(Bundle<'t>, Option<Vec<K>>), String> {
    let bytes = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(bytes);
    if bytes.len() >= PARALLEL_FROM {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
        if threads > 1
            && let Some((bundle, keyed)) = parallel::parse(bytes, threads, key)
        {
            return Ok((bundle, Some(keyed)));
        }
    }
    // Validating UTF-8 once up front is much faster than serde_json checking every string.
    let text = std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8 text: {e}"))?;
    let top: TopLevel<'_> = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let bundle = top
        .objects
        .ok_or_else(|| "no \"objects\" list at the top level".to_string())?;
    Ok((bundle, None))
}

impl<'a> Bundle<'a> {
    /// Files one object under its type; other types are dropped.
    fn add(&mut self, obj: &mut RawObject<'a>) {
        let id = obj.id.0.take().unwrap_or_default();
        match obj.kind.0.as_deref() {
            Some("indicator") => {
                self.ids.push(id.clone());
                self.unkeyed.push(Indicator {
                    id,
                    pattern: obj.pattern.0.take(),
                    pattern_type: obj.pattern_type.0.take(),
                    lifetime: Lifetime {
                        valid_from: obj.valid_from.0.take(),
                        valid_until: obj.valid_until.0.take(),
                        revoked: obj.revoked.0 == Some(true),
                        confidence: obj.confidence.0,
                        labels: std::mem::take(&mut obj.labels.0),
                        markings: std::mem::take(&mut obj.object_marking_refs.0),
                    },
                });
            }
            Some("relationship") => {
                if let (Some(source_ref), Some(target_ref)) =
                    (obj.source_ref.0.take(), obj.target_ref.0.take())
                {
                    let rel = Relationship {
                        source_ref,
                        target_ref,
                    };
                    if let Some(links) = self.links.last_mut() {
                        links.note(rel, self.ids.last_piece());
                    }
                }
            }
            Some("malware") => self.malware.push(obj.named(id)),
            Some("report") => {
                let named = obj.named(id);
                self.reports.push(Report {
                    named,
                    object_refs: std::mem::take(&mut obj.object_refs.0),
                })
            }
            _ => {}
        }
    }

    /// A bundle for one piece of the file.
    fn piece() -> Self {
        let mut bundle = Self::default();
        bundle.ids.0.push(Vec::new());
        bundle.links.push(Links::default());
        bundle
    }

    /// Appends `later`'s objects after this bundle's, keeping file order per type.
    fn append(&mut self, mut later: Bundle<'a>) {
        self.malware.append(&mut later.malware);
        self.reports.append(&mut later.reports);
        self.ids.append(later.ids);
        self.unkeyed.append(&mut later.unkeyed);
        self.links.extend(later.links);
    }

    /// Every relationship, as (source, target) in file order.
    pub fn relationships(&self) -> impl Iterator<Item = (&str, &str)> {
        self.ids
            .pieces()
            .zip(&self.links)
            .flat_map(|(ids, links)| links.relationships(ids))
    }

    /// Whether the indicators, in file order, are exactly the sources of the relationships,
    /// in file order, and every relationship targets `target`: proven from the [`Links`] of
    /// each piece; `false` means only that it could not be proven that way.
    pub fn proven_aligned(&self, target: &str) -> bool {
        if self.ids.pieces().len() != self.links.len() {
            return false;
        }
        // Indicators whose relationship has not come yet, in order.
        let mut waiting: VecDeque<&str> = VecDeque::new();
        for (ids, links) in self.ids.pieces().zip(&self.links) {
            if links.broken || links.target.as_deref().is_some_and(|t| t != target) {
                return false;
            }
            for source in &links.leading {
                if waiting.pop_front() != Some(&**source) {
                    return false;
                }
            }
            if links.matched > 0 && !waiting.is_empty() {
                return false;
            }
            let rest = ids.get(links.matched..).unwrap_or_default();
            waiting.extend(rest.iter().map(|id| &**id));
        }
        waiting.is_empty()
    }
}

/// A list kept in the pieces it was parsed in, in order: joining a million objects into one
/// list would copy them all.
#[derive(Debug)]
pub(crate) struct Chunks<T>(Vec<Vec<T>>);

impl<T> Default for Chunks<T> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<T> Chunks<T> {
    fn push(&mut self, item: T) {
        match self.0.last_mut() {
            Some(last) => last.push(item),
            None => self.0.push(vec![item]),
        }
    }

    fn reserve(&mut self, additional: usize) {
        match self.0.last_mut() {
            Some(last) => last.reserve(additional),
            None => self.0.push(Vec::with_capacity(additional)),
        }
    }

    fn append(&mut self, later: Chunks<T>) {
        self.0.extend(later.0);
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.0.iter().map(Vec::len).sum()
    }

    pub fn iter(&self) -> impl Iterator<Item = &T> + Clone {
        self.0.iter().flatten()
    }

    /// The pieces, in order.
    pub fn pieces(&self) -> impl ExactSizeIterator<Item = &[T]> {
        self.0.iter().map(Vec::as_slice)
    }

    /// The last piece, which [`Chunks::push`] grows.
    fn last_piece(&self) -> &[T] {
        self.0.last().map_or(&[], Vec::as_slice)
    }
}

impl<'a, T> IntoIterator for &'a Chunks<T> {
    type Item = &'a T;
    type IntoIter = std::iter::Flatten<std::slice::Iter<'a, Vec<T>>>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().flatten()
    }
}

/// Parsing a large bundle's `objects` list on several threads.
///
/// The list is cut into pieces at guessed object boundaries (`}` `,` `{` outside any visible
/// context); each piece is parsed on its own thread, one object at a time, and a piece counts
/// only if the parse of the piece before it ended exactly where it starts: a guess that fell
/// inside a string can never pass that check. Any doubt (a failed check, an error, an odd
/// layout) returns `None`, and the caller parses the whole file the ordinary way, which then
/// gives the authoritative result or error.
mod parallel {
    use serde::de::IgnoredAny;
    use serde_json::Deserializer;

    use super::{Bundle, Keyer, Loose, RawObject, flat};

    /// Parses `bytes`, checking as it goes that they are UTF-8 (each object once it is read,
    /// while it is in the cache, rather than the whole file in a pass of its own).
    pub(super) fn parse<'a, K: Default + Send>(
        bytes: &'a [u8],
        threads: usize,
        key: &Keyer<'_, K>,
    ) -> Option<(Bundle<'a>, Vec<K>)> {
        let first = objects_start(bytes)?;
        if bytes.get(first) != Some(&b'{') {
            return None;
        }
        let mut starts = vec![first];
        for k in 1..threads {
            let guess = first + (bytes.len() - first) * k / threads;
            match next_boundary(bytes, guess.max(*starts.last()? + 1)) {
                Some(start) => starts.push(start),
                None => break,
            }
        }
        let starts = &starts;
        let mut pieces: Vec<Option<Piece<'_, K>>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (1..starts.len())
                .map(|k| {
                    std::thread::Builder::new()
                        .spawn_scoped(scope, move || parse_piece(bytes, starts, k, key))
                        .ok()
                })
                .collect();
            let mut pieces = vec![parse_piece(bytes, starts, 0, key)];
            for handle in handles {
                pieces.push(handle?.join().ok()?);
            }
            Some(pieces)
        })?;
        // Follow the chain of verified pieces: each names the start where it ended.
        let Piece {
            mut bundle,
            keyed,
            mut next,
            mut end,
        } = pieces.first_mut()?.take()?;
        let mut states = vec![keyed];
        while let Some(k) = next {
            let piece = pieces.get_mut(k)?.take()?;
            bundle.append(piece.bundle);
            states.push(piece.keyed);
            (next, end) = (piece.next, piece.end);
        }
        rest_is_valid(bytes, end).then_some((bundle, states))
    }

    /// What one thread parsed.
    struct Piece<'a, K> {
        /// Its objects; `indicators` in a single list (also when empty).
        bundle: Bundle<'a>,
        /// What the keyer made of the indicators.
        keyed: K,
        /// The later piece whose start this one reached exactly, or `None` when it reached
        /// the list's closing `]`.
        next: Option<usize>,
        /// Where the parse stopped: that piece's start, or just after the `]`.
        end: usize,
    }

    /// Indicators keyed at a time: their objects (≈ 150 KB) are still in the cache.
    const KEY_BATCH: usize = 256;

    /// Parses objects from `starts[k]` until the parse lands exactly on a later start (which
    /// proves that start a real boundary) or reaches the list's closing `]`. A start passed
    /// over was a wrong guess; the parse simply goes on to the next one.
    fn parse_piece<'a, K: Default>(
        bytes: &'a [u8],
        starts: &[usize],
        k: usize,
        key: &Keyer<'_, K>,
    ) -> Option<Piece<'a, K>> {
        let mut bundle = Bundle::piece();
        let mut keyed = K::default();
        let mut pos = *starts.get(k)?;
        // Room for the ids of the usual mix (half indicators, half relationships, ≈ 150
        // bytes each), so the list is not copied as it grows.
        let piece = starts.get(k + 1).unwrap_or(&bytes.len()) - pos;
        bundle.ids.reserve(piece / 300);
        let mut next = k + 1;
        // One object read into over and over: it is large, and moving it costs.
        let mut obj = RawObject::default();
        let (next, end) = loop {
            let len = match flat::object(bytes, pos, &mut obj) {
                Some(len) => len,
                None => {
                    let (read, len) = value_at::<RawObject<'_>>(bytes, pos)?;
                    obj = read;
                    len
                }
            };
            bundle.add(&mut obj);
            if bundle.unkeyed.len() >= KEY_BATCH {
                key(&mut keyed, &bundle.unkeyed);
                bundle.unkeyed.clear();
            }
            pos = skip_ws(bytes, pos + len);
            match bytes.get(pos)? {
                b',' => pos = skip_ws(bytes, pos + 1),
                b']' => break (None, pos + 1),
                _ => return None,
            }
            while starts.get(next).is_some_and(|&s| s < pos) {
                next += 1;
            }
            if starts.get(next) == Some(&pos) {
                break (Some(next), pos);
            }
        };
        key(&mut keyed, &bundle.unkeyed);
        bundle.unkeyed.clear();
        Some(Piece {
            bundle,
            keyed,
            next,
            end,
        })
    }

    /// One JSON value at `pos` and its length in bytes. serde_json checks the UTF-8 of the
    /// strings it reads, not of those it skips: the whole value is checked here.
    fn value_at<'a, T: serde::Deserialize<'a>>(bytes: &'a [u8], pos: usize) -> Option<(T, usize)> {
        let rest = bytes.get(pos..)?;
        let mut stream = Deserializer::from_slice(rest).into_iter::<T>();
        let value = stream.next()?.ok()?;
        let len = stream.byte_offset();
        std::str::from_utf8(rest.get(..len)?).ok()?;
        Some((value, len))
    }

    /// Skips JSON whitespace (space, tab, line feed, carriage return; not form feed).
    pub(super) fn skip_ws(bytes: &[u8], mut pos: usize) -> usize {
        while matches!(bytes.get(pos), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            pos += 1;
        }
        pos
    }

    /// Offset of the first element of the top-level `objects` list (the keys before it are
    /// skipped with a real parse).
    fn objects_start(bytes: &[u8]) -> Option<usize> {
        let mut pos = skip_ws(bytes, 0);
        (bytes.get(pos)? == &b'{').then_some(())?;
        pos += 1;
        loop {
            pos = skip_ws(bytes, pos);
            let (key, len) = value_at::<Loose<'_>>(bytes, pos)?;
            pos = skip_ws(bytes, pos + len);
            (bytes.get(pos)? == &b':').then_some(())?;
            pos = skip_ws(bytes, pos + 1);
            if key.0.as_deref()? == "objects" {
                (bytes.get(pos)? == &b'[').then_some(())?;
                return Some(skip_ws(bytes, pos + 1));
            }
            let (_, len) = value_at::<IgnoredAny>(bytes, pos)?;
            pos = skip_ws(bytes, pos + len);
            (bytes.get(pos)? == &b',').then_some(())?;
            pos += 1;
        }
    }

    /// Whether the bundle after the `objects` list (other keys, the closing brace) is valid
    /// JSON, as the ordinary parse would require.
    fn rest_is_valid(bytes: &[u8], mut pos: usize) -> bool {
        loop {
            pos = skip_ws(bytes, pos);
            match bytes.get(pos) {
                Some(b'}') => return skip_ws(bytes, pos + 1) == bytes.len(),
                Some(b',') => pos = skip_ws(bytes, pos + 1),
                _ => return false,
            }
            let Some((_, len)) = value_at::<Loose<'_>>(bytes, pos) else {
                return false;
            };
            pos = skip_ws(bytes, pos + len);
            if bytes.get(pos) != Some(&b':') {
                return false;
            }
            match value_at::<IgnoredAny>(bytes, skip_ws(bytes, pos + 1)) {
                Some((_, len)) => pos = skip_ws(bytes, pos + 1) + len,
                None => return false,
            }
        }
    }

    /// The first `{` at or after `from` that follows `}` `,` (with any whitespace between).
    fn next_boundary(bytes: &[u8], from: usize) -> Option<usize> {
        let mut at = from;
        while let Some(offset) = memchr::memchr(b',', bytes.get(at..)?) {
            let comma = at + offset;
            let before = bytes[..comma]
                .iter()
                .rev()
                .find(|b| !b.is_ascii_whitespace());
            let after = skip_ws(bytes, comma + 1);
            if before == Some(&b'}') && bytes.get(after) == Some(&b'{') {
                return Some(after);
            }
            at = comma + 1;
        }
        None
    }
}

/// The top-level JSON object; only its `objects` list is read.
struct TopLevel<'a> {
    objects: Option<Bundle<'a>>,
}

impl<'de: 'a, 'a> Deserialize<'de> for TopLevel<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TopVisitor;
        impl<'de> Visitor<'de> for TopVisitor {
            type Value = TopLevel<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a STIX bundle object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut objects = None;
                while let Some(key) = map.next_key::<Loose<'de>>()? {
                    if key.0.as_deref() == Some("objects") && objects.is_none() {
                        objects = Some(map.next_value::<Bundle<'de>>()?);
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(TopLevel { objects })
            }
        }
        deserializer.deserialize_map(TopVisitor)
    }
}

/// A fast reader for the flat objects that make up nearly all of a large bundle: string,
/// `true`/`false`/`null` and list-of-strings values, strings without escapes. It reads exactly
/// what the serde path would make of such an object; anything else (an escape, a number, a
/// nested object, a repeated known field, a control character) gives `None`, and the caller
/// lets serde read that object (and report any error).
mod flat {
    use std::borrow::Cow;

    use super::parallel::skip_ws;
    use super::{Loose, LooseBool, LooseConfidence, RawObject};

    /// The object starting at `pos` and its length in bytes. The object is checked to be
    /// UTF-8 once read (its bytes still in the cache), before its strings become `str`.
    pub(super) fn object<'a>(
        bytes: &'a [u8],
        pos: usize,
        obj: &mut RawObject<'a>,
    ) -> Option<usize> {
        (bytes.get(pos)? == &b'{').then_some(())?;
        // Where the strings Portcullis reads are, as byte ranges of their contents; the
        // lists it reads; `revoked` and `confidence`.
        let mut found = [None; STRING_FIELDS];
        let mut lists: [Vec<(usize, usize)>; 3] = Default::default();
        let mut revoked = None;
        let mut confidence = None;
        let mut seen = 0u16;
        let mut at = skip_ws(bytes, pos + 1);
        let end = if bytes.get(at)? == &b'}' {
            at + 1
        } else {
            loop {
                (bytes.get(at)? == &b'"').then_some(())?;
                let (field, end) = match known_key(bytes.get(at + 1..)?) {
                    Some((field, len)) => (field, at + 1 + len),
                    None => {
                        let end = string_end(bytes, at + 1)?;
                        (field_index(bytes.get(at + 1..end)?), end + 1)
                    }
                };
                at = skip_ws(bytes, end);
                (bytes.get(at)? == &b':').then_some(())?;
                at = skip_ws(bytes, at + 1);
                if let Some(field) = field {
                    if seen & (1 << field) != 0 {
                        return None; // serde reports the repeated field
                    }
                    seen |= 1 << field;
                }
                at = match (field, bytes.get(at)?) {
                    (Some(field), b'"') => {
                        let end = string_end(bytes, at + 1)?;
                        if let Some(slot) = found.get_mut(field) {
                            *slot = Some((at + 1, end));
                        }
                        end + 1
                    }
                    // The value of a property Portcullis does not read is only checked.
                    (None, b'"') => string_end(bytes, at + 1)? + 1,
                    (Some(field), b'[') if list_slot(field).is_some() => {
                        let list = &mut lists[list_slot(field)?];
                        strings(bytes, at, |item| list.push(item))?
                    }
                    (_, b'[') => strings(bytes, at, |_| {})?,
                    (Some(CONFIDENCE), b'0'..=b'9') => {
                        let digits = bytes.get(at..)?.iter().take_while(|b| b.is_ascii_digit());
                        let len = digits.count();
                        // A number serde would read differently (a fraction, an exponent)
                        // or refuse (a leading zero: `007` is not JSON) is left to serde.
                        let leading_zero = len > 1 && bytes.get(at) == Some(&b'0');
                        if matches!(bytes.get(at + len), Some(b'.' | b'e' | b'E'))
                            || len > 3
                            || leading_zero
                        {
                            return None;
                        }
                        let text = std::str::from_utf8(bytes.get(at..at + len)?).ok()?;
                        confidence = text.parse::<u8>().ok().filter(|c| *c <= 100);
                        at + len
                    }
                    (field, _) => {
                        let rest = bytes.get(at..)?;
                        let len = literal(rest)?;
                        if field == Some(REVOKED) {
                            revoked = Some(rest.starts_with(b"true"));
                        }
                        at + len
                    }
                };
                at = skip_ws(bytes, at);
                match bytes.get(at)? {
                    b',' => at = skip_ws(bytes, at + 1),
                    b'}' => break at + 1,
                    _ => return None,
                }
            }
        };
        let text = std::str::from_utf8(bytes.get(pos..end)?).ok()?;
        let string = |(start, end): (usize, usize)| text.get(start - pos..end - pos);
        // Every field is set (the object is reused), in straight-line code: this runs for
        // every object of a bundle.
        let mut strings = [None; STRING_FIELDS];
        for (slot, range) in strings.iter_mut().zip(found) {
            if let Some(range) = range {
                *slot = Some(string(range)?);
            }
        }
        let loose = |s: Option<&'a str>| Loose(s.map(Cow::Borrowed));
        let [
            kind,
            id,
            name,
            description,
            pattern,
            pattern_type,
            source,
            target,
            _,
            from,
            until,
        ] = strings;
        obj.kind = loose(kind);
        obj.id = loose(id);
        obj.name = loose(name);
        obj.description = loose(description);
        obj.pattern = loose(pattern);
        obj.pattern_type = loose(pattern_type);
        obj.source_ref = loose(source);
        obj.target_ref = loose(target);
        obj.valid_from = loose(from);
        obj.valid_until = loose(until);
        let [refs, labels, markings] = lists;
        for (list, ranges) in [
            (&mut obj.object_refs, refs),
            (&mut obj.labels, labels),
            (&mut obj.object_marking_refs, markings),
        ] {
            list.0.clear();
            for range in ranges {
                list.0.push(Cow::Borrowed(string(range)?));
            }
        }
        obj.revoked = LooseBool(revoked);
        obj.confidence = LooseConfidence(confidence);
        Some(end - pos)
    }

    /// The length of the `true`, `false` or `null` that `rest` starts with.
    fn literal(rest: &[u8]) -> Option<usize> {
        [&b"true"[..], b"false", b"null"]
            .into_iter()
            .find(|literal| rest.starts_with(literal))
            .map(<[u8]>::len)
    }

    /// String fields read, numbered by [`field_index`] (0 to 7, then `valid_from` and
    /// `valid_until` past the lists).
    const STRING_FIELDS: usize = 11;
    /// [`field_index`] of the lists kept: `object_refs`, then `labels` and
    /// `object_marking_refs`.
    const OBJECT_REFS: usize = 8;
    const VALID_FROM: usize = 9;
    const VALID_UNTIL: usize = 10;
    const LABELS: usize = 11;
    const MARKINGS: usize = 12;
    const REVOKED: usize = 13;
    const CONFIDENCE: usize = 14;

    /// Where list field `field` is kept while the object is read.
    fn list_slot(field: usize) -> Option<usize> {
        match field {
            OBJECT_REFS => Some(0),
            LABELS => Some(1),
            MARKINGS => Some(2),
            _ => None,
        }
    }

    /// The fields of [`RawObject`], numbered as [`object`] stores them (tested by length
    /// first: most keys of a STIX object are fields Portcullis does not read). Each
    /// comparison has a constant length, so it compiles to a few integer compares.
    fn field_index(key: &[u8]) -> Option<usize> {
        let index = match key.len() {
            4 if key == b"type" => 0,
            2 if key == b"id" => 1,
            4 if key == b"name" => 2,
            11 if key == b"description" => 3,
            7 if key == b"pattern" => 4,
            12 if key == b"pattern_type" => 5,
            10 if key == b"source_ref" => 6,
            10 if key == b"target_ref" => 7,
            11 if key == b"object_refs" => OBJECT_REFS,
            10 if key == b"valid_from" => VALID_FROM,
            11 if key == b"valid_until" => VALID_UNTIL,
            6 if key == b"labels" => LABELS,
            19 if key == b"object_marking_refs" => MARKINGS,
            7 if key == b"revoked" => REVOKED,
            10 if key == b"confidence" => CONFIDENCE,
            _ => return None,
        };
        Some(index)
    }

    /// The keys of nearly every STIX object, recognised with their closing quote from the
    /// bytes after the opening one without scanning them: the [`field_index`] of a key
    /// Portcullis reads (`None` for one it skips) and the length up to the closing quote
    /// included. Any other key (or one written with an escape) gives `None`.
    fn known_key(rest: &[u8]) -> Option<(Option<usize>, usize)> {
        fn is<const N: usize>(rest: &[u8], key: &[u8; N]) -> bool {
            rest.first_chunk::<N>() == Some(key)
        }
        let key = match rest.first()? {
            b't' if is(rest, b"type\"") => (Some(0), 5),
            b't' if is(rest, b"target_ref\"") => (Some(7), 11),
            b'i' if is(rest, b"id\"") => (Some(1), 3),
            b'i' if is(rest, b"indicator_types\"") => (None, 16),
            b'i' if is(rest, b"is_family\"") => (None, 10),
            b'n' if is(rest, b"name\"") => (Some(2), 5),
            b'd' if is(rest, b"description\"") => (Some(3), 12),
            b'p' if is(rest, b"pattern\"") => (Some(4), 8),
            b'p' if is(rest, b"pattern_type\"") => (Some(5), 13),
            b'p' if is(rest, b"pattern_version\"") => (None, 16),
            b's' if is(rest, b"source_ref\"") => (Some(6), 11),
            b's' if is(rest, b"spec_version\"") => (None, 13),
            b'o' if is(rest, b"object_refs\"") => (Some(OBJECT_REFS), 12),
            b'c' if is(rest, b"created\"") => (None, 8),
            b'c' if is(rest, b"created_by_ref\"") => (None, 15),
            b'm' if is(rest, b"modified\"") => (None, 9),
            b'v' if is(rest, b"valid_from\"") => (Some(VALID_FROM), 11),
            b'v' if is(rest, b"valid_until\"") => (Some(VALID_UNTIL), 12),
            b'r' if is(rest, b"relationship_type\"") => (None, 18),
            b'r' if is(rest, b"revoked\"") => (Some(REVOKED), 8),
            b'l' if is(rest, b"labels\"") => (Some(LABELS), 7),
            b'o' if is(rest, b"object_marking_refs\"") => (Some(MARKINGS), 20),
            b'c' if is(rest, b"confidence\"") => (Some(CONFIDENCE), 11),
            _ => return None,
        };
        Some(key)
    }

    /// The offset of the closing quote of a string whose contents start at `start`, if no
    /// escape or control character comes first. The quote is found with `memchr` (vector
    /// instructions), then the contents are checked for control characters a word at a time.
    pub(super) fn string_end(bytes: &[u8], start: usize) -> Option<usize> {
        let rest = bytes.get(start..)?;
        let end = memchr::memchr2(b'"', b'\\', rest)?;
        let contents = rest.get(..end)?;
        (rest.get(end)? == &b'"' && !has_control(contents)).then_some(start + end)
    }

    /// Whether `bytes` holds a byte below 0x20 (SWAR: `x - 0x20…` borrows from the high bit
    /// of a byte below 0x20, which `!x` keeps only where that byte's own high bit is clear).
    pub(super) fn has_control(bytes: &[u8]) -> bool {
        const ONES: u64 = 0x0101_0101_0101_0101;
        const HIGH: u64 = 0x8080_8080_8080_8080;
        let below = |x: u64| x.wrapping_sub(ONES * 0x20) & !x & HIGH;
        let (words, tail) = bytes.as_chunks::<8>();
        let found = words
            .iter()
            .fold(0, |found, word| found | below(u64::from_le_bytes(*word)));
        // The tail within the last eight bytes (read again), or alone when that is all.
        let tail = match bytes.last_chunk::<8>() {
            Some(last) => below(u64::from_le_bytes(*last)) != 0,
            None => tail.iter().any(|&b| b < 0x20),
        };
        found != 0 || tail
    }

    /// A list of such strings at `at` (its `[`), the byte range of each one's contents given
    /// to `item`; the offset after its `]`.
    fn strings(bytes: &[u8], at: usize, mut item: impl FnMut((usize, usize))) -> Option<usize> {
        let mut at = skip_ws(bytes, at + 1);
        if bytes.get(at)? == &b']' {
            return Some(at + 1);
        }
        loop {
            (bytes.get(at)? == &b'"').then_some(())?;
            let end = string_end(bytes, at + 1)?;
            item((at + 1, end));
            at = skip_ws(bytes, end + 1);
            match bytes.get(at)? {
                b',' => at = skip_ws(bytes, at + 1),
                b']' => return Some(at + 1),
                _ => return None,
            }
        }
    }
}

/// Every field is optional and loosely typed, so an odd object is skipped rather than making
/// the whole file unreadable.
#[derive(Deserialize, Default)]
struct RawObject<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Loose<'a>,
    #[serde(borrow, default)]
    id: Loose<'a>,
    #[serde(borrow, default)]
    name: Loose<'a>,
    #[serde(borrow, default)]
    description: Loose<'a>,
    #[serde(borrow, default)]
    pattern: Loose<'a>,
    #[serde(borrow, default)]
    pattern_type: Loose<'a>,
    #[serde(borrow, default)]
    source_ref: Loose<'a>,
    #[serde(borrow, default)]
    target_ref: Loose<'a>,
    #[serde(borrow, default)]
    object_refs: LooseList<'a>,
    #[serde(borrow, default)]
    valid_from: Loose<'a>,
    #[serde(borrow, default)]
    valid_until: Loose<'a>,
    #[serde(default)]
    revoked: LooseBool,
    #[serde(default)]
    confidence: LooseConfidence,
    #[serde(borrow, default)]
    labels: LooseList<'a>,
    #[serde(borrow, default)]
    object_marking_refs: LooseList<'a>,
}

impl<'a> RawObject<'a> {
    /// The collection a `malware` or `report` object names.
    fn named(&mut self, id: Cow<'a, str>) -> Named<'a> {
        Named {
            id,
            name: self.name.0.take(),
            description: self.description.0.take(),
        }
    }
}

/// `true` or `false`, or `None` for any other JSON value.
#[derive(Default)]
struct LooseBool(Option<bool>);

impl<'de> Deserialize<'de> for LooseBool {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        Ok(LooseBool(value.as_bool()))
    }
}

/// An integer from 0 to 100 (STIX's confidence scale), or `None` for anything else.
#[derive(Default)]
struct LooseConfidence(Option<u8>);

impl<'de> Deserialize<'de> for LooseConfidence {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        Ok(LooseConfidence(
            value
                .as_u64()
                .filter(|c| *c <= 100)
                .and_then(|c| u8::try_from(c).ok()),
        ))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Bundle<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_seq(ObjectsVisitor)
    }
}

struct ObjectsVisitor;

impl<'de> Visitor<'de> for ObjectsVisitor {
    type Value = Bundle<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of STIX objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut bundle = Bundle::piece();
        while let Some(mut obj) = seq.next_element::<RawObject<'de>>()? {
            bundle.add(&mut obj);
        }
        Ok(bundle)
    }
}

/// A string, or `None` for any other JSON value (which is skipped).
#[derive(Default)]
struct Loose<'a>(Option<Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for Loose<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(LooseVisitor)
    }
}

struct LooseVisitor;

impl<'de> Visitor<'de> for LooseVisitor {
    type Value = Loose<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Loose(Some(Cow::Borrowed(v))))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Loose(Some(Cow::Owned(v.to_string()))))
    }

    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Loose(Some(Cow::Owned(v))))
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Loose(None))
    }

    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Loose(None))
    }

    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Loose(None))
    }

    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Loose(None))
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Loose(None))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Loose(None))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Loose(None))
    }
}

/// The strings of a JSON list; anything else is an empty list.
#[derive(Default)]
struct LooseList<'a>(Vec<Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for LooseList<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ListVisitor;
        impl<'de> Visitor<'de> for ListVisitor {
            type Value = LooseList<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of strings")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
                while let Some(item) = seq.next_element::<Loose<'de>>()? {
                    out.extend(item.0);
                }
                Ok(LooseList(out))
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                LooseVisitor.visit_map(map).map(|_| LooseList::default())
            }

            fn visit_borrowed_str<E>(self, _: &'de str) -> Result<Self::Value, E> {
                Ok(LooseList::default())
            }

            fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
                Ok(LooseList::default())
            }

            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(LooseList::default())
            }

            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok(LooseList::default())
            }

            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                Ok(LooseList::default())
            }

            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(LooseList::default())
            }

            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(LooseList::default())
            }
        }
        deserializer.deserialize_any(ListVisitor)
    }
}

/// The bundle readers side by side, for the tests and the fuzz targets: wherever the threaded
/// parse or the flat reader gives an answer, it must be what the ordinary serde parse gives.
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing {
    use std::borrow::Cow;

    use super::{Bundle, Indicator, RawObject, TopLevel, flat, parallel};

    /// What a parse kept of a bundle.
    #[derive(Debug, PartialEq, Eq)]
    pub struct Summary {
        /// Each indicator's id and pattern, in file order.
        pub indicators: Vec<(String, Option<String>)>,
        /// The rest, one line each: collections, then the indicators' other fields, then the
        /// relationships.
        pub lines: Vec<String>,
    }

    /// An indicator as the keyer is given it: (id, pattern) and its other fields.
    type Keyed = ((String, Option<String>), String);

    fn keyed(i: &Indicator<'_>) -> Keyed {
        let fields = format!("i {} {:?} {:?}", i.id, i.pattern_type, i.lifetime);
        (
            (i.id.to_string(), i.pattern.as_deref().map(str::to_string)),
            fields,
        )
    }

    /// The definition [`Bundle::proven_aligned`] proves: the indicators' ids are exactly the
    /// sources of the relationships to `target`.
    pub(crate) fn aligned(b: &Bundle<'_>, target: &str) -> bool {
        b.ids.iter().map(|id| &**id).eq(b
            .relationships()
            .filter(|&(_, t)| t == target)
            .map(|(source, _)| source))
    }

    /// Sums up `b`, checking (panicking otherwise) that whatever [`Bundle::proven_aligned`]
    /// proves of a collection holds: loading relies on it to skip comparing every id.
    fn summary(b: &Bundle<'_>, indicators: Vec<Keyed>) -> Summary {
        for malware in &b.malware {
            let target = &*malware.id;
            assert!(!b.proven_aligned(target) || aligned(b, target), "{target}");
        }
        let mut lines: Vec<String> = b
            .malware
            .iter()
            .map(|m| format!("m {} {:?} {:?}", m.id, m.name, m.description))
            .collect();
        lines.extend(b.reports.iter().map(|r| {
            format!(
                "r {} {:?} {:?} {:?}",
                r.named.id, r.named.name, r.named.description, r.object_refs
            )
        }));
        let (indicators, fields): (Vec<_>, Vec<_>) = indicators.into_iter().unzip();
        lines.extend(fields);
        lines.extend(b.relationships().map(|(s, t)| format!("rel {s} {t}")));
        Summary { indicators, lines }
    }

    /// The ordinary (serde) parse of a whole bundle, or its error.
    pub fn ordinary_parse(bytes: &[u8]) -> Result<Summary, String> {
        let text = std::str::from_utf8(bytes).map_err(|e| e.to_string())?;
        let top: TopLevel<'_> = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let bundle = top.objects.ok_or("no objects list")?;
        let indicators = bundle.unkeyed.iter().map(keyed).collect();
        Ok(summary(&bundle, indicators))
    }

    /// The threaded parse in `threads` pieces, when it verified its splits.
    pub fn threaded_parse(bytes: &[u8], threads: usize) -> Option<Summary> {
        parallel_parse(bytes, threads).map(|(bundle, keyed)| summary(&bundle, keyed))
    }

    /// [`parallel::parse`], checking (panicking otherwise) that every indicator of every piece
    /// was given to the keyer once, in order.
    pub(crate) fn parallel_parse(bytes: &[u8], threads: usize) -> Option<(Bundle<'_>, Vec<Keyed>)> {
        let key = |seen: &mut Vec<(String, Keyed)>, batch: &[Indicator<'_>]| {
            seen.extend(batch.iter().map(|i| (i.id.to_string(), keyed(i))));
        };
        let (bundle, keyed) = parallel::parse(bytes, threads, &key)?;
        let ids = |piece: &[Cow<'_, str>]| piece.iter().map(|id| id.to_string()).collect();
        let pieces: Vec<Vec<String>> = bundle.ids.pieces().map(ids).collect();
        let keyed_ids: Vec<Vec<String>> = keyed
            .iter()
            .map(|piece| piece.iter().map(|(id, _)| id.clone()).collect())
            .collect();
        assert_eq!(keyed_ids, pieces);
        assert!(bundle.unkeyed.is_empty());
        let indicators = keyed.into_iter().flatten().map(|(_, i)| i).collect();
        Some((bundle, indicators))
    }

    /// The one object at the start of `bytes` as the flat reader reads it (when it does), and
    /// its length. It is read into `reused`, as the threaded parse reuses one object: nothing
    /// may stay from the object read before.
    pub fn flat_object<'a>(bytes: &'a [u8], reused: &mut Reused<'a>) -> Option<(String, usize)> {
        let len = flat::object(bytes, 0, &mut reused.0)?;
        Some((reused.0.summary(), len))
    }

    /// The one object at the start of `bytes` as serde reads it (when it does), and its length.
    pub fn serde_object(bytes: &[u8]) -> Option<(String, usize)> {
        let mut stream = serde_json::Deserializer::from_slice(bytes).into_iter::<RawObject<'_>>();
        let object = stream.next()?.ok()?;
        Some((object.summary(), stream.byte_offset()))
    }

    /// An object the flat reader reads into, again and again.
    #[derive(Default)]
    pub struct Reused<'a>(RawObject<'a>);

    impl RawObject<'_> {
        fn summary(&self) -> String {
            format!(
                "{:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?}",
                self.kind.0,
                self.id.0,
                self.name.0,
                self.description.0,
                self.pattern.0,
                self.pattern_type.0,
                self.source_ref.0,
                self.target_ref.0,
                self.object_refs.0,
                self.valid_from.0,
                self.valid_until.0,
                self.revoked.0,
                self.confidence.0,
                self.labels.0,
                self.object_marking_refs.0
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fuzzing::{
        Reused, Summary, aligned, flat_object, ordinary_parse, parallel_parse, serde_object,
        threaded_parse,
    };
    use super::*;

    #[test]
    fn sorts_objects_and_tolerates_odd_fields() {
        let json = br#"{"type": "bundle", "objects": [
            {"type": "identity", "id": "identity--1", "name": {"odd": [1, 2]}},
            {"type": "malware", "id": "malware--1", "name": "M", "description": 5},
            {"type": "report", "id": "report--1", "name": "R", "object_refs": ["indicator--2", 7, null]},
            {"type": "indicator", "id": "indicator--1", "pattern": "[a:b = 'c']", "pattern_type": "stix"},
            {"type": "indicator", "id": "indicator--2", "pattern": ["not", "a", "string"]},
            {"type": "relationship", "source_ref": "indicator--1", "target_ref": "malware--1"},
            {"type": "relationship", "source_ref": "indicator--1"},
            {"type": "report", "id": "report--2", "object_refs": "indicator--1"},
            {"no": "type"}
        ]}"#;
        let b = parse_bundle(json).expect("valid bundle");
        assert_eq!(b.malware.len(), 1);
        assert_eq!(b.malware[0].name.as_deref(), Some("M"));
        assert_eq!(b.malware[0].description, None);
        assert_eq!(b.reports.len(), 2);
        assert_eq!(b.reports[0].object_refs, ["indicator--2"]);
        assert!(b.reports[1].object_refs.is_empty());
        assert_eq!(b.ids.len(), 2);
        assert_eq!(b.unkeyed[1].pattern, None);
        assert_eq!(b.relationships().count(), 1);
    }

    #[test]
    fn escaped_strings_are_owned() {
        let b = parse_bundle(
            br#"{"objects": [{"type": "indicator", "id": "i", "pattern": "[a:b = '\u00e9\\'']"}]}"#,
        )
        .expect("valid bundle");
        assert_eq!(b.unkeyed[0].pattern.as_deref(), Some("[a:b = 'é\\'']"));
    }

    #[test]
    fn rejects_non_bundles() {
        assert!(parse_bundle(b"{").is_err());
        assert!(parse_bundle(b"[]").is_err());
        assert!(parse_bundle(b"{}").unwrap_err().contains("objects"));
        assert!(parse_bundle(br#"{"objects": 5}"#).is_err());
        assert!(parse_bundle(br#"{"objects": [5]}"#).is_err());
    }

    #[test]
    fn deep_nesting_does_not_overflow() {
        // Skipped values are walked without recursion; values we read hit serde_json's limit.
        for field in ["x", "name", "object_refs"] {
            let deep = format!(
                "{{\"objects\": [{{\"type\": \"report\", \"{field}\": {}{}}}]}}",
                "[".repeat(100_000),
                "]".repeat(100_000)
            );
            let _ = parse_bundle(deep.as_bytes());
        }
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(parse_bundle(deep.as_bytes()).is_err());
    }

    /// [`parse`] without keying.
    fn parse_bundle(bytes: &[u8]) -> Result<Bundle<'_>, String> {
        parse(bytes, &|_: &mut (), _: &[Indicator<'_>]| {}).map(|(bundle, _)| bundle)
    }

    /// A bundle whose strings are full of things that look like object boundaries.
    fn tricky_bundle(n: usize) -> String {
        let mut s = String::from(
            "{\"type\": \"bundle\", \"id\": \"b\", \"x\": {\"objects\": [1]},\n \"objects\": [\n",
        );
        s.push_str(r#"{"type":"malware","id":"malware--1","name":"M},{\"type\":1"}"#);
        for i in 0..n {
            s.push_str(&format!(
                ",\n  {{\"type\": \"indicator\", \"id\": \"indicator--{i}\", \"description\": \"}} , {{ \\\" }},{{\", \"pattern\": \"[domain-name:value = 'h{i}.com']\"}}"
            ));
            s.push_str(&format!(
                ", {{\"type\":\"relationship\",\"source_ref\":\"indicator--{i}\",\"target_ref\":\"malware--1\",\"n\":[{{}},{{}}]}}"
            ));
        }
        s.push_str("\n], \"after\": [\"}\", {\"objects\": 2}]}\n");
        s
    }

    /// Summaries of the threaded parse (when it verified its splits) and the ordinary one.
    fn both(text: &str, threads: usize) -> (Option<Summary>, Summary) {
        let bytes = text.as_bytes();
        (
            threaded_parse(bytes, threads),
            ordinary_parse(bytes).expect("valid bundle"),
        )
    }

    #[test]
    fn links_prove_the_usual_shapes_and_nothing_else() {
        let indicator = |i: usize| format!(r#"{{"type":"indicator","id":"indicator--{i}"}}"#);
        let rel = |i: usize, target: &str| {
            format!(
                r#"{{"type":"relationship","source_ref":"indicator--{i}","target_ref":"{target}"}}"#
            )
        };
        let n = 300;
        let interleaved: Vec<String> = (0..n)
            .flat_map(|i| [indicator(i), rel(i, "malware--m")])
            .collect();
        let grouped: Vec<String> = (0..n)
            .map(indicator)
            .chain((0..n).map(|i| rel(i, "malware--m")))
            .collect();
        let mut rel_first = interleaved.clone();
        rel_first.swap(0, 1);
        let mut missing = interleaved.clone();
        missing.remove(2 * 150 + 1);
        let mut other_target = interleaved.clone();
        other_target[2 * 200 + 1] = rel(200, "malware--x");
        let mut swapped = interleaved.clone();
        swapped.swap(2 * 100 + 1, 2 * 101 + 1);
        let mut repeated = interleaved.clone();
        repeated.insert(2 * 50 + 2, rel(50, "malware--m"));
        let shapes = [
            ("interleaved", interleaved, true),
            ("grouped", grouped, true),
            ("relationship first", rel_first, false),
            ("one missing", missing, false),
            ("another target", other_target, false),
            ("two swapped", swapped, false),
            ("one repeated", repeated, false),
        ];
        for (name, objects, provable) in shapes {
            let text = format!(r#"{{"objects":[{}]}}"#, objects.join(",\n"));
            let (ordinary, _) =
                parse(text.as_bytes(), &|_: &mut (), _: &[Indicator<'_>]| {}).expect("valid");
            let mut bundles = vec![ordinary];
            for threads in [2, 3, 5, 16] {
                bundles.push(
                    parallel_parse(text.as_bytes(), threads)
                        .expect("splits verified")
                        .0,
                );
            }
            // Relationships kept or implied, they come back as written.
            let written: Vec<(String, String)> = objects
                .iter()
                .filter_map(|o| {
                    let o: serde_json::Value = serde_json::from_str(o).ok()?;
                    Some((
                        o.get("source_ref")?.as_str()?.to_string(),
                        o.get("target_ref")?.as_str()?.to_string(),
                    ))
                })
                .collect();
            for bundle in &bundles {
                let read: Vec<(String, String)> = bundle
                    .relationships()
                    .map(|(s, t)| (s.to_string(), t.to_string()))
                    .collect();
                assert_eq!(read, written, "{name}");
                let proven = bundle.proven_aligned("malware--m");
                assert_eq!(proven, provable, "{name}");
                assert!(!proven || aligned(bundle, "malware--m"), "{name}");
            }
        }
    }

    #[test]
    fn threaded_parse_checks_utf8_everywhere() {
        let mut text = String::from(r#"{"type":"bundle","id":"b-HEAD","objects":["#);
        for i in 0..300 {
            if i > 0 {
                text.push(',');
            }
            text.push_str(&format!(
                r#"{{"type":"indicator","id":"indicator--{i}","description":"d-{i}","x_custom-{i}":"c","labels":["l-{i}"],"pattern":"[domain-name:value = 'h{i}.com']"}},{{"type":"relationship","source_ref":"indicator--{i}","target_ref":"malware--m","x_nested":{{"n-{i}":"v"}}}}"#
            ));
        }
        text.push_str(r#"],"x_after":"TAIL"}"#);
        let key = |_: &mut (), _: &[Indicator<'_>]| {};
        // Non-ASCII text is read as serde reads it.
        let accented = text.replace("d-7\"", "dé-7\"").replace("h8.com", "hé8.com");
        let (threaded, ordinary) = both(&accented, 3);
        assert_eq!(threaded.expect("verified"), ordinary);
        // A byte that is not UTF-8 fails the threaded parse and the whole file, wherever it
        // is: a value read, a value skipped, a key, a list, a nested object, before and after
        // the objects.
        for needle in [
            "h100.com",
            "d-100",
            "x_custom-100",
            "l-100",
            "n-100",
            "HEAD",
            "TAIL",
        ] {
            let at = text.find(needle).expect("needle") + 1;
            let mut bytes = text.clone().into_bytes();
            bytes.insert(at, 0xff);
            assert!(parallel::parse(&bytes, 3, &key).is_none(), "{needle}");
            let error = parse_bundle(&bytes).expect_err("not UTF-8");
            assert!(error.contains("UTF-8"), "{needle}: {error}");
        }
    }

    #[test]
    fn threaded_parse_gives_the_ordinary_result() {
        let text = tricky_bundle(500);
        for threads in [2, 3, 7, 64] {
            let (threaded, ordinary) = both(&text, threads);
            let threaded = threaded.expect("splits verified");
            assert_eq!(threaded, ordinary, "{threads} threads");
            assert_eq!(threaded.indicators.len(), 500);
        }
    }

    #[test]
    fn threaded_parse_declines_what_it_cannot_verify() {
        // One huge object: every guessed boundary is inside its strings.
        let mut text =
            String::from(r#"{"objects": [{"type": "report", "id": "r", "description": ""#);
        text.push_str(&"},{".repeat(10_000));
        text.push_str(r#""}]}"#);
        let (threaded, ordinary) = both(&text, 4);
        if let Some(threaded) = threaded {
            assert_eq!(threaded, ordinary);
        }
        // Broken JSON after the list, or a non-object element: left to the ordinary parse.
        let good = tricky_bundle(50);
        assert!(threaded_parse(good.replace("\"after\"", "after").as_bytes(), 2).is_none());
        assert!(threaded_parse(good.replace("\n], ", "\n, 5], ").as_bytes(), 2).is_none());
        assert!(parse_bundle(good.replace("\n], ", "\n, 5], ").as_bytes()).is_err());
        // No objects list at all.
        assert!(threaded_parse(br#"{"type": "bundle"}"#, 2).is_none());
    }

    #[test]
    fn flat_reader_agrees_with_serde() {
        let objects = [
            r#"{}"#,
            r#"{ }"#,
            r#"{"type":"indicator","id":"indicator--1","pattern":"[domain-name:value = 'a.com']","pattern_type":"stix"}"#,
            r#"{"type": "report", "object_refs": ["a", "b"], "name": null, "x": true, "y": false}"#,
            r#"{"type":"report","object_refs":[],"labels":["x"],"name":["n"]}"#,
            r#"{"type":"malware","name":"M","description":"d","is_family":false}"#,
            r#"{"type":"relationship","source_ref":"s","target_ref":"t","relationship_type":"indicates"}"#,
            r#"{"object_refs":"not a list","id":true}"#,
            r#"{"type":"indicator","confidence":50}"#,
            r#"{"type":"indicator","kill_chain_phases":[{"phase_name":"x"}]}"#,
            r#"{"type":"indic\u0061tor"}"#,
            r#"{"typ\u0065":"indicator"}"#,
            r#"{"type":"indicator","type":"malware"}"#,
            r#"{"x":1,"x":2,"type":"indicator"}"#,
            r#"{"type":"indicator","pattern":"tab\there"}"#,
            "{\"type\":\"a\u{1}b\"}",
            r#"{"type":"indicator",}"#,
            r#"{"type":"indicator" "id":"x"}"#,
            r#"{"type":"indicator","id":"x""#,
            r#"{"type":tru}"#,
            r#"{"type":"é ü","object_refs":["ß",7]}"#,
            "{\"type\" :\t\"indicator\" ,\r\n \"id\" : \"i\"\n}",
            r#"{"type":"indicator","spec_version":"2.1","id":"i","created":"2021-01-01T00:00:00.000Z","modified":"m","indicator_types":["malicious-activity"],"pattern":"p","pattern_type":"stix","pattern_version":"2.1","valid_from":"v","valid_until":"u","created_by_ref":"c","labels":[]}"#,
            r#"{"type":"relationship","relationship_type":"indicates","source_ref":"s","target_ref":"t","spec_version":true}"#,
            r#"{"types":"x","ids":"y","typ":"z","id":"i","i":"j","":""}"#,
            r#"{"type":"indicator","created":"a\"b"}"#,
            r#"{"type":"indicator","created":"a"b"}"#,
            r#"{"type":"indicator","modified":"tab\there"}"#,
            r#"{"id":"a","id":"b"}"#,
            r#"{"type":"indicator","revoked":true,"confidence":100,"labels":["apt42","phishing"],"object_marking_refs":["marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"],"valid_until":"2026-01-01T00:00:00Z"}"#,
            r#"{"type":"indicator","revoked":false,"confidence":101}"#,
            r#"{"type":"indicator","confidence":50.5}"#,
            r#"{"type":"indicator","confidence":-1}"#,
            // Found by fuzzing: the flat reader took the leading zeros serde refuses.
            r#"{"type":"indicator","confidence":00}"#,
            r#"{"type":"indicator","confidence":007}"#,
            r#"{"type":"indicator","revoked":"yes","valid_from":["x"]}"#,
        ];
        let mut fast = 0;
        // One object read into every time, as the parser does: nothing may stay from the last.
        let mut reused = Reused::default();
        for text in objects {
            if let Some(read) = flat_object(text.as_bytes(), &mut reused) {
                fast += 1;
                let by_serde = serde_object(text.as_bytes());
                assert_eq!(Some(read), by_serde, "serde reads {text} otherwise");
            }
        }
        assert_eq!(fast, 16, "the flat shapes are read without serde");
    }

    #[test]
    fn string_ends_where_the_bytes_say() {
        // The closing quote when no escape or control character comes first.
        let naive = |bytes: &[u8]| {
            let i = bytes
                .iter()
                .position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
            (bytes[i] == b'"').then_some(i)
        };
        for text in [
            "abc\"",
            "abcdefghij\"x",
            "abcdefgh\\\"",
            "é\u{1}\"",
            "\u{7f}\u{80}\u{ff}ü\"",
            "no end here at all",
            "",
            "\"",
            "12345678\n\"",
            "a long string of more than thirty-two bytes, then\"",
        ] {
            let bytes = text.as_bytes();
            assert_eq!(flat::string_end(bytes, 0), naive(bytes), "{text:?}");
        }
        // Every single special byte at every offset of a 40-byte run.
        for special in (0u8..0x20).chain([b'"', b'\\']) {
            for at in 0..40 {
                let mut bytes = vec![b'a'; 40];
                bytes[at] = special;
                bytes.push(b'"');
                assert_eq!(flat::string_end(&bytes, 0), naive(&bytes));
                assert_eq!(flat::has_control(&bytes[..40]), special < 0x20);
                assert_eq!(flat::has_control(&bytes[at..40]), special < 0x20);
            }
        }
        for len in 0..20 {
            assert!(!flat::has_control(&vec![0x20; len]));
            assert!(!flat::has_control(&vec![0x80; len]));
            assert!(flat::has_control(&vec![0x1f; len + 1]));
        }
    }
}
