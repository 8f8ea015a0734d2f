//! The runtime loop: `select!` over terminal input, engine events, results of
//! engine calls and two timers, feed each to `update`, run the commands it
//! returns, and redraw only when the model says something changed.
//!
//! Nothing here blocks: engine calls run on their own threads (see
//! `effects`), and without input, engine events or animation the loop wakes
//! once a second to move the clock, so an idle dashboard costs nothing.

use super::effects::Effects;
use super::model::Model;
use super::update::{update, Msg};
use super::view::view;
use crate::event::Event;
use crossterm::event::{Event as TermEvent, EventStream, MouseEventKind};
use futures::StreamExt;
use ratatui::backend::Backend;
use ratatui::Terminal;
use std::time::Duration;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::{interval, MissedTickBehavior};

/// Spinner speed while something animates.
const FRAME: Duration = Duration::from_millis(100);
/// Messages handled per redraw at most: a burst of log lines draws once.
const BATCH: usize = 512;

pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn term_msg(ev: TermEvent) -> Option<Msg> {
    match ev {
        TermEvent::Key(k) => Some(Msg::Key(k)),
        TermEvent::Resize(width, height) => Some(Msg::Resize { width, height }),
        TermEvent::Mouse(m) => match m.kind {
            MouseEventKind::ScrollDown => Some(Msg::Scroll(1)),
            MouseEventKind::ScrollUp => Some(Msg::Scroll(-1)),
            _ => None,
        },
        _ => None,
    }
}

pub async fn run<B: Backend>(
    terminal: &mut Terminal<B>,
    model: &mut Model,
    effects: &Effects,
    mut msgs: UnboundedReceiver<Msg>,
    mut events: UnboundedReceiver<Event>,
) -> Result<(), B::Error> {
    let mut input = EventStream::new();
    let mut frame = interval(FRAME);
    frame.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut clock = interval(Duration::from_secs(1));
    clock.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut input_open = true;
    if let Ok(s) = terminal.size() {
        update(
            model,
            Msg::Resize {
                width: s.width,
                height: s.height,
            },
        );
    }
    // The first frame is drawn before anything is loaded, so the dashboard
    // appears at once; the first clock tick starts the status refresh.
    loop {
        if model.dirty {
            terminal.draw(|f| view(model, f))?;
            model.dirty = false;
        }
        if model.quit {
            break;
        }
        let animating = model.animating();
        let msg = tokio::select! {
            ev = input.next(), if input_open => match ev {
                Some(Ok(ev)) => term_msg(ev),
                Some(Err(_)) | None => {
                    // The terminal went away: nothing more to read.
                    input_open = false;
                    None
                }
            },
            Some(ev) = events.recv() => Some(Msg::Engine(ev)),
            Some(m) = msgs.recv() => Some(m),
            _ = frame.tick(), if animating => Some(Msg::Tick { now: unix_now() }),
            _ = clock.tick() => Some(Msg::Tick { now: unix_now() }),
        };
        let Some(msg) = msg else {
            if !input_open {
                break;
            }
            continue;
        };
        for cmd in update(model, msg) {
            effects.run(cmd);
        }
        // Drain what is already queued before drawing again.
        for _ in 0..BATCH {
            let next = match events.try_recv() {
                Ok(ev) => Msg::Engine(ev),
                Err(_) => match msgs.try_recv() {
                    Ok(m) => m,
                    Err(_) => break,
                },
            };
            for cmd in update(model, next) {
                effects.run(cmd);
            }
        }
    }
    Ok(())
}
