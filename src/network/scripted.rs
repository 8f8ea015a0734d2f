//! A scripted [`Transport`] for unit tests: each command gets the next
//! canned output of the first rule whose pattern it contains, and every
//! command and upload is recorded. (A shared scripted transport is being
//! added elsewhere; this one is the network tests' own until they merge.)

use crate::event::Emitter;
use crate::remote::{Cmd, Forward, Output, RemoteError, Transport};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Mutex;

struct Rule {
    pattern: String,
    /// Outputs in order; the last one repeats.
    outs: VecDeque<Output>,
}

pub struct Scripted {
    name: String,
    rules: Mutex<Vec<Rule>>,
    /// Every command line run, in order.
    pub commands: Mutex<Vec<String>>,
    /// Every upload: path, bytes, mode.
    pub uploads: Mutex<Vec<(String, Vec<u8>, u32)>>,
}

impl Scripted {
    pub fn new(name: &str) -> Scripted {
        Scripted {
            name: name.into(),
            rules: Mutex::new(vec![]),
            commands: Mutex::new(vec![]),
            uploads: Mutex::new(vec![]),
        }
    }

    /// Commands containing `pattern` answer `status`, `stdout`, `stderr`;
    /// calling it again for the same pattern queues the next answer.
    pub fn on(self, pattern: &str, status: i32, stdout: &str, stderr: &str) -> Scripted {
        let out = Output {
            status,
            stdout: stdout.as_bytes().to_vec(),
            stderr: stderr.as_bytes().to_vec(),
        };
        {
            let mut rules = self.rules.lock().unwrap();
            match rules.iter_mut().find(|r| r.pattern == pattern) {
                Some(r) => r.outs.push_back(out),
                None => rules.push(Rule {
                    pattern: pattern.into(),
                    outs: VecDeque::from([out]),
                }),
            }
        }
        self
    }

    pub fn ran(&self, pattern: &str) -> bool {
        self.commands
            .lock()
            .unwrap()
            .iter()
            .any(|c| c.contains(pattern))
    }

    pub fn all_commands(&self) -> String {
        self.commands.lock().unwrap().join("\n")
    }
}

impl Transport for Scripted {
    fn name(&self) -> &str {
        &self.name
    }

    fn run(&self, cmd: &Cmd, em: &Emitter) -> Result<Output, RemoteError> {
        let line = cmd.to_shell();
        em.command(&line);
        self.commands.lock().unwrap().push(line.clone());
        let mut rules = self.rules.lock().unwrap();
        let Some(rule) = rules.iter_mut().find(|r| line.contains(&r.pattern)) else {
            panic!("scripted transport: no rule for {line:?}");
        };
        Ok(if rule.outs.len() > 1 {
            rule.outs.pop_front().unwrap()
        } else {
            rule.outs[0].clone()
        })
    }

    fn stream(
        &self,
        _cmd: &Cmd,
        _em: &Emitter,
        _stop: &(dyn Fn() -> bool + Sync),
    ) -> Result<i32, RemoteError> {
        unimplemented!("not used by the network provider")
    }

    fn upload(&self, path: &str, bytes: &[u8], mode: u32, em: &Emitter) -> Result<(), RemoteError> {
        em.command(&format!(
            "upload {} bytes to {path} (mode {mode:o})",
            bytes.len()
        ));
        self.uploads
            .lock()
            .unwrap()
            .push((path.into(), bytes.to_vec(), mode));
        Ok(())
    }

    fn forward_local(&self, _host: &str, _port: u16) -> Result<Box<dyn Forward>, RemoteError> {
        unimplemented!("not used by the network provider")
    }

    fn forward_remote(&self, _target: SocketAddr) -> Result<Box<dyn Forward>, RemoteError> {
        unimplemented!("not used by the network provider")
    }
}
