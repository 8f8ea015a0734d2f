//! Encrypted secrets: identities, recipients and per-scope data keys, the
//! deterministic per-value env file format, git filters and the leak scanner.
