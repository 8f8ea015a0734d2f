//! FAKE Caddy admin API for the scripted proxy deploys: no Caddy runs in a
//! unit test. It answers the requests `proxy::admin` pipes through
//! `docker exec -i arcane-proxy nc 127.0.0.1 PORT` (edge 2019, router 2020)
//! from an in-memory config per port, with the few semantics arcane relies
//! on: `GET /config/<path>`, `POST /load`, `POST` to an array path
//! (append), `GET`/`PATCH`/`DELETE /id/<@id>`.

use crate::remote::scripted::Scripted;
use crate::remote::{Cmd, Output};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

#[derive(Default)]
pub(super) struct FakeCaddy {
    configs: Mutex<BTreeMap<u16, Value>>,
}

impl FakeCaddy {
    /// Answer the admin pipe on `t`.
    pub fn serve(t: &Scripted) -> Arc<FakeCaddy> {
        let c = Arc::new(FakeCaddy::default());
        let me = c.clone();
        t.on_fn(&["docker exec -i arcane-proxy nc 127.0.0.1"], move |cmd| {
            Ok(me.answer(cmd))
        });
        c
    }

    /// The config behind an admin port.
    pub fn config(&self, port: u16) -> Value {
        self.configs
            .lock()
            .unwrap()
            .get(&port)
            .cloned()
            .unwrap_or(Value::Null)
    }

    fn answer(&self, cmd: &Cmd) -> Output {
        let text = cmd.to_shell();
        let port: u16 = text
            .split("nc 127.0.0.1 ")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        let req = cmd.stdin.clone().unwrap_or_default();
        let req = String::from_utf8_lossy(&req);
        let (head, body) = req.split_once("\r\n\r\n").unwrap_or((&req, ""));
        let mut first = head.lines().next().unwrap_or("").split_whitespace();
        let (method, path) = (first.next().unwrap_or(""), first.next().unwrap_or(""));
        let body: Value = serde_json::from_str(body).unwrap_or(Value::Null);
        let mut configs = self.configs.lock().unwrap();
        let cfg = configs.entry(port).or_insert(Value::Null);
        let (code, out) = handle(cfg, method, path, body);
        let out = out.to_string();
        Output {
            status: 0,
            stdout: format!(
                "HTTP/1.1 {code} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{out}",
                out.len()
            )
            .into_bytes(),
            stderr: vec![],
        }
    }
}

fn handle(cfg: &mut Value, method: &str, path: &str, body: Value) -> (u16, Value) {
    if let Some(id) = path.strip_prefix("/id/") {
        return match method {
            "GET" => match find_id(cfg, id) {
                Some(v) => (200, v.clone()),
                None => (404, Value::String("unknown object ID".into())),
            },
            "PATCH" => match find_id(cfg, id) {
                Some(v) => {
                    *v = body;
                    (200, Value::Null)
                }
                None => (404, Value::Null),
            },
            "DELETE" => {
                remove_id(cfg, id);
                (200, Value::Null)
            }
            _ => (405, Value::Null),
        };
    }
    if path == "/load" && method == "POST" {
        *cfg = body;
        return (200, Value::Null);
    }
    let Some(rest) = path.strip_prefix("/config/") else {
        return (404, Value::Null);
    };
    let keys: Vec<&str> = rest.split('/').filter(|k| !k.is_empty()).collect();
    match method {
        "GET" => (200, at(cfg, &keys).cloned().unwrap_or(Value::Null)),
        "POST" => {
            let mut cur = &mut *cfg;
            for k in &keys {
                if !cur.is_object() {
                    *cur = Value::Object(Default::default());
                }
                cur = cur
                    .as_object_mut()
                    .expect("object")
                    .entry(k.to_string())
                    .or_insert(Value::Null);
            }
            match cur {
                Value::Array(a) => a.push(body),
                other => *other = Value::Array(vec![body]),
            }
            (200, Value::Null)
        }
        _ => (405, Value::Null),
    }
}

fn at<'a>(v: &'a Value, keys: &[&str]) -> Option<&'a Value> {
    keys.iter().try_fold(v, |cur, k| match cur {
        Value::Object(m) => m.get(*k),
        Value::Array(a) => a.get(k.parse::<usize>().ok()?),
        _ => None,
    })
}

fn find_id<'a>(v: &'a mut Value, id: &str) -> Option<&'a mut Value> {
    if v.get("@id").and_then(Value::as_str) == Some(id) {
        return Some(v);
    }
    match v {
        Value::Object(m) => m.values_mut().find_map(|c| find_id(c, id)),
        Value::Array(a) => a.iter_mut().find_map(|c| find_id(c, id)),
        _ => None,
    }
}

fn remove_id(v: &mut Value, id: &str) {
    let is = |c: &Value| c.get("@id").and_then(Value::as_str) == Some(id);
    match v {
        Value::Object(m) => {
            m.retain(|_, c| !is(c));
            m.values_mut().for_each(|c| remove_id(c, id));
        }
        Value::Array(a) => {
            a.retain(|c| !is(c));
            a.iter_mut().for_each(|c| remove_id(c, id));
        }
        _ => {}
    }
}
