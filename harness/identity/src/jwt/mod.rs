//! Device JWTs (docs/protocol.md §2): minting with cached parsed keys and the device clock, reading a
//! presented token, and the named mutations a correct bridge must refuse.

mod decode;
mod mint;
pub mod mutations;

pub use decode::{DecodeError, Decoded, PresentedClaims, decode};
pub use mint::{DeviceClaims, MintedToken, TokenMinter, mint};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// A short fingerprint of a token: the first 16 hex digits of its SHA-256. Tells a reused
/// token from a fresh one without keeping the token itself.
pub fn fingerprint(token: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
    digest.as_ref()[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// Builds a compact JWS from header and payload JSON, signing `header.payload` with `sign`.
pub(crate) fn compact<E>(
    header_json: &str,
    payload_json: &str,
    sign: impl FnOnce(&[u8]) -> Result<Vec<u8>, E>,
) -> Result<String, E> {
    let mut token = String::with_capacity(header_json.len() * 2 + payload_json.len() * 2 + 400);
    URL_SAFE_NO_PAD.encode_string(header_json, &mut token);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(payload_json, &mut token);
    let signature = sign(token.as_bytes())?;
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(signature, &mut token);
    Ok(token)
}
