//! Authenticated push: the Google mock, the push-endpoint case catalogue and the reference
//! verifier (PROTOCOL.md §6).
//!
//! What will live here: the Google mock served over HTTP (JWKS at `/oauth2/v3/certs`, PEM
//! certificates at `/oauth2/v1/certs`, the OpenID configuration) with `Cache-Control: max-age`,
//! key rotation and request counting; the push-endpoint validation cases and their executor; the
//! reference push verifier (the embedded default endpoint); push load generation with goose.
