//! Where a webhook may go: the guard against server-side request forgery (issue 17).
//!
//! A webhook URL is chosen by a caller, and notifications runs inside the deployment's
//! network: without this guard a subscription to `https://169.254.169.254/…` (the cloud's
//! metadata service), `http://registry:50051` or `https://10.0.0.5/admin` makes the
//! deliverer a proxy into places no caller may reach. So a destination is refused when its
//! host name is an internal one (`localhost`, `*.svc`, `*.cluster.local`, a single label that
//! a cluster's resolver completes, …) or when an address it resolves to is loopback,
//! link-local, private (RFC 1918, RFC 4193, CGNAT), unspecified, multicast, broadcast or
//! reserved — unless the operator allowed the host or the network
//! (`TSUNAGU_WEBHOOK_ALLOWED_DESTINATIONS`: on-premise receivers on a LAN, tests on
//! 127.0.0.1).
//!
//! The names are checked when a subscription is made and at every delivery; the addresses at
//! every delivery after resolving the name, and the deliverer connects to exactly the
//! addresses it checked (no second lookup an attacker's DNS could answer differently).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The environment variable naming what the operator allows despite the rules above.
pub const ALLOWED_DESTINATIONS_VAR: &str = "TSUNAGU_WEBHOOK_ALLOWED_DESTINATIONS";

/// Host names that lead into the deployment rather than to a municipality's system.
const INTERNAL_SUFFIXES: &[&str] = &[
    "localhost",
    "svc",
    "cluster.local",
    "internal",
    "local",
    "localdomain",
    "home.arpa",
];

/// What the operator allows: host names (exact, or `*.example.lan` for every name under it)
/// and networks (`10.20.0.0/16`, `127.0.0.1`, `::1`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DestinationPolicy {
    hosts: Vec<String>,
    networks: Vec<Network>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Network {
    address: IpAddr,
    prefix: u8,
}

impl Network {
    fn parse(text: &str) -> Option<Network> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let address: IpAddr = address
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse()
            .ok()?;
        let max = if address.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(prefix) => prefix.parse::<u8>().ok().filter(|p| *p <= max)?,
            None => max,
        };
        Some(Network { address, prefix })
    }

    fn contains(&self, address: IpAddr) -> bool {
        match (self.address, canonical(address)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl DestinationPolicy {
    /// Nothing internal allowed: the default.
    pub fn strict() -> DestinationPolicy {
        DestinationPolicy::default()
    }

    /// Reads [`ALLOWED_DESTINATIONS_VAR`]: a comma-separated list of host names and networks.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> anyhow::Result<DestinationPolicy> {
        DestinationPolicy::parse(&lookup(ALLOWED_DESTINATIONS_VAR).unwrap_or_default())
            .map_err(|problem| anyhow::anyhow!("{ALLOWED_DESTINATIONS_VAR}: {problem}"))
    }

    pub fn parse(list: &str) -> Result<DestinationPolicy, String> {
        let mut policy = DestinationPolicy::default();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let looks_like_address = entry.contains('/')
                || entry.contains(':')
                || entry.chars().all(|c| c.is_ascii_digit() || c == '.');
            if let Some(network) = Network::parse(entry) {
                policy.networks.push(network);
            } else if looks_like_address {
                return Err(format!(
                    "{entry:?} is neither an address nor a network such as 10.20.0.0/16"
                ));
            } else {
                let name = normalise(entry);
                let bare = name.trim_start_matches("*.");
                if bare.is_empty() || bare.contains('*') {
                    return Err(format!(
                        "{entry:?} is not a host name such as hooks.example.lan or *.example.lan"
                    ));
                }
                policy.hosts.push(name);
            }
        }
        Ok(policy)
    }

    /// A policy allowing the given entries (tests, and `parse` for callers holding a list).
    pub fn allowing(entries: &[&str]) -> DestinationPolicy {
        DestinationPolicy::parse(&entries.join(",")).expect("valid destination entries")
    }

    fn allows_host(&self, host: &str) -> bool {
        let host = normalise(host);
        self.hosts.iter().any(|allowed| match allowed.strip_prefix("*.") {
            Some(suffix) => host.ends_with(&format!(".{suffix}")),
            None => *allowed == host,
        })
    }

    fn allows_address(&self, address: IpAddr) -> bool {
        self.networks.iter().any(|network| network.contains(address))
    }

    /// The check of a URL's host as written: an internal name, or an address literal of an
    /// internal network. `Err` is the reason, Japanese then English.
    pub fn check_host(&self, host: &str) -> Result<(), String> {
        if self.allows_host(host) {
            return Ok(());
        }
        if let Ok(address) = host.parse::<IpAddr>() {
            return self.check_address(host, address);
        }
        let name = normalise(host);
        let internal = INTERNAL_SUFFIXES
            .iter()
            .any(|suffix| name == *suffix || name.ends_with(&format!(".{suffix}")));
        // A name of one label (`registry`, `kubernetes`) is completed by the resolver's search
        // domains, i.e. inside the cluster; a numeric last label is an address in disguise
        // (`2130706433`, `0x7f.1`), which resolvers read as one.
        let last = name.rsplit('.').next().unwrap_or_default();
        let single_label = !name.contains('.');
        let numeric = last.chars().all(|c| c.is_ascii_digit()) || last.starts_with("0x");
        if internal || single_label || numeric {
            return Err(format!(
                "Webhookの宛先 {host} は内部のホスト名です（運用者の許可が必要: {ALLOWED_DESTINATIONS_VAR}） / the webhook host {host} is an internal name (needs the operator's {ALLOWED_DESTINATIONS_VAR})"
            ));
        }
        Ok(())
    }

    /// The check of one address a host resolved to (or was written as).
    pub fn check_address(&self, host: &str, address: IpAddr) -> Result<(), String> {
        if self.allows_address(address) {
            return Ok(());
        }
        // Short enough for a field violation's description (at most 300 characters).
        let target = match host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
        {
            Ok(_) => address.to_string(),
            Err(_) => format!("{host} ({address})"),
        };
        match forbidden_class(address) {
            None => Ok(()),
            Some((japanese, english)) => Err(format!(
                "Webhookの宛先 {target} は{japanese}です（運用者の許可が必要: {ALLOWED_DESTINATIONS_VAR}） / the webhook destination {target} is {english} (needs the operator's {ALLOWED_DESTINATIONS_VAR})"
            )),
        }
    }

    /// Every resolved address checked: one internal address refuses the destination (a name
    /// that resolves to a public and a private address is an attack or a mistake either way).
    pub fn check_resolved(&self, host: &str, addresses: &[SocketAddr]) -> Result<(), String> {
        if self.allows_host(host) {
            return Ok(());
        }
        addresses
            .iter()
            .try_for_each(|address| self.check_address(host, address.ip()))
    }
}

/// Lower case without a trailing dot: `Example.JP.` and `example.jp` are one host.
fn normalise(host: &str) -> String {
    host.trim_end_matches('.').to_ascii_lowercase()
}

/// An IPv6 address that carries an IPv4 one (mapped `::ffff:a.b.c.d`, NAT64 `64:ff9b::/96`)
/// is judged as the IPv4 address it reaches.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return IpAddr::V4(v4);
            }
            let segments = v6.segments();
            if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                let octets = v6.octets();
                return IpAddr::V4(Ipv4Addr::new(octets[12], octets[13], octets[14], octets[15]));
            }
            IpAddr::V6(v6)
        }
        v4 => v4,
    }
}

/// Which internal class an address belongs to, in both languages, or `None` for a public one.
fn forbidden_class(address: IpAddr) -> Option<(&'static str, &'static str)> {
    match canonical(address) {
        IpAddr::V4(ip) => v4_class(ip),
        IpAddr::V6(ip) => v6_class(ip),
    }
}

fn v4_class(ip: Ipv4Addr) -> Option<(&'static str, &'static str)> {
    let [a, b, c, _] = ip.octets();
    if ip.is_loopback() {
        Some(("ループバックアドレス", "a loopback address"))
    } else if ip.is_link_local() {
        Some(("リンクローカルアドレス", "a link-local address"))
    } else if ip.is_private() {
        Some(("プライベートアドレス（RFC 1918）", "a private address (RFC 1918)"))
    } else if a == 100 && (64..128).contains(&b) {
        Some(("キャリアグレードNATのアドレス", "a shared (CGNAT) address"))
    } else if a == 0 {
        Some(("未指定のアドレス", "an unspecified address"))
    } else if ip.is_multicast() {
        Some(("マルチキャストアドレス", "a multicast address"))
    } else if ip.is_broadcast() || a >= 240 {
        Some(("予約済みのアドレス", "a reserved address"))
    } else if (a, b, c) == (192, 0, 0) || (a == 198 && (b == 18 || b == 19)) {
        // IETF protocol assignments and the benchmarking range: never a municipality's system.
        Some(("予約済みのアドレス", "a reserved address"))
    } else {
        None
    }
}

fn v6_class(ip: Ipv6Addr) -> Option<(&'static str, &'static str)> {
    let first = ip.segments()[0];
    if ip.is_loopback() {
        Some(("ループバックアドレス", "a loopback address"))
    } else if ip.is_unspecified() {
        Some(("未指定のアドレス", "an unspecified address"))
    } else if first & 0xffc0 == 0xfe80 {
        Some(("リンクローカルアドレス", "a link-local address"))
    } else if first & 0xfe00 == 0xfc00 {
        Some((
            "プライベートアドレス（RFC 4193）",
            "a unique local address (RFC 4193)",
        ))
    } else if first & 0xffc0 == 0xfec0 {
        // Site-local: deprecated, but still routed inside some networks.
        Some(("プライベートアドレス（サイトローカル）", "a site-local address"))
    } else if ip.is_multicast() {
        Some(("マルチキャストアドレス", "a multicast address"))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(policy: &DestinationPolicy, host: &str) -> bool {
        policy.check_host(host).is_err()
    }

    #[test]
    fn internal_addresses_are_refused_by_class() {
        let strict = DestinationPolicy::strict();
        for host in [
            "127.0.0.1",
            "127.255.0.9",
            "169.254.169.254",
            "10.0.0.5",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "100.64.0.1",
            "100.127.255.254",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fc00::1",
            "fd12:3456::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
        ] {
            assert!(refused(&strict, host), "{host} must be refused");
        }
        for host in [
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "203.0.113.10",
            "2001:db8::1",
            "2606:4700::1111",
        ] {
            assert_eq!(strict.check_host(host), Ok(()), "{host}");
        }
    }

    #[test]
    fn internal_names_are_refused() {
        let strict = DestinationPolicy::strict();
        for host in [
            "localhost",
            "LOCALHOST.",
            "api.localhost",
            "registry",
            "notifications.tsunagu.svc",
            "notifications.tsunagu.svc.cluster.local",
            "metadata.google.internal",
            "printer.local",
            "2130706433",
            "0x7f.1",
            "127.1",
        ] {
            assert!(refused(&strict, host), "{host} must be refused");
        }
        for host in ["hooks.city.ogaki.lg.jp", "example.jp", "svc.example.jp"] {
            assert_eq!(strict.check_host(host), Ok(()), "{host}");
        }
    }

    #[test]
    fn the_refusal_names_the_class_in_both_languages() {
        let error = DestinationPolicy::strict()
            .check_host("169.254.169.254")
            .unwrap_err();
        let (japanese, english) = error.split_once(" / ").unwrap();
        assert!(japanese.contains("リンクローカル"), "{error}");
        assert!(english.contains("link-local"), "{error}");
        assert!(english.contains(ALLOWED_DESTINATIONS_VAR), "{error}");
    }

    #[test]
    fn the_operator_allows_hosts_and_networks() {
        let policy = DestinationPolicy::parse("127.0.0.1, ::1, 10.20.0.0/16, hooks.lan, *.city.lan").unwrap();
        assert_eq!(policy.check_host("127.0.0.1"), Ok(()));
        assert!(refused(&policy, "127.0.0.2"));
        assert_eq!(policy.check_host("::1"), Ok(()));
        assert_eq!(policy.check_host("10.20.3.4"), Ok(()));
        assert!(refused(&policy, "10.21.0.1"));
        assert_eq!(policy.check_host("hooks.lan"), Ok(()));
        assert_eq!(policy.check_host("a.city.lan"), Ok(()));
        // An allowed name may resolve anywhere; another name's addresses are checked.
        let private = [SocketAddr::from(([10, 1, 2, 3], 443))];
        assert_eq!(policy.check_resolved("hooks.lan", &private), Ok(()));
        assert_eq!(policy.check_resolved("a.city.lan", &private), Ok(()));
        assert!(policy.check_resolved("city.lan", &private).is_err());
        assert!(policy.check_resolved("hooks.example.jp", &private).is_err());
        let mixed = [
            SocketAddr::from(([203, 0, 113, 1], 443)),
            SocketAddr::from(([169, 254, 169, 254], 443)),
        ];
        assert!(policy.check_resolved("hooks.example.jp", &mixed).is_err());
        assert!(DestinationPolicy::parse("10.0.0.0/33").is_err());
        assert!(DestinationPolicy::parse("10.0.0.256").is_err());
        assert!(DestinationPolicy::parse("*").is_err());
        assert_eq!(
            DestinationPolicy::parse(" ").unwrap(),
            DestinationPolicy::strict()
        );
    }
}
