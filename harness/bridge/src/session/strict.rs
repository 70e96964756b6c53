//! MQTT 3.1.1 MUSTs checked on a packet's raw bytes, before rumqttc's v4 decoder sees them: that
//! decoder is lenient (it reads a CONNECT of level 5 as MQTT 5, ignores reserved and fixed-header
//! flags, and makes a login from a password alone), so what it returns cannot tell a strict
//! bridge what the client sent. Pure: bytes in, a verdict out.

use crate::safety::SafetyCheck;

/// A packet that breaks a MUST of MQTT 3.1.1 in its first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Violation {
    /// A CONNECT whose protocol name is not `MQTT` (MQTT-3.1.2-1): close without CONNACK.
    ProtocolName,
    /// A CONNECT whose protocol level is not 4 (MQTT-3.1.2-2): CONNACK 0x01, then close. MQTT 5
    /// clients (level 5) and MQTT 3.1 ones (`MQIsdp`, level 3) included.
    ProtocolLevel(u8),
    /// The CONNECT's reserved flag is set (MQTT-3.1.2-3).
    ConnectReservedFlag,
    /// A password without the user-name flag (MQTT-3.1.2-22).
    PasswordWithoutUsername,
    /// Fixed-header flags other than the ones specified for the packet type (MQTT-2.2.2-2), a
    /// PUBLISH with both QoS bits set (MQTT-3.3.1-4), or a reserved packet type (0 or 15).
    FixedHeaderFlags {
        /// The packet type, 0–15.
        kind: u8,
        /// The four flag bits sent.
        flags: u8,
    },
}

impl Violation {
    /// The safety check that enforces this rule (the conformance self-check turns it off).
    pub fn safety(self) -> SafetyCheck {
        match self {
            Self::ProtocolName | Self::ProtocolLevel(_) => SafetyCheck::ProtocolLevel,
            Self::ConnectReservedFlag => SafetyCheck::ConnectReservedFlag,
            Self::PasswordWithoutUsername => SafetyCheck::PasswordWithoutUsername,
            Self::FixedHeaderFlags { .. } => SafetyCheck::FixedHeaderFlags,
        }
    }

    /// What was wrong, with the clause of the standard.
    pub fn describe(self) -> String {
        match self {
            Self::ProtocolName => "CONNECT protocol name is not MQTT (MQTT-3.1.2-1)".to_owned(),
            Self::ProtocolLevel(level) => {
                format!("CONNECT protocol level {level}, only 4 (MQTT 3.1.1) is served (MQTT-3.1.2-2)")
            }
            Self::ConnectReservedFlag => "CONNECT reserved flag set (MQTT-3.1.2-3)".to_owned(),
            Self::PasswordWithoutUsername => {
                "CONNECT password flag without the user-name flag (MQTT-3.1.2-22)".to_owned()
            }
            Self::FixedHeaderFlags { kind, flags } => format!(
                "{} with fixed-header flags {flags:#06b} (MQTT-2.2.2-2, MQTT-3.3.1-4)",
                type_name(kind)
            ),
        }
    }
}

/// What the first bytes of a packet say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inspection {
    /// Not enough bytes yet to judge.
    NeedMore,
    /// Nothing wrong in what is checked here; decode it.
    Decode,
    /// A violation.
    Violation(Violation),
}

/// Inspects the packet at the start of `input`.
pub fn inspect(input: &[u8]) -> Inspection {
    let Some(&first) = input.first() else {
        return Inspection::NeedMore;
    };
    let (kind, flags) = (first >> 4, first & 0x0f);
    if let Some(violation) = fixed_header(kind, flags) {
        return Inspection::Violation(violation);
    }
    if kind != 1 {
        return Inspection::Decode;
    }
    let Some((remaining, header_len)) = remaining_length(&input[1..]) else {
        return match input.len() > 5 {
            true => Inspection::Decode,
            false => Inspection::NeedMore,
        };
    };
    connect(&input[1 + header_len..], remaining)
}

/// The flags MQTT 3.1.1 table 2.2 allows for a packet type; `None` for reserved types.
fn fixed_header(kind: u8, flags: u8) -> Option<Violation> {
    let allowed = match kind {
        // PUBLISH: DUP, QoS and RETAIN are free, but QoS 3 is malformed.
        3 => flags & 0b0110 != 0b0110,
        // PUBREL, SUBSCRIBE, UNSUBSCRIBE.
        6 | 8 | 10 => flags == 0b0010,
        1..=14 => flags == 0,
        _ => false,
    };
    (!allowed).then_some(Violation::FixedHeaderFlags { kind, flags })
}

/// The remaining length and how many bytes encode it; `None` while incomplete or malformed.
fn remaining_length(bytes: &[u8]) -> Option<(usize, usize)> {
    let mut value = 0usize;
    for (i, &byte) in bytes.iter().take(4).enumerate() {
        value |= usize::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

/// The CONNECT variable header: protocol name, level and flags.
fn connect(body: &[u8], remaining: usize) -> Inspection {
    let available = body.len().min(remaining);
    let Some(name_len) = body
        .get(..2)
        .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
    else {
        return need(available, remaining);
    };
    let Some(name) = body.get(2..2 + name_len) else {
        return need(available, remaining);
    };
    let (Some(&level), Some(&flags)) = (body.get(2 + name_len), body.get(3 + name_len)) else {
        return need(available, remaining);
    };
    if name != b"MQTT" {
        // MQTT 3.1 (`MQIsdp`, level 3) is a protocol version the server does not serve.
        return Inspection::Violation(match (name, level) {
            (b"MQIsdp", level) => Violation::ProtocolLevel(level),
            _ => Violation::ProtocolName,
        });
    }
    if level != 4 {
        return Inspection::Violation(Violation::ProtocolLevel(level));
    }
    if flags & 0x01 != 0 {
        return Inspection::Violation(Violation::ConnectReservedFlag);
    }
    if flags & 0x40 != 0 && flags & 0x80 == 0 {
        return Inspection::Violation(Violation::PasswordWithoutUsername);
    }
    Inspection::Decode
}

/// More bytes are needed unless the packet is already whole (then it is too short, and the
/// decoder refuses it as malformed).
fn need(available: usize, remaining: usize) -> Inspection {
    match available < remaining {
        true => Inspection::NeedMore,
        false => Inspection::Decode,
    }
}

fn type_name(kind: u8) -> &'static str {
    match kind {
        1 => "CONNECT",
        2 => "CONNACK",
        3 => "PUBLISH",
        4 => "PUBACK",
        5 => "PUBREC",
        6 => "PUBREL",
        7 => "PUBCOMP",
        8 => "SUBSCRIBE",
        9 => "SUBACK",
        10 => "UNSUBSCRIBE",
        11 => "UNSUBACK",
        12 => "PINGREQ",
        13 => "PINGRESP",
        14 => "DISCONNECT",
        _ => "a reserved packet type",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A CONNECT's first bytes: name, level, flags, keep-alive.
    fn connect(name: &[u8], level: u8, flags: u8) -> Vec<u8> {
        let mut body = vec![0, u8::try_from(name.len()).unwrap_or(0)];
        body.extend_from_slice(name);
        body.extend_from_slice(&[level, flags, 0, 60, 0, 1, b'c']);
        let mut packet = vec![0x10, u8::try_from(body.len()).unwrap_or(0)];
        packet.extend(body);
        packet
    }

    #[test]
    fn a_well_formed_connect_is_decoded() {
        assert_eq!(inspect(&connect(b"MQTT", 4, 0xc2)), Inspection::Decode);
    }

    #[test]
    fn protocol_levels_other_than_4_are_named() {
        for level in [3, 5, 6] {
            assert_eq!(
                inspect(&connect(b"MQTT", level, 0x02)),
                Inspection::Violation(Violation::ProtocolLevel(level))
            );
        }
        assert_eq!(
            inspect(&connect(b"MQIsdp", 3, 0x02)),
            Inspection::Violation(Violation::ProtocolLevel(3))
        );
        assert_eq!(
            inspect(&connect(b"HTTP", 4, 0x02)),
            Inspection::Violation(Violation::ProtocolName)
        );
    }

    #[test]
    fn connect_flags_are_checked() {
        assert_eq!(
            inspect(&connect(b"MQTT", 4, 0x03)),
            Inspection::Violation(Violation::ConnectReservedFlag)
        );
        assert_eq!(
            inspect(&connect(b"MQTT", 4, 0x42)),
            Inspection::Violation(Violation::PasswordWithoutUsername)
        );
    }

    #[test]
    fn fixed_header_flags_follow_table_2_2() {
        let wrong = |first: u8| inspect(&[first, 0]);
        for first in [0x30, 0x3b, 0x82, 0xa2, 0xc0, 0x62] {
            assert_eq!(wrong(first), Inspection::Decode, "{first:#04x}");
        }
        for first in [0x36, 0x80, 0xa0, 0xc1, 0x11, 0x00, 0xf0, 0xe1] {
            assert!(
                matches!(
                    wrong(first),
                    Inspection::Violation(Violation::FixedHeaderFlags { .. })
                ),
                "{first:#04x}"
            );
        }
    }

    #[test]
    fn partial_connects_wait_and_short_ones_go_to_the_decoder() {
        let whole = connect(b"MQTT", 5, 0x02);
        for cut in 0..10 {
            assert_eq!(inspect(&whole[..cut]), Inspection::NeedMore, "{cut} bytes");
        }
        assert_eq!(inspect(&[0x10, 0x02, 0x00, 0x04]), Inspection::Decode);
        assert_eq!(inspect(&[0x10, 0xff, 0xff, 0xff, 0xff, 0x01]), Inspection::Decode);
    }
}
