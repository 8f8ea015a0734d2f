//! arcane's firewall: one nftables table, `inet arcane`, that drops new
//! inbound connections except to the allowed ports.
//!
//! It filters at `prerouting`, before Docker's DNAT (priority -100) and
//! after connection tracking (-200): a container port Docker publishes is
//! matched by the port the client asked for, so "not allowed" means closed
//! for containers too, the classic hole an `input`-hook firewall leaves. It
//! never flushes the ruleset and never touches Docker's tables. Loopback,
//! Docker's bridges, replies to connections the server made and ICMP
//! always pass, so the SSH session that installs it keeps working.

use crate::config::bootstrap::{PortRule, Proto};

/// Where the ruleset lives on the server.
pub const RULES_PATH: &str = "/etc/arcane/firewall.nft";
/// The systemd unit that loads it at boot.
pub const UNIT_PATH: &str = "/etc/systemd/system/arcane-firewall.service";
/// Without systemd, ifupdown's hook that loads it when a link comes up.
pub const IFUP_HOOK_PATH: &str = "/etc/network/if-pre-up.d/arcane-firewall";

/// `tcp 22, 80, 443; udp 68, 443, 546`.
pub fn describe(ports: &[PortRule]) -> String {
    [Proto::Tcp, Proto::Udp]
        .iter()
        .filter_map(|p| {
            let list = list_of(ports, *p);
            (!list.is_empty()).then(|| format!("{} {}", proto_word(*p), list.join(", ")))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn proto_word(p: Proto) -> &'static str {
    match p {
        Proto::Tcp => "tcp",
        Proto::Udp => "udp",
    }
}

fn list_of(ports: &[PortRule], proto: Proto) -> Vec<String> {
    let mut v: Vec<&PortRule> = ports.iter().filter(|r| r.proto == proto).collect();
    v.sort();
    v.dedup();
    v.iter().map(|r| r.range()).collect()
}

/// The ruleset file. Loading it replaces the table atomically (`nft -f`
/// runs it as one transaction), so a reload never leaves a gap.
pub fn ruleset(ports: &[PortRule]) -> String {
    let mut allow = String::new();
    for proto in [Proto::Tcp, Proto::Udp] {
        let list = list_of(ports, proto);
        if !list.is_empty() {
            allow.push_str(&format!(
                "\t\t{} dport {{ {} }} accept\n",
                proto_word(proto),
                list.join(", ")
            ));
        }
    }
    format!(
        "#!/usr/sbin/nft -f
# Written by `arcane server bootstrap` ([bootstrap] firewall = true).
# New inbound connections are dropped unless they go to an allowed port;
# Docker's published ports included. Docker's own tables are untouched.
table inet arcane
delete table inet arcane
table inet arcane {{
\tchain inbound {{
\t\ttype filter hook prerouting priority -150; policy accept;
\t\tiifname \"lo\" accept
\t\tiifname \"docker0\" accept
\t\tiifname \"br-*\" accept
\t\tct state established,related accept
\t\tmeta l4proto {{ icmp, ipv6-icmp }} accept
{allow}\t\tdrop
\t}}
}}
"
    )
}

/// The systemd unit: loads the table early at boot, like Debian's own
/// nftables.service, but only arcane's table.
pub fn unit() -> String {
    format!(
        "# Written by `arcane server bootstrap`: loads arcane's firewall at boot.
[Unit]
Description=arcane firewall (nftables table inet arcane)
Wants=network-pre.target
Before=network-pre.target shutdown.target
Conflicts=shutdown.target
DefaultDependencies=no

[Service]
Type=oneshot
RemainAfterExit=yes
StandardInput=null
ExecStart=/usr/sbin/nft -f {RULES_PATH}
ExecReload=/usr/sbin/nft -f {RULES_PATH}
ExecStop=/usr/sbin/nft delete table inet arcane

[Install]
WantedBy=sysinit.target
"
    )
}

/// ifupdown's hook for servers without systemd.
pub fn ifup_hook() -> String {
    format!(
        "#!/bin/sh
# Written by `arcane server bootstrap`: loads arcane's firewall (no systemd here).
[ -x /usr/sbin/nft ] && [ -f {RULES_PATH} ] && /usr/sbin/nft -f {RULES_PATH}
exit 0
"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ruleset_allows_each_port_once_and_drops_the_rest() {
        let ports = [
            PortRule::tcp(443),
            PortRule::tcp(22),
            PortRule::tcp(22),
            PortRule::udp(68),
            PortRule {
                proto: Proto::Tcp,
                from: 9000,
                to: 9010,
            },
        ];
        let r = ruleset(&ports);
        assert!(
            r.contains("\t\ttcp dport { 22, 443, 9000-9010 } accept\n"),
            "{r}"
        );
        assert!(r.contains("\t\tudp dport { 68 } accept\n\t\tdrop\n"), "{r}");
        assert!(r.contains("hook prerouting priority -150"));
        assert!(!r.contains("flush ruleset"), "Docker's rules must survive");
        assert_eq!(describe(&ports), "tcp 22, 443, 9000-9010; udp 68");
        assert!(unit().contains("ExecStart=/usr/sbin/nft -f /etc/arcane/firewall.nft"));
    }
}
