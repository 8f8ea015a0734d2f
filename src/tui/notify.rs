//! Desktop notifications (deploy finished or failed, a refused host key).
//!
//! They are a convenience, never a requirement: without a D-Bus session bus
//! (`DBUS_SESSION_BUS_ADDRESS` unset, as on servers and in CI) nothing happens
//! and nothing is printed. With one, the notification is sent from its own
//! thread so a slow or broken notification daemon never blocks the UI.

/// Whether a session bus is advertised.
pub fn dbus_available() -> bool {
    std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some_and(|v| !v.is_empty())
}

/// Send a desktop notification if a session bus exists; otherwise do nothing.
/// Returns whether an attempt was started (for tests).
pub fn send(title: &str, body: &str) -> bool {
    if !dbus_available() {
        return false;
    }
    let (title, body) = (title.to_string(), body.to_string());
    std::thread::Builder::new()
        .name("arcane-notify".into())
        .spawn(move || {
            let _ = notify_rust::Notification::new()
                .appname("arcane")
                .summary(&title)
                .body(&body)
                .timeout(notify_rust::Timeout::Milliseconds(8000))
                .show();
        })
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The real thing needs a desktop session; this checks the no-D-Bus path.
    #[test]
    fn without_dbus_notifications_are_a_silent_no_op() {
        if dbus_available() {
            return; // a developer desktop: the other path is the one to check here
        }
        let t = std::time::Instant::now();
        assert!(!send("arcane: deployed", "staging"));
        assert!(t.elapsed() < std::time::Duration::from_millis(50));
    }
}
