//! Requests to docker's Engine API socket, for the transports that can
//! reach it (`Transport::unix_request`): no shell and no docker CLI process
//! on the server. Each request answers what one CLI command in
//! [`super::argv`] answers, parsed into the same types, so callers fall
//! back to the CLI without a second parser.

use super::argv::{health_of, Container};
use crate::deploy::layout::{
    self, COMPOSE_SERVICE, LABEL_ACCESSORY, LABEL_APP, LABEL_ENV, LABEL_RELEASE, LABEL_SERVICE,
    LABEL_VERSION,
};

/// Docker's API socket on the server (the CLI's default).
pub const DOCKER_SOCKET: &str = "/var/run/docker.sock";

/// The request equivalent to `argv::ps_app(app, env, None, true)`.
pub fn ps_app_request(app: &str, env: &str) -> Vec<u8> {
    let filters = serde_json::json!({
        "label": [layout::label(LABEL_APP, app), layout::label(LABEL_ENV, env)]
    })
    .to_string();
    format!(
        "GET /containers/json?all=1&filters={} HTTP/1.0\r\nHost: docker\r\n\r\n",
        url_encode(&filters)
    )
    .into_bytes()
}

/// `GET /version`: what `argv::version()` answers.
pub fn version_request() -> Vec<u8> {
    b"GET /version HTTP/1.0\r\nHost: docker\r\n\r\n".to_vec()
}

/// The engine version from [`version_request`]'s answer.
pub fn parse_version(resp: &[u8]) -> Result<String, String> {
    let v: serde_json::Value =
        serde_json::from_slice(http_body(resp)?).map_err(|e| e.to_string())?;
    v["Version"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| "no Version in docker's answer".into())
}

/// The body of a plain (not chunked) HTTP/1.0 200 answer.
fn http_body(resp: &[u8]) -> Result<&[u8], String> {
    let split = resp
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no HTTP header")?;
    let head = String::from_utf8_lossy(&resp[..split]);
    let status = head.lines().next().unwrap_or_default();
    if status.split_whitespace().nth(1) != Some("200") {
        return Err(format!("docker API answered {status:?}"));
    }
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        return Err("chunked answer".into());
    }
    Ok(&resp[split + 4..])
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Parse docker's HTTP answer to [`ps_app_request`]. `Err` on anything but
/// a 200 with a JSON array (callers then fall back to the CLI).
pub fn parse_ps(resp: &[u8]) -> Result<Vec<Container>, String> {
    let list: Vec<serde_json::Value> =
        serde_json::from_slice(http_body(resp)?).map_err(|e| e.to_string())?;
    Ok(list
        .iter()
        .map(|c| {
            let s = |k: &str| c[k].as_str().unwrap_or_default().to_string();
            let label = |k: &str| c["Labels"][k].as_str().unwrap_or_default().to_string();
            let status = s("Status");
            Container {
                id: s("Id"),
                name: c["Names"][0]
                    .as_str()
                    .unwrap_or_default()
                    .trim_start_matches('/')
                    .to_string(),
                image: s("Image"),
                state: s("State"),
                health: health_of(&status).into(),
                status,
                service: label(LABEL_SERVICE),
                version: label(LABEL_VERSION),
                release: label(LABEL_RELEASE),
                accessory: label(LABEL_ACCESSORY),
                compose_service: label(COMPOSE_SERVICE),
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ps_over_the_api_socket() {
        let req = String::from_utf8(ps_app_request("web", "staging")).unwrap();
        assert_eq!(
            req,
            "GET /containers/json?all=1&filters=%7B%22label%22%3A%5B%22arcane.app%3Dweb%22%2C\
             %22arcane.env%3Dstaging%22%5D%7D HTTP/1.0\r\nHost: docker\r\n\r\n"
        );
        let body = r#"[{"Id":"abc","Names":["/web-1"],"Image":"web:v1","State":"running",
            "Status":"Up 2 minutes (healthy)","Labels":{"arcane.service":"api","arcane.version":"v1","arcane.release":"v1"}}]"#;
        let resp = format!("HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{body}");
        let c = parse_ps(resp.as_bytes()).unwrap();
        assert_eq!(
            (
                c[0].name.as_str(),
                c[0].service.as_str(),
                c[0].health.as_str(),
                c[0].release.as_str()
            ),
            ("web-1", "api", "healthy", "v1")
        );
        assert!(parse_ps(b"HTTP/1.0 500 Oops\r\n\r\n{}").is_err());
        assert!(parse_ps(b"garbage").is_err());
    }
}
