//! `nnc data fetch`: downloading a built-in dataset's four `.gz` files from its public
//! mirror into the cache folder, where [`super::locate`] finds them.
//!
//! Each file is decompressed as it arrives and stored raw, so it is mapped as it is later.
//! What counts is the SHA-256 of the decompressed content: mirrors recompress, so the
//! `.gz` bytes differ between them while the IDX bytes do not. All four files are
//! downloaded to temporary files in the destination folder and verified before any is
//! renamed into place, so a failure (network, checksum) leaves nothing behind.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use sha2::{Digest, Sha256};

use super::mnist::{Builtin, Published};
use super::{DataError, cache};

/// Compressed downloads larger than this are cut off: the largest real one is 26 MB.
const MAX_DOWNLOAD_BYTES: u64 = 256 << 20;

/// Downloads the built-in dataset `name` (`mnist` or `fashion_mnist`) into the cache
/// folder's `mnist/` or `fashion-mnist/`, from the mirror in `$NNC_MNIST_MIRROR` /
/// `$NNC_FASHION_MNIST_MIRROR` or the public default. Files already there with the right
/// checksum are kept. `progress` draws a progress bar on stderr (pass whether stderr is a
/// terminal). Returns the folder.
pub fn fetch(name: &str, progress: bool) -> Result<PathBuf, DataError> {
    let builtin =
        Builtin::from_name(name).ok_or_else(|| DataError::UnknownDataset(name.to_string()))?;
    let mirror = std::env::var(builtin.mirror_var())
        .ok()
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| builtin.default_mirror().to_string());
    let dest = cache::cache_dir().join(builtin.folder());
    fetch_from(builtin, &mirror, &dest, progress)
}

/// [`fetch`] from an explicit mirror base URL into an explicit folder.
pub fn fetch_from(
    builtin: Builtin,
    mirror: &str,
    dest: &Path,
    progress: bool,
) -> Result<PathBuf, DataError> {
    std::fs::create_dir_all(dest).map_err(|source| DataError::Write {
        path: dest.to_owned(),
        source,
    })?;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(30)))
        .timeout_recv_response(Some(Duration::from_secs(60)))
        // A stalled transfer must end some time; an hour allows 26 MB at 8 kB/s.
        .timeout_recv_body(Some(Duration::from_secs(3600)))
        .user_agent(concat!("nnc/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let base = mirror.trim_end_matches('/');
    let mut verified = Vec::new();
    for published in builtin.published() {
        let target = dest.join(published.file);
        if holds(&target, published) {
            continue;
        }
        let url = format!("{base}/{}.gz", published.file);
        let tmp = download(&agent, &url, published, &target, builtin, progress)?;
        verified.push((tmp, target));
    }
    for (tmp, target) in verified {
        cache::persist(tmp, &target)?;
    }
    Ok(dest.to_owned())
}

/// Whether `path` already holds the published content.
fn holds(path: &Path, published: &Published) -> bool {
    let Ok(mut file) = File::open(path) else {
        return false;
    };
    if file.metadata().map(|m| m.len()).ok() != Some(published.bytes) {
        return false;
    }
    let mut hasher = Sha256::new();
    io::copy(&mut file, &mut hasher).is_ok() && cache::hex(&hasher.finalize()) == published.sha256
}

/// Downloads `url`, decompressing into a temporary file beside `target` while hashing,
/// and returns the temporary file once its checksum matches.
fn download(
    agent: &ureq::Agent,
    url: &str,
    published: &Published,
    target: &Path,
    builtin: Builtin,
    progress: bool,
) -> Result<tempfile::NamedTempFile, DataError> {
    let failed = |what: String| DataError::Download {
        url: url.to_string(),
        what,
    };
    let response = agent
        .get(url)
        .call()
        .map_err(|err| failed(err.to_string()))?;
    let length = response.body().content_length();
    let body = response
        .into_body()
        .into_with_config()
        .limit(MAX_DOWNLOAD_BYTES)
        .reader();

    let bar = if progress {
        ProgressBar::new(length.unwrap_or(0))
    } else {
        ProgressBar::hidden()
    };
    let template = if length.is_some() {
        "{msg:28} [{bar:30}] {bytes:>10}/{total_bytes:<10} {bytes_per_sec:>12} {eta}"
    } else {
        "{msg:28} {spinner} {bytes:>10} {bytes_per_sec:>12}"
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(format!("{}.gz", published.file));
    let reader = bar.wrap_read(body);

    let mut tmp = cache::temp_beside(target)?;
    let mut hasher = Sha256::new();
    let tmp_path = tmp.path().to_owned();
    let write_err = |source| DataError::Write {
        path: tmp_path.clone(),
        source,
    };
    let out = tmp.as_file_mut();
    // At most the published size is decompressed; a longer file fails the checksum anyway.
    let result = cache::copy_gunzip(reader, Path::new(url), published.bytes, |chunk| {
        hasher.update(chunk);
        out.write_all(chunk).map_err(write_err)
    });
    bar.finish_and_clear();
    match result {
        Ok(_) => {}
        Err(DataError::Corrupt { what, .. }) => return Err(failed(what)),
        Err(DataError::Open { source, .. }) => return Err(failed(source.to_string())),
        Err(other) => return Err(other),
    }
    let actual = cache::hex(&hasher.finalize());
    if actual != published.sha256 {
        // Dropping `tmp` deletes it: nothing is left behind.
        return Err(DataError::Checksum {
            file: published.file.to_string(),
            url: url.to_string(),
            expected: published.sha256.to_string(),
            actual,
            mirror_var: builtin.mirror_var().to_string(),
        });
    }
    Ok(tmp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_name_is_refused() {
        let err = fetch("cifar", false).unwrap_err().to_string();
        assert!(
            err.contains("unknown dataset `cifar`") && err.contains("fashion_mnist"),
            "{err}"
        );
    }

    #[test]
    fn an_unreachable_mirror_names_the_url() {
        // Port 9 (discard) on loopback: nothing listens there in a test environment.
        let dir = tempfile::tempdir().unwrap();
        let err = fetch_from(Builtin::Mnist, "http://127.0.0.1:9/", dir.path(), false).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("cannot download http://127.0.0.1:9/train-images-idx3-ubyte.gz"),
            "{err}"
        );
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "nothing left behind"
        );
    }
}
