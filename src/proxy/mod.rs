//! The edge proxy (Caddy by default) behind a `Proxy` trait: health-gated
//! cutover of one app's route at a time.
