//! Where the devices' connections go and leave from: the bridge's addresses, resolved once
//! before the run, and the local source addresses the devices are spread over.
//!
//! A Linux host picks a connection's local port from one ephemeral range per source address
//! (32768–60999 by default), even ports first, and scans the ports already in use toward the
//! same bridge address and port on every connect. Past ~14,000 connections from one address,
//! each connect scans the whole even half: a 19,900-device storm on loopback spent 18 % of both
//! cores in that scan (BENCHMARKS.md, "Load generator"). Spreading devices over several source
//! addresses gives each address few connections.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, ToSocketAddrs};

use fleetgate_scenario::model::SourceAddresses;

/// Loopback source addresses `"auto"` spreads devices over, 127.0.0.1 onwards, when every IPv4
/// address of the bridge is loopback (IPv6 addresses are then connected to without a source),
/// on Linux.
const AUTO_LOOPBACK: u8 = 16;

/// The bridge's addresses, in the order the resolver gives them.
pub(super) fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, String> {
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve the bridge host `{host}`: {e}"))?
        .collect();
    if addrs.is_empty() {
        return Err(format!("the bridge host `{host}` resolves to no address"));
    }
    Ok(addrs)
}

/// Where this machine reaches a listener bound to `listening`: loopback of its family when it
/// listens on every address (`--listen 0.0.0.0:8883` for real devices joining a run).
pub(super) fn reachable(listening: SocketAddr) -> SocketAddr {
    match listening.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), listening.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), listening.port())
        }
        _ => listening,
    }
}

/// The source addresses devices are spread over; empty for the kernel's choice. Listed
/// addresses must be of this machine and of a family the bridge has.
pub(super) fn sources(
    wanted: &SourceAddresses,
    bridge: &[SocketAddr],
    file: &str,
) -> Result<Vec<IpAddr>, String> {
    match wanted {
        SourceAddresses::Auto => {
            let mut v4 = bridge.iter().filter(|a| a.is_ipv4()).peekable();
            // Linux answers on all of 127.0.0.0/8; other systems may have 127.0.0.1 alone.
            let loopback =
                cfg!(target_os = "linux") && v4.peek().is_some() && v4.all(|a| a.ip().is_loopback());
            Ok(if loopback {
                (1..=AUTO_LOOPBACK)
                    .map(|last| IpAddr::V4(Ipv4Addr::new(127, 0, 0, last)))
                    .collect()
            } else {
                Vec::new()
            })
        }
        SourceAddresses::Listed(listed) => {
            for ip in listed {
                if !bridge.iter().any(|a| a.is_ipv4() == ip.is_ipv4()) {
                    return Err(format!(
                        "{file}: [target] source_addresses: {ip} is of another IP family than every address of the bridge ({})",
                        list(bridge)
                    ));
                }
                TcpListener::bind((*ip, 0)).map_err(|e| {
                    format!(
                        "{file}: [target] source_addresses: {ip} is not an address of this machine ({e}); list addresses its interfaces have, or \"auto\""
                    )
                })?;
            }
            Ok(listed.clone())
        }
    }
}

/// The report's note on the source addresses, when devices were spread over more than one.
pub(super) fn note(sources: &[IpAddr]) -> Option<String> {
    let (first, last) = (sources.first()?, sources.last()?);
    (sources.len() > 1).then(|| {
        format!(
            "devices connected from {} source addresses in turn ({first} … {last}; [target] source_addresses)",
            sources.len()
        )
    })
}

fn list(addrs: &[SocketAddr]) -> String {
    addrs
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Vec<SocketAddr> {
        vec![text.parse().unwrap()]
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn auto_spreads_over_loopback_only_for_a_loopback_bridge() {
        let spread = sources(&SourceAddresses::Auto, &at("127.0.0.1:8883"), "s.toml").unwrap();
        assert_eq!(spread.len(), 16);
        assert_eq!(spread[0], IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_eq!(spread[15], IpAddr::V4(Ipv4Addr::new(127, 0, 0, 16)));
        assert!(
            sources(&SourceAddresses::Auto, &at("10.1.2.3:8883"), "s.toml")
                .unwrap()
                .is_empty()
        );
        assert!(
            sources(&SourceAddresses::Auto, &at("[::1]:8883"), "s.toml")
                .unwrap()
                .is_empty()
        );
        let both = vec!["[::1]:8883".parse().unwrap(), "127.0.0.1:8883".parse().unwrap()];
        assert_eq!(
            sources(&SourceAddresses::Auto, &both, "s.toml").unwrap().len(),
            16
        );
    }

    #[test]
    fn listed_addresses_must_be_local_and_of_the_bridges_family() {
        let ok = SourceAddresses::Listed(vec!["127.0.0.9".parse().unwrap()]);
        assert_eq!(sources(&ok, &at("127.0.0.1:1"), "s.toml").unwrap().len(), 1);
        let foreign = SourceAddresses::Listed(vec!["192.0.2.77".parse().unwrap()]);
        let err = sources(&foreign, &at("127.0.0.1:1"), "s.toml").unwrap_err();
        assert!(
            err.contains("s.toml") && err.contains("192.0.2.77 is not an address of this machine"),
            "{err}"
        );
        let v6 = SourceAddresses::Listed(vec!["::1".parse().unwrap()]);
        let err = sources(&v6, &at("127.0.0.1:1"), "s.toml").unwrap_err();
        assert!(err.contains("another IP family"), "{err}");
    }

    #[test]
    fn a_listener_on_every_address_is_reached_on_loopback() {
        let reach = |text: &str| reachable(text.parse().unwrap()).to_string();
        assert_eq!(reach("0.0.0.0:8883"), "127.0.0.1:8883");
        assert_eq!(reach("[::]:8883"), "[::1]:8883");
        assert_eq!(reach("192.168.1.5:8883"), "192.168.1.5:8883");
        assert_eq!(reach("127.0.0.1:41000"), "127.0.0.1:41000");
    }

    #[test]
    fn the_note_names_the_spread() {
        assert_eq!(note(&[]), None);
        assert_eq!(note(&["10.0.0.5".parse().unwrap()]), None);
        let spread = ["127.0.0.1".parse().unwrap(), "127.0.0.16".parse().unwrap()];
        assert_eq!(
            note(&spread).as_deref(),
            Some(
                "devices connected from 2 source addresses in turn (127.0.0.1 … 127.0.0.16; [target] source_addresses)"
            )
        );
    }

    #[test]
    fn an_unknown_host_is_named() {
        let err = resolve("no-such-host.invalid", 8883).unwrap_err();
        assert!(err.contains("no-such-host.invalid"), "{err}");
    }
}
