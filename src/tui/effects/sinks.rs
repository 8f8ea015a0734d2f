//! Where each kind of dashboard work sends its events: every sink turns
//! the events it cares about into messages for `update`, and sends engine
//! commands to the command log.

use super::super::model::NetRow;
use super::super::update::Msg;
use super::convert::overview_row;
use crate::event::{Event, Sink};
use tokio::sync::mpsc::UnboundedSender;

/// A status probe's events: each server's status becomes its own message
/// (fast servers show while slow ones time out), commands go to the
/// command log, the rest is not the Overview's business.
pub(super) struct StatusSink(pub(super) UnboundedSender<Msg>);

impl Sink for StatusSink {
    fn emit(&self, event: Event) {
        let msg = match event {
            Event::ServerStatus(st) => Msg::StatusLoaded {
                server: st.server.clone(),
                status: overview_row(&st),
            },
            other @ Event::Command { .. } => Msg::Engine(other),
            _ => return,
        };
        let _ = self.0.send(msg);
    }
}

/// The network probe's events: each server's state becomes its own
/// message, commands go to the command log.
pub(super) struct NetSink(pub(super) UnboundedSender<Msg>);

impl Sink for NetSink {
    fn emit(&self, event: Event) {
        let msg = match event {
            Event::NetworkNode(n) => Msg::NetworkLoaded {
                server: n.server.clone(),
                net: NetRow {
                    word: n.state_word().into(),
                    ip: n.ip.clone(),
                    ok: n.joined && n.ok(),
                },
            },
            other @ Event::Command { .. } => Msg::Engine(other),
            _ => return,
        };
        let _ = self.0.send(msg);
    }
}

/// The Overview's bootstrap: its steps become progress, its commands go to
/// the command log.
pub(super) struct BootstrapSink(pub(super) UnboundedSender<Msg>);

impl Sink for BootstrapSink {
    fn emit(&self, event: Event) {
        let msg = match event {
            e @ (Event::StepStarted { .. } | Event::StepFinished { .. }) => Msg::BootstrapEvent(e),
            other @ Event::Command { .. } => Msg::Engine(other),
            _ => return,
        };
        let _ = self.0.send(msg);
    }
}

/// Work outside a deploy reports only its commands (to the command log):
/// its steps and final event are not the Deploy tab's, and its result
/// arrives as a message.
pub(super) struct CommandLogSink(pub(super) UnboundedSender<Msg>);

impl Sink for CommandLogSink {
    fn emit(&self, event: Event) {
        if matches!(event, Event::Command { .. }) {
            let _ = self.0.send(Msg::Engine(event));
        }
    }
}

/// Turns log follower `id`'s events into messages: its lines go to the Logs
/// tab, its commands to the command log.
pub(super) struct LogSink(pub(super) UnboundedSender<Msg>, pub(super) u64);

impl Sink for LogSink {
    fn emit(&self, event: Event) {
        let msg = match event {
            Event::Log { line, .. } => Msg::LogLine { id: self.1, line },
            other @ Event::Command { .. } => Msg::Engine(other),
            _ => return,
        };
        let _ = self.0.send(msg);
    }
}
