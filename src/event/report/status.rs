//! `status`, `ps` and the dashboard's Overview.

use serde::Serialize;

/// One container of the app, as docker reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Container {
    pub id: String,
    pub name: String,
    pub image: String,
    /// running, exited, created, restarting, paused, dead.
    pub state: String,
    /// Docker's human status ("Up 3 minutes (healthy)").
    pub status: String,
    pub service: String,
    pub version: String,
    /// The release the container belongs to (`arcane.release`), if any.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub release: String,
    /// The accessory name for accessories (`arcane.accessory`), else empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub accessory: String,
    /// The compose service (compose mode).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub compose_service: String,
    /// healthy, unhealthy, starting, or none (no healthcheck).
    pub health: String,
}

impl Container {
    pub fn running(&self) -> bool {
        self.state == "running"
    }
    /// Running or about to be again (its restart policy brings it back).
    pub fn up(&self) -> bool {
        matches!(self.state.as_str(), "running" | "restarting")
    }
    pub fn short_id(&self) -> &str {
        &self.id[..self.id.len().min(12)]
    }
    /// Hook runs and health-check candidates come and go during a deploy;
    /// they are not part of what serves.
    pub fn is_transient(&self) -> bool {
        self.name.ends_with("-check") || self.name.contains("-hook-")
    }
}

/// The app's health on one server, in one word. Both front ends show these
/// words and nothing else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Health {
    Healthy,
    Starting,
    Unhealthy,
    Restarting,
    /// Deployed, but nothing of the live release runs.
    Down,
    /// No container of the app at all.
    NotDeployed,
    /// The server could not be asked.
    #[default]
    Unknown,
}

impl Health {
    pub fn word(self) -> &'static str {
        match self {
            Health::Healthy => "healthy",
            Health::Starting => "starting",
            Health::Unhealthy => "unhealthy",
            Health::Restarting => "restarting",
            Health::Down => "down",
            Health::NotDeployed => "not deployed",
            Health::Unknown => "unknown",
        }
    }

    pub fn is_ok(self) -> bool {
        matches!(self, Health::Healthy | Health::NotDeployed)
    }
}

impl std::fmt::Display for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.word())
    }
}

/// The containers that make up what should be serving: the live release's
/// app containers and the accessories. Stopped containers of older
/// releases (kept for rollback) and transient ones are not counted.
pub fn serving_set<'a>(containers: &'a [Container], live: Option<&str>) -> Vec<&'a Container> {
    containers
        .iter()
        .filter(|c| !c.is_transient())
        .filter(|c| {
            !c.accessory.is_empty()
                || c.running()
                || c.state == "restarting"
                || match live {
                    Some(l) => c.release == l || (c.release.is_empty() && c.version == l),
                    None => false,
                }
        })
        .collect()
}

/// `(up, expected, health)` for a server's containers.
pub fn health_of(containers: &[Container], live: Option<&str>) -> (usize, usize, Health) {
    let set = serving_set(containers, live);
    let up = set.iter().filter(|c| c.running()).count();
    let health = if set.is_empty() {
        if containers.is_empty() || live.is_none() {
            Health::NotDeployed
        } else {
            Health::Down
        }
    } else if up == 0 {
        Health::Down
    } else if set.iter().any(|c| c.running() && c.health == "unhealthy") {
        Health::Unhealthy
    } else if set.iter().any(|c| c.state == "restarting") {
        Health::Restarting
    } else if set.iter().any(|c| c.running() && c.health == "starting") {
        Health::Starting
    } else if up < set.len() {
        Health::Down
    } else {
        Health::Healthy
    };
    (up, set.len(), health)
}

/// The live release as its record describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct LiveRelease {
    pub release: String,
    pub version: String,
    pub git_sha: String,
    pub deployed_by: String,
    pub created_at: String,
}

/// What `status` (and the dashboard's Overview) knows about one server.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct ServerStatus {
    pub server: String,
    pub env: String,
    pub host: String,
    pub reachable: bool,
    /// The server's docker engine version.
    pub docker: Option<String>,
    pub live: Option<LiveRelease>,
    pub containers: Vec<Container>,
    /// Serving containers that run, and how many should (see [`health_of`]).
    pub up: usize,
    pub expected: usize,
    pub health: Health,
    /// Who holds the deploy lock, if anyone.
    pub lock: Option<String>,
    /// Why the probe failed or is partial.
    pub error: Option<String>,
    /// The same in a few words, for a narrow row ("unreachable: Connection
    /// refused"); the dashboard's Overview shows this one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_brief: Option<String>,
    /// A refused host key: shown loudly by every front end.
    pub security_alert: Option<String>,
    /// Docker is not installed: `server bootstrap` prepares the server.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub needs_bootstrap: bool,
}

/// `status` / `ps` of the selected servers.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct StatusReport {
    pub app: String,
    pub servers: Vec<ServerStatus>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(name: &str, state: &str, release: &str) -> Container {
        Container {
            name: name.into(),
            state: state.into(),
            release: release.into(),
            health: "none".into(),
            ..Default::default()
        }
    }

    #[test]
    fn status_counts_stopped_containers_regression() {
        // The live release runs; four stopped containers of older releases
        // are kept for rollback. That is a healthy app, "1/1 up".
        let cs = vec![
            c("a-web-r5", "running", "r5"),
            c("a-web-r4", "exited", "r4"),
            c("a-web-r3", "exited", "r3"),
            c("a-web-r2", "exited", "r2"),
            c("a-web-r1", "exited", "r1"),
        ];
        assert_eq!(health_of(&cs, Some("r5")), (1, 1, Health::Healthy));
        // The live release's container stopped: down, whatever else exists.
        let mut cs2 = cs.clone();
        cs2[0].state = "exited".into();
        assert_eq!(health_of(&cs2, Some("r5")), (0, 1, Health::Down));
        // Accessories count; a stopped accessory makes the app down-ish.
        let mut cs3 = cs.clone();
        let mut db = c("a-db", "exited", "");
        db.accessory = "db".into();
        cs3.push(db);
        assert_eq!(health_of(&cs3, Some("r5")).0, 1);
        assert_eq!(health_of(&cs3, Some("r5")).1, 2);
        assert_eq!(health_of(&[], None), (0, 0, Health::NotDeployed));
    }
}
