//! IDX files (the MNIST format): mapping them into memory and checking their headers.
//!
//! An IDX file is a 4-byte magic number `00 00 08 r` (unsigned bytes, rank `r`), `r`
//! big-endian `u32` dimensions, then the elements. Images are rank 3 (`count × rows ×
//! cols`), labels rank 1. Every check here runs before any element is read, so the rest
//! of the data layer can slice the elements without further bounds worries. Which files
//! make a dataset, and whether images and labels agree, is `mnist.rs`'s business.

use std::fs::File;
use std::ops::Deref;
use std::path::{Path, PathBuf};

use memmap2::Mmap;

use super::DataError;

/// Bytes of the image header: magic and three dimensions.
const IMAGE_HEADER: usize = 16;
/// Bytes of the label header: magic and one dimension.
const LABEL_HEADER: usize = 8;

/// The bytes of one IDX file: mapped from disk, or owned (for data built in memory).
pub enum Bytes {
    Mapped(Mmap),
    Owned(Vec<u8>),
}

impl std::fmt::Debug for Bytes {
    // The length, not the contents: a dataset is megabytes.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = if matches!(self, Bytes::Mapped(_)) {
            "Mapped"
        } else {
            "Owned"
        };
        write!(f, "{kind}({} bytes)", self.len())
    }
}

impl Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Mapped(map) => map,
            Bytes::Owned(vec) => vec,
        }
    }
}

/// Maps `path` read-only.
pub fn map(path: &Path) -> Result<Bytes, DataError> {
    let open_err = |source| DataError::Open {
        path: path.to_owned(),
        source,
    };
    let file = File::open(path).map_err(open_err)?;
    // SAFETY: read-only map of a dataset file nnc never writes (raw files the user
    // supplied, or cache files that are only ever replaced by an atomic rename, which
    // leaves this mapping on the old inode). If another process truncates the file
    // mid-run we could fault (SIGBUS); we accept that, as ripgrep does, and check the
    // header against the file length before reading any element. `populate` reads the
    // pages in now (the page cache shares them; nothing is copied into the process), so
    // the first epoch does not pay a page fault per 4 KiB of images.
    let map = unsafe { memmap2::MmapOptions::new().populate().map(&file) }.map_err(open_err)?;
    Ok(Bytes::Mapped(map))
}

/// A validated image file: `count` images of `rows × cols` unsigned bytes.
#[derive(Debug)]
pub struct Images {
    pub path: PathBuf,
    bytes: Bytes,
    pub count: usize,
    pub rows: usize,
    pub cols: usize,
}

impl Images {
    /// Checks the header of an image file against its length.
    pub fn parse(path: &Path, bytes: Bytes) -> Result<Images, DataError> {
        let corrupt = |what: String| DataError::Corrupt {
            path: path.to_owned(),
            what,
        };
        let dims = header::<3>(&bytes, 3).map_err(corrupt)?;
        let [count, rows, cols] = dims;
        if count == 0 || rows == 0 || cols == 0 {
            return Err(corrupt(format!(
                "the header declares {count} images of {rows}×{cols} pixels"
            )));
        }
        let body = count
            .checked_mul(rows)
            .and_then(|n| n.checked_mul(cols))
            .and_then(|n| n.checked_add(IMAGE_HEADER))
            .ok_or_else(|| corrupt(format!("header dimensions {count}×{rows}×{cols} overflow")))?;
        check_len(
            bytes.len(),
            body,
            &format!("{count} images of {rows}×{cols}"),
        )
        .map_err(corrupt)?;
        Ok(Images {
            path: path.to_owned(),
            bytes,
            count,
            rows,
            cols,
        })
    }

    /// Values per image.
    pub fn features(&self) -> usize {
        self.rows * self.cols
    }

    /// All pixels, image after image: `[count, rows·cols]`.
    pub fn pixels(&self) -> &[u8] {
        // `parse` checked the length is exactly header + count·rows·cols.
        self.bytes.get(IMAGE_HEADER..).unwrap_or_default()
    }
}

/// A validated label file: `count` labels, one byte each.
#[derive(Debug)]
pub struct Labels {
    pub path: PathBuf,
    bytes: Bytes,
    pub count: usize,
}

impl Labels {
    /// Checks the header of a label file against its length.
    pub fn parse(path: &Path, bytes: Bytes) -> Result<Labels, DataError> {
        let corrupt = |what: String| DataError::Corrupt {
            path: path.to_owned(),
            what,
        };
        let [count] = header::<1>(&bytes, 1).map_err(corrupt)?;
        if count == 0 {
            return Err(corrupt("the header declares 0 labels".into()));
        }
        let body = count
            .checked_add(LABEL_HEADER)
            .ok_or_else(|| corrupt(format!("header count {count} overflows")))?;
        check_len(bytes.len(), body, &format!("{count} labels")).map_err(corrupt)?;
        Ok(Labels {
            path: path.to_owned(),
            bytes,
            count,
        })
    }

    /// The labels, one per sample.
    pub fn labels(&self) -> &[u8] {
        self.bytes.get(LABEL_HEADER..).unwrap_or_default()
    }
}

/// Reads the magic number and `R` dimensions, untrusted: every access is checked.
fn header<const R: usize>(bytes: &[u8], rank: u8) -> Result<[usize; R], String> {
    let kind = |rank: u8| match rank {
        1 => "a label file",
        3 => "an image file",
        _ => "neither an image nor a label file",
    };
    let magic = bytes.first_chunk::<4>().ok_or_else(|| {
        format!(
            "{} bytes long, shorter than the 4-byte magic number",
            bytes.len()
        )
    })?;
    let found = u32::from_be_bytes(*magic);
    match *magic {
        [0, 0, 0x08, r] if r == rank => {}
        [0, 0, 0x08, r] => {
            return Err(format!(
                "expected {} (magic 0x{:08x}), found magic 0x{found:08x}, {}",
                kind(rank),
                0x0800 | u32::from(rank),
                kind(r)
            ));
        }
        [0, 0, _, _] => {
            return Err(format!(
                "magic 0x{found:08x} declares elements that are not unsigned bytes (expected 0x{:08x})",
                0x0800 | u32::from(rank)
            ));
        }
        _ => {
            return Err(format!(
                "bad magic number 0x{found:08x} (expected 0x{:08x}); is this an IDX file?",
                0x0800 | u32::from(rank)
            ));
        }
    }
    let header_len = 4 + 4 * R;
    let mut dims = [0usize; R];
    for (i, dim) in dims.iter_mut().enumerate() {
        let at = 4 + 4 * i;
        let word = bytes
            .get(at..at + 4)
            .and_then(|w| w.first_chunk::<4>())
            .ok_or_else(|| {
                format!(
                    "truncated header: {} bytes, the header needs {header_len}",
                    bytes.len()
                )
            })?;
        *dim = usize::try_from(u32::from_be_bytes(*word)).map_err(|_| {
            "header dimension does not fit this machine's address space".to_string()
        })?;
    }
    Ok(dims)
}

/// Compares the file length with the length the header implies.
fn check_len(actual: usize, expected: usize, what: &str) -> Result<(), String> {
    use std::cmp::Ordering;
    match actual.cmp(&expected) {
        Ordering::Equal => Ok(()),
        Ordering::Less => Err(format!(
            "truncated: the header declares {what} ({expected} bytes in all) but the file has {actual}"
        )),
        Ordering::Greater => Err(format!(
            "{} bytes past the end of the data: the header declares {what} ({expected} bytes in all)",
            actual - expected
        )),
    }
}

/// Builds the bytes of an image file (for tests and in-memory datasets).
pub fn encode_images(count: u32, rows: u32, cols: u32, pixels: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 0x08, 0x03];
    for dim in [count, rows, cols] {
        out.extend_from_slice(&dim.to_be_bytes());
    }
    out.extend_from_slice(pixels);
    out
}

/// Builds the bytes of a label file (for tests and in-memory datasets).
pub fn encode_labels(labels: &[u8]) -> Vec<u8> {
    let count = u32::try_from(labels.len()).expect("encode_labels: fewer than 2^32 labels");
    let mut out = vec![0, 0, 0x08, 0x01];
    out.extend_from_slice(&count.to_be_bytes());
    out.extend_from_slice(labels);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn images(bytes: Vec<u8>) -> Result<Images, String> {
        Images::parse(Path::new("imgs"), Bytes::Owned(bytes)).map_err(|e| e.to_string())
    }

    fn labels(bytes: Vec<u8>) -> Result<Labels, String> {
        Labels::parse(Path::new("lbls"), Bytes::Owned(bytes)).map_err(|e| e.to_string())
    }

    #[test]
    fn a_valid_image_file_parses() {
        let img = images(encode_images(
            2,
            2,
            3,
            &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
        ))
        .unwrap();
        assert_eq!(
            (img.count, img.rows, img.cols, img.features()),
            (2, 2, 3, 6)
        );
        assert_eq!(img.pixels()[6], 7);
    }

    #[test]
    fn a_valid_label_file_parses() {
        let lbl = labels(encode_labels(&[5, 0, 4])).unwrap();
        assert_eq!(lbl.labels(), &[5, 0, 4]);
    }

    #[test]
    fn a_label_file_is_not_an_image_file() {
        let err = images(encode_labels(&[1, 2])).unwrap_err();
        assert!(
            err.contains("expected an image file") && err.contains("a label file"),
            "{err}"
        );
    }

    #[test]
    fn bad_magic_is_named() {
        let mut bytes = encode_images(1, 1, 1, &[0]);
        bytes[0] = 0x1f;
        let err = images(bytes).unwrap_err();
        assert!(
            err.starts_with("imgs is not a valid IDX file: bad magic number 0x1f000803"),
            "{err}"
        );
        let mut bytes = encode_labels(&[1]);
        bytes[2] = 0x0d; // float elements
        assert!(labels(bytes).unwrap_err().contains("not unsigned bytes"));
    }

    #[test]
    fn short_files_are_truncated_not_panics() {
        for len in 0..16 {
            let bytes = encode_images(1, 1, 1, &[0])[..len].to_vec();
            assert!(images(bytes).is_err(), "length {len}");
        }
        for len in 0..8 {
            assert!(
                labels(encode_labels(&[1])[..len].to_vec()).is_err(),
                "length {len}"
            );
        }
    }

    #[test]
    fn lengths_are_checked_against_the_header() {
        let err = images(encode_images(3, 2, 2, &[0; 11])).unwrap_err();
        assert!(
            err.contains("truncated") && err.contains("3 images of 2×2"),
            "{err}"
        );
        let err = images(encode_images(2, 2, 2, &[0; 9])).unwrap_err();
        assert!(err.contains("1 bytes past the end"), "{err}");
        let err = labels(encode_labels(&[1, 2, 3])[..10].to_vec()).unwrap_err();
        assert!(err.contains("truncated"), "{err}");
    }

    #[test]
    fn overflowing_dimensions_are_refused() {
        let err = images(encode_images(u32::MAX, u32::MAX, u32::MAX, &[0; 8])).unwrap_err();
        assert!(err.contains("overflow"), "{err}");
        let err = images(encode_images(u32::MAX, 65536, 65536, &[])).unwrap_err();
        assert!(
            err.contains("overflow") || err.contains("truncated"),
            "{err}"
        );
    }

    #[test]
    fn empty_dimensions_are_refused() {
        assert!(
            images(encode_images(0, 28, 28, &[]))
                .unwrap_err()
                .contains("0 images")
        );
        assert!(images(encode_images(1, 0, 28, &[])).is_err());
        assert!(labels(encode_labels(&[])).unwrap_err().contains("0 labels"));
    }
}
