//! Telemetry payloads. Every payload carries the device id, its sequence number and the
//! intended send time (Unix µs), so loss, duplicates and reordering are counted exactly and
//! end-to-end latency is computed wherever the message surfaces (Pub/Sub, a push endpoint,
//! another process).

use std::fmt::Write as _;

/// How payloads are encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PayloadKind {
    /// A JSON object `{"device":…,"seq":…,"t_us":…,"pad":"…"}` padded to size.
    Json,
    /// `FG1` + seq (u64 BE) + intended µs (u64 BE) + id length (u8) + id, zero-padded to size.
    Binary,
}

/// What a payload says about itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stamp {
    /// The device id.
    pub device: String,
    /// The device's sequence number, from 0.
    pub seq: u64,
    /// The intended send time, Unix microseconds.
    pub intended_us: u64,
}

const MAGIC: &[u8; 3] = b"FG1";

/// Encodes `stamp` as `kind`, padded to at least `size` bytes.
pub fn encode(kind: PayloadKind, stamp: &Stamp, size: usize) -> Vec<u8> {
    match kind {
        PayloadKind::Json => {
            let mut text = String::with_capacity(size.max(64));
            let _ = write!(
                text,
                "{{\"device\":\"{}\",\"seq\":{},\"t_us\":{},\"pad\":\"",
                stamp.device, stamp.seq, stamp.intended_us
            );
            let pad = size.saturating_sub(text.len() + 2);
            text.extend(std::iter::repeat_n('x', pad));
            text.push_str("\"}");
            text.into_bytes()
        }
        PayloadKind::Binary => {
            let id = stamp.device.as_bytes();
            let id = &id[..id.len().min(255)];
            let mut bytes = Vec::with_capacity(size.max(20 + id.len()));
            bytes.extend_from_slice(MAGIC);
            bytes.extend_from_slice(&stamp.seq.to_be_bytes());
            bytes.extend_from_slice(&stamp.intended_us.to_be_bytes());
            bytes.push(id.len() as u8);
            bytes.extend_from_slice(id);
            bytes.resize(bytes.len().max(size), 0);
            bytes
        }
    }
}

/// A state update, `{"state_seq":…,"pad":"…"}` padded to `size`: deliberately not a telemetry
/// stamp, so state never counts as telemetry downstream.
pub fn state(seq: u64, size: usize) -> Vec<u8> {
    let mut text = format!("{{\"state_seq\":{seq},\"pad\":\"");
    let pad = size.saturating_sub(text.len() + 2);
    text.extend(std::iter::repeat_n('x', pad));
    text.push_str("\"}");
    text.into_bytes()
}

/// Reads the stamp of a payload of either kind; `None` when it is not a fleetgate payload.
pub fn decode(payload: &[u8]) -> Option<Stamp> {
    if let Some(rest) = payload.strip_prefix(MAGIC) {
        let seq = u64::from_be_bytes(rest.get(..8)?.try_into().ok()?);
        let intended_us = u64::from_be_bytes(rest.get(8..16)?.try_into().ok()?);
        let len = usize::from(*rest.get(16)?);
        let device = std::str::from_utf8(rest.get(17..17 + len)?).ok()?.to_owned();
        return Some(Stamp {
            device,
            seq,
            intended_us,
        });
    }
    #[derive(serde::Deserialize)]
    struct Json {
        device: String,
        seq: u64,
        t_us: u64,
    }
    let json: Json = serde_json::from_slice(payload).ok()?;
    Some(Stamp {
        device: json.device,
        seq: json.seq,
        intended_us: json.t_us,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp() -> Stamp {
        Stamp {
            device: "pi-00042".into(),
            seq: 1_234_567,
            intended_us: 1_790_000_000_123_456,
        }
    }

    #[test]
    fn both_kinds_round_trip_at_the_requested_size() {
        for kind in [PayloadKind::Json, PayloadKind::Binary] {
            for size in [0, 64, 100, 200, 4096] {
                let bytes = encode(kind, &stamp(), size);
                assert!(bytes.len() >= size, "{kind:?} {size}: {}", bytes.len());
                if size >= 100 {
                    assert_eq!(bytes.len(), size, "{kind:?}");
                }
                assert_eq!(decode(&bytes), Some(stamp()), "{kind:?} {size}");
            }
        }
    }

    #[test]
    fn json_payloads_are_valid_json_for_downstream_consumers() {
        let bytes = encode(PayloadKind::Json, &stamp(), 200);
        let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(value["device"], "pi-00042");
        assert_eq!(value["seq"], 1_234_567);
    }

    #[test]
    fn state_updates_have_their_size_and_are_not_telemetry() {
        let bytes = state(3, 64);
        assert_eq!(bytes.len(), 64);
        assert_eq!(decode(&bytes), None);
        let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(value["state_seq"], 3);
    }

    #[test]
    fn foreign_and_truncated_payloads_are_not_stamps() {
        assert_eq!(decode(b"hello"), None);
        assert_eq!(decode(b"{\"temp\": 21.5}"), None);
        let bytes = encode(PayloadKind::Binary, &stamp(), 0);
        assert_eq!(decode(&bytes[..bytes.len() - 1]), None);
        assert_eq!(decode(&bytes[..10]), None);
    }
}
