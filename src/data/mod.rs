//! Datasets: where they come from, how they are read, and drawing batches as `f32`.
//!
//! The MNIST-style datasets: `locate.rs` finds a dataset's four IDX files in the places
//! the CLI contract lists, `cache.rs` owns the cache folder (decompressed `.gz` files,
//! downloads, atomic writes), `idx.rs` maps one IDX file and checks its header,
//! `mnist.rs` knows the built-in datasets and assembles a [`Dataset`] from four files, and
//! `download.rs` is `nnc data fetch`. Your own data: `table.rs` reads a CSV table
//! (`data = csv(...)`), `holdout.rs` sets its test rows aside, and `npz.rs` reads NumPy
//! arrays (`data = npz(...)`). Whatever the source, a [`Split`] (`split.rs`) holds the
//! samples as stored (mapped pixels stay `u8`) and converts the samples of one batch to
//! `f32` as training draws them, so a training set is never copied whole into `f32`.

pub mod augment;
pub mod cache;
pub mod download;
pub mod holdout;
pub mod idx;
pub mod locate;
pub mod mnist;
pub mod npz;
pub mod split;
pub mod table;

use std::path::{Path, PathBuf};

pub use augment::Augment;
pub use download::{fetch, fetch_from};
pub use locate::{Located, Search, locate};
pub use mnist::{Builtin, FILES};
pub use split::{SampleShape, Split, TargetBuffer};

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
    /// A CSV table that cannot be read as the model needs it; `line` is 1-based (the
    /// header is line 1), `None` for the whole file.
    #[error("{}{}: {what}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    Table {
        path: PathBuf,
        line: Option<u64>,
        what: String,
    },
    /// An `.npz` file that is not what `data = npz(...)` reads; `array` names the array
    /// at fault, if one is.
    #[error("{}{}: {what}", path.display(), array.as_ref().map(|a| format!(", array `{a}`")).unwrap_or_default())]
    Array {
        path: PathBuf,
        array: Option<String>,
        what: String,
    },
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
#[derive(Debug, Clone, PartialEq)]
pub enum DataSource {
    Mnist,
    FashionMnist,
    /// A folder of the four IDX files.
    Path(String),
    /// A CSV table: `csv(PATH, label = COLUMN, test = F | "file.csv", normalize = true)`.
    Csv(CsvSource),
    /// NumPy arrays in Keras' `mnist.npz` layout: `npz(PATH)`.
    Npz(String),
}

/// `data = csv(...)`, as written, with what the model's loss makes of the label column.
#[derive(Debug, Clone, PartialEq)]
pub struct CsvSource {
    /// The file, as written (relative to the `.nn` file's folder unless absolute).
    pub path: String,
    /// The column holding the label.
    pub label: String,
    pub test: Holdout,
    /// Standardise every feature with the training rows' mean and standard deviation.
    pub normalize: bool,
    /// Classes (`loss = cross_entropy`) or a value to predict (`loss = mse`).
    pub target: TableTarget,
}

/// Which rows a table tests on.
#[derive(Debug, Clone, PartialEq)]
pub enum Holdout {
    /// This fraction of the rows, in (0, 1), drawn with the run's seed (stratified by
    /// class for classification).
    Fraction(f64),
    /// The rows of another file with the same columns (relative as the table's path).
    File(String),
}

/// What a table's label column is read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableTarget {
    /// Class names or whole numbers.
    Classes,
    /// A number to predict (regression).
    Value,
}

/// What a dataset's samples are scored against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Labels `0..n`: the model's output has `n` values.
    Classes(usize),
    /// One number per sample (regression): the model's output has one value.
    Value,
}

impl Target {
    /// The number of classes, or `None` for regression.
    pub fn classes(self) -> Option<usize> {
        match self {
            Target::Classes(n) => Some(n),
            Target::Value => None,
        }
    }

    /// The size of the output a model needs: the class count, or 1.
    pub fn outputs(self) -> usize {
        self.classes().unwrap_or(1)
    }
}

/// What a dataset offers a model: samples of `channels × rows × cols` values (`rows` is 1
/// for plain vectors) and what they are scored against. The graph layer checks a model's
/// input and output against it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description {
    pub name: String,
    pub shape: SampleShape,
    pub target: Target,
}

impl Description {
    /// Values per sample.
    pub fn features(&self) -> usize {
        self.shape.features()
    }

    /// The per-sample input shapes a model may declare for these samples: the values as a
    /// vector, and images as images `[channels, rows, cols]` (same values, same order).
    pub fn input_shapes(&self) -> Vec<Vec<usize>> {
        let SampleShape {
            channels,
            rows,
            cols,
        } = self.shape;
        let mut shapes = vec![vec![self.features()]];
        if rows > 1 {
            shapes.push(vec![channels, rows, cols]);
        }
        shapes
    }
}

/// What a built-in dataset offers, known without opening it; `None` for a folder or a
/// file, which is described once opened ([`Dataset::description`]).
pub fn describe(source: &DataSource) -> Option<Description> {
    let builtin = Builtin::from_source(source)?;
    let (rows, cols) = builtin.image_size();
    Some(Description {
        name: builtin.name().to_owned(),
        shape: SampleShape {
            channels: 1,
            rows,
            cols,
        },
        target: Target::Classes(builtin.classes()),
    })
}

/// A dataset's training and test splits.
#[derive(Debug)]
pub struct Dataset {
    pub name: String,
    pub train: Split,
    pub test: Split,
    pub target: Target,
    /// The classes' names in class order, when the data names them (a table's label
    /// column); empty otherwise.
    pub class_names: Vec<String>,
    /// A table's feature columns, in the order the model reads them; empty otherwise.
    pub feature_names: Vec<String>,
}

impl Dataset {
    /// What this dataset offers a model (the training samples' shape, the target).
    pub fn description(&self) -> Description {
        Description {
            name: self.name.clone(),
            shape: self.train.sample_shape(),
            target: self.target,
        }
    }

    /// SHA-256 (hexadecimal) of both splits' samples and targets and the sample shape:
    /// what a resumed run checks it trains and tests on the data it started with.
    pub fn fingerprint(&self) -> String {
        use sha2::Digest;
        let mut hasher = sha2::Sha256::new();
        let shape = self.train.sample_shape();
        for n in [
            shape.channels,
            shape.rows,
            shape.cols,
            self.train.len(),
            self.test.len(),
        ] {
            hasher.update((n as u64).to_le_bytes());
        }
        self.train.hash_into(&mut hasher);
        self.test.hash_into(&mut hasher);
        hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Values per sample (784 for 28×28 images).
    pub fn features(&self) -> usize {
        self.train.features()
    }
}

/// What opening a file source needs beyond the source: the folder its relative paths
/// start from, and the seed that draws a table's test rows.
#[derive(Debug, Clone)]
pub struct FileOptions {
    /// The `.nn` file's folder (or `--data DIR`).
    pub base: PathBuf,
    pub seed: u64,
}

impl FileOptions {
    /// `path` as written in the model file, resolved against [`FileOptions::base`].
    pub fn resolve(&self, path: &str) -> PathBuf {
        let path = Path::new(path);
        if path.is_absolute() {
            path.to_owned()
        } else {
            self.base.join(path)
        }
    }
}

/// Finds and opens a dataset (search order as in the CLI contract), with `data_dir` from
/// `--data` and the other places from the environment.
pub fn open(source: &DataSource, data_dir: Option<&Path>) -> Result<Dataset, DataError> {
    open_in(source, &Search::from_env(data_dir))
}

/// [`open`] with the places to search given explicitly; a file source's relative path is
/// taken from the working folder, and a table's test rows are drawn with seed 0.
pub fn open_in(source: &DataSource, search: &Search) -> Result<Dataset, DataError> {
    let files = FileOptions {
        base: PathBuf::from("."),
        seed: 0,
    };
    open_with(source, search, &files)
}

/// Opens any dataset: a built-in one or a folder of IDX files from the places `search`
/// lists, a table or arrays from the file its source names (resolved by `files`).
pub fn open_with(
    source: &DataSource,
    search: &Search,
    files: &FileOptions,
) -> Result<Dataset, DataError> {
    match source {
        DataSource::Csv(csv) => return holdout::open(csv, files),
        DataSource::Npz(path) => return npz::open(&files.resolve(path)),
        DataSource::Mnist | DataSource::FashionMnist | DataSource::Path(_) => {}
    }
    let located = locate(source, search)?;
    match (source, Builtin::from_source(source)) {
        (_, Some(builtin)) => mnist::open_located(
            builtin.name(),
            &located,
            Some(builtin.classes()),
            &search.cache,
        ),
        (DataSource::Path(path), None) => mnist::open_located(path, &located, None, &search.cache),
        (_, None) => unreachable!("from_source: only a path is not built in, files returned above"),
    }
}
