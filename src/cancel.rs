//! Cooperative cancellation: Ctrl-C in the CLI, Esc in the dashboard.
//!
//! Operations check the token between steps and pass it as the `stop`
//! condition of every long-running command (a build, a log follow, a hook),
//! so a cancel kills what runs now instead of waiting for it to end.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

#[derive(Clone, Default, Debug)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// A cancel token that fires on the first SIGINT (Ctrl-C) of the process.
    /// The handler only stores to an atomic; a watcher thread forwards it.
    pub fn on_ctrl_c() -> Cancel {
        static SIGINT: AtomicBool = AtomicBool::new(false);
        extern "C" fn on_sigint(_: libc::c_int) {
            SIGINT.store(true, Ordering::SeqCst);
        }
        let c = Cancel::default();
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        unsafe {
            libc::signal(libc::SIGINT, on_sigint as *const () as libc::sighandler_t);
        }
        let c2 = c.clone();
        std::thread::spawn(move || loop {
            if SIGINT.load(Ordering::SeqCst) {
                c2.cancel();
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        });
        c
    }
}
