//! The bridge's MQTT session fed raw bytes, the way a connection's driver feeds it: the strict
//! MQTT 3.1.1 checks, rumqttc's decoder, then the session's rules, with timer ticks between
//! reads. The first byte picks the profile and how the input is cut into reads; a registry
//! accepts the password `good` for every device, so inputs can get past CONNECT.
#![no_main]

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use fleetgate_bridge::profile::Profile;
use fleetgate_bridge::session::{
    AuthVerdict, ConfigVersion, DeviceInfo, Read, Registry, RegistryPath, Session,
};
use libfuzzer_sys::fuzz_target;

const T0: i64 = 1_700_000_000_000;

struct Fake;

impl Registry for Fake {
    fn device(&self, id: &str) -> Option<DeviceInfo> {
        (!id.is_empty()).then_some(DeviceInfo {
            num_id: 1,
            blocked: id.starts_with('b'),
            gateway: id.starts_with('g'),
        })
    }
    fn is_bound(&self, _gateway: &str, device: &str) -> bool {
        device.len() % 2 == 0
    }
    fn authenticate(&self, _device: &str, jwt: &str, now_secs: i64) -> AuthVerdict {
        let result = if jwt == "good" {
            Ok(now_secs + 3600)
        } else {
            Err("jwt-signature".into())
        };
        AuthVerdict { claims: None, result }
    }
    fn latest_config(&self, _device: &str) -> Option<ConfigVersion> {
        Some(ConfigVersion {
            version: 1,
            data: Bytes::from_static(b"cfg"),
        })
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, data)) = data.split_first() else {
        return;
    };
    let profile = if mode & 1 == 0 {
        Profile::google()
    } else {
        Profile::clearblade()
    };
    let path = RegistryPath {
        project: "p".into(),
        region: "r".into(),
        registry: "reg".into(),
    };
    let mut session = Session::new(path, Arc::new(profile));
    let chunk = usize::from(mode >> 1).max(1);
    let mut input = BytesMut::new();
    let mut now = T0;
    for piece in data.chunks(chunk) {
        input.extend_from_slice(piece);
        loop {
            match session.read(&mut input, 64 * 1024) {
                Read::Packet(packet) => {
                    let _ = session.packet(packet, now, &Fake);
                }
                Read::NeedMore => break,
                Read::Closed(_) => return,
            }
        }
        now += 61_000;
        let _ = session.tick(now);
        let _ = session.forwarded(Some(1), Ok(()));
        if session.is_closed() {
            return;
        }
    }
});
