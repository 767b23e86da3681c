//! Datasets: locating the IDX files, mapping them, and drawing batches as `f32`.
//!
//! `locate.rs` finds a dataset's four files in the places the CLI contract lists,
//! `cache.rs` owns the cache folder (decompressed `.gz` files, downloads, atomic writes),
//! `idx.rs` maps one IDX file and checks its header, `mnist.rs` knows the built-in
//! datasets and assembles a [`Dataset`] from four files, and `download.rs` is
//! `nnc data fetch`. The pixels stay as mapped `u8`; [`Split::write_batch`] converts the
//! samples of one batch to `f32` as training draws them, so a training set is never
//! copied whole into `f32`.

pub mod augment;
pub mod cache;
pub mod download;
pub mod idx;
pub mod locate;
pub mod mnist;

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use augment::Augment;
pub use download::{fetch, fetch_from};
pub use locate::{Located, Search, locate};
pub use mnist::{Builtin, FILES};

use idx::{Images, Labels};

/// Samples per run when a large batch is written on several threads.
const PARALLEL_SAMPLES: usize = 128;

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("cannot read {path}")]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a valid IDX file: {what}")]
    Corrupt { path: PathBuf, what: String },
    /// The dataset is nowhere: the message lists every place looked in.
    #[error("{0}")]
    NotFound(String),
    /// A file in the cache (a decompressed `.gz`, a download) could not be written.
    #[error("cannot write {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// `nnc data fetch` of a name it does not know.
    #[error("unknown dataset `{0}`: `nnc data fetch` knows `mnist` and `fashion_mnist`")]
    UnknownDataset(String),
    #[error("cannot download {url}: {what}")]
    Download { url: String, what: String },
    /// A download whose decompressed content is not the published one.
    #[error(
        "checksum mismatch for {file} (from {url}): expected SHA-256 {expected}, got {actual}; \
         nothing was saved. The mirror may serve a different file: try another with \
         {mirror_var}"
    )]
    Checksum {
        file: String,
        url: String,
        expected: String,
        actual: String,
        mirror_var: String,
    },
}

/// Where a model's data comes from, as its `train` block's `data` setting says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataSource {
    Mnist,
    FashionMnist,
    /// A folder of the four IDX files.
    Path(String),
}

/// What a dataset offers a model: samples of `rows × cols` values (an image; `rows` is 1
/// for plain vectors) and `classes` labels. The graph layer checks a model's input and
/// output against it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description {
    pub name: String,
    pub rows: usize,
    pub cols: usize,
    pub classes: usize,
}

impl Description {
    /// Values per sample.
    pub fn features(&self) -> usize {
        self.rows * self.cols
    }

    /// The per-sample input shapes a model may declare for these samples: the values as a
    /// vector, and images as one-channel images `[1, rows, cols]` (same values, same
    /// order).
    pub fn input_shapes(&self) -> Vec<Vec<usize>> {
        let mut shapes = vec![vec![self.features()]];
        if self.rows > 1 {
            shapes.push(vec![1, self.rows, self.cols]);
        }
        shapes
    }
}

/// What a built-in dataset offers, known without opening it; `None` for a folder, which
/// is described once opened ([`Dataset::description`]).
pub fn describe(source: &DataSource) -> Option<Description> {
    let builtin = Builtin::from_source(source)?;
    let (rows, cols) = builtin.image_size();
    Some(Description {
        name: builtin.name().to_owned(),
        rows,
        cols,
        classes: builtin.classes(),
    })
}

/// A dataset's training and test splits.
#[derive(Debug)]
pub struct Dataset {
    pub name: String,
    pub train: Split,
    pub test: Split,
    /// Values per sample (784 for 28×28 images).
    pub features: usize,
    /// Number of classes; every label is below it.
    pub classes: usize,
}

impl Dataset {
    /// What this dataset offers a model (the training images' size, the classes).
    pub fn description(&self) -> Description {
        let (rows, cols) = self.train.image_size();
        Description {
            name: self.name.clone(),
            rows,
            cols,
            classes: self.classes,
        }
    }
}

/// Images and labels of one split, mapped from disk, or a contiguous part of one (see
/// [`Split::range`]). Cloning is cheap: the mapped files are shared.
#[derive(Debug, Clone)]
pub struct Split {
    images: Arc<Images>,
    labels: Arc<Labels>,
    /// First sample of this view in the files.
    start: usize,
    len: usize,
}

impl Split {
    /// Each sample's `(rows, cols)`, as the image file's header gives them.
    pub fn image_size(&self) -> (usize, usize) {
        (self.images.rows, self.images.cols)
    }

    /// All samples of one image file and its label file, which `mnist.rs` checked agree.
    fn whole(images: Arc<Images>, labels: Arc<Labels>) -> Split {
        let len = images.count;
        Split {
            images,
            labels,
            start: 0,
            len,
        }
    }

    /// A split held in memory: `pixels` is `[labels.len(), features]`, row after row. For
    /// tests and synthetic data.
    ///
    /// # Panics
    /// If `features` is zero, `labels` is empty or longer than `u32::MAX`, or `pixels` is
    /// not `labels.len() * features` long.
    pub fn from_memory(pixels: Vec<u8>, labels: Vec<u8>, features: usize) -> Split {
        assert!(
            features > 0 && !labels.is_empty(),
            "from_memory: empty split"
        );
        assert_eq!(
            pixels.len(),
            labels.len() * features,
            "from_memory: pixels are not [labels, features]"
        );
        let count = u32::try_from(labels.len()).expect("from_memory: at most u32::MAX samples");
        let cols = u32::try_from(features).expect("from_memory: at most u32::MAX features");
        let path = Path::new("<memory>");
        let images = idx::encode_images(count, 1, cols, &pixels);
        let images = Images::parse(path, idx::Bytes::Owned(images))
            .expect("from_memory: sizes checked above");
        let labels = idx::encode_labels(&labels);
        let labels = Labels::parse(path, idx::Bytes::Owned(labels))
            .expect("from_memory: sizes checked above");
        Split::whole(Arc::new(images), Arc::new(labels))
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Values per sample.
    pub fn features(&self) -> usize {
        self.images.features()
    }

    /// Samples `range` of this split, sharing its mapping (no copy): the validation
    /// hold-out, or the first `--samples N`.
    ///
    /// # Panics
    /// If `range` is not within `0..self.len()`, as slicing would.
    pub fn range(&self, range: Range<usize>) -> Split {
        assert!(
            range.start <= range.end && range.end <= self.len,
            "Split::range: {range:?} outside a split of {} samples",
            self.len
        );
        Split {
            start: self.start + range.start,
            len: range.end - range.start,
            ..self.clone()
        }
    }

    /// The pixels of sample `i`, as stored (`0..=255`).
    ///
    /// # Panics
    /// If `i >= self.len()`.
    pub fn image(&self, i: usize) -> &[u8] {
        assert!(
            i < self.len,
            "Split::image: sample {i} outside a split of {} samples",
            self.len
        );
        let features = self.features();
        let at = (self.start + i) * features;
        &self.images.pixels()[at..at + features]
    }

    /// The label of sample `i`.
    ///
    /// # Panics
    /// If `i >= self.len()`.
    pub fn label(&self, i: usize) -> u32 {
        u32::from(self.labels()[i])
    }

    /// The labels of this split, one per sample.
    pub fn labels(&self) -> &[u8] {
        &self.labels.labels()[self.start..self.start + self.len]
    }

    /// Writes the samples at `indices` into `images` (`[indices.len(), features]`, scaled
    /// to `[0, 1]` as `pixel / 255`) and their labels into `labels`. Allocates nothing.
    ///
    /// # Panics
    /// If an index is not below `self.len()`, or `images`/`labels` are not exactly
    /// `indices.len() * features` / `indices.len()` long.
    pub fn write_batch(&self, indices: &[u32], images: &mut [f32], labels: &mut [u32]) {
        let scale = |image: &[u8], row: &mut [f32]| {
            for (x, &p) in row.iter_mut().zip(image) {
                *x = f32::from(p) / 255.0;
            }
        };
        let features = self.features();
        let sizes_fit = images.len() == indices.len() * features && labels.len() == indices.len();
        if indices.len() < 2 * PARALLEL_SAMPLES || !sizes_fit {
            self.write_batch_with(indices, images, labels, scale);
            return;
        }
        // A large batch (evaluation writes 1000 at a time) is converted on the worker
        // pool, in runs of samples; each value is the same whoever writes it.
        use rayon::prelude::*;
        indices
            .par_chunks(PARALLEL_SAMPLES)
            .zip(images.par_chunks_mut(PARALLEL_SAMPLES * features))
            .zip(labels.par_chunks_mut(PARALLEL_SAMPLES))
            .for_each(|((indices, images), labels)| {
                self.write_batch_with(indices, images, labels, scale);
            });
    }

    /// [`Split::write_batch`], with every image transformed by a fresh draw of `augment`
    /// from `rng` (mirrored, shifted). Allocates nothing.
    ///
    /// # Panics
    /// As [`Split::write_batch`].
    pub fn write_batch_augmented(
        &self,
        indices: &[u32],
        images: &mut [f32],
        labels: &mut [u32],
        augment: &Augment,
        rng: &mut impl rand::Rng,
    ) {
        let (rows, cols) = (self.images.rows, self.images.cols);
        self.write_batch_with(indices, images, labels, |image, row| {
            augment.write(image, row, rows, cols, rng);
        });
    }

    /// Gathers the samples at `indices`: `write_image(pixels, row)` fills each row of
    /// `images`, and the labels are copied.
    fn write_batch_with(
        &self,
        indices: &[u32],
        images: &mut [f32],
        labels: &mut [u32],
        mut write_image: impl FnMut(&[u8], &mut [f32]),
    ) {
        let features = self.features();
        assert_eq!(
            images.len(),
            indices.len() * features,
            "write_batch: images is not [batch, features]"
        );
        assert_eq!(
            labels.len(),
            indices.len(),
            "write_batch: labels is not [batch]"
        );
        let pixels = self.images.pixels();
        let all_labels = self.labels.labels();
        let rows = images.chunks_exact_mut(features);
        for ((&i, row), label) in indices.iter().zip(rows).zip(labels.iter_mut()) {
            let i = i as usize;
            assert!(
                i < self.len,
                "write_batch: sample {i} outside a split of {} samples",
                self.len
            );
            let at = self.start + i;
            write_image(&pixels[at * features..(at + 1) * features], row);
            *label = u32::from(all_labels[at]);
        }
    }
}

/// Finds and opens a dataset (search order as in the CLI contract), with `data_dir` from
/// `--data` and the other places from the environment.
pub fn open(source: &DataSource, data_dir: Option<&Path>) -> Result<Dataset, DataError> {
    open_in(source, &Search::from_env(data_dir))
}

/// [`open`] with the places to search given explicitly.
pub fn open_in(source: &DataSource, search: &Search) -> Result<Dataset, DataError> {
    let located = locate(source, search)?;
    match (source, Builtin::from_source(source)) {
        (_, Some(builtin)) => mnist::open_located(
            builtin.name(),
            &located,
            Some(builtin.classes()),
            &search.cache,
        ),
        (DataSource::Path(path), None) => mnist::open_located(path, &located, None, &search.cache),
        (_, None) => unreachable!("from_source: only a path is not built in"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split() -> Split {
        // Three samples of two pixels: sample i is [10i, 255], label i.
        Split::from_memory(vec![0, 255, 10, 255, 20, 255], vec![0, 1, 2], 2)
    }

    #[test]
    fn write_batch_scales_and_gathers() {
        let s = split();
        let mut images = [0.0f32; 4];
        let mut labels = [9u32; 2];
        s.write_batch(&[2, 0], &mut images, &mut labels);
        assert_eq!(images, [20.0 / 255.0, 1.0, 0.0, 1.0]);
        assert_eq!(labels, [2, 0]);
    }

    #[test]
    fn write_batch_augmented_transforms_images_and_keeps_labels() {
        use rand::SeedableRng;
        let s = split();
        let mirror = Augment {
            flip: 1.0,
            shift: 0,
        };
        let mut rng = rand::rngs::StdRng::seed_from_u64(0);
        let mut images = [0.0f32; 4];
        let mut labels = [9u32; 2];
        s.write_batch_augmented(&[2, 0], &mut images, &mut labels, &mirror, &mut rng);
        assert_eq!(images, [1.0, 20.0 / 255.0, 1.0, 0.0]);
        assert_eq!(labels, [2, 0]);
    }

    #[test]
    fn a_range_views_part_of_a_split() {
        let s = split().range(1..3);
        assert_eq!(s.len(), 2);
        assert_eq!(s.labels(), &[1, 2]);
        assert_eq!(s.image(1), &[20, 255]);
        assert_eq!(s.label(0), 1);
        let mut images = [0.0f32; 2];
        let mut labels = [0u32; 1];
        s.write_batch(&[1], &mut images, &mut labels);
        assert_eq!((images, labels), ([20.0 / 255.0, 1.0], [2]));
        let inner = s.range(1..2);
        assert_eq!(inner.labels(), &[2]);
        assert!(s.range(2..2).is_empty());
    }

    #[test]
    #[should_panic(expected = "outside a split of 2 samples")]
    fn write_batch_refuses_an_index_outside_a_range() {
        let s = split().range(0..2);
        s.write_batch(&[2], &mut [0.0; 2], &mut [0]);
    }

    #[test]
    #[should_panic(expected = "outside a split")]
    fn a_range_past_the_end_panics() {
        let _ = split().range(1..4);
    }
}
