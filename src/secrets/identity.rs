//! Identities: who you are to age.
//!
//! A person has one identity file, by default `$XDG_CONFIG_HOME/arcane/identity.txt`
//! (mode 0600 in a 0700 directory), holding an x25519 age identity (optionally
//! passphrase-protected with age scrypt, the same format `age -p` writes, so
//! the stock `age` CLI can use it) or an ssh-ed25519 private key. Machines and
//! CI pass a secret key in `ARCANE_MACHINE_KEY` or a file named by
//! `ARCANE_MACHINE_KEY_FILE`, so nothing needs to be written to their disk.

use super::{write_atomic, SecretsError};
use age::secrecy::{ExposeSecret, SecretString};
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};

/// Env var holding a machine's secret key string (`AGE-SECRET-KEY-1...`).
pub const ENV_MACHINE_KEY: &str = "ARCANE_MACHINE_KEY";
/// Env var naming a file that holds a machine's secret key.
pub const ENV_MACHINE_KEY_FILE: &str = "ARCANE_MACHINE_KEY_FILE";
/// Env var naming the identity file (same as `--identity`).
pub const ENV_IDENTITY: &str = "ARCANE_IDENTITY";
/// Passphrase for a protected identity, for automation (tests, scripted
/// rotations). Interactive users are prompted on /dev/tty instead.
pub const ENV_PASSPHRASE: &str = "ARCANE_PASSPHRASE";

/// Variables that give access to keys; `arcane run` strips them from children.
pub const KEY_VARS: [&str; 4] = [
    ENV_MACHINE_KEY,
    ENV_MACHINE_KEY_FILE,
    ENV_IDENTITY,
    ENV_PASSPHRASE,
];

/// Where an identity came from (for messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentitySource {
    MachineKey,
    MachineKeyFile(PathBuf),
    File(PathBuf),
}

impl std::fmt::Display for IdentitySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IdentitySource::MachineKey => write!(f, "${ENV_MACHINE_KEY}"),
            IdentitySource::MachineKeyFile(p) => {
                write!(f, "{} (${ENV_MACHINE_KEY_FILE})", p.display())
            }
            IdentitySource::File(p) => write!(f, "{}", p.display()),
        }
    }
}

/// One usable identity and its public key.
pub struct Loaded {
    pub source: IdentitySource,
    /// `age1...` or `ssh-ed25519 AAAA...`.
    pub public: String,
    pub inner: Box<dyn age::Identity>,
    /// The secret that signs key manifests (see `secrets::sign`); `None` for
    /// keys that cannot sign (ssh-rsa, passphrase-protected ssh keys).
    pub sign_seed: Option<SignSeed>,
}

/// Secret material a [`super::sign::Signer`] is made from. Zeroed on drop.
pub enum SignSeed {
    X25519(zeroize::Zeroizing<[u8; 32]>),
    Ed25519(zeroize::Zeroizing<[u8; 32]>),
}

impl Loaded {
    /// The signer of this identity, if it can sign.
    pub fn signer(&self) -> Option<super::sign::Signer> {
        match self.sign_seed.as_ref()? {
            SignSeed::X25519(s) => Some(super::sign::Signer::from_x25519(s)),
            SignSeed::Ed25519(s) => Some(super::sign::Signer::from_ed25519_seed(s)),
        }
    }
}

/// Every identity available to this process (machine key first).
#[derive(Default)]
pub struct Identities {
    pub list: Vec<Loaded>,
}

impl Identities {
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub fn as_age(&self) -> impl Iterator<Item = &dyn age::Identity> {
        self.list.iter().map(|l| l.inner.as_ref())
    }

    pub fn publics(&self) -> Vec<String> {
        self.list.iter().map(|l| l.public.clone()).collect()
    }

    /// Load from the machine-key variables, then the identity file
    /// (`explicit` from `--identity`/`ARCANE_IDENTITY`, else the default path
    /// if it exists). A missing default file is not an error: callers decide.
    pub fn load(explicit: Option<&Path>) -> Result<Identities, SecretsError> {
        let mut ids = Identities::default();
        if let Ok(k) = std::env::var(ENV_MACHINE_KEY) {
            if !k.trim().is_empty() {
                let mut parsed = parse_identity_text(&k, "$ARCANE_MACHINE_KEY")?;
                for l in parsed.iter_mut() {
                    l.source = IdentitySource::MachineKey;
                }
                ids.list.extend(parsed);
            }
        }
        if let Some(p) = std::env::var_os(ENV_MACHINE_KEY_FILE).filter(|p| !p.is_empty()) {
            let p = PathBuf::from(p);
            let text = std::fs::read_to_string(&p).map_err(|e| {
                SecretsError::io(
                    format!("reading ${ENV_MACHINE_KEY_FILE} {}", p.display()),
                    e,
                )
            })?;
            let mut parsed = parse_identity_text(&text, &p.display().to_string())?;
            for l in parsed.iter_mut() {
                l.source = IdentitySource::MachineKeyFile(p.clone());
            }
            ids.list.extend(parsed);
        }
        match explicit {
            Some(p) => ids.list.extend(load_file(p)?),
            None => {
                if let Some(p) = default_path() {
                    if p.exists() {
                        ids.list.extend(load_file(&p)?);
                    }
                }
            }
        }
        Ok(ids)
    }
}

/// `$XDG_CONFIG_HOME/arcane/identity.txt` (via `directories`).
pub fn default_path() -> Option<PathBuf> {
    directories::BaseDirs::new().map(|b| b.config_dir().join("arcane").join("identity.txt"))
}

/// The identity file this process uses: `--identity`/`ARCANE_IDENTITY` or the default.
pub fn identity_path(explicit: Option<&Path>) -> Result<PathBuf, SecretsError> {
    explicit
        .map(Path::to_path_buf)
        .or_else(default_path)
        .ok_or_else(|| {
            SecretsError::input("cannot find a config directory: set --identity or ARCANE_IDENTITY")
        })
}

fn load_file(path: &Path) -> Result<Vec<Loaded>, SecretsError> {
    let text = std::fs::read(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            SecretsError::input(format!(
                "identity file {} does not exist; create one with `arcane identity new` or fix --identity/ARCANE_IDENTITY",
                path.display()
            ))
        } else {
            SecretsError::io(format!("reading identity {}", path.display()), e)
        }
    })?;
    let text = if is_age_encrypted(&text) {
        decrypt_protected(&text, path)?
    } else {
        SecretString::from(String::from_utf8_lossy(&text).into_owned())
    };
    let mut parsed = parse_identity_text(text.expose_secret(), &path.display().to_string())?;
    for l in parsed.iter_mut() {
        l.source = IdentitySource::File(path.to_path_buf());
    }
    Ok(parsed)
}

fn is_age_encrypted(data: &[u8]) -> bool {
    data.starts_with(b"-----BEGIN AGE ENCRYPTED FILE-----")
        || data.starts_with(b"age-encryption.org/v1")
}

/// Decrypt a passphrase-protected identity file (age scrypt).
fn decrypt_protected(data: &[u8], path: &Path) -> Result<SecretString, SecretsError> {
    let pass = passphrase(&format!("Passphrase for {}: ", path.display()), false)?;
    let dec = age::Decryptor::new_buffered(age::armor::ArmoredReader::new(data)).map_err(|e| {
        SecretsError::Failed(format!("{}: not a valid age file: {e}", path.display()))
    })?;
    let mut id = age::scrypt::Identity::new(pass);
    id.set_max_work_factor(22);
    let mut r = dec
        .decrypt(std::iter::once(&id as &dyn age::Identity))
        .map_err(|_| SecretsError::input(format!("{}: wrong passphrase", path.display())))?;
    let mut out = String::new();
    r.read_to_string(&mut out)
        .map_err(|e| SecretsError::io(format!("decrypting {}", path.display()), e))?;
    Ok(SecretString::from(out))
}

/// Parse identity text: age `AGE-SECRET-KEY-1...` lines, or an OpenSSH
/// ed25519 private key. Errors never echo the text (it is secret).
pub fn parse_identity_text(text: &str, what: &str) -> Result<Vec<Loaded>, SecretsError> {
    let src = IdentitySource::File(PathBuf::from(what));
    if text.contains("-----BEGIN OPENSSH PRIVATE KEY-----") || text.contains("PRIVATE KEY-----") {
        let ssh = age::ssh::Identity::from_buffer(
            BufReader::new(text.as_bytes()),
            Some(what.to_string()),
        )
        .map_err(|e| SecretsError::input(format!("{what}: not a usable ssh private key: {e}")))?;
        if let age::ssh::Identity::Unsupported(_) = &ssh {
            return Err(SecretsError::input(format!(
                "{what}: unsupported ssh key (only ssh-ed25519 and ssh-rsa keys work with age)"
            )));
        }
        let public = age::ssh::Recipient::try_from(ssh.clone())
            .map(|r| r.to_string())
            .map_err(|_| {
                SecretsError::input(format!(
                    "{what}: cannot derive the public key of this ssh key"
                ))
            })?;
        let inner: Box<dyn age::Identity> = Box::new(ssh.with_callbacks(TtyCallbacks));
        return Ok(vec![Loaded {
            source: src,
            public,
            inner,
            sign_seed: super::sign::openssh_ed25519_seed(text).map(SignSeed::Ed25519),
        }]);
    }
    let mut out = vec![];
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let id: age::x25519::Identity = line.parse().map_err(|_| {
            SecretsError::input(format!(
                "{what}: line {} is not an age identity (expected AGE-SECRET-KEY-1...)",
                i + 1
            ))
        })?;
        let seed = super::sign::decode_bech32(line, "age-secret-key-")
            .map(|b| SignSeed::X25519(zeroize::Zeroizing::new(b)));
        out.push(Loaded {
            source: src.clone(),
            public: id.to_public().to_string(),
            inner: Box::new(id),
            sign_seed: seed,
        });
    }
    if out.is_empty() {
        return Err(SecretsError::input(format!("{what}: no identity found")));
    }
    Ok(out)
}

/// A fresh x25519 identity in age-keygen's file format.
pub fn generate() -> (SecretString, String) {
    let id = age::x25519::Identity::generate();
    let public = id.to_public().to_string();
    let created = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let text = format!(
        "# created: {created}\n# public key: {public}\n{}\n",
        id.to_string().expose_secret()
    );
    (SecretString::from(text), public)
}

/// Protect identity text with a passphrase (age scrypt, armored).
pub fn protect(text: &SecretString, pass: SecretString) -> Result<Vec<u8>, SecretsError> {
    let enc = age::Encryptor::with_user_passphrase(pass);
    let mut out = vec![];
    let armored = age::armor::ArmoredWriter::wrap_output(&mut out, age::armor::Format::AsciiArmor)
        .map_err(|e| SecretsError::Failed(e.to_string()))?;
    let mut w = enc
        .wrap_output(armored)
        .map_err(|e| SecretsError::Failed(e.to_string()))?;
    w.write_all(text.expose_secret().as_bytes())
        .and_then(|_| w.finish())
        .and_then(|a| a.finish())
        .map_err(|e| SecretsError::Failed(format!("encrypting the identity: {e}")))?;
    Ok(out)
}

/// Write an identity file with mode 0600 in a 0700 directory. Refuses to
/// replace an existing identity unless `force`.
pub fn save(path: &Path, data: &[u8], force: bool) -> Result<(), SecretsError> {
    use std::os::unix::fs::PermissionsExt;
    if path.exists() && !force {
        return Err(SecretsError::input(format!(
            "{} already exists; pass --force to replace it (you will lose access to every scope it was a recipient of)",
            path.display()
        )));
    }
    if let Some(dir) = path.parent() {
        let existed = dir.exists();
        std::fs::create_dir_all(dir)
            .map_err(|e| SecretsError::io(format!("creating {}", dir.display()), e))?;
        if !existed || dir.ends_with("arcane") {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| SecretsError::io(format!("chmod {}", dir.display()), e))?;
        }
    }
    write_atomic(path, data, 0o600)
}

/// Read a passphrase: `ARCANE_PASSPHRASE`, else a prompt on /dev/tty with echo
/// off (git filters have no usable stdin, so never stdin).
pub fn passphrase(prompt: &str, confirm: bool) -> Result<SecretString, SecretsError> {
    if let Ok(p) = std::env::var(ENV_PASSPHRASE) {
        return Ok(SecretString::from(p));
    }
    let first = tty_read_secret(prompt)?;
    if confirm {
        let second = tty_read_secret("Confirm passphrase: ")?;
        if first.expose_secret() != second.expose_secret() {
            return Err(SecretsError::input("the passphrases do not match"));
        }
    }
    if first.expose_secret().is_empty() {
        return Err(SecretsError::input("empty passphrase"));
    }
    Ok(first)
}

fn tty_read_secret(prompt: &str) -> Result<SecretString, SecretsError> {
    use std::io::BufRead;
    use std::os::fd::AsRawFd;
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .map_err(|_| {
            SecretsError::input(format!(
                "a passphrase is needed but there is no terminal; set {ENV_PASSPHRASE} or use an unprotected machine key ({ENV_MACHINE_KEY})"
            ))
        })?;
    let fd = tty.as_raw_fd();
    // SAFETY: plain termios calls on a file descriptor we own for this scope.
    let mut term: libc::termios = unsafe { std::mem::zeroed() };
    let have_term = unsafe { libc::tcgetattr(fd, &mut term) } == 0;
    let saved = term;
    if have_term {
        term.c_lflag &= !libc::ECHO;
        term.c_lflag |= libc::ECHONL;
        unsafe { libc::tcsetattr(fd, libc::TCSANOW, &term) };
    }
    let mut w = &tty;
    let _ = w.write_all(prompt.as_bytes());
    let _ = w.flush();
    let mut line = String::new();
    let res = BufReader::new(&tty).read_line(&mut line);
    if have_term {
        unsafe { libc::tcsetattr(fd, libc::TCSANOW, &saved) };
    }
    res.map_err(|e| SecretsError::io("reading the passphrase", e))?;
    let trimmed = line.trim_end_matches(['\n', '\r']).to_string();
    zeroize::Zeroize::zeroize(&mut line);
    Ok(SecretString::from(trimmed))
}

/// Passphrase prompts for encrypted ssh keys go to /dev/tty too.
#[derive(Clone, Copy)]
struct TtyCallbacks;

impl age::Callbacks for TtyCallbacks {
    fn display_message(&self, message: &str) {
        eprintln!("{message}");
    }
    fn confirm(&self, _: &str, _: &str, _: Option<&str>) -> Option<bool> {
        None
    }
    fn request_public_string(&self, _: &str) -> Option<String> {
        None
    }
    fn request_passphrase(&self, description: &str) -> Option<SecretString> {
        passphrase(&format!("{description}: "), false).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_identity_parses_and_protects() {
        let (text, public) = generate();
        let l = parse_identity_text(text.expose_secret(), "test").unwrap();
        assert_eq!(l[0].public, public);
        let prot = protect(&text, SecretString::from("pw".to_string())).unwrap();
        assert!(is_age_encrypted(&prot));
    }

    #[test]
    fn errors_do_not_echo_the_key() {
        let e = parse_identity_text("AGE-SECRET-KEY-1NOTVALIDATALL", "f")
            .err()
            .unwrap();
        assert!(!e.to_string().contains("NOTVALID"), "{e}");
    }
}
