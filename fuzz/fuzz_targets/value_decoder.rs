//! The value decoder and file decryption must reject, never panic on, any input.
#![no_main]
use arcane::secrets::format::{decode_value, decrypt_text, DataKey, FileId, ScopeCipher};
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let _ = decode_value(s);
    let c = ScopeCipher::new(&DataKey([9; 32]));
    let id = FileId {
        scope: "base".into(),
        layer: "base".into(),
    };
    let _ = c.decrypt_value(&id, "KEY", s);
    let _ = decrypt_text(&c, &id, s, Path::new("base.env"));
});
