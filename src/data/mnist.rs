//! The MNIST-style datasets: the four files that make one, the two built in (names,
//! folders, checksums, mirrors), and turning four located files into a [`Dataset`] whose
//! images and labels agree. Header checks of a single file are `idx.rs`'s business.

use std::path::Path;
use std::sync::Arc;

use super::DataSource;
use super::idx::{self, Images, Labels};
use super::locate::Located;
use super::{DataError, Dataset, Split, Target, cache};

/// The four standard file names (without `.gz`), in the order [`Located::files`] keeps.
pub const FILES: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

/// A dataset `nnc` knows by name and can download.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Builtin {
    Mnist,
    FashionMnist,
}

/// One file of a built-in dataset, as published.
#[derive(Debug, Clone, Copy)]
pub struct Published {
    pub file: &'static str,
    /// SHA-256 of the decompressed (raw IDX) content, lowercase hex: gzip files of the
    /// same data differ byte for byte between mirrors.
    pub sha256: &'static str,
    /// Length of the decompressed content.
    pub bytes: u64,
}

const MNIST: [Published; 4] = [
    Published {
        file: FILES[0],
        sha256: "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        bytes: 47_040_016,
    },
    Published {
        file: FILES[1],
        sha256: "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        bytes: 60_008,
    },
    Published {
        file: FILES[2],
        sha256: "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        bytes: 7_840_016,
    },
    Published {
        file: FILES[3],
        sha256: "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        bytes: 10_008,
    },
];

const FASHION_MNIST: [Published; 4] = [
    Published {
        file: FILES[0],
        sha256: "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        bytes: 47_040_016,
    },
    Published {
        file: FILES[1],
        sha256: "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        bytes: 60_008,
    },
    Published {
        file: FILES[2],
        sha256: "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        bytes: 7_840_016,
    },
    Published {
        file: FILES[3],
        sha256: "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        bytes: 10_008,
    },
];

impl Builtin {
    /// `mnist`, `fashion_mnist` (as in the `.nn` language), or `fashion-mnist`.
    pub fn from_name(name: &str) -> Option<Builtin> {
        match name {
            "mnist" => Some(Builtin::Mnist),
            "fashion_mnist" | "fashion-mnist" => Some(Builtin::FashionMnist),
            _ => None,
        }
    }

    pub fn from_source(source: &DataSource) -> Option<Builtin> {
        match source {
            DataSource::Mnist => Some(Builtin::Mnist),
            DataSource::FashionMnist => Some(Builtin::FashionMnist),
            DataSource::Path(_) | DataSource::Csv(_) | DataSource::Npz(_) => None,
        }
    }

    /// The names of the classes, in class order: the digits, or Fashion-MNIST's ten
    /// articles as its publishers name them.
    pub fn class_names(self) -> Vec<String> {
        match self {
            Builtin::Mnist => (0..10).map(|d| d.to_string()).collect(),
            Builtin::FashionMnist => [
                "T-shirt/top",
                "Trouser",
                "Pullover",
                "Dress",
                "Coat",
                "Sandal",
                "Shirt",
                "Sneaker",
                "Bag",
                "Ankle boot",
            ]
            .map(str::to_owned)
            .to_vec(),
        }
    }

    /// The name the `.nn` language and `nnc data fetch` use.
    pub fn name(self) -> &'static str {
        match self {
            Builtin::Mnist => "mnist",
            Builtin::FashionMnist => "fashion_mnist",
        }
    }

    /// The folder name under `$NNC_DATA`, `./data` and the cache.
    pub fn folder(self) -> &'static str {
        match self {
            Builtin::Mnist => "mnist",
            Builtin::FashionMnist => "fashion-mnist",
        }
    }

    /// The four files with their checksums, in [`FILES`] order.
    pub fn published(self) -> &'static [Published; 4] {
        match self {
            Builtin::Mnist => &MNIST,
            Builtin::FashionMnist => &FASHION_MNIST,
        }
    }

    /// Base URL of the public mirror the `.gz` files are downloaded from.
    pub fn default_mirror(self) -> &'static str {
        match self {
            Builtin::Mnist => "https://ossci-datasets.s3.amazonaws.com/mnist/",
            Builtin::FashionMnist => "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        }
    }

    /// The environment variable that overrides [`Builtin::default_mirror`].
    pub fn mirror_var(self) -> &'static str {
        match self {
            Builtin::Mnist => "NNC_MNIST_MIRROR",
            Builtin::FashionMnist => "NNC_FASHION_MNIST_MIRROR",
        }
    }

    /// Both built-in datasets have ten classes.
    pub fn classes(self) -> usize {
        10
    }

    /// Each image's `(rows, cols)`: both datasets are 28 × 28 grey-level pixels.
    pub fn image_size(self) -> (usize, usize) {
        (28, 28)
    }
}

/// Opens four located files as a dataset. `.gz` files are decompressed into `cache` first;
/// errors name the file the user has (the `.gz`), not the cached copy. `classes` is the
/// built-in class count, or `None` to take the largest label plus one.
pub fn open_located(
    name: &str,
    located: &Located,
    classes: Option<usize>,
    cache: &Path,
) -> Result<Dataset, DataError> {
    let bytes = |path: &Path| -> Result<idx::Bytes, DataError> {
        let mapped = if path.extension().is_some_and(|e| e == "gz") {
            cache::decompressed(path, cache)?
        } else {
            path.to_owned()
        };
        idx::map(&mapped)
    };
    let [train_images, train_labels, test_images, test_labels] = &located.files;
    let files = [
        (train_images.as_path(), bytes(train_images)?),
        (train_labels.as_path(), bytes(train_labels)?),
        (test_images.as_path(), bytes(test_images)?),
        (test_labels.as_path(), bytes(test_labels)?),
    ];
    open_bytes(name, files, classes)
}

/// Checks four files' bytes (each with the path its errors name, in [`FILES`] order) and
/// makes them a dataset: every header against its file's length, images against labels,
/// the test images' size against the training images', and every label against `classes`
/// (`None`: the largest label plus one). [`open_located`] hands it mapped files; it is
/// public so that the fuzz targets (`fuzz/`) can feed it bytes held in memory.
pub fn open_bytes(
    name: &str,
    files: [(&Path, idx::Bytes); 4],
    classes: Option<usize>,
) -> Result<Dataset, DataError> {
    let [train_images, train_labels, test_images, test_labels] = files;
    let train_images = Images::parse(train_images.0, train_images.1)?;
    let train_labels = Labels::parse(train_labels.0, train_labels.1)?;
    let test_images = Images::parse(test_images.0, test_images.1)?;
    let test_labels = Labels::parse(test_labels.0, test_labels.1)?;

    agree(&train_images, &train_labels)?;
    agree(&test_images, &test_labels)?;
    if (test_images.rows, test_images.cols) != (train_images.rows, train_images.cols) {
        return Err(DataError::Corrupt {
            path: test_images.path.clone(),
            what: format!(
                "its images are {}×{} but the training images ({}) are {}×{}",
                test_images.rows,
                test_images.cols,
                train_images.path.display(),
                train_images.rows,
                train_images.cols
            ),
        });
    }

    let classes = match classes {
        Some(classes) => classes,
        // Labels are bytes, so this is at most 256.
        None => {
            let max = |l: &Labels| l.labels().iter().copied().max().unwrap_or(0);
            usize::from(max(&train_labels).max(max(&test_labels))) + 1
        }
    };
    within(&train_labels, classes)?;
    within(&test_labels, classes)?;

    Ok(Dataset {
        name: name.to_string(),
        train: Split::idx(Arc::new(train_images), Arc::new(train_labels)),
        test: Split::idx(Arc::new(test_images), Arc::new(test_labels)),
        target: Target::Classes(classes),
        class_names: Vec::new(),
        feature_names: Vec::new(),
    })
}

/// Images and labels must count the same samples.
fn agree(images: &Images, labels: &Labels) -> Result<(), DataError> {
    if images.count == labels.count {
        return Ok(());
    }
    Err(DataError::Corrupt {
        path: labels.path.clone(),
        what: format!(
            "it holds {} labels but {} holds {} images",
            labels.count,
            images.path.display(),
            images.count
        ),
    })
}

/// Every label must name a class.
fn within(labels: &Labels, classes: usize) -> Result<(), DataError> {
    let bad = labels
        .labels()
        .iter()
        .position(|&l| usize::from(l) >= classes);
    match bad {
        None => Ok(()),
        Some(at) => Err(DataError::Corrupt {
            path: labels.path.clone(),
            what: format!(
                "label {} of sample {at} is out of range: the dataset has {classes} classes (0..={})",
                labels.labels().get(at).copied().unwrap_or_default(),
                classes - 1
            ),
        }),
    }
}
