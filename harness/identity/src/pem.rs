//! Strict PEM: one block, LF line endings, standard base64 body. Each way a PEM can be wrong in
//! the field (docs/protocol.md §2) is its own error, so registration can name it.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// Why a text is not a PEM block of the expected kind.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PemError {
    /// No `-----BEGIN …-----` line at all (a bare base64 body, or not PEM).
    #[error("no `-----BEGIN …-----` header line")]
    NoHeader,
    /// The `BEGIN` line has no matching `END` line.
    #[error("`-----BEGIN {0}-----` has no matching `-----END {0}-----` line")]
    NoFooter(String),
    /// Windows (`\r\n`) line endings.
    #[error("Windows (CRLF) line endings; PEM here uses LF only")]
    CrlfLineEndings,
    /// The body is not valid base64 (for example truncated).
    #[error("the base64 body is invalid or truncated")]
    BadBase64,
}

/// One decoded PEM block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PemBlock {
    /// The label, such as `PUBLIC KEY` or `CERTIFICATE`.
    pub label: String,
    /// The DER contents.
    pub der: Vec<u8>,
}

/// Encodes DER as a PEM block with 64-column lines and LF endings.
pub fn encode(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut out = String::with_capacity(body.len() + body.len() / 64 + 2 * label.len() + 40);
    out.push_str("-----BEGIN ");
    out.push_str(label);
    out.push_str("-----\n");
    for chunk in body.as_bytes().chunks(64) {
        out.extend(chunk.iter().map(|b| char::from(*b)));
        out.push('\n');
    }
    out.push_str("-----END ");
    out.push_str(label);
    out.push_str("-----\n");
    out
}

/// Decodes the first PEM block of `text`.
pub fn decode(text: &str) -> Result<PemBlock, PemError> {
    if text.contains('\r') {
        return Err(PemError::CrlfLineEndings);
    }
    let start = text.find("-----BEGIN ").ok_or(PemError::NoHeader)?;
    let after = &text[start + "-----BEGIN ".len()..];
    let (label, rest) = after.split_once("-----").ok_or(PemError::NoHeader)?;
    let footer = format!("-----END {label}-----");
    let end = rest
        .find(&footer)
        .ok_or_else(|| PemError::NoFooter(label.to_owned()))?;
    let body: String = rest[..end].split_whitespace().collect();
    let der = STANDARD.decode(body).map_err(|_| PemError::BadBase64)?;
    if der.is_empty() {
        return Err(PemError::BadBase64);
    }
    Ok(PemBlock {
        label: label.to_owned(),
        der,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_names_each_defect() {
        let pem = encode("PUBLIC KEY", &[1u8; 100]);
        let block = decode(&pem).unwrap();
        assert_eq!(block.label, "PUBLIC KEY");
        assert_eq!(block.der, vec![1u8; 100]);
        assert_eq!(decode(&pem.replace('\n', "\r\n")), Err(PemError::CrlfLineEndings));
        let bare: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        assert_eq!(decode(&bare), Err(PemError::NoHeader));
        let truncated = pem.replacen("AQEB\n", "AQ\n", 1);
        assert_eq!(decode(&truncated), Err(PemError::BadBase64));
        let no_footer = pem.replace("-----END PUBLIC KEY-----", "");
        assert_eq!(decode(&no_footer), Err(PemError::NoFooter("PUBLIC KEY".into())));
    }
}
