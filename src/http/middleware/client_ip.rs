//! Which client a request comes from, as the per-address rate limits key
//! it.
//!
//! The peer of the connection is the client unless it is one of
//! `server.trusted_proxies`. Behind those, the client is read from the one
//! header the proxies append to (`server.forwarded_header`): its hops are
//! read from the right, skipping the trusted proxies, and the first address
//! that is not one is the client. Everything left of it the client could
//! have written itself, so it is never believed. IPv6 clients are keyed by
//! their /64: one host usually has a whole /64 to pick addresses from.

use crate::config::ForwardedHeader;
use actix_web::http::header::HeaderMap;
use ipnet::IpNet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub struct TrustedProxies {
    nets: Vec<IpNet>,
    header: ForwardedHeader,
}

impl TrustedProxies {
    pub fn new(nets: Vec<IpNet>, header: ForwardedHeader) -> Self {
        Self { nets, header }
    }

    /// The rate-limit key of the client of a request from `peer` (`None`:
    /// not a network connection, as in unit tests) with `headers`.
    pub fn client_key(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> IpAddr {
        let Some(peer) = peer.map(|ip| ip.to_canonical()) else {
            return IpAddr::V4(Ipv4Addr::UNSPECIFIED);
        };
        let client = if self.trusts(peer) {
            self.forwarded_client(headers).unwrap_or(peer)
        } else {
            peer
        };
        key(client)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.nets.iter().any(|net| net.contains(&ip))
    }

    /// The right-most hop of the forwarding header that is not a trusted
    /// proxy. A hop that is not an address (`unknown`, an obfuscated name,
    /// garbage) ends the walk at the trusted hop right of it: nothing
    /// further left can be told apart from what the client wrote. When all
    /// hops are trusted, the left-most is the client.
    fn forwarded_client(&self, headers: &HeaderMap) -> Option<IpAddr> {
        // Several header lines are one list, in order (RFC 9110, 5.3).
        let name = match self.header {
            ForwardedHeader::XForwardedFor => "x-forwarded-for",
            ForwardedHeader::Forwarded => "forwarded",
        };
        let lines: Vec<Option<&str>> = headers.get_all(name).map(|v| v.to_str().ok()).collect();
        let mut nearest = None;
        for line in lines.iter().rev() {
            let Some(line) = line else {
                return nearest;
            };
            for hop in line.rsplit(',') {
                let address = match self.header {
                    ForwardedHeader::XForwardedFor => node_address(hop),
                    ForwardedHeader::Forwarded => forwarded_for(hop).and_then(node_address),
                };
                match address {
                    Some(ip) if !self.trusts(ip) => return Some(ip),
                    Some(ip) => nearest = Some(ip),
                    None => return nearest,
                }
            }
        }
        nearest
    }
}

/// The `for=` value of one `Forwarded` element (`for=192.0.2.60;proto=http`).
fn forwarded_for(element: &str) -> Option<&str> {
    element.split(';').find_map(|pair| {
        let (name, value) = pair.trim().split_once('=')?;
        name.trim().eq_ignore_ascii_case("for").then_some(value)
    })
}

/// The address of a node as proxies write it: `192.0.2.1`, `192.0.2.1:4711`,
/// `2001:db8::1`, `[2001:db8::1]:4711`, quoted or not.
fn node_address(node: &str) -> Option<IpAddr> {
    let node = node.trim().trim_matches('"');
    if let Some(bracketed) = node.strip_prefix('[') {
        let (v6, _port) = bracketed.split_once(']')?;
        return v6
            .parse::<Ipv6Addr>()
            .ok()
            .map(|ip| IpAddr::V6(ip).to_canonical());
    }
    if let Ok(ip) = node.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    // An IPv4 address with a port: one colon only.
    let (host, port) = node.split_once(':')?;
    if port.parse::<u16>().is_err() {
        return None;
    }
    host.parse::<Ipv4Addr>().ok().map(IpAddr::V4)
}

/// An address as a rate-limit key: IPv4 whole, IPv6 by its /64.
fn key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(
            u128::from(v6) & 0xffff_ffff_ffff_ffff_0000_0000_0000_0000,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn proxies(nets: &[&str], header: ForwardedHeader) -> TrustedProxies {
        let nets = nets.iter().filter_map(|n| n.parse().ok()).collect();
        TrustedProxies::new(nets, header)
    }

    fn headers(name: &'static str, lines: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for line in lines {
            if let Ok(value) = HeaderValue::from_str(line) {
                headers.append(HeaderName::from_static(name), value);
            }
        }
        headers
    }

    fn ip(s: &str) -> Option<IpAddr> {
        s.parse().ok()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_writes() {
        let p = proxies(&["10.0.0.0/8"], ForwardedHeader::XForwardedFor);
        let h = headers("x-forwarded-for", &["203.0.113.9"]);
        assert_eq!(
            p.client_key(ip("198.51.100.7"), &h),
            ip("198.51.100.7").unwrap()
        );
    }

    #[test]
    fn behind_trusted_proxies_the_rightmost_untrusted_hop_is_the_client() {
        let p = proxies(
            &["10.0.0.0/8", "127.0.0.1/32"],
            ForwardedHeader::XForwardedFor,
        );
        let peer = ip("127.0.0.1");
        // The client forged the first entry; 198.51.100.7 is who reached 10.0.0.2.
        let h = headers("x-forwarded-for", &["6.6.6.6, 198.51.100.7", "10.0.0.2"]);
        assert_eq!(p.client_key(peer, &h), ip("198.51.100.7").unwrap());
        // No header: the proxy itself.
        assert_eq!(p.client_key(peer, &HeaderMap::new()), peer.unwrap());
        // All hops trusted: the left-most.
        let h = headers("x-forwarded-for", &["10.1.1.1, 10.0.0.2"]);
        assert_eq!(p.client_key(peer, &h), ip("10.1.1.1").unwrap());
        // Garbage stops the walk at the trusted hop right of it.
        let h = headers("x-forwarded-for", &["1.2.3.4, unknown, 10.0.0.2"]);
        assert_eq!(p.client_key(peer, &h), ip("10.0.0.2").unwrap());
        // Ports are not part of the address.
        let h = headers("x-forwarded-for", &["198.51.100.7:5555"]);
        assert_eq!(p.client_key(peer, &h), ip("198.51.100.7").unwrap());
    }

    #[test]
    fn only_the_configured_header_is_read() {
        let p = proxies(&["127.0.0.1/32"], ForwardedHeader::Forwarded);
        let peer = ip("127.0.0.1");
        let mut h = headers(
            "forwarded",
            &["for=6.6.6.6, for=\"[2001:db8:1:2::9]:4711\";proto=https"],
        );
        h.append(
            HeaderName::from_static("x-forwarded-for"),
            HeaderValue::from_static("7.7.7.7"),
        );
        assert_eq!(p.client_key(peer, &h), ip("2001:db8:1:2::").unwrap());
        let h = headers("forwarded", &["for=192.0.2.60;proto=http;by=203.0.113.43"]);
        assert_eq!(p.client_key(peer, &h), ip("192.0.2.60").unwrap());
    }

    #[test]
    fn ipv6_clients_are_keyed_by_their_64_and_mapped_ipv4_as_ipv4() {
        let p = proxies(&[], ForwardedHeader::XForwardedFor);
        let none = HeaderMap::new();
        assert_eq!(
            p.client_key(ip("2001:db8:aa:bb:1:2:3:4"), &none),
            ip("2001:db8:aa:bb::").unwrap()
        );
        assert_eq!(
            p.client_key(ip("::ffff:192.0.2.1"), &none),
            ip("192.0.2.1").unwrap()
        );
    }
}
