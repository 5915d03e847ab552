//! The table of one string-keyed indicator type: every key in one shared buffer, and a hash
//! table of small fixed-size slots pointing into it.
//!
//! A million indicators as a `HashMap<Box<str>, _>` cost a million allocations to load and a
//! million frees to drop, and every probe that finds a candidate reads a separate heap block
//! (a likely cache miss) just to reject it. Here a slot keeps 32 bits of the key's hash, so a
//! probe touches key bytes only when the hash already agrees: in practice only on a hit.

use std::hash::BuildHasher;

use hashbrown::HashTable;

use crate::fasthash::FastState;

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

/// Keys (as `str`) to small `Copy` values.
#[derive(Debug)]
pub(crate) struct KeyTable<V> {
    state: FastState,
    keys: String,
    slots: HashTable<Slot<V>>,
}

impl<V> Default for KeyTable<V> {
    fn default() -> Self {
        Self {
            state: FastState::default(),
            keys: String::new(),
            slots: HashTable::new(),
        }
    }
}

/// Whether [`KeyTable::insert_staged`] stored a new key.
pub(crate) enum Inserted<'a, V> {
    New,
    /// The key was already there, with this value (left unchanged).
    Existing(&'a str, &'a V),
}

impl<V: Copy> KeyTable<V> {
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Room for `additional` keys of `bytes` bytes in all.
    pub fn reserve(&mut self, additional: usize, bytes: usize) {
        self.keys.reserve(bytes);
        let state = &self.state;
        let keys = &self.keys;
        self.slots.reserve(additional, |slot| {
            state.hash_one(key_of(keys, slot.start, slot.len))
        });
    }

    pub fn hash(&self, key: &str) -> u64 {
        self.state.hash_one(key)
    }

    /// Which of [`REGIONS`] equal parts of the table a key of this hash goes into. Bulk loads
    /// copy keys in file order (reading the input sequentially, see [`Staged`]) and insert
    /// them region by region: in file order, every insert into a large table is a cache
    /// miss. (It relies on hashbrown placing a key at `hash & (buckets - 1)` before probing;
    /// were that to change, only the speed of loading would suffer.)
    pub fn region(&self, hash: u64) -> usize {
        let buckets = (self.slots.capacity() * 8 / 7).next_power_of_two();
        let bucket = hash as usize & (buckets - 1);
        let bits = buckets.trailing_zeros();
        if bits >= REGION_BITS {
            bucket >> (bits - REGION_BITS)
        } else {
            bucket << (REGION_BITS - bits)
        }
    }

    /// Appends keys staged elsewhere (on another thread, into a buffer of their own, with
    /// [`KeyTable::hash`]) to the table's buffer; returns the offset to
    /// [`Staged::rebased`] them by. `None` once the buffer would pass 4 GiB.
    pub fn append_staged(&mut self, buffer: &str) -> Option<u32> {
        let base = u32::try_from(self.keys.len()).ok()?;
        base.checked_add(u32::try_from(buffer.len()).ok()?)?;
        self.keys.push_str(buffer);
        Some(base)
    }

    /// Inserts a staged key with `value`, unless an equal key is already present: the first
    /// value stays, as the first-loaded indicator wins (the staged copy is then unused).
    pub fn insert_staged(&mut self, staged: Staged, value: V) -> Inserted<'_, V> {
        let Self { state, keys, slots } = self;
        let (keys, hash) = (&*keys, staged.hash);
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
        let (start, len) = (staged.start, staged.len);
        match self.get_key_value(key_of(&self.keys, start, len)) {
            Some((key, value)) => Inserted::Existing(key, value),
            None => Inserted::New,
        }
    }

    /// Stores `key` with `value` unless the key is already present.
    #[cfg(test)]
    pub fn insert(&mut self, key: &str, value: V) -> Option<Inserted<'_, V>> {
        let hash = self.hash(key);
        let staged = Staged::into_buffer(&mut self.keys, hash, key)?;
        Some(self.insert_staged(staged, value))
    }

    /// The stored key equal to `key`, and its value.
    pub fn get_key_value(&self, key: &str) -> Option<(&str, &V)> {
        let hash = self.state.hash_one(key);
        self.slots
            .find(hash, |slot| matches(&self.keys, slot, hash, key.as_bytes()))
            .map(|slot| (key_of(&self.keys, slot.start, slot.len), &slot.value))
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
