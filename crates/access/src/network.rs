//! IP allow-lists, and the real client address of a request that came through proxies.
//!
//! An application may be restricted to the addresses its agreement names (a department's
//! office network, a data centre). Behind a load balancer the TCP peer is the balancer, so
//! the client address has to be read from `X-Forwarded-For`, but only as far as the hops
//! that wrote it are trusted: see [`client_ip`].

use std::net::{IpAddr, SocketAddr};

use ipnet::{IpNet, Ipv4Net};

/// Longest part of an offending entry repeated in an error, so that a pasted blob does not
/// end up whole in logs and API responses.
const MAX_ECHOED_ENTRY: usize = 64;

/// Why an address list could not be read. `index` counts from 0, as in the list given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetworkError {
    #[error("entry at index {index} ({entry:?}) is not an IP address or CIDR block")]
    InvalidEntry { index: usize, entry: String },
    #[error(
        "entry at index {index} ({entry:?}) has bits set after its prefix length: the block it starts is {network}"
    )]
    HostBitsSet {
        index: usize,
        entry: String,
        network: String,
    },
}

impl NetworkError {
    /// A stable identifier for API error bodies and logs.
    pub fn code(&self) -> &'static str {
        match self {
            NetworkError::InvalidEntry { .. } => "network.invalid_entry",
            NetworkError::HostBitsSet { .. } => "network.host_bits_set",
        }
    }
}

/// The addresses an application may call from. An empty list allows nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList {
    nets: Vec<IpNet>,
}

impl AllowList {
    /// Reads single addresses (`203.0.113.7`, `2001:db8::1`) and CIDR blocks (`203.0.113.0/24`,
    /// `2001:db8::/32`), surrounding whitespace ignored.
    ///
    /// A block with bits set after its prefix (`203.0.113.7/24`) is refused rather than
    /// widened: it is more likely a mistyped single host than a request for the whole block.
    /// IPv4-mapped IPv6 entries (`::ffff:203.0.113.7`) are stored as IPv4, which is how
    /// [`AllowList::allows`] compares addresses.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<AllowList, NetworkError> {
        parse_nets(entries).map(|nets| AllowList { nets })
    }

    /// Whether `ip` is in one of the blocks. An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`,
    /// as a dual-stack socket reports IPv4 peers) is treated as the IPv4 address.
    pub fn allows(&self, ip: IpAddr) -> bool {
        contains(&self.nets, ip.to_canonical())
    }

    /// Whether the list lets in every address of a family (`0.0.0.0/0` or `::/0`), which the
    /// admin interface should warn about.
    pub fn is_open(&self) -> bool {
        self.nets.iter().any(|net| net.prefix_len() == 0)
    }

    pub fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }

    /// The entries in normalised text, for storing and showing: single hosts as plain
    /// addresses, blocks as `network/prefix`.
    pub fn entries(&self) -> Vec<String> {
        self.nets.iter().map(|net| entry_text(*net)).collect()
    }
}

/// The proxies (load balancers, reverse proxies) whose `X-Forwarded-For` entries are
/// believed. Empty, the default, trusts no proxy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    nets: Vec<IpNet>,
}

impl TrustedProxies {
    /// Reads the proxies' addresses and blocks as [`AllowList::parse`] does.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<TrustedProxies, NetworkError> {
        parse_nets(entries).map(|nets| TrustedProxies { nets })
    }

    /// Trusts no proxy: the TCP peer is always the client.
    pub fn none() -> TrustedProxies {
        TrustedProxies::default()
    }

    pub fn trusts(&self, ip: IpAddr) -> bool {
        contains(&self.nets, ip.to_canonical())
    }

    pub fn entries(&self) -> Vec<String> {
        self.nets.iter().map(|net| entry_text(*net)).collect()
    }
}

/// The address of the client that made a request, given the TCP peer and the values of the
/// request's `X-Forwarded-For` headers.
///
/// - If the peer is not a trusted proxy, the peer is the client, whatever `X-Forwarded-For`
///   says: a client cannot choose the address it is checked and counted under.
/// - If it is, the header entries (all header values in order, each split on commas) are
///   walked from the right, that is from the hop nearest to us. Entries that are themselves
///   trusted proxies are skipped; the first untrusted address is the client.
/// - An entry that is not an address stops the walk, and the last trusted hop seen is the
///   client (the peer itself if the rightmost entry is unreadable): an unreadable value is
///   never returned, and nothing left of it is believed.
/// - If every entry is a trusted proxy, the leftmost one is the client.
///
/// Entries are plain addresses with optional surrounding whitespace; `1.2.3.4:5678`,
/// `[2001:db8::1]:443` and `[2001:db8::1]` are read as their address. The result is
/// canonical: an IPv4-mapped IPv6 address is returned as the IPv4 address, so that allow
/// lists and rate limits see one form.
pub fn client_ip(peer: IpAddr, forwarded_for: &[&str], trusted: &TrustedProxies) -> IpAddr {
    let mut client = peer.to_canonical();
    if !trusted.trusts(client) {
        return client;
    }
    let hops = forwarded_for
        .iter()
        .rev()
        .flat_map(|value| value.rsplit(','));
    for hop in hops {
        let Some(hop) = parse_hop(hop) else {
            break;
        };
        client = hop;
        if !trusted.trusts(hop) {
            break;
        }
    }
    client
}

fn parse_hop(text: &str) -> Option<IpAddr> {
    let text = text.trim();
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    if let Ok(socket) = text.parse::<SocketAddr>() {
        return Some(socket.ip().to_canonical());
    }
    let bracketed = text.strip_prefix('[')?.strip_suffix(']')?;
    bracketed
        .parse::<std::net::Ipv6Addr>()
        .ok()
        .map(|ip| IpAddr::V6(ip).to_canonical())
}

fn contains(nets: &[IpNet], ip: IpAddr) -> bool {
    nets.iter().any(|net| net.contains(&ip))
}

fn parse_nets<S: AsRef<str>>(entries: &[S]) -> Result<Vec<IpNet>, NetworkError> {
    entries
        .iter()
        .enumerate()
        .map(|(index, entry)| parse_net(index, entry.as_ref()))
        .collect()
}

fn parse_net(index: usize, entry: &str) -> Result<IpNet, NetworkError> {
    let text = entry.trim();
    let net = if let Ok(ip) = text.parse::<IpAddr>() {
        IpNet::from(ip)
    } else if let Ok(net) = text.parse::<IpNet>() {
        net
    } else {
        return Err(NetworkError::InvalidEntry {
            index,
            entry: echoed(entry),
        });
    };
    if net.trunc() != net {
        return Err(NetworkError::HostBitsSet {
            index,
            entry: echoed(entry),
            network: entry_text(canonical_net(net.trunc())),
        });
    }
    Ok(canonical_net(net))
}

/// `::ffff:a.b.c.d/n` with n ≥ 96 as the IPv4 block it covers, since addresses are compared
/// in their canonical (IPv4) form.
fn canonical_net(net: IpNet) -> IpNet {
    if let IpNet::V6(v6) = net
        && v6.prefix_len() >= 96
        && let Some(v4) = v6.network().to_ipv4_mapped()
        && let Ok(v4net) = Ipv4Net::new(v4, v6.prefix_len() - 96)
    {
        return IpNet::V4(v4net);
    }
    net
}

fn entry_text(net: IpNet) -> String {
    if net.prefix_len() == net.max_prefix_len() {
        net.addr().to_string()
    } else {
        net.to_string()
    }
}

fn echoed(entry: &str) -> String {
    entry.chars().take(MAX_ECHOED_ENTRY).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::net::Ipv4Addr;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an IP address")
    }

    fn proxies(entries: &[&str]) -> TrustedProxies {
        TrustedProxies::parse(entries).expect("valid proxies")
    }

    #[test]
    fn parses_hosts_and_blocks_of_both_families() {
        let list = AllowList::parse(&[
            "203.0.113.7",
            " 198.51.100.0/24 ",
            "2001:db8::/32",
            "2001:db8:ffff::1",
        ])
        .expect("valid");
        assert_eq!(
            list.entries(),
            [
                "203.0.113.7",
                "198.51.100.0/24",
                "2001:db8::/32",
                "2001:db8:ffff::1"
            ]
        );
        assert!(list.allows(ip("203.0.113.7")));
        assert!(!list.allows(ip("203.0.113.8")));
        assert!(list.allows(ip("198.51.100.255")));
        assert!(!list.allows(ip("198.51.101.0")));
        assert!(list.allows(ip("2001:db8:1234::5")));
        assert!(!list.allows(ip("2001:db9::1")));
        assert!(!list.is_open());
        // The normalised entries read back to the same list.
        assert_eq!(AllowList::parse(&list.entries()), Ok(list));
    }

    #[test]
    fn error_names_the_entry_and_its_index() {
        let error = AllowList::parse(&["10.0.0.1", "10.0.0.0/8", "::1", "10.0.0.300/8"])
            .expect_err("invalid");
        assert_eq!(
            error,
            NetworkError::InvalidEntry {
                index: 3,
                entry: "10.0.0.300/8".to_owned()
            }
        );
        assert_eq!(error.code(), "network.invalid_entry");
        assert_eq!(
            error.to_string(),
            "entry at index 3 (\"10.0.0.300/8\") is not an IP address or CIDR block"
        );
        for junk in [
            "",
            "example.org",
            "10.0.0.0/33",
            "2001:db8::/129",
            "10.0.0.1:80",
        ] {
            assert!(AllowList::parse(&[junk]).is_err(), "{junk:?}");
        }
        let long = "x".repeat(1000);
        let NetworkError::InvalidEntry { entry, .. } =
            AllowList::parse(&[long.as_str()]).expect_err("invalid")
        else {
            panic!("an invalid entry");
        };
        assert_eq!(entry.len(), MAX_ECHOED_ENTRY);
    }

    #[test]
    fn host_bits_after_the_prefix_are_refused() {
        let error = AllowList::parse(&["203.0.113.7/24"]).expect_err("host bits");
        assert_eq!(error.code(), "network.host_bits_set");
        assert!(error.to_string().contains("203.0.113.0/24"));
    }

    #[test]
    fn empty_list_allows_nothing() {
        let list = AllowList::parse::<&str>(&[]).expect("valid");
        assert!(list.is_empty());
        assert!(!list.allows(ip("127.0.0.1")));
        assert!(!list.allows(ip("::1")));
    }

    #[test]
    fn open_lists_are_flagged() {
        assert!(AllowList::parse(&["0.0.0.0/0"]).expect("valid").is_open());
        assert!(AllowList::parse(&["::/0"]).expect("valid").is_open());
        let v4_open = AllowList::parse(&["0.0.0.0/0"]).expect("valid");
        assert!(v4_open.allows(ip("8.8.8.8")));
        assert!(!v4_open.allows(ip("2001:db8::1")));
    }

    #[test]
    fn mapped_ipv4_is_the_ipv4_address() {
        let list = AllowList::parse(&["203.0.113.0/24"]).expect("valid");
        assert!(list.allows(ip("::ffff:203.0.113.9")));
        assert!(!list.allows(ip("::ffff:203.0.114.9")));
        // Mapped entries are stored, and match, as IPv4.
        let mapped =
            AllowList::parse(&["::ffff:198.51.100.0/120", "::ffff:192.0.2.1"]).expect("valid");
        assert_eq!(mapped.entries(), ["198.51.100.0/24", "192.0.2.1"]);
        assert!(mapped.allows(ip("198.51.100.20")));
        assert!(mapped.allows(ip("::ffff:198.51.100.20")));
        assert!(mapped.allows(ip("192.0.2.1")));
    }

    #[test]
    fn untrusted_peer_is_the_client_whatever_the_header_says() {
        let trusted = proxies(&["10.0.0.0/8"]);
        let peer = ip("198.51.100.4");
        assert_eq!(client_ip(peer, &["203.0.113.7"], &trusted), peer);
        assert_eq!(client_ip(peer, &["10.0.0.1, 203.0.113.7"], &trusted), peer);
        // And with no proxy trusted at all, the default.
        assert_eq!(
            client_ip(ip("10.0.0.1"), &["203.0.113.7"], &TrustedProxies::none()),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn trusted_peer_passes_on_the_rightmost_untrusted_entry() {
        let trusted = proxies(&["10.0.0.0/8"]);
        let peer = ip("10.0.0.1");
        // The client put a forged address first; the proxy appended the real one.
        assert_eq!(
            client_ip(peer, &["1.1.1.1, 203.0.113.7"], &trusted),
            ip("203.0.113.7")
        );
        assert_eq!(
            client_ip(peer, &["203.0.113.7"], &trusted),
            ip("203.0.113.7")
        );
        // No header: the proxy itself.
        assert_eq!(client_ip(peer, &[], &trusted), peer);
    }

    #[test]
    fn chain_of_two_proxies() {
        // Client -> edge proxy 10.1.0.5 -> internal proxy 10.2.0.9 -> us.
        let trusted = proxies(&["10.1.0.0/16", "10.2.0.9"]);
        assert_eq!(
            client_ip(
                ip("10.2.0.9"),
                &["6.6.6.6, 203.0.113.7, 10.1.0.5"],
                &trusted
            ),
            ip("203.0.113.7")
        );
        // The same hops split over several header values, in order.
        assert_eq!(
            client_ip(
                ip("10.2.0.9"),
                &["6.6.6.6", "203.0.113.7", " 10.1.0.5 "],
                &trusted
            ),
            ip("203.0.113.7")
        );
        // All hops trusted: the leftmost.
        assert_eq!(
            client_ip(ip("10.2.0.9"), &["10.1.0.7, 10.1.0.5"], &trusted),
            ip("10.1.0.7")
        );
    }

    #[test]
    fn unreadable_entry_stops_at_the_last_trusted_hop() {
        let trusted = proxies(&["10.0.0.0/8"]);
        let peer = ip("10.0.0.1");
        assert_eq!(
            client_ip(peer, &["203.0.113.7, unknown, 10.0.0.2"], &trusted),
            ip("10.0.0.2")
        );
        assert_eq!(client_ip(peer, &["203.0.113.7, garbage"], &trusted), peer);
        assert_eq!(client_ip(peer, &["203.0.113.7,"], &trusted), peer);
        assert_eq!(client_ip(peer, &[""], &trusted), peer);
    }

    #[test]
    fn hops_with_ports_brackets_and_ipv6() {
        let trusted = proxies(&["10.0.0.0/8", "2001:db8:aaaa::/48"]);
        let peer = ip("2001:db8:aaaa::1");
        assert_eq!(
            client_ip(peer, &["203.0.113.7:5678"], &trusted),
            ip("203.0.113.7")
        );
        assert_eq!(
            client_ip(peer, &["[2001:db8:1::7]:443"], &trusted),
            ip("2001:db8:1::7")
        );
        assert_eq!(
            client_ip(peer, &["[2001:db8:1::7]"], &trusted),
            ip("2001:db8:1::7")
        );
        assert_eq!(
            client_ip(peer, &["2001:db8:1::7 , 2001:db8:aaaa::2"], &trusted),
            ip("2001:db8:1::7")
        );
    }

    #[test]
    fn mapped_addresses_are_canonical_in_client_ip() {
        let trusted = proxies(&["10.0.0.0/8"]);
        // A dual-stack socket reports an IPv4 proxy as mapped IPv6.
        assert_eq!(
            client_ip(ip("::ffff:10.0.0.1"), &["::ffff:203.0.113.7"], &trusted),
            ip("203.0.113.7")
        );
        assert_eq!(
            client_ip(ip("::ffff:198.51.100.1"), &[], &TrustedProxies::none()),
            IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1))
        );
    }

    fn block(addr: u32, prefix: u8) -> Ipv4Net {
        Ipv4Net::new(Ipv4Addr::from(addr), prefix)
            .expect("prefix at most 32")
            .trunc()
    }

    proptest! {
        #[test]
        fn ipv4_block_contains_exactly_its_addresses(
            base in any::<u32>(),
            prefix in 0u8..=32,
            host in any::<u32>(),
            flip in 0u32..32,
        ) {
            let net = block(base, prefix);
            let list = AllowList::parse(&[net.to_string()]).expect("a valid block");
            let host_mask = u32::MAX.checked_shr(u32::from(prefix)).unwrap_or(0);
            let network = u32::from(net.network());
            let inside = Ipv4Addr::from(network | (host & host_mask));
            prop_assert!(list.allows(IpAddr::V4(inside)));
            prop_assert!(list.allows(IpAddr::V6(inside.to_ipv6_mapped())));
            if prefix > 0 {
                // Flip one bit of the network part.
                let bit = 31 - (flip % u32::from(prefix));
                let outside = Ipv4Addr::from(u32::from(inside) ^ (1 << bit));
                prop_assert!(!list.allows(IpAddr::V4(outside)));
            }
        }
    }
}
