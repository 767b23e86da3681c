//! NumPy arrays for `data = npz(PATH)`, in the layout of Keras' `mnist.npz`: four arrays
//! `x_train`, `y_train`, `x_test`, `y_test`. `x` is `uint8` (kept as bytes, written as
//! `byte / 255`) or `float32` (written as it is), shaped `[N, d]`, `[N, h, w]` or
//! `[N, c, h, w]`; `y` holds whole class numbers (any integer dtype), shaped `[N]` (or
//! `[N, 1]`). The zip container is read by `zip`, each `.npy` member's header, dtype and
//! byte order by `npyz`. Every error names the file and the array.

use std::fs::File;
use std::io::{BufReader, Read, Seek};
use std::path::Path;

use npyz::{DType, NpyFile, Order, TypeChar};

use super::split::{SampleShape, Split};
use super::{DataError, Dataset, Target};

/// The four arrays, in the order they are read.
pub const ARRAYS: [&str; 4] = ["x_train", "y_train", "x_test", "y_test"];

/// Largest class number accepted: a model's output has one value per class.
const MAX_CLASS: u64 = 1 << 24;

/// The samples of one `x` array, as stored.
enum Samples {
    Bytes(Vec<u8>),
    Floats(Vec<f32>),
}

/// Opens the `.npz` file at `path` as a dataset.
pub fn open(path: &Path) -> Result<Dataset, DataError> {
    let file = File::open(path).map_err(|source| DataError::Open {
        path: path.to_owned(),
        source,
    })?;
    open_reader(path, file)
}

/// [`open`] of any seekable reader; `path` only names the file in errors.
pub fn open_reader(path: &Path, reader: impl Read + Seek) -> Result<Dataset, DataError> {
    let error = |array: Option<&str>, what: String| DataError::Array {
        path: path.to_owned(),
        array: array.map(str::to_owned),
        what,
    };
    let mut archive = zip::ZipArchive::new(reader).map_err(|e| {
        error(
            None,
            format!("not an .npz file (a zip archive of .npy arrays): {e}"),
        )
    })?;
    let x_train = with_array(&mut archive, "x_train", &error, |npy| {
        samples(npy, "x_train", &error)
    })?;
    let y_train = with_array(&mut archive, "y_train", &error, |npy| {
        classes(npy, "y_train", &error)
    })?;
    let x_test = with_array(&mut archive, "x_test", &error, |npy| {
        samples(npy, "x_test", &error)
    })?;
    let y_test = with_array(&mut archive, "y_test", &error, |npy| {
        classes(npy, "y_test", &error)
    })?;

    for ((x, x_name), (y, y_name)) in [
        ((&x_train, "x_train"), (&y_train, "y_train")),
        ((&x_test, "x_test"), (&y_test, "y_test")),
    ] {
        if x.1 != y.len() {
            return Err(error(
                Some(y_name),
                format!(
                    "{} labels, but {x_name} holds {} samples: the two must have the same length",
                    y.len(),
                    x.1
                ),
            ));
        }
    }
    let (train_shape, test_shape) = (x_train.2, x_test.2);
    if train_shape != test_shape {
        let dims = |s: SampleShape| format!("{}×{}×{}", s.channels, s.rows, s.cols);
        return Err(error(
            Some("x_test"),
            format!(
                "its samples are {} values but those of x_train are {}",
                dims(test_shape),
                dims(train_shape)
            ),
        ));
    }
    let largest = y_train.iter().chain(&y_test).copied().max().unwrap_or(0);
    let classes = largest as usize + 1;
    let split = |(samples, _, shape): (Samples, usize, SampleShape), labels: Vec<u32>| match samples
    {
        Samples::Bytes(bytes) => Split::bytes(bytes, shape, labels),
        Samples::Floats(floats) => Split::floats(floats, shape, labels),
    };
    Ok(Dataset {
        name: path.display().to_string(),
        train: split(x_train, y_train),
        test: split(x_test, y_test),
        target: Target::Classes(classes),
        class_names: Vec::new(),
        feature_names: Vec::new(),
    })
}

/// The array `name` of `archive`, handed to `read` with its header parsed.
fn with_array<R: Read + Seek, T>(
    archive: &mut zip::ZipArchive<R>,
    name: &str,
    error: &impl Fn(Option<&str>, String) -> DataError,
    read: impl FnOnce(NpyFile<BufReader<zip::read::ZipFile<'_, R>>>) -> Result<T, DataError>,
) -> Result<T, DataError> {
    let mut present: Vec<String> = archive
        .file_names()
        .filter_map(Result::ok)
        .map(|name| name.strip_suffix(".npy").unwrap_or(&name).to_owned())
        .collect();
    present.sort();
    let entry = match archive.by_name(&format!("{name}.npy")) {
        Ok(entry) => entry,
        Err(zip::result::ZipError::FileNotFound) => {
            return Err(error(
                Some(name),
                format!(
                    "missing: the file holds {} (Keras' mnist.npz layout has x_train, y_train, x_test, y_test)",
                    if present.is_empty() {
                        "no arrays".to_owned()
                    } else {
                        present.join(", ")
                    }
                ),
            ));
        }
        Err(e) => return Err(error(Some(name), format!("cannot be read: {e}"))),
    };
    let stored = entry.size();
    // Elements are read one at a time: buffering makes that a copy, not a call into the
    // decompressor.
    let npy = NpyFile::new(BufReader::new(entry))
        .map_err(|e| error(Some(name), format!("not a valid .npy array: {e}")))?;
    // The header's claim is checked against the bytes the archive says it holds before
    // anything is read.
    let bytes = match npy.dtype() {
        DType::Plain(ts) => npy.len().checked_mul(ts.size_field()),
        _ => Some(0),
    };
    if bytes.is_none_or(|b| b > stored) {
        return Err(error(
            Some(name),
            format!(
                "its header declares {:?} elements of {}, more than the {stored} bytes it holds",
                npy.shape(),
                npy.dtype().descr()
            ),
        ));
    }
    read(npy)
}

/// The samples of a `.npy` file to predict on, as a model of `features` inputs reads them
/// (`uint8` scaled by 1/255, `float32` and `float64` as they are): one sample when the
/// array holds exactly `features` values (a `[28, 28]` image), else as many as its first
/// axis counts. Errors name the file.
pub fn read_samples(path: &Path, features: usize) -> Result<(Vec<f32>, usize), DataError> {
    let error = |_: Option<&str>, what: String| DataError::Array {
        path: path.to_owned(),
        array: None,
        what,
    };
    let file = File::open(path).map_err(|e| error(None, format!("cannot be read: {e}")))?;
    let npy = NpyFile::new(BufReader::new(file))
        .map_err(|e| error(None, format!("not a .npy array: {e}")))?;
    c_order(&npy, "", &error)?;
    let dims = dims(&npy, "", &error)?;
    let total: usize = dims.iter().product();
    let count = match dims.first() {
        _ if total == features => 1,
        Some(&n) if n > 0 && total == n * features => n,
        _ => {
            return Err(error(
                None,
                format!(
                    "its shape {dims:?} holds {total} values: the model reads {features} per sample, so give [{features}] (or the image's shape) for one sample or [N, ...] of N samples"
                ),
            ));
        }
    };
    let dtype = npy.dtype();
    let read_error = |e: std::io::Error| error(None, format!("cannot be read: {e}"));
    let values: Vec<f32> = match scalar(&dtype) {
        Some((TypeChar::Uint, 1)) => npy
            .into_vec::<u8>()
            .map_err(read_error)?
            .into_iter()
            .map(|b| f32::from(b) / 255.0)
            .collect(),
        Some((TypeChar::Float, 4)) => npy.into_vec::<f32>().map_err(read_error)?,
        Some((TypeChar::Float, 8)) => npy
            .into_vec::<f64>()
            .map_err(read_error)?
            .into_iter()
            .map(|v| v as f32)
            .collect(),
        _ => {
            return Err(error(
                None,
                format!(
                    "its dtype is {}: samples are read as uint8 (scaled by 1/255), float32 or float64",
                    dtype.descr()
                ),
            ));
        }
    };
    if let Some(at) = values.iter().position(|v| !v.is_finite()) {
        return Err(error(
            None,
            format!(
                "element {at} is {}: samples must be finite numbers",
                values[at]
            ),
        ));
    }
    Ok((values, count))
}

/// An `x` array: its values, its sample count and each sample's shape.
fn samples<R: Read>(
    npy: NpyFile<R>,
    name: &str,
    error: &impl Fn(Option<&str>, String) -> DataError,
) -> Result<(Samples, usize, SampleShape), DataError> {
    let fail = |what: String| error(Some(name), what);
    c_order(&npy, name, error)?;
    let dims = dims(&npy, name, error)?;
    let (count, shape) = match *dims.as_slice() {
        [n, d] => (n, SampleShape::vector(d)),
        [n, rows, cols] => (
            n,
            SampleShape {
                channels: 1,
                rows,
                cols,
            },
        ),
        [n, channels, rows, cols] => (
            n,
            SampleShape {
                channels,
                rows,
                cols,
            },
        ),
        _ => {
            return Err(fail(format!(
                "its shape is {:?}: samples are read from [N, d], [N, h, w] or [N, c, h, w]",
                npy.shape()
            )));
        }
    };
    if count == 0 || shape.features() == 0 {
        return Err(fail(format!(
            "its shape {:?} holds no samples",
            npy.shape()
        )));
    }
    let dtype = npy.dtype();
    let read_error = |e: std::io::Error| fail(format!("cannot be read: {e}"));
    let values = match scalar(&dtype) {
        Some((TypeChar::Uint, 1)) => Samples::Bytes(npy.into_vec::<u8>().map_err(read_error)?),
        Some((TypeChar::Float, 4)) => Samples::Floats(npy.into_vec::<f32>().map_err(read_error)?),
        _ => {
            return Err(fail(format!(
                "its dtype is {}: samples are read as uint8 (scaled by 1/255) or float32",
                dtype.descr()
            )));
        }
    };
    if let Samples::Floats(floats) = &values
        && let Some(at) = floats.iter().position(|v| !v.is_finite())
    {
        return Err(fail(format!(
            "element {at} is {}: samples must be finite numbers",
            floats[at]
        )));
    }
    Ok((values, count, shape))
}

/// A `y` array: whole class numbers from 0.
fn classes<R: Read>(
    npy: NpyFile<R>,
    name: &str,
    error: &impl Fn(Option<&str>, String) -> DataError,
) -> Result<Vec<u32>, DataError> {
    let fail = |what: String| error(Some(name), what);
    c_order(&npy, name, error)?;
    let dims = dims(&npy, name, error)?;
    if !matches!(dims.as_slice(), [_] | [_, 1]) {
        return Err(fail(format!(
            "its shape is {:?}: labels are read from [N] (one class number per sample)",
            npy.shape()
        )));
    }
    let dtype = npy.dtype();
    let read_error = |e: std::io::Error| fail(format!("cannot be read: {e}"));
    let wide: Vec<i128> = match scalar(&dtype) {
        Some((TypeChar::Uint, 1)) => widen(npy.into_vec::<u8>()),
        Some((TypeChar::Uint, 2)) => widen(npy.into_vec::<u16>()),
        Some((TypeChar::Uint, 4)) => widen(npy.into_vec::<u32>()),
        Some((TypeChar::Uint, 8)) => widen(npy.into_vec::<u64>()),
        Some((TypeChar::Int, 1)) => widen(npy.into_vec::<i8>()),
        Some((TypeChar::Int, 2)) => widen(npy.into_vec::<i16>()),
        Some((TypeChar::Int, 4)) => widen(npy.into_vec::<i32>()),
        Some((TypeChar::Int, 8)) => widen(npy.into_vec::<i64>()),
        _ => {
            return Err(fail(format!(
                "its dtype is {}: labels are whole class numbers (an integer dtype such as uint8 or int64)",
                dtype.descr()
            )));
        }
    }
    .map_err(read_error)?;
    wide.iter()
        .enumerate()
        .map(|(at, &class)| {
            u32::try_from(class)
                .ok()
                .filter(|&c| u64::from(c) < MAX_CLASS)
                .ok_or_else(|| {
                    fail(format!(
                        "element {at} is {class}: a class number is from 0 to {}",
                        MAX_CLASS - 1
                    ))
                })
        })
        .collect()
}

fn widen<T: Into<i128>>(values: std::io::Result<Vec<T>>) -> std::io::Result<Vec<i128>> {
    values.map(|v| v.into_iter().map(Into::into).collect())
}

/// A plain scalar dtype's kind and size in bytes.
fn scalar(dtype: &DType) -> Option<(TypeChar, u64)> {
    match dtype {
        DType::Plain(ts) => Some((ts.type_char(), ts.size_field())),
        _ => None,
    }
}

/// The shape as sizes, each representable in memory.
fn dims<R: Read>(
    npy: &NpyFile<R>,
    name: &str,
    error: &impl Fn(Option<&str>, String) -> DataError,
) -> Result<Vec<usize>, DataError> {
    let shape = npy.shape();
    let fits = shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(usize::try_from(d).ok()?));
    if fits.is_none() {
        return Err(error(
            Some(name),
            format!("its shape {shape:?} is too large to hold in memory"),
        ));
    }
    Ok(shape.iter().map(|&d| d as usize).collect())
}

/// Samples are read row after row: a Fortran-ordered array would be read transposed.
fn c_order<R: Read>(
    npy: &NpyFile<R>,
    name: &str,
    error: &impl Fn(Option<&str>, String) -> DataError,
) -> Result<(), DataError> {
    if npy.order() == Order::C || npy.shape().iter().filter(|&&d| d > 1).count() <= 1 {
        return Ok(());
    }
    Err(error(
        Some(name),
        "it is stored in Fortran order: save it in C order (`np.ascontiguousarray(x)`)".into(),
    ))
}
