//! Exact delivery accounting: which sequence numbers each device had acknowledged, which were
//! seen downstream, and from the two, how many were delivered, duplicated, reordered or lost.

use std::collections::HashMap;

use crate::payload::Stamp;

/// A set of sequence numbers, as a bitmap (devices number their messages from 0).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SeqSet {
    words: Vec<u64>,
    len: u64,
}

impl SeqSet {
    /// Adds `seq`; `false` when it was already there.
    pub fn insert(&mut self, seq: u64) -> bool {
        let (word, bit) = ((seq / 64) as usize, seq % 64);
        if self.words.len() <= word {
            self.words.resize(word + 1, 0);
        }
        let mask = 1u64 << bit;
        let fresh = self.words[word] & mask == 0;
        self.words[word] |= mask;
        self.len += u64::from(fresh);
        fresh
    }

    /// Whether `seq` is in the set.
    pub fn contains(&self, seq: u64) -> bool {
        self.words
            .get((seq / 64) as usize)
            .is_some_and(|w| w & (1u64 << (seq % 64)) != 0)
    }

    /// How many numbers the set holds.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How many numbers of `self` are not in `other`.
    pub fn missing_from(&self, other: &SeqSet) -> u64 {
        self.words
            .iter()
            .enumerate()
            .map(|(i, w)| u64::from((w & !other.words.get(i).copied().unwrap_or(0)).count_ones()))
            .sum()
    }
}

/// What one device's messages did downstream.
#[derive(Clone, Debug, Default)]
struct Seen {
    seqs: SeqSet,
    highest: Option<u64>,
}

/// Counts of a downstream stream (a Pub/Sub subscription, a push endpoint).
#[derive(Clone, Debug, Default)]
pub struct Downstream {
    devices: HashMap<String, Seen>,
    /// Messages seen, duplicates included.
    pub received: u64,
    /// Messages seen again after their first arrival.
    pub duplicated: u64,
    /// First arrivals with a lower sequence number than one seen before from the same device.
    pub reordered: u64,
    /// Messages that carried no fleetgate stamp.
    pub foreign: u64,
    /// Messages of devices another shard of the run counts (seen, not counted here).
    pub others: u64,
}

impl Downstream {
    /// Records one arrival; `None` stamps are foreign messages.
    pub fn record(&mut self, stamp: Option<&Stamp>) {
        self.received += 1;
        let Some(stamp) = stamp else {
            self.foreign += 1;
            return;
        };
        let seen = self.devices.entry(stamp.device.clone()).or_default();
        if !seen.seqs.insert(stamp.seq) {
            self.duplicated += 1;
            return;
        }
        if seen.highest.is_some_and(|h| stamp.seq < h) {
            self.reordered += 1;
        }
        seen.highest = Some(seen.highest.map_or(stamp.seq, |h| h.max(stamp.seq)));
    }

    /// Distinct messages seen.
    pub fn distinct(&self) -> u64 {
        self.devices.values().map(|s| s.seqs.len()).sum()
    }

    /// How many of the `acked` messages (device id → acknowledged sequence numbers) were never
    /// seen here.
    pub fn lost<'a>(&self, acked: impl IntoIterator<Item = (&'a str, &'a SeqSet)>) -> u64 {
        let empty = SeqSet::default();
        acked
            .into_iter()
            .map(|(device, seqs)| {
                let seen = self.devices.get(device).map_or(&empty, |s| &s.seqs);
                seqs.missing_from(seen)
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(device: &str, seq: u64) -> Stamp {
        Stamp {
            device: device.into(),
            seq,
            intended_us: 0,
        }
    }

    #[test]
    fn seq_sets_count_distinct_numbers_and_differences() {
        let mut a = SeqSet::default();
        for seq in [0, 1, 63, 64, 200, 200] {
            a.insert(seq);
        }
        assert_eq!(a.len(), 5);
        assert!(a.contains(63) && a.contains(200) && !a.contains(2));
        let mut b = SeqSet::default();
        b.insert(1);
        b.insert(200);
        assert_eq!(a.missing_from(&b), 3);
        assert_eq!(b.missing_from(&a), 0);
    }

    #[test]
    fn duplicates_reorders_foreign_and_losses_are_counted_exactly() {
        let mut down = Downstream::default();
        for (device, seq) in [("a", 0), ("a", 2), ("a", 1), ("a", 2), ("b", 0)] {
            down.record(Some(&stamp(device, seq)));
        }
        down.record(None);
        assert_eq!(down.received, 6);
        assert_eq!(down.duplicated, 1);
        assert_eq!(down.reordered, 1);
        assert_eq!(down.foreign, 1);
        assert_eq!(down.distinct(), 4);
        let mut acked_a = SeqSet::default();
        let mut acked_b = SeqSet::default();
        for seq in 0..4 {
            acked_a.insert(seq);
        }
        acked_b.insert(0);
        let mut acked_c = SeqSet::default();
        acked_c.insert(7);
        let acked = [("a", &acked_a), ("b", &acked_b), ("c", &acked_c)];
        assert_eq!(down.lost(acked), 2, "a/3 and c/7 never arrived");
    }
}
