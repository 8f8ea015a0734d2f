//! The Logs tab's followers: one `logs -f` at a time, stopped when another
//! starts, waited for when arcane exits.

use super::sinks::LogSink;
use super::Effects;
use crate::config::Selection;
use crate::event::Emitter;
use crate::ops::{self, Cancel};
use crate::tui::update::Msg;
use std::sync::Arc;
use std::time::Duration;

/// A log follower's thread and stop flag, kept after a stop until the
/// thread ends (its command is dead then), so quitting can wait for it.
pub(super) struct Follower {
    pub(super) stop: Cancel,
    pub(super) thread: std::thread::JoinHandle<()>,
}

impl Effects {
    pub(super) fn stop_logs(&self) {
        let mut followers = self.logs.lock().unwrap();
        followers.retain(|f| !f.thread.is_finished());
        for f in followers.iter() {
            f.stop.cancel();
        }
    }

    /// Stop every log follower and wait, at most `wait`, for their commands
    /// to be dead: called as arcane exits. (Should one hang, the transports'
    /// watchdog ends it when arcane's end of its pipe closes.)
    pub fn stop_logs_and_wait(&self, wait: Duration) {
        self.stop_logs();
        let end = std::time::Instant::now() + wait;
        let busy = || {
            self.logs
                .lock()
                .unwrap()
                .iter()
                .any(|f| !f.thread.is_finished())
        };
        while busy() && std::time::Instant::now() < end {
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub(super) fn follow_logs(&self, id: u64, server: String, service: String) {
        self.stop_logs();
        let stop = Cancel::default();
        let (p, interact) = (self.project.clone(), self.interact.clone());
        let (identity, connector) = (self.identity_path(), self.connector.clone());
        let tx = self.tx.clone();
        let em = Emitter::new(Arc::new(LogSink(tx.clone(), id)));
        let cancel = stop.clone();
        let run = move || {
            let ctx = ops::Ctx::new(&p, &interact, em)
                .with_identity(identity)
                .with_cancel(cancel)
                .with_connector(connector);
            let sel = Selection {
                servers: vec![server],
                ..Default::default()
            };
            let req = ops::logs::LogsRequest {
                service: Some(service),
                lines: 200,
                follow: true,
            };
            let error = match ops::logs::logs(&ctx, &sel, &req) {
                Ok(()) | Err(ops::Error::Interrupted) => None,
                Err(e) => Some(e.to_string()),
            };
            let _ = tx.send(Msg::LogsEnded { id, error });
        };
        if let Ok(thread) = std::thread::Builder::new()
            .name("arcane-logs".into())
            .spawn(run)
        {
            self.logs.lock().unwrap().push(Follower { stop, thread });
        }
    }
}
