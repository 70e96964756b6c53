//! Virtual Raspberry Pis and the open-loop load engine.
//!
//! What will live here: a sans-I/O device state machine (connect, authenticate, subscribe to
//! config and commands, publish telemetry and state, refresh the token, back off, queue while
//! offline) driven by a task on rumqttc with one shared rustls client configuration; cohorts
//! built from the scenario (id template, key pool, clock model, token policy, telemetry schedule
//! with intended send times); phases (ramp, hold, ramp-down, churn).
