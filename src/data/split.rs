//! One split of a dataset (training or test, or a contiguous view of one) and how its
//! samples become a batch of `f32`s.
//!
//! A split's inputs are stored as their source has them: mapped IDX pixels, bytes read
//! from an `.npz` array (both written as `byte / 255`), or floats (a table's features, an
//! `.npz` `float32` array, written as they are). Its targets are class labels (IDX bytes or
//! `u32`s) or, for a regression table, one value per sample. Both are behind `Arc`s, so a
//! view ([`Split::range`]) or a clone copies nothing, and [`Split::write_batch`] and its
//! siblings gather a batch into buffers the caller sized once: a training step allocates
//! nothing here, whatever the storage.
//!
//! Its length (464 lines of code, 100 of tests) is the code with the tests that reach
//! its private helpers: kept in one file on purpose.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use super::augment::Augment;
use super::idx::{self, Images, Labels};

/// Samples per run when a large batch is written on several threads.
const PARALLEL_SAMPLES: usize = 128;

/// A sample's shape: `channels × rows × cols` values (`rows` is 1 for plain vectors).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SampleShape {
    pub channels: usize,
    pub rows: usize,
    pub cols: usize,
}

impl SampleShape {
    /// A vector of `features` values.
    pub fn vector(features: usize) -> SampleShape {
        SampleShape {
            channels: 1,
            rows: 1,
            cols: features,
        }
    }

    /// Values per sample.
    pub fn features(&self) -> usize {
        self.channels * self.rows * self.cols
    }
}

/// How a split's inputs are stored.
#[derive(Debug, Clone)]
enum Inputs {
    /// A mapped IDX image file: `u8` pixels, written as `pixel / 255`.
    Idx(Arc<Images>),
    /// Bytes held in memory (an `.npz` `uint8` array), written as `byte / 255`.
    Bytes(Arc<[u8]>),
    /// Floats held in memory (a table's features, an `.npz` `float32` array), written as
    /// they are.
    Floats(Arc<[f32]>),
}

/// How a split's targets are stored.
#[derive(Debug, Clone)]
enum Targets {
    /// A mapped IDX label file: one class byte per sample.
    Idx(Arc<Labels>),
    /// Class indices held in memory.
    Classes(Arc<[u32]>),
    /// One number per sample (a regression table's label column).
    Values(Arc<[f32]>),
}

/// Where one batch's targets go, sized once for the largest batch: class labels, or the
/// values of a regression split. [`Split::target_buffer`] makes the right kind.
#[derive(Debug, Clone, PartialEq)]
pub enum TargetBuffer {
    Classes(Vec<u32>),
    Values(Vec<f32>),
}

/// Samples and targets of one split, or a contiguous part of one (see [`Split::range`]).
/// Cloning is cheap: the storage is shared.
#[derive(Debug, Clone)]
pub struct Split {
    inputs: Inputs,
    targets: Targets,
    shape: SampleShape,
    /// First sample of this view in the storage.
    start: usize,
    len: usize,
}

impl Split {
    /// All samples of one image file and its label file, which `mnist.rs` checked agree.
    pub(super) fn idx(images: Arc<Images>, labels: Arc<Labels>) -> Split {
        let len = images.count;
        let shape = SampleShape {
            channels: 1,
            rows: images.rows,
            cols: images.cols,
        };
        Split {
            inputs: Inputs::Idx(images),
            targets: Targets::Idx(labels),
            shape,
            start: 0,
            len,
        }
    }

    /// Samples of `shape` held as bytes (`[labels.len(), shape.features()]`, scaled by
    /// 1/255 when written) with their classes. The caller checked the sizes.
    pub(super) fn bytes(bytes: Vec<u8>, shape: SampleShape, classes: Vec<u32>) -> Split {
        debug_assert_eq!(bytes.len(), classes.len() * shape.features());
        Split {
            len: classes.len(),
            inputs: Inputs::Bytes(bytes.into()),
            targets: Targets::Classes(classes.into()),
            shape,
            start: 0,
        }
    }

    /// Samples of `shape` held as floats (`[n, shape.features()]`, written as they are)
    /// with their classes. The caller checked the sizes.
    pub(super) fn floats(floats: Vec<f32>, shape: SampleShape, classes: Vec<u32>) -> Split {
        debug_assert_eq!(floats.len(), classes.len() * shape.features());
        Split {
            len: classes.len(),
            inputs: Inputs::Floats(floats.into()),
            targets: Targets::Classes(classes.into()),
            shape,
            start: 0,
        }
    }

    /// Vectors of `features` floats with one target value each (regression). The caller
    /// checked the sizes.
    pub(super) fn regression(floats: Vec<f32>, features: usize, values: Vec<f32>) -> Split {
        debug_assert_eq!(floats.len(), values.len() * features);
        Split {
            len: values.len(),
            inputs: Inputs::Floats(floats.into()),
            targets: Targets::Values(values.into()),
            shape: SampleShape::vector(features),
            start: 0,
        }
    }

    /// A split held in memory: `pixels` is `[labels.len(), features]`, row after row,
    /// stored as an IDX pair would be. For tests and synthetic data.
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
        Split::idx(Arc::new(images), Arc::new(labels))
    }

    /// Each sample's `(rows, cols)` (`rows` is 1 for vectors).
    pub fn image_size(&self) -> (usize, usize) {
        (self.shape.rows, self.shape.cols)
    }

    /// Each sample's shape.
    pub fn sample_shape(&self) -> SampleShape {
        self.shape
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Values per sample.
    pub fn features(&self) -> usize {
        self.shape.features()
    }

    /// Whether the targets are values (a regression table) rather than classes.
    pub fn is_regression(&self) -> bool {
        matches!(self.targets, Targets::Values(_))
    }

    /// Samples `range` of this split, sharing its storage (no copy): the validation
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

    /// Feeds this view's samples and targets, as stored, to `hasher`: two views hash
    /// alike exactly when a model would be fed the same numbers from them.
    pub fn hash_into(&self, hasher: &mut impl sha2::Digest) {
        let features = self.features();
        let samples = self.start * features..(self.start + self.len) * features;
        let range = self.start..self.start + self.len;
        match &self.inputs {
            Inputs::Idx(images) => hasher.update(&images.pixels()[samples]),
            Inputs::Bytes(bytes) => hasher.update(&bytes[samples]),
            Inputs::Floats(floats) => floats[samples]
                .iter()
                .for_each(|v| hasher.update(v.to_le_bytes())),
        }
        hasher.update([u8::from(matches!(self.inputs, Inputs::Floats(_)))]);
        match &self.targets {
            Targets::Idx(labels) => hasher.update(&labels.labels()[range]),
            Targets::Classes(classes) => classes[range]
                .iter()
                .for_each(|c| hasher.update(c.to_le_bytes())),
            Targets::Values(values) => values[range]
                .iter()
                .for_each(|v| hasher.update(v.to_le_bytes())),
        }
    }

    /// The stored bytes of sample `i` (`0..=255`).
    ///
    /// # Panics
    /// If `i >= self.len()`, or the split holds floats.
    pub fn image(&self, i: usize) -> &[u8] {
        let at = self.absolute(i);
        let features = self.features();
        let bytes: &[u8] = match &self.inputs {
            Inputs::Idx(images) => images.pixels(),
            Inputs::Bytes(bytes) => bytes,
            Inputs::Floats(_) => panic!("Split::image: this split holds floats, not bytes"),
        };
        &bytes[at * features..(at + 1) * features]
    }

    /// The class of sample `i`.
    ///
    /// # Panics
    /// If `i >= self.len()`, or the split is a regression split.
    pub fn label(&self, i: usize) -> u32 {
        let at = self.absolute(i);
        match &self.targets {
            Targets::Idx(labels) => u32::from(labels.labels()[at]),
            Targets::Classes(classes) => classes[at],
            Targets::Values(_) => panic!("Split::label: a regression split has no classes"),
        }
    }

    /// The classes of this split, one per sample (empty for a regression split).
    pub fn labels(&self) -> Vec<u32> {
        let range = self.start..self.start + self.len;
        match &self.targets {
            Targets::Idx(labels) => labels.labels()[range]
                .iter()
                .map(|&l| u32::from(l))
                .collect(),
            Targets::Classes(classes) => classes[range].to_vec(),
            Targets::Values(_) => Vec::new(),
        }
    }

    /// The target values of a regression split, one per sample (`None` for classes).
    pub fn values(&self) -> Option<&[f32]> {
        match &self.targets {
            Targets::Values(values) => Some(&values[self.start..self.start + self.len]),
            Targets::Idx(_) | Targets::Classes(_) => None,
        }
    }

    /// A buffer for the targets of batches of up to `batch` samples, of this split's kind.
    pub fn target_buffer(&self, batch: usize) -> TargetBuffer {
        if self.is_regression() {
            TargetBuffer::Values(vec![0.0; batch])
        } else {
            TargetBuffer::Classes(vec![0; batch])
        }
    }

    /// The mean and (population) standard deviation of every feature over this split's
    /// samples, as written to a batch; a feature that never varies gets a deviation of 1,
    /// so standardising it gives 0, not a division by zero. Accumulated in `f64`.
    pub fn feature_stats(&self) -> (Vec<f32>, Vec<f32>) {
        let features = self.features();
        let mut sum = vec![0.0f64; features];
        let mut squares = vec![0.0f64; features];
        let mut row = vec![0.0f32; features];
        for i in 0..self.len {
            self.write_input(self.start + i, &mut row);
            for ((s, q), &x) in sum.iter_mut().zip(&mut squares).zip(&row) {
                *s += f64::from(x);
                *q += f64::from(x) * f64::from(x);
            }
        }
        let n = self.len.max(1) as f64;
        let mean: Vec<f64> = sum.iter().map(|s| s / n).collect();
        let std = squares
            .iter()
            .zip(&mean)
            .map(|(q, m)| {
                let variance = (q / n - m * m).max(0.0);
                let std = variance.sqrt();
                if std > 1e-12 * m.abs().max(1.0) {
                    std as f32
                } else {
                    1.0
                }
            })
            .collect();
        (mean.iter().map(|&m| m as f32).collect(), std)
    }

    /// Writes the samples at `indices` into `inputs` (`[indices.len(), features]`) and
    /// their classes into `labels`. Allocates nothing.
    ///
    /// # Panics
    /// If an index is not below `self.len()`, `inputs`/`labels` are not exactly
    /// `indices.len() * features` / `indices.len()` long, or this is a regression split
    /// (use [`Split::write_batch_to`]).
    pub fn write_batch(&self, indices: &[u32], inputs: &mut [f32], labels: &mut [u32]) {
        assert_eq!(
            labels.len(),
            indices.len(),
            "write_batch: labels is not [batch]"
        );
        self.write_inputs(indices, inputs);
        self.write_labels(indices, labels);
    }

    /// Writes the samples at `indices` into `inputs` and their targets into the first
    /// `indices.len()` places of `targets`, whichever kind this split has. Allocates
    /// nothing.
    ///
    /// # Panics
    /// If an index is not below `self.len()`, `inputs` is not `[indices.len(), features]`,
    /// `targets` is shorter than `indices` or of the other kind.
    pub fn write_batch_to(&self, indices: &[u32], inputs: &mut [f32], targets: &mut TargetBuffer) {
        self.write_inputs(indices, inputs);
        self.write_targets(indices, targets);
    }

    /// [`Split::write_batch_to`], with every image transformed by a fresh draw of
    /// `augment` from `rng` (mirrored, shifted; every channel of an image alike).
    /// Allocates nothing.
    ///
    /// # Panics
    /// As [`Split::write_batch_to`].
    pub fn write_batch_augmented(
        &self,
        indices: &[u32],
        inputs: &mut [f32],
        targets: &mut TargetBuffer,
        augment: &Augment,
        rng: &mut impl rand::Rng,
    ) {
        let features = self.features();
        self.check_inputs(indices, inputs);
        for (&i, row) in indices.iter().zip(inputs.chunks_exact_mut(features)) {
            let at = self.absolute(i as usize);
            let range = at * features..(at + 1) * features;
            match &self.inputs {
                Inputs::Idx(images) => {
                    augment.write(&images.pixels()[range], row, self.shape, pixel, rng);
                }
                Inputs::Bytes(bytes) => augment.write(&bytes[range], row, self.shape, pixel, rng),
                Inputs::Floats(floats) => {
                    augment.write(&floats[range], row, self.shape, |x| x, rng)
                }
            }
        }
        self.write_targets(indices, targets);
    }

    /// The index in the storage of sample `i` of this view.
    fn absolute(&self, i: usize) -> usize {
        assert!(
            i < self.len,
            "write_batch: sample {i} outside a split of {} samples",
            self.len
        );
        self.start + i
    }

    fn check_inputs(&self, indices: &[u32], inputs: &[f32]) {
        assert_eq!(
            inputs.len(),
            indices.len() * self.features(),
            "write_batch: inputs is not [batch, features]"
        );
    }

    /// Writes sample `at` of the storage (not of the view) into `row`.
    fn write_input(&self, at: usize, row: &mut [f32]) {
        let features = row.len();
        let range = at * features..(at + 1) * features;
        match &self.inputs {
            Inputs::Idx(images) => scale(&images.pixels()[range], row),
            Inputs::Bytes(bytes) => scale(&bytes[range], row),
            Inputs::Floats(floats) => row.copy_from_slice(&floats[range]),
        }
    }

    fn write_inputs(&self, indices: &[u32], inputs: &mut [f32]) {
        self.check_inputs(indices, inputs);
        let features = self.features();
        let gather = |indices: &[u32], inputs: &mut [f32]| {
            for (&i, row) in indices.iter().zip(inputs.chunks_exact_mut(features)) {
                self.write_input(self.absolute(i as usize), row);
            }
        };
        if indices.len() < 2 * PARALLEL_SAMPLES {
            gather(indices, inputs);
            return;
        }
        // A large batch (evaluation writes 1000 at a time) is converted on the worker
        // pool, in runs of samples; each value is the same whoever writes it.
        use rayon::prelude::*;
        indices
            .par_chunks(PARALLEL_SAMPLES)
            .zip(inputs.par_chunks_mut(PARALLEL_SAMPLES * features))
            .for_each(|(indices, inputs)| gather(indices, inputs));
    }

    fn write_labels(&self, indices: &[u32], labels: &mut [u32]) {
        for (&i, label) in indices.iter().zip(labels.iter_mut()) {
            let at = self.absolute(i as usize);
            *label = match &self.targets {
                Targets::Idx(all) => u32::from(all.labels()[at]),
                Targets::Classes(all) => all[at],
                Targets::Values(_) => {
                    panic!("write_batch: a regression split has values, not classes")
                }
            };
        }
    }

    fn write_targets(&self, indices: &[u32], targets: &mut TargetBuffer) {
        match targets {
            TargetBuffer::Classes(labels) => {
                assert!(labels.len() >= indices.len(), "write_batch: too few labels");
                self.write_labels(indices, &mut labels[..indices.len()]);
            }
            TargetBuffer::Values(values) => {
                assert!(values.len() >= indices.len(), "write_batch: too few values");
                let Targets::Values(all) = &self.targets else {
                    panic!("write_batch: a split of classes has no values")
                };
                for (&i, value) in indices.iter().zip(values.iter_mut()) {
                    *value = all[self.absolute(i as usize)];
                }
            }
        }
    }
}

/// A stored byte as the network sees it.
fn pixel(byte: u8) -> f32 {
    f32::from(byte) / 255.0
}

fn scale(bytes: &[u8], row: &mut [f32]) {
    for (x, &b) in row.iter_mut().zip(bytes) {
        *x = pixel(b);
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
        let mut rng = crate::rng::Generator::seed_from_u64(0);
        let mut images = [0.0f32; 4];
        let mut labels = TargetBuffer::Classes(vec![9; 3]);
        s.write_batch_augmented(&[2, 0], &mut images, &mut labels, &mirror, &mut rng);
        assert_eq!(images, [1.0, 20.0 / 255.0, 1.0, 0.0]);
        assert_eq!(labels, TargetBuffer::Classes(vec![2, 0, 9]));
    }

    #[test]
    fn a_range_views_part_of_a_split() {
        let s = split().range(1..3);
        assert_eq!(s.len(), 2);
        assert_eq!(s.labels(), [1, 2]);
        assert_eq!(s.image(1), &[20, 255]);
        assert_eq!(s.label(0), 1);
        let mut images = [0.0f32; 2];
        let mut labels = [0u32; 1];
        s.write_batch(&[1], &mut images, &mut labels);
        assert_eq!((images, labels), ([20.0 / 255.0, 1.0], [2]));
        let inner = s.range(1..2);
        assert_eq!(inner.labels(), [2]);
        assert!(s.range(2..2).is_empty());
    }

    #[test]
    fn floats_are_written_as_they_are_with_values_as_targets() {
        let s = Split::regression(
            vec![1.5, -2.0, 3.0, 4.0, 0.25, 8.0],
            2,
            vec![10.0, 20.0, 30.0],
        );
        assert!(s.is_regression());
        let view = s.range(1..3);
        assert_eq!(view.values(), Some(&[20.0, 30.0][..]));
        let mut inputs = [0.0f32; 4];
        let mut targets = view.target_buffer(3);
        view.write_batch_to(&[1, 0], &mut inputs, &mut targets);
        assert_eq!(inputs, [0.25, 8.0, 3.0, 4.0]);
        assert_eq!(targets, TargetBuffer::Values(vec![30.0, 20.0, 0.0]));
        assert!(view.labels().is_empty());
    }

    #[test]
    fn feature_stats_are_the_population_mean_and_deviation() {
        // Feature 0: 1, 3, 5 (mean 3, variance 8/3); feature 1 never varies.
        let s = Split::floats(
            vec![1.0, 7.0, 3.0, 7.0, 5.0, 7.0],
            SampleShape::vector(2),
            vec![0, 1, 0],
        );
        let (mean, std) = s.feature_stats();
        assert_eq!(mean, [3.0, 7.0]);
        assert!((std[0] - (8.0f32 / 3.0).sqrt()).abs() < 1e-6, "{std:?}");
        assert_eq!(std[1], 1.0, "a constant feature is divided by 1");
        // Over a view, of the view's samples only.
        let (mean, _) = s.range(1..3).feature_stats();
        assert_eq!(mean, [4.0, 7.0]);
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
