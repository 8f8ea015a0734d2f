//! Desktop notifications when a deploy ends. Best effort by design: without a
//! D-Bus session (servers, CI, SSH sessions) nothing happens, and a slow or
//! broken notification daemon can never hold the deploy up or fail it.

use std::time::Duration;

/// Whether a notification would be attempted in this process environment.
pub fn available() -> bool {
    std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some_and(|v| !v.is_empty())
}

/// Send from a thread and wait at most one second for it.
pub fn send(summary: &str, body: &str) {
    if !available() {
        return;
    }
    let (summary, body) = (summary.to_string(), body.to_string());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = notify_rust::Notification::new()
            .appname("arcane")
            .summary(&summary)
            .body(&body)
            .timeout(notify_rust::Timeout::Milliseconds(8000))
            .show();
        let _ = tx.send(());
    });
    let _ = rx.recv_timeout(Duration::from_secs(1));
}

#[cfg(test)]
mod tests {
    #[test]
    fn without_dbus_it_returns_at_once_fake_bus() {
        // A fake (unreachable) bus address: must not block or panic.
        let t = std::time::Instant::now();
        super::send("x", "y");
        assert!(t.elapsed() < std::time::Duration::from_secs(2));
    }
}
