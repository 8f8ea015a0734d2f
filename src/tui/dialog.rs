//! The TUI's answer to the engine's `Interact` questions: a dialog.
//!
//! An engine runs on a blocking thread; when it asks, the question goes to the
//! UI loop as a message and the engine thread waits for the answer. If the UI
//! is gone (the channel closed), the answer is "no", so nothing dangerous
//! happens by default.

use super::update::Msg;
use crate::error::InputError;
use crate::interact::{Confirm, Interact};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use tokio::sync::mpsc::UnboundedSender;

#[derive(Clone)]
pub struct TuiInteract {
    tx: UnboundedSender<Msg>,
    next: Arc<AtomicU64>,
    waiting: Arc<Mutex<HashMap<u64, mpsc::Sender<bool>>>>,
}

impl TuiInteract {
    pub fn new(tx: UnboundedSender<Msg>) -> Self {
        TuiInteract {
            tx,
            next: Arc::new(AtomicU64::new(1)),
            waiting: Arc::default(),
        }
    }

    /// Deliver the user's answer to the engine thread waiting on question `id`.
    pub fn answer(&self, id: u64, yes: bool) {
        if let Some(tx) = self.waiting.lock().unwrap().remove(&id) {
            let _ = tx.send(yes);
        }
    }
}

impl Interact for TuiInteract {
    fn confirm(&self, req: &Confirm) -> Result<bool, InputError> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel();
        self.waiting.lock().unwrap().insert(id, tx);
        if self
            .tx
            .send(Msg::ConfirmRequested {
                id,
                confirm: req.clone(),
            })
            .is_err()
        {
            self.waiting.lock().unwrap().remove(&id);
            return Ok(false);
        }
        Ok(rx.recv().unwrap_or(false))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(word: Option<&str>) -> Confirm {
        Confirm {
            word: word.map(String::from),
            ..Confirm::yes_no("Deploy to PRODUCTION?", "pass --yes")
        }
    }

    #[test]
    fn questions_wait_for_the_ui_answer() {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let ui = TuiInteract::new(tx);
        let asker = ui.clone();
        let h = std::thread::spawn(move || asker.confirm(&q(None)).unwrap());
        let Some(Msg::ConfirmRequested { id, .. }) = rx.blocking_recv() else {
            panic!("no question")
        };
        ui.answer(id, true);
        assert!(h.join().unwrap());
    }

    #[test]
    fn a_closed_ui_says_no() {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        drop(rx);
        assert!(!TuiInteract::new(tx).confirm(&q(None)).unwrap());
    }
}
