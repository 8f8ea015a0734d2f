//! Both env file parsers must never panic, and what arcane encrypts must
//! decrypt back to the same bytes.
#![no_main]
use arcane::secrets::format::{decrypt_text, encrypt_text, DataKey, EnvDoc, FileId, ScopeCipher};
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("config/envs/staging.env");
    let _ = arcane::config::envfile::parse(text, path);
    if EnvDoc::parse(text, path).is_ok() && !text.contains("arcane:") {
        let c = ScopeCipher::new(&DataKey([9; 32]));
        let id = FileId {
            scope: "staging".into(),
            layer: "staging".into(),
        };
        let enc = encrypt_text(&c, &id, text, path).expect("parsed text encrypts");
        let dec = decrypt_text(&c, &id, &enc, path).expect("own ciphertext decrypts");
        assert_eq!(dec, text);
    }
});
