//! The data layer end to end: tiny IDX fixtures written by each test, the real datasets in
//! `../shared/data`, and `nnc data fetch` against a loopback HTTP server.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use assert_cmd::cargo::cargo_bin_cmd;
use flate2::{Compression, read::GzDecoder, write::GzEncoder};
use nnc::data::idx::{encode_images, encode_labels};
use nnc::data::{Builtin, DataError, FILES, Search, fetch_from, open_in};
use nnc::graph::DataSource;
use predicates::prelude::PredicateBooleanExt;
use predicates::str::contains;

/// Counts this thread's allocations, so `write_batch` can be shown to make none while
/// other tests run in parallel.
struct CountingAlloc;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards every call unchanged to the system allocator; the counter is a
// const-initialised thread-local `Cell`, which itself never allocates.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, passed on as is.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` above with this `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

/// The shared datasets, beside the repository (never copied into it).
const SHARED_DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data");

/// Places that hold nothing unless a test puts it there.
fn isolated(root: &Path) -> Search {
    Search {
        data_dir: None,
        nnc_data: None,
        local: root.join("data"),
        cache: root.join("cache"),
        system: false,
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    GzDecoder::new(bytes).read_to_end(&mut out).unwrap();
    out
}

const TRAIN_LABELS: [u8; 6] = [5, 0, 4, 1, 9, 2];
const TEST_LABELS: [u8; 3] = [7, 2, 1];

/// The four files of a tiny dataset of 2×2 images (6 to train, 3 to test), in [`FILES`]
/// order. Pixel `j` of sample `i` is `10·i + j`.
fn fixture_files() -> [Vec<u8>; 4] {
    let pixels = |n: u8| {
        (0..n)
            .flat_map(|i| (0..4).map(move |j| 10 * i + j))
            .collect::<Vec<u8>>()
    };
    [
        encode_images(6, 2, 2, &pixels(6)),
        encode_labels(&TRAIN_LABELS),
        encode_images(3, 2, 2, &pixels(3)),
        encode_labels(&TEST_LABELS),
    ]
}

/// Writes the files into `dir`, gzipped when `gz`.
fn write_fixture(dir: &Path, files: &[Vec<u8>; 4], gz: bool) {
    std::fs::create_dir_all(dir).unwrap();
    for (name, bytes) in FILES.iter().zip(files) {
        if gz {
            std::fs::write(dir.join(format!("{name}.gz")), gzip(bytes)).unwrap();
        } else {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
    }
}

#[test]
fn a_raw_fixture_opens_and_draws_batches() {
    let root = tempfile::tempdir().unwrap();
    write_fixture(&root.path().join("data/mnist"), &fixture_files(), false);
    let data = open_in(&DataSource::Mnist, &isolated(root.path())).unwrap();
    assert_eq!(
        (
            data.name.as_str(),
            data.features(),
            data.target.classes().unwrap()
        ),
        ("mnist", 4, 10)
    );
    assert_eq!((data.train.len(), data.test.len()), (6, 3));
    assert_eq!(data.train.labels(), TRAIN_LABELS.map(u32::from));

    let mut images = [0.0f32; 8];
    let mut labels = [0u32; 2];
    data.train.write_batch(&[4, 1], &mut images, &mut labels);
    let expected: Vec<f32> = [40u8, 41, 42, 43, 10, 11, 12, 13]
        .iter()
        .map(|&p| f32::from(p) / 255.0)
        .collect();
    assert_eq!(images.as_slice(), expected.as_slice());
    assert_eq!(labels, [9, 0]);

    // A validation hold-out: the last two training samples, without copying.
    let held_out = data.train.range(4..6);
    held_out.write_batch(&[1], &mut images[..4], &mut labels[..1]);
    assert_eq!((images[0], labels[0]), (50.0 / 255.0, 2));
}

#[test]
fn write_batch_allocates_nothing() {
    let root = tempfile::tempdir().unwrap();
    write_fixture(&root.path().join("data/mnist"), &fixture_files(), false);
    let data = open_in(&DataSource::Mnist, &isolated(root.path())).unwrap();
    let train = data.train.range(1..6);
    let indices = [4u32, 0, 2];
    let mut images = vec![0.0f32; indices.len() * data.features()];
    let mut labels = vec![0u32; indices.len()];
    let before = ALLOCATIONS.with(Cell::get);
    train.write_batch(&indices, &mut images, &mut labels);
    let after = ALLOCATIONS.with(Cell::get);
    assert_eq!(after - before, 0, "write_batch allocated");
    assert_eq!(labels, [2, 0, 1]);
}

#[test]
fn gz_fixtures_are_decompressed_into_the_cache_and_mapped() {
    let root = tempfile::tempdir().unwrap();
    write_fixture(
        &root.path().join("data/fashion-mnist"),
        &fixture_files(),
        true,
    );
    let search = isolated(root.path());
    let data = open_in(&DataSource::FashionMnist, &search).unwrap();
    assert_eq!(data.name, "fashion_mnist");
    assert_eq!(data.test.labels(), TEST_LABELS.map(u32::from));
    assert_eq!(data.test.image(2), &[20, 21, 22, 23]);

    let unpacked = || {
        let mut names: Vec<String> = std::fs::read_dir(root.path().join("cache/unpacked"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let first = unpacked();
    assert_eq!(first.len(), 4, "{first:?}");
    assert!(
        first.iter().all(|n| FILES.iter().any(|f| n.starts_with(f))),
        "{first:?}"
    );
    // Opening again reuses the decompressed files.
    let again = open_in(&DataSource::FashionMnist, &search).unwrap();
    assert_eq!(again.train.labels(), TRAIN_LABELS.map(u32::from));
    assert_eq!(unpacked(), first);
}

#[test]
fn a_path_dataset_counts_its_classes() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("digits");
    write_fixture(&dir, &fixture_files(), false);
    let source = DataSource::Path(dir.display().to_string());
    let data = open_in(&source, &isolated(root.path())).unwrap();
    assert_eq!(data.target.classes(), Some(10), "largest label 9, plus one");
    assert_eq!(data.name, dir.display().to_string());
}

/// Opens the fixture with file `which` replaced by `bytes` and returns the error, which
/// must be a corrupt-file error naming that file.
fn corrupt(which: usize, bytes: Vec<u8>, gz: bool) -> String {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("data/mnist");
    let mut files = fixture_files();
    files[which] = bytes;
    write_fixture(&dir, &files, gz);
    let err = open_in(&DataSource::Mnist, &isolated(root.path())).unwrap_err();
    let name = if gz {
        format!("{}.gz", FILES[which])
    } else {
        FILES[which].to_string()
    };
    match &err {
        DataError::Corrupt { path, .. } => assert_eq!(path, &dir.join(&name), "{err}"),
        other => panic!("expected a corrupt-file error, got {other:?}"),
    }
    let message = err.to_string();
    assert!(message.contains(&name), "{message}");
    message
}

#[test]
fn a_bad_magic_number_is_reported_by_file_name() {
    let mut bytes = fixture_files()[0].clone();
    bytes[..4].copy_from_slice(b"\x89PNG");
    let err = corrupt(0, bytes, false);
    assert!(err.contains("bad magic number 0x89504e47"), "{err}");
    // Images and labels swapped are caught by the rank in the magic number.
    let err = corrupt(2, encode_labels(&TEST_LABELS), false);
    assert!(err.contains("expected an image file"), "{err}");
}

#[test]
fn a_truncated_file_is_reported_by_file_name() {
    let mut bytes = fixture_files()[2].clone();
    bytes.truncate(bytes.len() - 1);
    let err = corrupt(2, bytes.clone(), false);
    assert!(
        err.contains("truncated") && err.contains("3 images of 2×2"),
        "{err}"
    );
    let err = corrupt(2, bytes, true);
    assert!(err.contains("truncated"), "{err}");
    let err = corrupt(1, encode_labels(&TRAIN_LABELS)[..5].to_vec(), false);
    assert!(err.contains("truncated header"), "{err}");
}

#[test]
fn a_file_longer_than_its_header_says_is_reported() {
    let mut bytes = fixture_files()[0].clone();
    bytes.extend_from_slice(&[0; 3]);
    let err = corrupt(0, bytes, false);
    assert!(err.contains("3 bytes past the end"), "{err}");
}

#[test]
fn counts_that_disagree_are_reported_by_the_label_file() {
    let err = corrupt(1, encode_labels(&TRAIN_LABELS[..5]), false);
    assert!(
        err.contains("holds 5 labels") && err.contains("holds 6 images"),
        "{err}"
    );
}

#[test]
fn a_label_out_of_range_is_reported() {
    let err = corrupt(3, encode_labels(&[7, 10, 1]), false);
    assert!(
        err.contains("label 10 of sample 1 is out of range") && err.contains("10 classes"),
        "{err}"
    );
}

#[test]
fn header_dimensions_that_overflow_are_refused_without_allocating() {
    let err = corrupt(
        0,
        encode_images(u32::MAX, u32::MAX, u32::MAX, &[0; 16]),
        false,
    );
    assert!(err.contains("overflow"), "{err}");
    // Large but representable: the length check refuses it before anything is read.
    let err = corrupt(0, encode_images(60_000, 60_000, 60_000, &[0; 16]), false);
    assert!(err.contains("truncated"), "{err}");
}

#[test]
fn a_damaged_gz_is_reported_by_file_name() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("data/mnist");
    write_fixture(&dir, &fixture_files(), true);
    let gz = dir.join(format!("{}.gz", FILES[1]));
    let bytes = std::fs::read(&gz).unwrap();
    std::fs::write(&gz, &bytes[..bytes.len() / 2]).unwrap();
    let err = open_in(&DataSource::Mnist, &isolated(root.path()))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("train-labels-idx1-ubyte.gz") && err.contains("gzip"),
        "{err}"
    );
}

#[test]
fn test_images_of_another_size_are_reported() {
    let err = corrupt(2, encode_images(3, 3, 3, &[0; 27]), false);
    assert!(err.contains("3×3") && err.contains("2×2"), "{err}");
}

#[test]
fn missing_data_lists_every_place_looked_in() {
    let root = tempfile::tempdir().unwrap();
    let mut search = isolated(root.path());
    search.nnc_data = Some(root.path().join("env"));
    let err = open_in(&DataSource::Mnist, &search).unwrap_err();
    assert!(matches!(err, DataError::NotFound(_)));
    let err = err.to_string();
    for place in ["env/mnist", "data/mnist", "cache/mnist"] {
        let shown = root.path().join(place).display().to_string();
        assert!(
            err.contains(&format!("{shown}: no such folder")),
            "missing {shown} in:\n{err}"
        );
    }
    assert!(
        err.contains("nnc data fetch mnist") && err.contains("--data DIR"),
        "{err}"
    );
}

/// Opens a real dataset from `../shared/data`, decompressing into a fresh cache.
fn open_shared(source: DataSource, data_dir: PathBuf) -> nnc::data::Dataset {
    let cache = tempfile::tempdir().unwrap();
    let mut search = isolated(cache.path());
    search.data_dir = Some(data_dir);
    open_in(&source, &search).unwrap()
}

#[test]
fn real_mnist_opens_from_the_parent_or_the_dataset_folder() {
    let shared = Path::new(SHARED_DATA);
    for dir in [shared.to_owned(), shared.join("mnist")] {
        let data = open_shared(DataSource::Mnist, dir);
        assert_eq!((data.train.len(), data.test.len()), (60_000, 10_000));
        assert_eq!((data.features(), data.target.classes()), (784, Some(10)));
        assert_eq!(
            data.train.label(0),
            5,
            "MNIST's first training digit is a 5"
        );
        assert_eq!(data.test.label(0), 7);
        let mut image = vec![0.0f32; 784];
        let mut label = [0u32];
        data.train.write_batch(&[0], &mut image, &mut label);
        assert!(image.iter().all(|x| (0.0..=1.0).contains(x)) && image.contains(&1.0));
        assert_eq!(label, [5]);
    }
}

#[test]
fn real_fashion_mnist_opens() {
    let data = open_shared(DataSource::FashionMnist, PathBuf::from(SHARED_DATA));
    assert_eq!(
        (data.train.len(), data.test.len(), data.features()),
        (60_000, 10_000, 784)
    );
    assert_eq!(
        data.train.label(0),
        9,
        "Fashion-MNIST's first training item is an ankle boot"
    );
}

/// A tiny HTTP server on loopback: serves `files` by name, 404 otherwise, one request per
/// connection, and stops after `max_requests`. Returns its base URL and a request count.
fn serve(files: HashMap<String, Vec<u8>>, max_requests: usize) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let served = Arc::clone(&count);
    std::thread::spawn(move || {
        for stream in listener.incoming().take(max_requests) {
            let Ok(mut stream) = stream else { continue };
            served.fetch_add(1, Ordering::SeqCst);
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let mut head = Vec::new();
            let mut byte = [0u8];
            while !head.ends_with(b"\r\n\r\n") && head.len() < 8192 {
                match stream.read(&mut byte) {
                    Ok(1) => head.push(byte[0]),
                    _ => break,
                }
            }
            let head = String::from_utf8_lossy(&head);
            let path = head
                .split_whitespace()
                .nth(1)
                .unwrap_or("/")
                .trim_start_matches('/');
            let (status, body) = match files.get(path) {
                Some(body) => ("200 OK", body.as_slice()),
                None => ("404 Not Found", &b""[..]),
            };
            let header = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nContent-Type: application/gzip\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream
                .write_all(header.as_bytes())
                .and_then(|()| stream.write_all(body));
        }
    });
    (url, count)
}

/// The four `.gz` files of `../shared/data/mnist`, by name.
fn shared_mnist_gz() -> HashMap<String, Vec<u8>> {
    FILES
        .iter()
        .map(|name| {
            let file = format!("{name}.gz");
            let bytes = std::fs::read(Path::new(SHARED_DATA).join("mnist").join(&file)).unwrap();
            (file, bytes)
        })
        .collect()
}

/// The shared files with `train-labels` changed in one label: still valid gzip and IDX.
fn with_a_corrupted_label_file() -> HashMap<String, Vec<u8>> {
    let mut files = shared_mnist_gz();
    let name = format!("{}.gz", FILES[1]);
    let mut raw = gunzip(&files[&name]);
    raw[8] ^= 1;
    files.insert(name, gzip(&raw));
    files
}

fn entries(dir: &Path) -> Vec<String> {
    match std::fs::read_dir(dir) {
        Ok(list) => list
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}

#[test]
fn fetch_downloads_verifies_and_stores_raw_files() {
    let (url, requests) = serve(shared_mnist_gz(), 8);
    let cache = tempfile::tempdir().unwrap();
    let dest = cache.path().join("mnist");
    assert_eq!(
        fetch_from(Builtin::Mnist, &url, &dest, false).unwrap(),
        dest
    );
    let mut stored = entries(&dest);
    stored.sort();
    let mut expected: Vec<String> = FILES.iter().map(|f| f.to_string()).collect();
    expected.sort();
    assert_eq!(stored, expected, "the four raw files and nothing else");
    assert_eq!(requests.load(Ordering::SeqCst), 4);

    // The cache is one of the places searched.
    let mut search = isolated(cache.path());
    search.cache = cache.path().to_owned();
    let data = open_in(&DataSource::Mnist, &search).unwrap();
    assert_eq!((data.train.len(), data.train.label(0)), (60_000, 5));

    // Fetching again keeps the verified files and downloads nothing.
    fetch_from(Builtin::Mnist, &url, &dest, false).unwrap();
    assert_eq!(requests.load(Ordering::SeqCst), 4);
}

#[test]
fn a_checksum_mismatch_names_the_file_and_leaves_nothing_behind() {
    let (url, _) = serve(with_a_corrupted_label_file(), 8);
    let cache = tempfile::tempdir().unwrap();
    let dest = cache.path().join("mnist");
    let err = fetch_from(Builtin::Mnist, &url, &dest, false).unwrap_err();
    let DataError::Checksum {
        file,
        expected,
        actual,
        ..
    } = &err
    else {
        panic!("expected a checksum error: {err:?}")
    };
    assert_eq!(file, "train-labels-idx1-ubyte");
    assert_eq!(
        expected,
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"
    );
    assert_ne!(actual, expected);
    let message = err.to_string();
    assert!(
        message.contains(expected) && message.contains(actual.as_str()),
        "{message}"
    );
    assert_eq!(
        entries(&dest),
        Vec::<String>::new(),
        "not even the files that were fine"
    );
}

#[test]
fn a_missing_file_on_the_mirror_is_a_download_error() {
    let mut files = shared_mnist_gz();
    files.remove("t10k-images-idx3-ubyte.gz");
    let (url, _) = serve(files, 8);
    let cache = tempfile::tempdir().unwrap();
    let err = fetch_from(Builtin::Mnist, &url, &cache.path().join("mnist"), false).unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("cannot download") && message.contains("t10k-images-idx3-ubyte.gz"),
        "{message}"
    );
    assert!(message.contains("404"), "{message}");
    assert_eq!(entries(&cache.path().join("mnist")), Vec::<String>::new());
}

#[test]
fn nnc_data_fetch_downloads_from_the_mirror_in_the_environment() {
    let (url, _) = serve(shared_mnist_gz(), 8);
    let cache = tempfile::tempdir().unwrap();
    cargo_bin_cmd!("nnc")
        .args(["data", "fetch", "mnist"])
        .env("NNC_CACHE", cache.path())
        .env("NNC_MNIST_MIRROR", &url)
        .assert()
        .success()
        .stdout(contains(cache.path().join("mnist").display().to_string()));
    for name in FILES {
        assert!(cache.path().join("mnist").join(name).is_file(), "{name}");
    }
}

#[test]
fn nnc_data_fetch_fails_with_exit_1_on_a_checksum_mismatch() {
    let (url, _) = serve(with_a_corrupted_label_file(), 8);
    let cache = tempfile::tempdir().unwrap();
    cargo_bin_cmd!("nnc")
        .args(["data", "fetch", "mnist"])
        .env("NNC_CACHE", cache.path())
        .env("NNC_MNIST_MIRROR", &url)
        .assert()
        .code(1)
        .stderr(contains("checksum mismatch for train-labels-idx1-ubyte"))
        .stderr(contains(
            "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        ));
    assert_eq!(entries(&cache.path().join("mnist")), Vec::<String>::new());
}

#[test]
fn nnc_data_fetch_of_an_unknown_dataset_is_a_usage_error() {
    let cache = tempfile::tempdir().unwrap();
    cargo_bin_cmd!("nnc")
        .args(["data", "fetch", "cifar"])
        .env("NNC_CACHE", cache.path())
        .assert()
        .code(2)
        .stderr(contains("unknown dataset `cifar`"));
}

#[test]
fn nnc_run_on_corrupt_data_exits_1_naming_the_file() {
    for (which, damage) in [(0usize, "magic"), (1, "truncate"), (3, "label")] {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("mnist");
        let mut files = fixture_files();
        match damage {
            "magic" => files[which][..4].copy_from_slice(b"\x89PNG"),
            "truncate" => {
                let keep = files[which].len() - 1;
                files[which].truncate(keep);
            }
            _ => *files[which].last_mut().unwrap() = 200, // a label far above 9
        }
        write_fixture(&dir, &files, false);
        cargo_bin_cmd!("nnc")
            .env("NNC_CACHE", root.path().join("cache"))
            .env_remove("NNC_DATA")
            .arg("run")
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/models/mnist_sigmoid.nn"
            ))
            .arg("--data")
            .arg(&dir)
            .assert()
            .code(1)
            .stderr(predicates::str::contains(FILES[which]))
            .stderr(predicates::str::contains("panicked").not());
    }
}

#[test]
fn run_with_a_data_folder_that_lacks_the_files_fails_naming_it() {
    let root = tempfile::tempdir().unwrap();
    let partial = root.path().join("partial");
    std::fs::create_dir_all(&partial).unwrap();
    std::fs::write(partial.join(FILES[0]), b"").unwrap();
    let missing = root.path().join("no/such/folder");
    for (dir, why) in [
        (&missing, "no/such/folder: no such folder".to_string()),
        (&partial, format!("partial: missing {}", FILES[1])),
    ] {
        // `$NNC_DATA` holds real MNIST: the named folder must win over it anyway.
        cargo_bin_cmd!("nnc")
            .env(
                "NNC_DATA",
                concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data"),
            )
            .env("NNC_CACHE", root.path().join("cache"))
            .arg("run")
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/models/mnist_sigmoid.nn"
            ))
            .args(["--samples", "100", "--epochs", "1", "--download", "--data"])
            .arg(dir)
            .assert()
            .code(1)
            .stdout("")
            .stderr(predicates::str::contains("cannot find the mnist dataset"))
            .stderr(predicates::str::contains(why))
            .stderr(predicates::str::contains("leave out `--data`"))
            .stderr(predicates::str::contains("epoch").not())
            .stderr(predicates::str::contains("panicked").not());
    }
}
