//! `.npz` files as NumPy's `np.savez` and `np.savez_compressed` write them (Keras'
//! `mnist.npz` layout: `x_train`, `y_train`, `x_test`, `y_test`), written with npyz and
//! zip, and real MNIST samples to put in them.

use std::io::Write;
use std::path::{Path, PathBuf};

use nnc::data::{DataSource, Search};
use npyz::WriterBuilder;

/// One array to write: its shape and values.
pub enum Array {
    U8(Vec<u64>, Vec<u8>),
    F32(Vec<u64>, Vec<f32>),
    F64(Vec<u64>, Vec<f64>),
    I64(Vec<u64>, Vec<i64>),
}

pub fn npy<T: npyz::AutoSerialize + Copy>(shape: &[u64], values: &[T]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut writer = npyz::WriteOptions::new()
        .default_dtype()
        .shape(shape)
        .writer(&mut out)
        .begin_nd()
        .unwrap();
    writer.extend(values.iter().copied()).unwrap();
    writer.finish().unwrap();
    out
}

/// Writes `arrays` as an `.npz` file (deflated, as `np.savez_compressed`, or stored, as
/// `np.savez`).
pub fn write_npz(path: &Path, arrays: &[(&str, Array)], deflated: bool) {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let method = if deflated {
        zip::CompressionMethod::Deflated
    } else {
        zip::CompressionMethod::Stored
    };
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(method)
        .large_file(true);
    for (name, array) in arrays {
        let bytes = match array {
            Array::U8(shape, v) => npy(shape, v),
            Array::F32(shape, v) => npy(shape, v),
            Array::F64(shape, v) => npy(shape, v),
            Array::I64(shape, v) => npy(shape, v),
        };
        zip.start_file(format!("{name}.npy"), options).unwrap();
        zip.write_all(&bytes).unwrap();
    }
    zip.finish().unwrap();
}

pub fn shared_mnist() -> nnc::data::Dataset {
    let search = Search {
        data_dir: Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/mnist")),
        nnc_data: None,
        local: PathBuf::from("./data"),
        cache: Path::new(env!("CARGO_TARGET_TMPDIR")).join("nnc-cache"),
        system: false,
    };
    nnc::data::open_in(&DataSource::Mnist, &search).expect("MNIST in ../shared/data")
}

/// The first `n` samples of a split as `[n, 28, 28]` bytes and `[n]` labels.
pub fn mnist_arrays(split: &nnc::data::Split, n: usize) -> (Array, Array) {
    let pixels: Vec<u8> = (0..n).flat_map(|i| split.image(i).to_vec()).collect();
    let labels: Vec<i64> = (0..n).map(|i| i64::from(split.label(i))).collect();
    (
        Array::U8(vec![n as u64, 28, 28], pixels),
        Array::I64(vec![n as u64], labels),
    )
}
