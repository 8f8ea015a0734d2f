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

/// The deploy's own "type the env name" question, already answered in the
/// TUI's confirm dialog before the deploy started: the user typed exactly this
/// word for exactly this deploy, so asking again would only train them to type
/// it without reading. Every other question goes to the dialog.
pub struct PreConfirmed<'a> {
    pub typed_word: Option<String>,
    pub inner: &'a dyn Interact,
}

impl Interact for PreConfirmed<'_> {
    fn confirm(&self, req: &Confirm) -> Result<bool, InputError> {
        match (&self.typed_word, &req.typed_word) {
            (Some(done), Some(asked)) if done == asked => Ok(true),
            _ => self.inner.confirm(req),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(word: Option<&str>) -> Confirm {
        Confirm {
            prompt: "Deploy to PRODUCTION?".into(),
            typed_word: word.map(String::from),
            hint: "pass --yes".into(),
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

    #[test]
    fn preconfirmed_only_covers_the_typed_env_name() {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        drop(rx);
        let ui = TuiInteract::new(tx);
        let pre = PreConfirmed {
            typed_word: Some("production".into()),
            inner: &ui,
        };
        assert!(pre.confirm(&q(Some("production"))).unwrap());
        assert!(!pre.confirm(&q(Some("staging"))).unwrap());
        assert!(!pre.confirm(&q(None)).unwrap());
    }
}
