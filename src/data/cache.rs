//! The cache folder: where `nnc data fetch` puts downloads and where `.gz` files are
//! decompressed once so they can be memory-mapped. Owns the folder's location, the naming
//! of decompressed files and the atomic write every file in it goes through. What an IDX
//! file must contain is `idx.rs`'s business; which folders are searched is `locate.rs`'s.

use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;
use sha2::{Digest, Sha256};

use super::DataError;

/// Decompressed files larger than this are refused: a crafted `.gz` of a few kilobytes
/// can expand to gigabytes, and the largest real dataset file (Fashion-MNIST's training
/// images) is 47 MB.
pub const MAX_DECOMPRESSED_BYTES: u64 = 1 << 30;

/// The cache folder: `$NNC_CACHE` if set, else `$XDG_CACHE_HOME/nnc`, else
/// `~/.cache/nnc`. Without a home folder (a bare CI container) it falls back to the
/// system's temporary folder, so decompressing a `.gz` never fails for want of a place.
pub fn cache_dir() -> PathBuf {
    let var = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(dir) = var("NNC_CACHE") {
        return dir;
    }
    // The XDG spec says relative values are invalid and must be ignored.
    if let Some(dir) = var("XDG_CACHE_HOME").filter(|d| d.is_absolute()) {
        return dir.join("nnc");
    }
    if let Some(home) = var("HOME") {
        return home.join(".cache").join("nnc");
    }
    std::env::temp_dir().join("nnc-cache")
}

/// Returns the raw IDX file for `gz`, decompressing it into `cache/unpacked/` the first
/// time. The cached name carries a digest of the `.gz`'s absolute path, size and
/// modification time, so a replaced or edited `.gz` is decompressed anew instead of being
/// confused with the old one. The write is atomic: an interrupted decompression leaves
/// only a temporary file, never a half file under the final name.
pub fn decompressed(gz: &Path, cache: &Path) -> Result<PathBuf, DataError> {
    let open_err = |source| DataError::Open {
        path: gz.to_owned(),
        source,
    };
    let meta = fs::metadata(gz).map_err(open_err)?;
    let absolute = std::path::absolute(gz).unwrap_or_else(|_| gz.to_owned());
    let mtime_ns = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    let mut key = Sha256::new();
    key.update(absolute.as_os_str().as_encoded_bytes());
    key.update(meta.len().to_le_bytes());
    key.update(mtime_ns.to_le_bytes());
    let key = hex(&key.finalize());
    let stem = gz
        .file_stem()
        .unwrap_or(OsStr::new("data"))
        .to_string_lossy();
    let dir = cache.join("unpacked");
    let target = dir.join(format!("{stem}.{}", &key[..16]));
    if target.is_file() {
        return Ok(target);
    }

    let file = File::open(gz).map_err(open_err)?;
    fs::create_dir_all(&dir).map_err(|source| DataError::Write {
        path: dir.clone(),
        source,
    })?;
    write_atomic(&target, |out| {
        let write_err = |source| DataError::Write {
            path: target.clone(),
            source,
        };
        copy_gunzip(file, gz, MAX_DECOMPRESSED_BYTES, |chunk| {
            out.write_all(chunk).map_err(write_err)
        })?;
        Ok(())
    })?;
    Ok(target)
}

/// Decompresses `gz`, handing each decompressed chunk to `sink`, and refuses more than
/// `limit` bytes. Returns the number of bytes decompressed. `source` names the compressed
/// file (or URL) in errors.
pub fn copy_gunzip(
    gz: impl Read,
    source: &Path,
    limit: u64,
    mut sink: impl FnMut(&[u8]) -> Result<(), DataError>,
) -> Result<u64, DataError> {
    let mut decoder = MultiGzDecoder::new(gz);
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0u64;
    loop {
        let n = match decoder.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            // flate2 reports a damaged stream as InvalidInput/InvalidData and a cut one as
            // UnexpectedEof; anything else is the reading itself failing.
            Err(err)
                if matches!(
                    err.kind(),
                    io::ErrorKind::InvalidInput
                        | io::ErrorKind::InvalidData
                        | io::ErrorKind::UnexpectedEof
                ) =>
            {
                let what = format!("not a valid gzip file ({err})");
                return Err(DataError::Corrupt {
                    path: source.to_owned(),
                    what,
                });
            }
            Err(err) => {
                return Err(DataError::Open {
                    path: source.to_owned(),
                    source: err,
                });
            }
        };
        total += n as u64;
        if total > limit {
            let what = format!("decompresses to more than {limit} bytes");
            return Err(DataError::Corrupt {
                path: source.to_owned(),
                what,
            });
        }
        sink(buf.get(..n).unwrap_or_default())?;
    }
}

/// Writes `target` atomically and durably: `fill` writes into a temporary file in the same
/// folder, which is synced, renamed over `target`, and the folder synced. If `fill` fails
/// the temporary file is removed and `target` is untouched.
pub fn write_atomic(
    target: &Path,
    fill: impl FnOnce(&mut File) -> Result<(), DataError>,
) -> Result<(), DataError> {
    let mut tmp = temp_beside(target)?;
    fill(tmp.as_file_mut())?;
    persist(tmp, target)
}

/// A temporary file beside `target` ([`crate::atomic_file::temp_beside`]).
pub fn temp_beside(target: &Path) -> Result<tempfile::NamedTempFile, DataError> {
    crate::atomic_file::temp_beside(target).map_err(|source| DataError::Write {
        path: parent(target).to_owned(),
        source,
    })
}

/// Syncs `tmp`, renames it to `target` and syncs the folder
/// ([`crate::atomic_file::persist`]).
pub fn persist(tmp: tempfile::NamedTempFile, target: &Path) -> Result<(), DataError> {
    crate::atomic_file::persist(tmp, target).map_err(|source| DataError::Write {
        path: target.to_owned(),
        source,
    })
}

fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

/// Lowercase hexadecimal, as `sha256sum` prints digests.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Compression, write::GzEncoder};

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn decompresses_once_and_reuses_the_cached_file() {
        let dir = tempfile::tempdir().unwrap();
        let gz = dir.path().join("x-idx1-ubyte.gz");
        fs::write(&gz, gzip(b"hello")).unwrap();
        let cache = dir.path().join("cache");
        let first = decompressed(&gz, &cache).unwrap();
        assert_eq!(fs::read(&first).unwrap(), b"hello");
        assert!(first.starts_with(cache.join("unpacked")));
        assert_eq!(decompressed(&gz, &cache).unwrap(), first);
    }

    #[test]
    fn a_changed_gz_gets_a_new_cached_file() {
        let dir = tempfile::tempdir().unwrap();
        let gz = dir.path().join("x.gz");
        let cache = dir.path().join("cache");
        fs::write(&gz, gzip(b"old")).unwrap();
        let old = decompressed(&gz, &cache).unwrap();
        fs::write(&gz, gzip(b"newer content")).unwrap();
        let new = decompressed(&gz, &cache).unwrap();
        assert_ne!(old, new);
        assert_eq!(fs::read(&new).unwrap(), b"newer content");
    }

    #[test]
    fn a_damaged_gz_is_corrupt_and_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let gz = dir.path().join("bad.gz");
        let mut bytes = gzip(&[7u8; 4096]);
        bytes.truncate(bytes.len() / 2);
        fs::write(&gz, bytes).unwrap();
        let cache = dir.path().join("cache");
        let err = decompressed(&gz, &cache).unwrap_err();
        assert!(
            matches!(err, DataError::Corrupt { ref path, .. } if path == &gz),
            "{err}"
        );
        assert_eq!(fs::read_dir(cache.join("unpacked")).unwrap().count(), 0);
    }

    #[test]
    fn decompression_stops_at_the_limit() {
        let bomb = gzip(&vec![0u8; 1 << 20]);
        let mut out = Vec::new();
        let err = copy_gunzip(&bomb[..], Path::new("bomb.gz"), 1000, |chunk| {
            out.extend_from_slice(chunk);
            Ok(())
        })
        .unwrap_err();
        assert!(err.to_string().contains("more than 1000 bytes"), "{err}");
        assert!(out.is_empty(), "nothing past the limit is handed on");
    }

    #[test]
    fn hex_matches_sha256sum() {
        assert_eq!(
            hex(&Sha256::digest(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
