//! Shards: the I-th of N disjoint slices of every cohort, so that N processes (on N machines)
//! together run exactly the whole fleet. Device `index` of a cohort belongs to shard
//! `index % N`: every shard holds devices from the whole ramp, and each device keeps the
//! index, window and random seed the unsharded run gives it.

use std::fmt;
use std::str::FromStr;

/// The I-th of N slices (I counted from 0, like Kubernetes' `JOB_COMPLETION_INDEX`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Shard {
    /// This slice, from 0 to `count - 1`.
    pub index: u32,
    /// How many slices the fleet is cut into.
    pub count: u32,
}

impl Shard {
    /// The whole fleet: shard 0 of 1.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// Shard `index` of `count`, when `count > 0` and `index < count`.
    pub fn new(index: u32, count: u32) -> Result<Self, ShardError> {
        match (index, count) {
            (_, 0) => Err(ShardError::NoShards),
            (i, n) if i >= n => Err(ShardError::OutOfRange { index: i, count: n }),
            _ => Ok(Self { index, count }),
        }
    }

    /// Whether device `index` of a cohort is in this shard.
    pub fn holds(&self, index: u64) -> bool {
        index % u64::from(self.count) == u64::from(self.index)
    }

    /// The cohort indices of this shard's devices, for a cohort of `size`.
    pub fn indices(&self, size: u64) -> impl Iterator<Item = u64> + use<> {
        (u64::from(self.index)..size).step_by(self.count as usize)
    }

    /// The cohort index of this shard's `position`-th device.
    pub fn global(&self, position: usize) -> usize {
        self.index as usize + position * self.count as usize
    }

    /// Whether this is the whole fleet.
    pub fn is_whole(&self) -> bool {
        self.count == 1
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// Why `I/N` is not a shard.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    /// Not two numbers around a slash.
    #[error("\"{0}\" is not a shard; write I/N, such as 0/4 (I from 0 to N-1)")]
    Syntax(String),
    /// N = 0.
    #[error("a fleet cannot be cut into 0 shards; N must be at least 1")]
    NoShards,
    /// I ≥ N.
    #[error("shard index {index} is out of range for {count} shards; use 0 to {}", count - 1)]
    OutOfRange {
        /// The index given.
        index: u32,
        /// The count given.
        count: u32,
    },
}

impl FromStr for Shard {
    type Err = ShardError;

    fn from_str(text: &str) -> Result<Self, ShardError> {
        let syntax = || ShardError::Syntax(text.to_owned());
        let (index, count) = text.trim().split_once('/').ok_or_else(syntax)?;
        let number = |s: &str| s.trim().parse::<u32>().map_err(|_| syntax());
        Self::new(number(index)?, number(count)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_cut_a_cohort_into_disjoint_slices_that_cover_it() {
        let shards: Vec<Shard> = (0..3).map(|i| Shard::new(i, 3).unwrap()).collect();
        let mut all: Vec<u64> = shards.iter().flat_map(|s| s.indices(10)).collect();
        all.sort_unstable();
        assert_eq!(all, (0..10).collect::<Vec<_>>());
        assert_eq!(shards[1].indices(10).collect::<Vec<_>>(), [1, 4, 7]);
        assert!(shards[1].holds(7) && !shards[1].holds(8));
        assert_eq!(shards[2].global(2), 8);
        assert!(Shard::WHOLE.holds(5) && Shard::WHOLE.is_whole());
    }

    #[test]
    fn bad_shards_say_what_is_wrong() {
        assert_eq!("2/4".parse(), Ok(Shard { index: 2, count: 4 }));
        assert_eq!("1/0".parse::<Shard>(), Err(ShardError::NoShards));
        let out = "4/4".parse::<Shard>().unwrap_err();
        assert_eq!(
            out.to_string(),
            "shard index 4 is out of range for 4 shards; use 0 to 3"
        );
        assert!(matches!("x/4".parse::<Shard>(), Err(ShardError::Syntax(_))));
        assert!(matches!("3".parse::<Shard>(), Err(ShardError::Syntax(_))));
    }
}
