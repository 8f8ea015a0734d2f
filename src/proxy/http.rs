//! Just enough HTTP/1.1 to talk to Caddy's admin API through a byte pipe.
//!
//! The admin API is reached by piping one request into `nc` inside the proxy
//! container (see `admin.rs`), so there is no socket to hand to an HTTP client
//! library: we write the request bytes and parse the bytes that come back. One
//! request per connection (`Connection: close`), so the body is everything
//! after the headers, possibly chunked.

/// One request to the admin API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: &'static str,
    pub path: String,
    pub body: Option<Vec<u8>>,
}

impl Request {
    pub fn get(path: impl Into<String>) -> Request {
        Request {
            method: "GET",
            path: path.into(),
            body: None,
        }
    }

    pub fn with_json(method: &'static str, path: impl Into<String>, v: &serde_json::Value) -> Self {
        Request {
            method,
            path: path.into(),
            body: Some(serde_json::to_vec(v).expect("JSON values always serialize")),
        }
    }

    pub fn delete(path: impl Into<String>) -> Request {
        Request {
            method: "DELETE",
            path: path.into(),
            body: None,
        }
    }

    /// The bytes on the wire. `host` must be one of the admin endpoint's allowed
    /// origins (Caddy checks the Host header of loopback admin listeners).
    pub fn encode(&self, host: &str) -> Vec<u8> {
        let mut out = format!(
            "{} {} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nAccept: application/json\r\n",
            self.method, self.path
        );
        if let Some(b) = &self.body {
            out.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                b.len()
            ));
        } else if matches!(self.method, "POST" | "PUT" | "PATCH") {
            out.push_str("Content-Length: 0\r\n");
        }
        out.push_str("\r\n");
        let mut bytes = out.into_bytes();
        if let Some(b) = &self.body {
            bytes.extend_from_slice(b);
        }
        bytes
    }
}

/// A parsed response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Response {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub fn body_str(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Parse a complete response (the peer closed the connection after it).
pub fn parse_response(raw: &[u8]) -> Result<Response, String> {
    let split = find(raw, b"\r\n\r\n").ok_or_else(|| {
        if raw.is_empty() {
            "empty response (is the admin API listening?)".to_string()
        } else {
            format!("truncated response: {:?}", snippet(raw))
        }
    })?;
    let head = std::str::from_utf8(&raw[..split]).map_err(|_| "response head is not UTF-8")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let (proto, code) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    if !proto.starts_with("HTTP/1.") {
        return Err(format!("not an HTTP response: {status_line:?}"));
    }
    let status: u16 = code
        .parse()
        .map_err(|_| format!("bad status line: {status_line:?}"))?;
    let mut chunked = false;
    let mut length: Option<usize> = None;
    for l in lines {
        if let Some((k, v)) = l.split_once(':') {
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
            if k == "transfer-encoding" && v.to_ascii_lowercase().contains("chunked") {
                chunked = true;
            } else if k == "content-length" {
                length = v.parse().ok();
            }
        }
    }
    let rest = &raw[split + 4..];
    let body = if chunked {
        dechunk(rest)?
    } else if let Some(n) = length {
        if rest.len() < n {
            return Err(format!("body truncated: {} of {n} bytes", rest.len()));
        }
        rest[..n].to_vec()
    } else {
        rest.to_vec()
    };
    Ok(Response { status, body })
}

fn dechunk(mut rest: &[u8]) -> Result<Vec<u8>, String> {
    let mut body = vec![];
    loop {
        let eol = find(rest, b"\r\n").ok_or("chunked body truncated")?;
        let size_txt = std::str::from_utf8(&rest[..eol]).map_err(|_| "bad chunk size")?;
        let size_txt = size_txt.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_txt, 16)
            .map_err(|_| format!("bad chunk size {size_txt:?}"))?;
        rest = &rest[eol + 2..];
        if size == 0 {
            // Trailers (Caddy sends an ETag trailer) follow; nothing we need.
            return Ok(body);
        }
        if rest.len() < size + 2 {
            return Err("chunked body truncated".into());
        }
        body.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn snippet(raw: &[u8]) -> String {
    String::from_utf8_lossy(&raw[..raw.len().min(120)]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_encoded_with_host_and_length() {
        let r = Request::with_json(
            "PATCH",
            "/id/arcane-web-staging",
            &serde_json::json!({"a": 1}),
        );
        assert_eq!(
            String::from_utf8(r.encode("127.0.0.1:2019")).unwrap(),
            "PATCH /id/arcane-web-staging HTTP/1.1\r\nHost: 127.0.0.1:2019\r\nConnection: close\r\n\
             Accept: application/json\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n{\"a\":1}"
        );
        let g = String::from_utf8(Request::get("/config/").encode("h")).unwrap();
        assert!(g.starts_with("GET /config/ HTTP/1.1\r\n") && !g.contains("Content-Length"));
    }

    #[test]
    fn chunked_responses_with_trailers_parse() {
        // Captured from caddy 2.6: GET /config/ on an empty config.
        let raw = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTrailer: ETag\r\n\
            Connection: close\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nnull\n\r\n0\r\n\
            Etag: \"/config/ 0e7c22ea\"\r\n\r\n";
        let r = parse_response(raw).unwrap();
        assert_eq!((r.status, r.body_str().as_str()), (200, "null\n"));
    }

    #[test]
    fn length_delimited_and_errors() {
        let r =
            parse_response(b"HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\nnopeXX").unwrap();
        assert_eq!((r.status, r.body_str().as_str()), (404, "nope"));
        assert!(!r.ok());
        assert!(parse_response(b"").unwrap_err().contains("empty response"));
        assert!(parse_response(b"SSH-2.0\r\n\r\n").is_err());
        assert!(parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nab").is_err());
    }
}
