//! The table of one string-keyed indicator type: every key in one shared buffer, and a hash
//! table of small fixed-size slots pointing into it.
//!
//! A million indicators as a `HashMap<Box<str>, _>` cost a million allocations to load and a
//! million frees to drop, and every probe that finds a candidate reads a separate heap block
//! (a likely cache miss) just to reject it. Here a slot keeps 32 bits of the key's hash, so a
//! probe touches key bytes only when the hash already agrees: in practice only on a hit.

use std::hash::BuildHasher;

use hashbrown::HashTable;

use crate::FastState;

const REGION_BITS: u32 = 14;

/// The number of parts [`KeyTable::region`] divides a table into.
pub(crate) const REGIONS: usize = 1 << REGION_BITS;

#[derive(Debug, Clone, Copy)]
struct Slot<V> {
    /// The high half of the key's hash (the low bits pick the bucket).
    tag: u32,
    start: u32,
    len: u32,
    value: V,
}

/// A key copied into a table's buffer by [`KeyTable::stage`], not yet inserted.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Staged {
    pub hash: u64,
    start: u32,
    len: u32,
}

impl Staged {
    /// Stages `key` (hashed by its table's [`KeyTable::hash`]) into a buffer of its own.
    /// `None` once the buffer would pass 4 GiB.
    pub fn into_buffer(buffer: &mut String, hash: u64, key: &str) -> Option<Self> {
        let start = u32::try_from(buffer.len()).ok()?;
        let len = u32::try_from(key.len()).ok()?;
        start.checked_add(len)?;
        buffer.push_str(key);
        Some(Self { hash, start, len })
    }

    /// The same key once its buffer was appended to the table at `base`.
    pub fn rebased(self, base: u32) -> Self {
        Self {
            start: self.start + base,
            ..self
        }
    }
}

/// The shards a table is split into by one bit of the hash (bit 31: neither the bucket,
/// which hashbrown takes from the low bits, nor the tag, the high half), so that a bulk
/// load can fill them on threads of their own.
pub(crate) const SHARDS: usize = 2;

/// The shard a key of this hash goes into.
pub(crate) fn shard(hash: u64) -> usize {
    (hash >> 31) as usize & (SHARDS - 1)
}

/// Keys (as `str`) to small `Copy` values.
#[derive(Debug)]
pub(crate) struct KeyTable<V> {
    state: FastState,
    keys: String,
    shards: [HashTable<Slot<V>>; SHARDS],
}

impl<V> Default for KeyTable<V> {
    fn default() -> Self {
        Self {
            state: FastState::default(),
            keys: String::new(),
            shards: std::array::from_fn(|_| HashTable::new()),
        }
    }
}

/// Whether [`ShardMut::insert_staged`] stored a new key.
pub(crate) enum Inserted<'a, V> {
    New,
    /// The key was already there, with this value (left unchanged).
    Existing(&'a str, &'a V),
}

/// One shard of a table, filled while other threads fill the others.
pub(crate) struct ShardMut<'t, V> {
    state: &'t FastState,
    keys: &'t str,
    slots: &'t mut HashTable<Slot<V>>,
}

impl<V: Copy> ShardMut<'_, V> {
    /// [`KeyTable::region`], for a key of this shard.
    pub fn region(&self, hash: u64) -> usize {
        region(self.slots, hash)
    }

    /// Inserts a staged key of this shard with `value`, unless an equal key is already
    /// present: the first value stays, as the first-loaded indicator wins (the staged copy
    /// is then unused).
    pub fn insert_staged(&mut self, staged: Staged, value: V) -> Inserted<'_, V> {
        insert(self.state, self.keys, self.slots, staged, value)
    }
}

impl<V: Copy> KeyTable<V> {
    pub fn is_empty(&self) -> bool {
        self.shards.iter().all(HashTable::is_empty)
    }

    /// Room for `additional` keys of `bytes` bytes in all.
    pub fn reserve(&mut self, additional: usize, bytes: usize) {
        self.keys.reserve(bytes);
        let state = &self.state;
        let keys = &self.keys;
        // The hash splits keys evenly, give or take a few standard deviations.
        let per_shard = additional / SHARDS + additional / 64;
        for slots in &mut self.shards {
            slots.reserve(per_shard, |slot| {
                state.hash_one(key_of(keys, slot.start, slot.len))
            });
        }
    }

    pub fn hash(&self, key: &str) -> u64 {
        self.state.hash_one(key)
    }

    /// Which of [`REGIONS`] equal parts of its shard a key of this hash goes into. Bulk loads
    /// copy keys in file order (reading the input sequentially, see [`Staged`]) and insert
    /// them region by region: in file order, every insert into a large table is a cache
    /// miss. (It relies on hashbrown placing a key at `hash & (buckets - 1)` before probing;
    /// were that to change, only the speed of loading would suffer.)
    #[cfg(test)]
    pub fn region(&self, hash: u64) -> usize {
        region(&self.shards[shard(hash)], hash)
    }

    /// Appends keys staged elsewhere (on another thread, into a buffer of their own, with
    /// [`KeyTable::hash`]) to the table's buffer; returns the offset to
    /// [`Staged::rebased`] them by. `None` once the buffer would pass 4 GiB. The first
    /// buffer given to an empty table is taken over rather than copied.
    pub fn append_staged(&mut self, buffer: &mut String) -> Option<u32> {
        let base = u32::try_from(self.keys.len()).ok()?;
        base.checked_add(u32::try_from(buffer.len()).ok()?)?;
        if self.keys.is_empty() {
            std::mem::swap(&mut self.keys, buffer);
        } else {
            self.keys.push_str(buffer);
        }
        Some(base)
    }

    /// The shards, to fill on threads of their own.
    pub fn shards_mut(&mut self) -> [ShardMut<'_, V>; SHARDS] {
        let Self {
            state,
            keys,
            shards,
        } = self;
        let (state, keys) = (&*state, &**keys);
        shards
            .each_mut()
            .map(|slots| ShardMut { state, keys, slots })
    }

    /// Stores `key` with `value` unless the key is already present.
    #[cfg(test)]
    pub fn insert(&mut self, key: &str, value: V) -> Option<Inserted<'_, V>> {
        let hash = self.hash(key);
        let staged = Staged::into_buffer(&mut self.keys, hash, key)?;
        let slots = &mut self.shards[shard(hash)];
        Some(insert(&self.state, &self.keys, slots, staged, value))
    }

    /// Every stored key and its value, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &V)> {
        self.shards
            .iter()
            .flat_map(|slots| slots.iter())
            .map(|slot| (key_of(&self.keys, slot.start, slot.len), &slot.value))
    }

    /// The stored key equal to `key`, and its value.
    pub fn get_key_value(&self, key: &str) -> Option<(&str, &V)> {
        let hash = self.state.hash_one(key);
        self.shards[shard(hash)]
            .find(hash, |slot| matches(&self.keys, slot, hash, key.as_bytes()))
            .map(|slot| (key_of(&self.keys, slot.start, slot.len), &slot.value))
    }
}

impl KeyTable<crate::keys::Entry> {
    /// The keys and each slot's key and entry (see [`crate::cache`]).
    pub(crate) fn encode(&self, w: &mut crate::cache::Writer) {
        w.str(&self.keys);
        // In key order, so that the same indicators always give the same bytes.
        let mut slots: Vec<_> = self.shards.iter().flat_map(HashTable::iter).collect();
        slots.sort_unstable_by_key(|slot| slot.start);
        w.len(slots.len());
        for slot in slots {
            for n in [
                slot.start,
                slot.len,
                slot.value.indicator,
                slot.value.original,
            ] {
                w.u32(n);
            }
        }
    }

    /// The table [`KeyTable::encode`] wrote, hashed again with a seed of its own.
    pub(crate) fn decode(
        r: &mut crate::cache::Reader<'_>,
    ) -> Result<Self, crate::cache::CacheError> {
        let mut table = Self {
            keys: r.string()?,
            ..Self::default()
        };
        let slots = r.len()?;
        table.reserve(slots, 0);
        for _ in 0..slots {
            let (start, len) = (r.u32()?, r.u32()?);
            let value = crate::keys::Entry {
                indicator: r.u32()?,
                original: r.u32()?,
            };
            let key = table
                .keys
                .get(start as usize..start as usize + len as usize)
                .ok_or(crate::cache::CacheError::Damaged("key"))?;
            let hash = table.state.hash_one(key);
            let staged = Staged { hash, start, len };
            let Self {
                state,
                keys,
                shards,
            } = &mut table;
            insert(state, keys, &mut shards[shard(hash)], staged, value);
        }
        Ok(table)
    }
}

fn region<V>(slots: &HashTable<Slot<V>>, hash: u64) -> usize {
    let buckets = (slots.capacity() * 8 / 7).next_power_of_two();
    let bucket = hash as usize & (buckets - 1);
    let bits = buckets.trailing_zeros();
    if bits >= REGION_BITS {
        bucket >> (bits - REGION_BITS)
    } else {
        bucket << (REGION_BITS - bits)
    }
}

fn insert<'a, V: Copy>(
    state: &FastState,
    keys: &'a str,
    slots: &'a mut HashTable<Slot<V>>,
    staged: Staged,
    value: V,
) -> Inserted<'a, V> {
    let hash = staged.hash;
    // Bytes, not `str`: slicing a `str` reads the bytes at the cut (a char-boundary check),
    // a cache miss for every insert; these are read only when a slot's tag agrees.
    let key = key_bytes(keys, staged.start, staged.len);
    if slots
        .find(hash, |slot| matches(keys, slot, hash, key))
        .is_none()
    {
        let slot = Slot {
            tag: tag(hash),
            start: staged.start,
            len: staged.len,
            value,
        };
        slots.insert_unique(hash, slot, |slot| {
            state.hash_one(key_of(keys, slot.start, slot.len))
        });
        return Inserted::New;
    }
    // Looked up again to return it (a repeated value is the rare case).
    let slots: &'a HashTable<Slot<V>> = slots;
    match slots.find(hash, |slot| matches(keys, slot, hash, key)) {
        Some(slot) => Inserted::Existing(key_of(keys, slot.start, slot.len), &slot.value),
        None => Inserted::New,
    }
}

fn tag(hash: u64) -> u32 {
    (hash >> 32) as u32
}

fn key_of(keys: &str, start: u32, len: u32) -> &str {
    let start = start as usize;
    keys.get(start..start + len as usize).unwrap_or_default()
}

fn key_bytes(keys: &str, start: u32, len: u32) -> &[u8] {
    let start = start as usize;
    keys.as_bytes()
        .get(start..start + len as usize)
        .unwrap_or_default()
}

fn matches<V>(keys: &str, slot: &Slot<V>, hash: u64, key: &[u8]) -> bool {
    slot.tag == tag(hash)
        && slot.len as usize == key.len()
        && key_bytes(keys, slot.start, slot.len) == key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_value_wins_and_lookups_are_exact() {
        let mut t = KeyTable::default();
        assert!(matches!(t.insert("bad.com", 1u32), Some(Inserted::New)));
        assert!(matches!(t.insert("bad.co", 2), Some(Inserted::New)));
        match t.insert("bad.com", 3) {
            Some(Inserted::Existing(k, &v)) => assert_eq!((k, v), ("bad.com", 1)),
            _ => panic!("bad.com is already stored"),
        }
        assert_eq!(t.get_key_value("bad.com"), Some(("bad.com", &1)));
        assert_eq!(t.get_key_value("bad.co"), Some(("bad.co", &2)));
        assert_eq!(t.get_key_value("bad.c"), None);
        assert_eq!(t.get_key_value(""), None);
    }

    #[test]
    fn grows_past_its_reservation() {
        let mut t = KeyTable::default();
        t.reserve(10, 100);
        for i in 0..10_000u32 {
            assert!(matches!(
                t.insert(&format!("host-{i}.example"), i),
                Some(Inserted::New)
            ));
        }
        for i in (0..10_000u32).step_by(7) {
            let key = format!("host-{i}.example");
            assert_eq!(t.get_key_value(&key), Some((key.as_str(), &i)));
        }
        assert_eq!(t.get_key_value("host-10000.example"), None);
    }

    #[test]
    fn shards_fill_on_threads_of_their_own() {
        let mut t = KeyTable::<u32>::default();
        let mut buffer = String::new();
        let staged: Vec<Staged> = (0..1000)
            .map(|i| {
                let key = format!("host-{i}.example");
                Staged::into_buffer(&mut buffer, t.hash(&key), &key).expect("fits")
            })
            .collect();
        t.reserve(1000, 0);
        let base = t.append_staged(&mut buffer).expect("fits");
        let [mut first, mut second] = t.shards_mut();
        let fill = |view: &mut ShardMut<'_, u32>, which: usize| {
            for (i, s) in (0..).zip(&staged) {
                if shard(s.hash) == which {
                    assert!(matches!(
                        view.insert_staged(s.rebased(base), i),
                        Inserted::New
                    ));
                }
            }
            // A repeated key keeps its first value.
            if let Some((i, s)) = (0..).zip(&staged).find(|(_, s)| shard(s.hash) == which) {
                match view.insert_staged(s.rebased(base), 9999) {
                    Inserted::Existing(_, &v) => assert_eq!(v, i),
                    Inserted::New => panic!("already stored"),
                }
            }
        };
        std::thread::scope(|scope| {
            scope.spawn(|| fill(&mut second, 1));
            fill(&mut first, 0);
        });
        assert!(t.shards.iter().all(|s| s.len() > 400), "both shards used");
        for i in 0..1000u32 {
            let key = format!("host-{i}.example");
            assert_eq!(t.get_key_value(&key), Some((key.as_str(), &i)));
        }
    }

    #[test]
    fn regions_follow_slot_order() {
        let mut t = KeyTable::<u32>::default();
        t.reserve(1000, 0);
        assert_eq!(t.region(0), 0);
        assert!((REGIONS - 16..REGIONS).contains(&t.region(u64::MAX)));
        let mut big = KeyTable::<u32>::default();
        big.reserve(1 << 20, 0);
        assert_eq!(big.region(u64::MAX), REGIONS - 1);
        assert!(big.region(1 << 10) < big.region(1 << 19));
    }
}
