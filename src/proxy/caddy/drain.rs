//! Draining the old version after a switch: where the old upstreams are, and
//! how many connections the proxy still has open to them.

use super::{docker_err, Caddy};
use crate::event::Emitter;
use crate::proxy::{docker, ProxyError};
use crate::remote::{Cmd, Transport};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};

/// Parse `docker container inspect` output (`/name ip ip...` per line) into
/// the addresses of `upstreams` (`(container, port)`).
pub fn parse_container_ips(out: &str, upstreams: &[(String, u16)]) -> Vec<SocketAddrV4> {
    let mut addrs = vec![];
    for line in out.lines() {
        let mut words = line.split_whitespace();
        let Some(name) = words.next() else { continue };
        let name = name.trim_start_matches('/');
        let ips: Vec<Ipv4Addr> = words.filter_map(|w| w.parse().ok()).collect();
        for (h, port) in upstreams.iter().filter(|(h, _)| h == name) {
            let _ = h;
            addrs.extend(ips.iter().map(|ip| SocketAddrV4::new(*ip, *port)));
        }
    }
    addrs
}

/// Count ESTABLISHED sockets in `/proc/net/tcp` text whose remote end is one
/// of `to`. Addresses there are the raw network-order bytes printed as a
/// native (little-endian on x86 and arm64 servers) hex word; ports are hex.
pub fn established_to(proc_net_tcp: &str, to: &[SocketAddrV4]) -> usize {
    proc_net_tcp
        .lines()
        .skip(1)
        .filter(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() < 4 || f[3] != "01" {
                return false;
            }
            let Some((ip, port)) = f[2].split_once(':') else {
                return false;
            };
            let (Ok(ip), Ok(port)) = (u32::from_str_radix(ip, 16), u16::from_str_radix(port, 16))
            else {
                return false;
            };
            let remote = SocketAddrV4::new(Ipv4Addr::from(ip.to_le_bytes()), port);
            to.contains(&remote)
        })
        .count()
}

impl Caddy {
    /// The `ip:port` addresses of upstreams (`container:port`) as the proxy
    /// dials them, looked up before the switch (the old containers keep their
    /// addresses while they drain).
    pub(super) fn resolve(
        &self,
        t: &dyn Transport,
        em: &Emitter,
        upstreams: &[String],
    ) -> Result<Vec<SocketAddrV4>, ProxyError> {
        let split: Vec<(String, u16)> = upstreams
            .iter()
            .filter_map(|u| {
                let (h, p) = u.rsplit_once(':')?;
                Some((h.to_string(), p.parse().ok()?))
            })
            .collect();
        if split.is_empty() {
            return Ok(vec![]);
        }
        let names: Vec<String> = split.iter().map(|(h, _)| h.clone()).collect();
        let out = t.run(
            &Cmd::argv(docker::container_ips(&names)).with_timeout(Duration::from_secs(30)),
            em,
        )?;
        // A missing old container has nothing to drain; inspect still prints
        // the ones that exist.
        Ok(parse_container_ips(&out.stdout_str(), &split))
    }

    /// Wait until the proxy has no connection open to any of `old` (every
    /// request in flight to the old version finished), or `drain` passes.
    /// Returns how many connections were still open when it gave up.
    ///
    /// Counting sockets in the proxy container is exact and does not depend
    /// on Caddy's internals: the old config's idle keep-alive connections to
    /// an old upstream are closed as soon as it stops, and each request in
    /// flight holds its connection open until it completes.
    pub(super) fn drain(
        &self,
        t: &dyn Transport,
        em: &Emitter,
        old: &[SocketAddrV4],
        drain: Duration,
    ) -> Result<usize, ProxyError> {
        if old.is_empty() {
            return Ok(0);
        }
        let deadline = Instant::now() + drain;
        loop {
            let out = t.run(
                &Cmd::argv(docker::proc_net_tcp()).with_timeout(Duration::from_secs(30)),
                em,
            )?;
            if !out.success() {
                return Err(docker_err(t, "reading the proxy's connections", &out));
            }
            let open = established_to(&out.stdout_str(), old);
            if open == 0 || Instant::now() >= deadline {
                return Ok(open);
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    pub(super) fn drain_counts_established_connections_to_old_upstreams() {
        let ips = "/web-staging-web-abc 172.18.0.5 \n/other 172.18.0.9 10.0.0.2 \n";
        let old = parse_container_ips(ips, &[("web-staging-web-abc".into(), 8080)]);
        assert_eq!(old, vec!["172.18.0.5:8080".parse().unwrap()]);
        // Captured layout of /proc/net/tcp; 0500 12AC = 172.18.0.5, 1F90 = 8080.
        let tcp = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
           0: 0100007F:07E3 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0000000000000000 100 0 0 10 0\n\
           1: 020012AC:A1B2 050012AC:1F90 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0000000000000000 20 4 30 10 -1\n\
           2: 020012AC:A1B4 050012AC:1F90 06 00000000:00000000 03:00000F3A 00000000     0        0 0 3 0000000000000000\n\
           3: 020012AC:A1B6 090012AC:1F90 01 00000000:00000000 00:00000000 00000000     0        0 3 1 0000000000000000 20 4 30 10 -1\n";
        assert_eq!(
            established_to(tcp, &old),
            1,
            "TIME_WAIT and other hosts do not count"
        );
        assert_eq!(established_to(tcp, &[]), 0);
        assert_eq!(parse_container_ips("", &[("x".into(), 1)]), vec![]);
    }
}
