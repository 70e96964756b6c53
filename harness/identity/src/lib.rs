//! Identity material for every other fleetgate component: pure, no async runtime.
//!
//! What will live here (PROTOCOL.md §2 and §6):
//!
//! - RSA (1024–4096 bits) and P-256 keys, the four IoT Core credential formats (`RSA_PEM`,
//!   `RSA_X509_PEM`, `ES256_PEM`, `ES256_X509_PEM`) and a catalogue of malformed variants;
//! - key pools generated once (`fleetgate keys generate`) and loaded fast by the runner;
//! - device JWT minting with a per-device clock model (skew, drift, unsynced clock) and the named
//!   token mutations a correct bridge must refuse;
//! - the bridge's JWT rules as a sans-I/O check returning `Accept` or a typed refusal reason;
//! - the Google mock identity: signing keys with `kid`, rotation, OIDC push tokens and their
//!   mutations, the JWKS, PEM-certificates and OpenID configuration documents.
