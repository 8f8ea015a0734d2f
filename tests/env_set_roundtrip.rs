//! Property: whatever value `env set` stores (any Unicode, `$`, quotes, `#`,
//! backslashes, newlines, control characters) reads back byte for byte,
//! through the encrypted file on disk and the one env parser with
//! interpolation, as `env show`, `run` and the deploy read it.

use arcane::config::{envfile, interp};
use arcane::secrets::{project, Keyring};
use proptest::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

struct Fixture {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    identity: PathBuf,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        // Pins go to this test's own state dir, never the user's.
        std::env::set_var("XDG_STATE_HOME", tmp.path().join("state"));
        std::env::remove_var("ARCANE_MACHINE_KEY");
        std::env::remove_var("ARCANE_MACHINE_KEY_FILE");
        let root = tmp.path().join("proj");
        std::fs::create_dir_all(root.join("config/envs")).unwrap();
        let identity = tmp.path().join("identity.txt");
        let (text, _) = arcane::secrets::identity::generate();
        let text = age::secrecy::ExposeSecret::expose_secret(&text).to_string();
        arcane::secrets::identity::save(&identity, text.as_bytes(), false).unwrap();
        project::init_secrets(&root, &["staging".into()], Some(&identity), "owner").unwrap();
        Fixture {
            _tmp: tmp,
            root,
            identity,
        }
    })
}

fn read_back(root: &Path, keys: &Keyring, key: &str) -> String {
    let path = project::env_file_path(root, "staging");
    let plain = project::read_env_file(root, &path, keys).unwrap();
    let e = envfile::parse(&plain, &path)
        .unwrap()
        .into_iter()
        .rfind(|e| e.key == key)
        .unwrap();
    if e.interpolate {
        interp::expand(&e.value, &|_| None, &mut vec![]).unwrap()
    } else {
        e.value
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 200,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]
    #[test]
    fn any_value_set_reads_back_identically(
        v in prop_oneof![
            any::<String>(),
            "[$'\"\\\\#\n\r\t {}:=a-z]*",
            "\\PC*",
        ]
    ) {
        let f = fixture();
        let keys = Keyring::new(&f.root, Some(&f.identity));
        project::set_value(&f.root, "staging", "VALUE", &v, &keys).unwrap();
        let on_disk = std::fs::read_to_string(project::env_file_path(&f.root, "staging")).unwrap();
        prop_assert!(on_disk.contains("VALUE=arcane:v1:"), "written encrypted (no filter here)");
        prop_assert_eq!(read_back(&f.root, &keys, "VALUE"), v.clone());
        // A second key after it: the first value's quoting does not leak.
        project::set_value(&f.root, "staging", "NEXT", "after", &keys).unwrap();
        prop_assert_eq!(read_back(&f.root, &keys, "NEXT"), "after");
        prop_assert_eq!(read_back(&f.root, &keys, "VALUE"), v);
    }
}
