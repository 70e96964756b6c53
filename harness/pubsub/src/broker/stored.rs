//! Messages as the broker stores them: shared by every subscription and snapshot that holds
//! them, and counted by a [`Meter`] from the moment they are stored until the last holder lets
//! go, so the emulator knows how many bytes it keeps and can refuse publishes beyond a bound.

use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use gcloud_googleapis::pubsub::v1::PubsubMessage;

/// Counts the bytes of stored messages (as Google sizes them: data, attributes, ordering key)
/// and the most ever stored at once. Clones share the count.
#[derive(Clone, Debug, Default)]
pub struct Meter(Arc<Counts>);

#[derive(Debug, Default)]
struct Counts {
    current: AtomicU64,
    peak: AtomicU64,
}

impl Meter {
    /// Bytes stored now.
    pub fn current(&self) -> u64 {
        self.0.current.load(Ordering::Relaxed)
    }

    /// The most bytes stored at any one time.
    pub fn peak(&self) -> u64 {
        self.0.peak.load(Ordering::Relaxed)
    }

    fn add(&self, bytes: u64) {
        let now = self.0.current.fetch_add(bytes, Ordering::Relaxed) + bytes;
        self.0.peak.fetch_max(now, Ordering::Relaxed);
    }

    fn sub(&self, bytes: u64) {
        self.0.current.fetch_sub(bytes, Ordering::Relaxed);
    }
}

/// A stored message; counted by its meter until dropped.
#[derive(Debug)]
pub struct Stored {
    message: PubsubMessage,
    size: u64,
    meter: Meter,
}

impl Stored {
    /// Stores a batch of messages with their sizes (as [`super::limits::message_size`] counts
    /// them), counting them on `meter` in one step: one update of the shared counters per
    /// batch rather than per message.
    pub fn batch(messages: Vec<(PubsubMessage, usize)>, meter: &Meter) -> Vec<Arc<Self>> {
        let sizes = messages
            .iter()
            .map(|(_, size)| u64::try_from(*size).unwrap_or(u64::MAX));
        meter.add(sizes.fold(0, u64::saturating_add));
        messages
            .into_iter()
            .map(|(message, size)| Self::counted(message, u64::try_from(size).unwrap_or(u64::MAX), meter))
            .collect()
    }

    fn counted(message: PubsubMessage, size: u64, meter: &Meter) -> Arc<Self> {
        Arc::new(Self {
            message,
            size,
            meter: meter.clone(),
        })
    }
}

impl PartialEq for Stored {
    fn eq(&self, other: &Self) -> bool {
        self.message == other.message
    }
}

impl Deref for Stored {
    type Target = PubsubMessage;

    fn deref(&self) -> &PubsubMessage {
        &self.message
    }
}

impl Drop for Stored {
    fn drop(&mut self) {
        self.meter.sub(self.size);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_are_counted_until_the_last_holder_drops_the_message() {
        let meter = Meter::default();
        let message = PubsubMessage {
            data: vec![0; 100],
            attributes: [("k".to_owned(), "vv".to_owned())].into(),
            ordering_key: "o".into(),
            ..PubsubMessage::default()
        };
        let mut batch = Stored::batch(vec![(message.clone(), 104), (message, 104)], &meter);
        assert_eq!(meter.current(), 208);
        let second = batch.pop().unwrap();
        let shared = Arc::clone(&second);
        drop(batch);
        assert_eq!(meter.current(), 104);
        drop(second);
        assert_eq!(meter.current(), 104, "still held by a second subscription");
        drop(shared);
        assert_eq!((meter.current(), meter.peak()), (0, 208));
    }
}
