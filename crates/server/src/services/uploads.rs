//! Shared files (XEP-0363): the server's signing key, the files' directory and their URLs.
//!
//! A file's id is 128 random bits in hex (`Uploads::new_id`): its name on disk (under a
//! two-character fan-out directory) and in both its URLs, never anything a client chose.
//! Its GET URL is `BASE/upload/ID/NAME`; the id is the capability (only the messages that
//! carry it, which the gate decided, tell it). Its PUT URL adds `?expires=MS&sig=HMAC`:
//! HMAC-SHA-256, under a key of 32 random bytes kept in `DATA_DIR/upload.key` (made at
//! first start, mode 0600), of the id, the size, the content type and the deadline. The
//! HTTP side checks the signature (in constant time), the deadline, the size and the type
//! it is bound to, then claims the slot in the store, once.

use std::io::Write;
use std::path::{Path, PathBuf};

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The key's file in the data directory.
pub const KEY_FILE: &str = "upload.key";

/// The signing key, the directory and the URLs' base.
pub struct Uploads {
    key: [u8; 32],
    dir: PathBuf,
    url_base: String,
}

impl std::fmt::Debug for Uploads {
    // The key never reaches a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Uploads")
            .field("dir", &self.dir)
            .field("url_base", &self.url_base)
            .finish_non_exhaustive()
    }
}

/// Reads the key in `data_dir`, or makes one (32 random bytes, mode 0600).
fn load_key(data_dir: &Path) -> std::io::Result<[u8; 32]> {
    let path = data_dir.join(KEY_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => bytes.try_into().map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{} is not 32 bytes", path.display()),
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key: [u8; 32] = rand::random();
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options.open(&path)?;
            file.write_all(&key)?;
            file.sync_all()?;
            Ok(key)
        }
        Err(e) => Err(e),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Uploads {
    /// Loads (or makes) the key in `data_dir` and creates `dir`.
    pub fn open(data_dir: &Path, dir: PathBuf, url_base: String) -> std::io::Result<Uploads> {
        let key = load_key(data_dir)?;
        std::fs::create_dir_all(&dir)?;
        Ok(Uploads { key, dir, url_base })
    }

    /// A new file id: 128 random bits, 32 lower-case hex digits.
    pub fn new_id() -> String {
        format!("{:032x}", rand::random::<u128>())
    }

    /// Whether `id` has the form of a file id (checked before any use on disk).
    pub fn valid_id(id: &str) -> bool {
        id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    }

    /// The directory of the files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where file `id` is kept (None for what is not an id).
    pub fn path(&self, id: &str) -> Option<PathBuf> {
        file_path(&self.dir, id)
    }

    fn mac(&self, id: &str, size: u64, content_type: &str, expires_ms: i64) -> Vec<u8> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key).expect("any key length");
        mac.update(format!("{id}\n{size}\n{content_type}\n{expires_ms}").as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    /// The signature of a PUT (hex).
    pub fn sign(&self, id: &str, size: u64, content_type: &str, expires_ms: i64) -> String {
        hex(&self.mac(id, size, content_type, expires_ms))
    }

    /// Whether `sig` signs this PUT (compared in constant time).
    pub fn verify(
        &self,
        id: &str,
        size: u64,
        content_type: &str,
        expires_ms: i64,
        sig: &str,
    ) -> bool {
        let want = self.sign(id, size, content_type, expires_ms);
        want.len() == sig.len() && bool::from(want.as_bytes().ct_eq(sig.as_bytes()))
    }

    /// The GET URL of file `id` named `filename` (already made safe).
    pub fn get_url(&self, id: &str, filename: &str) -> String {
        format!("{}/upload/{id}/{filename}", self.url_base)
    }

    /// The signed PUT URL of a slot.
    pub fn put_url(
        &self,
        id: &str,
        filename: &str,
        size: u64,
        content_type: &str,
        expires_ms: i64,
    ) -> String {
        format!(
            "{}?expires={expires_ms}&sig={}",
            self.get_url(id, filename),
            self.sign(id, size, content_type, expires_ms)
        )
    }
}

/// Where file `id` is kept in `dir` (None for what is not an id).
pub fn file_path(dir: &Path, id: &str) -> Option<PathBuf> {
    Uploads::valid_id(id).then(|| dir.join(&id[..2]).join(id))
}

/// Deletes the files of `ids` in `dir` (those missing count as deleted); returns how
/// many could not be deleted.
pub fn delete_files(dir: &Path, ids: &[String]) -> usize {
    let mut failed = 0;
    for id in ids {
        let Some(path) = file_path(dir, id) else {
            continue;
        };
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(file = %path.display(), error = %e, "cannot delete a shared file");
                failed += 1;
            }
        }
    }
    failed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_bind_every_field_and_the_key_persists() {
        let data = tempfile::tempdir().unwrap();
        let u = Uploads::open(data.path(), data.path().join("f"), "http://x".into()).unwrap();
        let id = Uploads::new_id();
        assert!(Uploads::valid_id(&id));
        let sig = u.sign(&id, 10, "image/png", 1000);
        assert!(u.verify(&id, 10, "image/png", 1000, &sig));
        assert!(!u.verify(&id, 11, "image/png", 1000, &sig));
        assert!(!u.verify(&id, 10, "text/html", 1000, &sig));
        assert!(!u.verify(&id, 10, "image/png", 1001, &sig));
        assert!(!u.verify(&Uploads::new_id(), 10, "image/png", 1000, &sig));
        assert!(!u.verify(&id, 10, "image/png", 1000, ""));
        // Opened again, the same key.
        let again = Uploads::open(data.path(), data.path().join("f"), "http://x".into()).unwrap();
        assert!(again.verify(&id, 10, "image/png", 1000, &sig));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(data.path().join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn only_ids_become_paths() {
        let data = tempfile::tempdir().unwrap();
        let u = Uploads::open(data.path(), data.path().join("f"), "http://x".into()).unwrap();
        assert!(u.path("../../etc/passwd").is_none());
        assert!(u.path("0123456789abcdef0123456789ABCDEF").is_none());
        assert!(u.path("0123456789abcdef0123456789abcde").is_none());
        let p = u.path("0123456789abcdef0123456789abcdef").unwrap();
        assert_eq!(p, data.path().join("f/01/0123456789abcdef0123456789abcdef"));
        assert_ne!(Uploads::new_id(), Uploads::new_id());
    }
}
