//! Just enough DER to move between the key encodings docs/protocol.md §2 names (PKCS#8 ↔ PKCS#1,
//! SPKI ↔ PKCS#1, SEC1 from a scalar).

/// One TLV read from the front of `input`: (tag, contents, rest).
pub(crate) fn read_tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let (bytes, tail) = rest.split_at(n);
        rest = tail;
        bytes.iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b))
    };
    if rest.len() < len {
        return None;
    }
    let (contents, tail) = rest.split_at(len);
    Some((tag, contents, tail))
}

/// The contents of a TLV with `tag` at the front of `input`, and what follows it.
pub(crate) fn expect(tag: u8, input: &[u8]) -> Option<(&[u8], &[u8])> {
    let (found, contents, rest) = read_tlv(input)?;
    (found == tag).then_some((contents, rest))
}

/// Encodes one TLV.
pub(crate) fn tlv(tag: u8, contents: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = contents.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(contents);
    out
}

/// Tags used here.
pub(crate) const INTEGER: u8 = 0x02;
pub(crate) const BIT_STRING: u8 = 0x03;
pub(crate) const OCTET_STRING: u8 = 0x04;
pub(crate) const OID: u8 = 0x06;
pub(crate) const SEQUENCE: u8 = 0x30;

/// DER of the OID `rsaEncryption` (1.2.840.113549.1.1.1), contents only.
pub(crate) const OID_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
/// `id-ecPublicKey` (1.2.840.10045.2.1).
pub(crate) const OID_EC: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
/// `prime256v1` (1.2.840.10045.3.1.7).
pub(crate) const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

/// The key algorithm of an SPKI or PKCS#8 `AlgorithmIdentifier`: (algorithm OID, curve OID).
fn algorithm(alg_id: &[u8]) -> Option<(&[u8], Option<&[u8]>)> {
    let (oid, rest) = expect(OID, alg_id)?;
    let curve = expect(OID, rest).map(|(c, _)| c);
    Some((oid, curve))
}

/// A public key read from SPKI DER.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SpkiKey {
    /// RSA: the PKCS#1 `RSAPublicKey` DER.
    Rsa(Vec<u8>),
    /// EC on P-256: the uncompressed point.
    P256(Vec<u8>),
    /// EC on another curve, or another algorithm.
    Other,
}

/// Reads an SPKI (`SubjectPublicKeyInfo`) DER; `None` when it is not one.
pub(crate) fn parse_spki(der: &[u8]) -> Option<SpkiKey> {
    let (spki, _) = expect(SEQUENCE, der)?;
    let (alg_id, rest) = expect(SEQUENCE, spki)?;
    let (bits, _) = expect(BIT_STRING, rest)?;
    let (&unused, key) = bits.split_first()?;
    if unused != 0 {
        return None;
    }
    Some(match algorithm(alg_id)? {
        (OID_RSA, _) => {
            rsa_modulus_bits(key)?;
            SpkiKey::Rsa(key.to_vec())
        }
        (OID_EC, Some(OID_P256)) if key.len() == 65 && key[0] == 4 => SpkiKey::P256(key.to_vec()),
        _ => SpkiKey::Other,
    })
}

/// Builds the SPKI DER of a PKCS#1 `RSAPublicKey`.
pub(crate) fn rsa_spki(pkcs1: &[u8]) -> Vec<u8> {
    let alg = [tlv(OID, OID_RSA), vec![0x05, 0x00]].concat();
    let mut bits = vec![0u8];
    bits.extend_from_slice(pkcs1);
    tlv(SEQUENCE, &[tlv(SEQUENCE, &alg), tlv(BIT_STRING, &bits)].concat())
}

/// The modulus size in bits of a PKCS#1 `RSAPublicKey`.
pub(crate) fn rsa_modulus_bits(pkcs1: &[u8]) -> Option<u32> {
    let (seq, _) = expect(SEQUENCE, pkcs1)?;
    let (modulus, rest) = expect(INTEGER, seq)?;
    expect(INTEGER, rest)?;
    let modulus = trim_zeros(modulus);
    let first = *modulus.first()?;
    let bits = (modulus.len() as u32 - 1) * 8 + (8 - first.leading_zeros());
    Some(bits)
}

/// The modulus and public exponent of a PKCS#1 `RSAPublicKey`, unsigned big-endian.
pub(crate) fn rsa_components(pkcs1: &[u8]) -> Option<(&[u8], &[u8])> {
    let (seq, _) = expect(SEQUENCE, pkcs1)?;
    let (modulus, rest) = expect(INTEGER, seq)?;
    let (exponent, _) = expect(INTEGER, rest)?;
    Some((trim_zeros(modulus), trim_zeros(exponent)))
}

/// Whether a PKCS#8 `PrivateKeyInfo` holds an EC key (by its algorithm OID).
pub(crate) fn pkcs8_is_ec(pkcs8: &[u8]) -> bool {
    let alg = || {
        let (info, _) = expect(SEQUENCE, pkcs8)?;
        let (_version, rest) = expect(INTEGER, info)?;
        let (alg_id, _) = expect(SEQUENCE, rest)?;
        expect(OID, alg_id).map(|(oid, _)| oid)
    };
    alg() == Some(OID_EC)
}

/// The private key inside a PKCS#8 `PrivateKeyInfo`: PKCS#1 for RSA, SEC1 for EC.
pub(crate) fn pkcs8_inner(pkcs8: &[u8]) -> Option<&[u8]> {
    let (info, _) = expect(SEQUENCE, pkcs8)?;
    let (_version, rest) = expect(INTEGER, info)?;
    let (_alg, rest) = expect(SEQUENCE, rest)?;
    expect(OCTET_STRING, rest).map(|(key, _)| key)
}

/// SEC1 `ECPrivateKey` DER for a P-256 scalar, without the public key (the parser derives it).
pub(crate) fn p256_sec1(scalar: &[u8; 32]) -> Vec<u8> {
    let params = tlv(0xa0, &tlv(OID, OID_P256));
    let body = [tlv(INTEGER, &[1]), tlv(OCTET_STRING, scalar), params].concat();
    tlv(SEQUENCE, &body)
}

fn trim_zeros(bytes: &[u8]) -> &[u8] {
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    &bytes[skip..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lengths_round_trip() {
        let body = vec![7u8; 300];
        let enc = tlv(OCTET_STRING, &body);
        assert_eq!(&enc[..4], &[OCTET_STRING, 0x82, 0x01, 0x2c]);
        let (tag, contents, rest) = read_tlv(&enc).unwrap();
        assert_eq!((tag, contents.len(), rest.len()), (OCTET_STRING, 300, 0));
        assert!(read_tlv(&enc[..100]).is_none());
    }
}
