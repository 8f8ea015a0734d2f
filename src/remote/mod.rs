//! The one transport every remote command goes through: ssh2 for servers,
//! and a local transport for `host = "local"`. Commands are logged as
//! events with secrets redacted.
