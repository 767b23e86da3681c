//! Reading a dataset's four IDX files, as `nnc run` does once it has found them: every
//! header against its file's length, images against labels, the two splits' image sizes,
//! every label against the classes (`data::mnist::open_bytes`, which production calls on
//! memory-mapped files and this target on bytes in memory); for a dataset that opens,
//! writing batches from it, plain and augmented.
//!
//! Input: four files, each a 4-byte little-endian length and that many bytes (a length
//! past the end of the input takes what is left), in the order train images, train
//! labels, test images, test labels. Each file is also parsed alone as an image file and
//! as a label file.

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use nnc::data::idx::{Bytes, Images, Labels};
use nnc::data::{Augment, Split, mnist};
use nnc::rng::Generator;
use rand::SeedableRng;

/// Splits `data` into four length-prefixed files.
fn files(mut data: &[u8]) -> [Vec<u8>; 4] {
    std::array::from_fn(|_| {
        let len = data
            .first_chunk::<4>()
            .map_or(0, |len| u32::from_le_bytes(*len) as usize);
        data = data.get(4..).unwrap_or_default();
        let (file, rest) = data.split_at(len.min(data.len()));
        data = rest;
        file.to_vec()
    })
}

/// Writes the first samples of `split` (at most 16: below the size that goes to the
/// worker pool), as stored and augmented (shifts of one pixel and of any size, which is
/// cut to the image's side).
fn write_batches(split: &Split) {
    let batch = split.len().min(16);
    let indices: Vec<u32> = (0..batch as u32).rev().collect();
    let features = split.features();
    let mut images = vec![0.0f32; batch * features];
    let mut labels = vec![0u32; batch];
    split.write_batch(&indices, &mut images, &mut labels);
    assert!(images.iter().all(|x| (0.0..=1.0).contains(x)));
    let mut rng = Generator::seed_from_u64(7);
    let mut targets = split.target_buffer(batch);
    for shift in [1, u32::MAX] {
        let augment = Augment { flip: 0.5, shift };
        split.write_batch_augmented(&indices, &mut images, &mut targets, &augment, &mut rng);
        assert!(images.iter().all(|x| (0.0..=1.0).contains(x)));
    }
}

fuzz_target!(|data: &[u8]| {
    let files = files(data);
    let path = Path::new("fuzz-idx");
    for file in &files {
        let _ = Images::parse(path, Bytes::Owned(file.clone()));
        let _ = Labels::parse(path, Bytes::Owned(file.clone()));
    }
    for classes in [Some(10), None] {
        let opened = mnist::open_bytes(
            "fuzz",
            files.clone().map(|file| (path, Bytes::Owned(file))),
            classes,
        );
        let Ok(dataset) = opened else { continue };
        let classes = dataset.target.classes().expect("IDX labels are classes");
        assert!(classes > 0 && dataset.features() > 0);
        for split in [&dataset.train, &dataset.test] {
            assert!(split.labels().iter().all(|&l| (l as usize) < classes));
            write_batches(split);
        }
    }
});
