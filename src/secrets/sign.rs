//! Signatures from the identities people already have, so the key manifest
//! (see [`super::trust`]) can prove who changed a scope key without anyone
//! distributing a second public key.
//!
//! * An x25519 age identity signs with XEdDSA (the construction Signal uses):
//!   its Montgomery public key (`age1…`) maps to an Ed25519 point with sign
//!   bit 0, and the secret scalar is negated when needed to match it. The
//!   signature is a plain Ed25519 signature under that point.
//! * An ssh-ed25519 identity signs with its own Ed25519 key, verified with
//!   the key in its `ssh-ed25519 AAAA…` line.
//! * ssh-rsa identities cannot sign: they can read, not authorize changes.
//!
//! Nonces are deterministic (a hash of a secret prefix and the message, as in
//! Ed25519), so signing needs no randomness and never repeats a nonce for two
//! messages.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::montgomery::MontgomeryPoint;
use curve25519_dalek::scalar::{clamp_integer, Scalar};
use sha2::{Digest, Sha512};
use zeroize::Zeroize;

/// A secret signing key (scalar, nonce prefix, public point).
pub struct Signer {
    a: Scalar,
    prefix: [u8; 32],
    public: [u8; 32],
}

impl Drop for Signer {
    fn drop(&mut self) {
        self.a.zeroize();
        self.prefix.zeroize();
    }
}

fn wide(parts: &[&[u8]]) -> Scalar {
    let mut h = Sha512::new();
    for p in parts {
        h.update(p);
    }
    let out: [u8; 64] = h.finalize().into();
    Scalar::from_bytes_mod_order_wide(&out)
}

impl Signer {
    /// XEdDSA key of an x25519 secret (the 32 bytes of `AGE-SECRET-KEY-1…`).
    pub fn from_x25519(secret: &[u8; 32]) -> Signer {
        let mut a = Scalar::from_bytes_mod_order(clamp_integer(*secret));
        let mut point = EdwardsPoint::mul_base(&a);
        if point.compress().as_bytes()[31] & 0x80 != 0 {
            a = -a;
            point = -point;
        }
        let mut h = Sha512::new();
        h.update(b"arcane xeddsa nonce v1\0");
        h.update(secret);
        let d: [u8; 64] = h.finalize().into();
        let mut prefix = [0u8; 32];
        prefix.copy_from_slice(&d[..32]);
        Signer {
            a,
            prefix,
            public: point.compress().to_bytes(),
        }
    }

    /// Ed25519 key of a 32-byte seed (an ssh-ed25519 private key).
    pub fn from_ed25519_seed(seed: &[u8; 32]) -> Signer {
        let mut d: [u8; 64] = Sha512::digest(seed).into();
        let mut lo = [0u8; 32];
        lo.copy_from_slice(&d[..32]);
        let a = Scalar::from_bytes_mod_order(clamp_integer(lo));
        let mut prefix = [0u8; 32];
        prefix.copy_from_slice(&d[32..]);
        d.zeroize();
        lo.zeroize();
        Signer {
            a,
            prefix,
            public: EdwardsPoint::mul_base(&a).compress().to_bytes(),
        }
    }

    /// The compressed Edwards public point.
    pub fn public(&self) -> [u8; 32] {
        self.public
    }

    pub fn sign(&self, msg: &[u8]) -> [u8; 64] {
        let r = wide(&[&self.prefix, msg]);
        let big_r = EdwardsPoint::mul_base(&r).compress();
        let k = wide(&[big_r.as_bytes(), &self.public, msg]);
        let s = r + k * self.a;
        let mut out = [0u8; 64];
        out[..32].copy_from_slice(big_r.as_bytes());
        out[32..].copy_from_slice(s.as_bytes());
        out
    }
}

/// Verify an Ed25519 signature (strict: canonical `s`, no small-order key).
pub fn verify(public: &[u8; 32], msg: &[u8], sig: &[u8; 64]) -> bool {
    let Some(a) = CompressedEdwardsY(*public).decompress() else {
        return false;
    };
    if a.is_small_order() {
        return false;
    }
    let mut s = [0u8; 32];
    s.copy_from_slice(&sig[32..]);
    let Some(s) = Option::<Scalar>::from(Scalar::from_canonical_bytes(s)) else {
        return false;
    };
    let k = wide(&[&sig[..32], public, msg]);
    let r = EdwardsPoint::vartime_double_scalar_mul_basepoint(&k, &-a, &s);
    r.compress().as_bytes() == &sig[..32]
}

/// The Ed25519 verifying key of a recipient: `age1…` through the XEdDSA
/// mapping, `ssh-ed25519 AAAA…` directly; `None` for keys that cannot sign.
pub fn verifying_key(recipient: &str) -> Option<[u8; 32]> {
    let r = recipient.trim();
    if r.starts_with("age1") {
        let u = decode_bech32(r, "age")?;
        return Some(MontgomeryPoint(u).to_edwards(0)?.compress().to_bytes());
    }
    let blob = r.strip_prefix("ssh-ed25519 ")?.split_whitespace().next()?;
    let raw = STANDARD.decode(blob).ok()?;
    // string "ssh-ed25519", string key (32 bytes)
    let name_len = u32::from_be_bytes(raw.get(..4)?.try_into().ok()?) as usize;
    let rest = raw.get(4 + name_len..)?;
    let key_len = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?) as usize;
    (key_len == 32).then(|| rest.get(4..36)?.try_into().ok())?
}

/// The 32 bytes inside a bech32 string with the given human-readable part.
pub fn decode_bech32(s: &str, hrp: &str) -> Option<[u8; 32]> {
    use bech32::FromBase32;
    let (h, data, _) = bech32::decode(s).ok()?;
    if !h.eq_ignore_ascii_case(hrp) {
        return None;
    }
    let mut bytes = Vec::<u8>::from_base32(&data).ok()?;
    let out = bytes.as_slice().try_into().ok();
    bytes.zeroize();
    out
}

/// The Ed25519 seed of an unencrypted OpenSSH `ssh-ed25519` private key
/// (`openssh-key-v1`, cipher `none`). `None` for other keys, including
/// passphrase-protected ones: those can decrypt but not sign.
pub fn openssh_ed25519_seed(text: &str) -> Option<zeroize::Zeroizing<[u8; 32]>> {
    let body: String = text
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    let raw = zeroize::Zeroizing::new(STANDARD.decode(body.trim()).ok()?);
    let mut r: &[u8] = raw.strip_prefix(b"openssh-key-v1\0")?;
    fn string<'a>(r: &mut &'a [u8]) -> Option<&'a [u8]> {
        let n = u32::from_be_bytes(r.get(..4)?.try_into().ok()?) as usize;
        let s = r.get(4..4 + n)?;
        *r = &r[4 + n..];
        Some(s)
    }
    if string(&mut r)? != b"none" || string(&mut r)? != b"none" {
        return None;
    }
    string(&mut r)?; // kdf options
    if r.get(..4)? != [0, 0, 0, 1] {
        return None;
    }
    r = &r[4..];
    string(&mut r)?; // public key blob
    let mut p = string(&mut r)?;
    if p.get(..4)? != p.get(4..8)? {
        return None;
    }
    p = &p[8..];
    if string(&mut p)? != b"ssh-ed25519" {
        return None;
    }
    let public = string(&mut p)?;
    let private = string(&mut p)?;
    if private.len() != 64 || &private[32..] != public {
        return None;
    }
    let mut seed = zeroize::Zeroizing::new([0u8; 32]);
    seed.copy_from_slice(&private[..32]);
    Some(seed)
}

/// A short, comparable fingerprint of a verifying key (for messages and
/// out-of-band checks): the first 8 bytes of its SHA-256, hex, in groups.
pub fn fingerprint(public: &[u8; 32]) -> String {
    let d = sha2::Sha256::digest(public);
    hex::encode(&d[..8])
        .as_bytes()
        .chunks(4)
        .map(|c| std::str::from_utf8(c).unwrap_or(""))
        .collect::<Vec<_>>()
        .join("-")
}

#[cfg(test)]
mod tests {
    use super::*;
    use age::secrecy::ExposeSecret;

    #[test]
    fn x25519_identities_sign_for_their_age_recipient() {
        for _ in 0..20 {
            let id = age::x25519::Identity::generate();
            let secret = decode_bech32(id.to_string().expose_secret(), "age-secret-key-")
                .expect("age secret key decodes");
            let s = Signer::from_x25519(&secret);
            let vk = verifying_key(&id.to_public().to_string()).unwrap();
            assert_eq!(vk, s.public());
            let sig = s.sign(b"hello");
            assert!(verify(&vk, b"hello", &sig));
            assert!(!verify(&vk, b"hellO", &sig));
            let mut bad = sig;
            bad[40] ^= 1;
            assert!(!verify(&vk, b"hello", &bad));
            // Another identity's key does not verify it.
            let other = age::x25519::Identity::generate().to_public().to_string();
            assert!(!verify(&verifying_key(&other).unwrap(), b"hello", &sig));
        }
    }

    #[test]
    fn ed25519_seed_signatures_are_standard() {
        // RFC 8032 test vector 1.
        let seed: [u8; 32] =
            hex::decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
                .unwrap()
                .try_into()
                .unwrap();
        let s = Signer::from_ed25519_seed(&seed);
        assert_eq!(
            hex::encode(s.public()),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
        );
        assert_eq!(
            hex::encode(s.sign(b"")),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
        );
        assert!(verifying_key("ssh-rsa AAAA").is_none());
    }
}
