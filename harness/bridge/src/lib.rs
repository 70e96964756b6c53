//! The embedded IoT-Core-compatible MQTT bridge (PROTOCOL.md §1–§5).
//!
//! What will live here: MQTT 3.1.1 over TLS (tokio-rustls) with a sans-I/O session state machine
//! driven by a thin per-connection task; the device registry and its admin API; JWT
//! authentication through the identity crate's bridge rules; topic ACLs, events and subfolder
//! routing, state, config and commands, gateways; forwarding to Pub/Sub behind a small trait
//! (embedded emulator or an external one); the HTTP device bridge; connection and disconnect
//! events carrying claims, verdicts and causes; fault injection; profiles (`google`,
//! `clearblade`) for every rule PROTOCOL.md marks configurable.
