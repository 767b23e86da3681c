//! Finding a dataset's four IDX files, in the order the CLI contract gives: `--data DIR`,
//! `$NNC_DATA/<folder>`, `./data/<folder>`, the cache folder, and for Fashion-MNIST
//! Debian's `/usr/share/datasets/fashion-mnist`. A folder named with `--data` is the only
//! place looked in: the fallbacks apply only without it. Each file may be raw or `.gz`.
//! When no place holds all four, the error lists every place and what it lacked, and says
//! how to get the files. Opening what was found is `mnist.rs`'s business.

use std::path::{Path, PathBuf};

use super::DataError;
use super::DataSource;
use super::mnist::{Builtin, FILES};

/// Where Debian's `dataset-fashion-mnist` package installs the files.
pub const DEBIAN_FASHION_MNIST: &str = "/usr/share/datasets/fashion-mnist";

/// The places to search, resolved once from the flags and the environment. Tests build it
/// directly instead of changing the process environment.
#[derive(Debug, Clone)]
pub struct Search {
    /// `--data DIR`: a folder holding the files, or holding `mnist/`, `fashion-mnist/`.
    pub data_dir: Option<PathBuf>,
    /// `$NNC_DATA`: a folder holding `mnist/`, `fashion-mnist/`.
    pub nnc_data: Option<PathBuf>,
    /// `./data`, relative to the working folder.
    pub local: PathBuf,
    /// The cache folder (see [`super::cache::cache_dir`]); also where `.gz` files are
    /// decompressed.
    pub cache: PathBuf,
    /// Whether to look in the system-wide [`DEBIAN_FASHION_MNIST`].
    pub system: bool,
}

impl Search {
    /// The contract's places, with `--data` from the caller and the rest from the
    /// environment (`NNC_DATA`, the working folder, the cache variables).
    pub fn from_env(data_dir: Option<&Path>) -> Search {
        Search {
            data_dir: data_dir.map(Path::to_owned),
            nnc_data: std::env::var_os("NNC_DATA")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
            local: PathBuf::from("./data"),
            cache: super::cache::cache_dir(),
            system: true,
        }
    }

    /// Every folder to try for `source`, in order, each with how to describe it.
    fn places(&self, source: &DataSource) -> Vec<Place> {
        let mut places = Vec::new();
        let builtin = match source {
            DataSource::Path(dir) => {
                // `--data` is the user's override for where the files are, so it wins over
                // the model file's own path.
                let (label, dir) = match &self.data_dir {
                    Some(data) => ("--data", data.clone()),
                    None => ("data =", PathBuf::from(dir)),
                };
                places.push(Place {
                    label: label.into(),
                    dir: Some(dir),
                });
                return places;
            }
            DataSource::Mnist => Builtin::Mnist,
            DataSource::FashionMnist => Builtin::FashionMnist,
            // A file is opened where its path says, never searched for.
            DataSource::Csv(_) | DataSource::Npz(_) => return places,
        };
        let folder = builtin.folder();
        if let Some(data) = &self.data_dir {
            // A folder the user names is authoritative: training on data found somewhere
            // else instead would silently train on something they did not ask for.
            places.push(Place {
                label: "--data".into(),
                dir: Some(data.clone()),
            });
            places.push(Place {
                label: "--data".into(),
                dir: Some(data.join(folder)),
            });
            return places;
        }
        places.push(Place {
            label: "$NNC_DATA".into(),
            dir: self.nnc_data.as_ref().map(|d| d.join(folder)),
        });
        places.push(Place {
            label: "./data".into(),
            dir: Some(self.local.join(folder)),
        });
        places.push(Place {
            label: "cache".into(),
            dir: Some(self.cache.join(folder)),
        });
        if self.system && builtin == Builtin::FashionMnist {
            places.push(Place {
                label: "system".into(),
                dir: Some(PathBuf::from(DEBIAN_FASHION_MNIST)),
            });
        }
        places
    }
}

/// One folder to look in. `dir` is `None` when it comes from an unset variable.
struct Place {
    label: String,
    dir: Option<PathBuf>,
}

/// The four files of a dataset, in [`FILES`] order, each raw or `.gz`.
#[derive(Debug, Clone)]
pub struct Located {
    pub dir: PathBuf,
    pub files: [PathBuf; 4],
}

/// What one folder holds of the four files.
enum Found {
    All([PathBuf; 4]),
    Some { missing: Vec<&'static str> },
    NoFolder,
}

fn look_in(dir: &Path) -> Found {
    if !dir.is_dir() {
        return Found::NoFolder;
    }
    let mut missing = Vec::new();
    let files = FILES.map(|name| {
        let raw = dir.join(name);
        let gz = dir.join(format!("{name}.gz"));
        // A raw file is preferred: it is mapped as it is, with no decompression.
        if raw.is_file() {
            raw
        } else if gz.is_file() {
            gz
        } else {
            missing.push(name);
            raw
        }
    });
    if missing.is_empty() {
        Found::All(files)
    } else {
        Found::Some { missing }
    }
}

/// Finds the first place holding all four files of `source`.
pub fn locate(source: &DataSource, search: &Search) -> Result<Located, DataError> {
    let places = search.places(source);
    let mut report = Vec::new();
    for place in &places {
        let Some(dir) = &place.dir else {
            report.push(format!("  {:<10} not set", place.label));
            continue;
        };
        match look_in(dir) {
            Found::All(files) => {
                return Ok(Located {
                    dir: dir.clone(),
                    files,
                });
            }
            Found::NoFolder => report.push(format!(
                "  {:<10} {}: no such folder",
                place.label,
                dir.display()
            )),
            Found::Some { missing } if missing.len() == FILES.len() => {
                report.push(format!(
                    "  {:<10} {}: none of the files",
                    place.label,
                    dir.display()
                ));
            }
            Found::Some { missing } => report.push(format!(
                "  {:<10} {}: missing {} (raw or .gz)",
                place.label,
                dir.display(),
                missing.join(", ")
            )),
        }
    }
    let (what, how) = match (source, &search.data_dir) {
        (DataSource::Path(_) | DataSource::Csv(_) | DataSource::Npz(_), _) => (
            "the dataset".to_string(),
            "put the four IDX files there, or point `--data DIR` at a folder that holds them"
                .to_string(),
        ),
        (DataSource::Mnist | DataSource::FashionMnist, data_dir) => {
            let builtin = if *source == DataSource::Mnist {
                Builtin::Mnist
            } else {
                Builtin::FashionMnist
            };
            let how = match data_dir {
                Some(dir) => format!(
                    "put them in {} (or in its `{}` folder), or leave out `--data` to search \
                     `$NNC_DATA`, `./data` and the cache",
                    dir.display(),
                    builtin.folder()
                ),
                None => format!(
                    "run `nnc data fetch {}` to download them into the cache, or point `--data DIR` \
                     or `NNC_DATA` at a folder that holds them",
                    builtin.name()
                ),
            };
            (format!("the {} dataset", builtin.name()), how)
        }
    };
    Err(DataError::NotFound(format!(
        "cannot find {what} ({}, each raw or .gz); looked in:\n{}\nto get the files, {how}",
        FILES.join(", "),
        report.join("\n")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn search(root: &Path) -> Search {
        Search {
            data_dir: None,
            nnc_data: None,
            local: root.join("data"),
            cache: root.join("cache"),
            system: false,
        }
    }

    fn touch_all(dir: &Path, gz: bool) {
        std::fs::create_dir_all(dir).unwrap();
        for name in FILES {
            let name = if gz {
                format!("{name}.gz")
            } else {
                name.to_string()
            };
            std::fs::write(dir.join(name), b"").unwrap();
        }
    }

    #[test]
    fn nothing_found_lists_every_place() {
        let root = tempfile::tempdir().unwrap();
        let err = locate(&DataSource::FashionMnist, &search(root.path()))
            .unwrap_err()
            .to_string();
        for expected in [
            "cannot find the fashion_mnist dataset",
            "$NNC_DATA  not set",
            "data/fashion-mnist: no such folder",
            "cache/fashion-mnist",
            "nnc data fetch fashion_mnist",
            "NNC_DATA",
        ] {
            assert!(err.contains(expected), "missing {expected:?} in:\n{err}");
        }
    }

    #[test]
    fn a_data_folder_is_the_only_place_looked_in() {
        let root = tempfile::tempdir().unwrap();
        let mut s = search(root.path());
        // Every fallback holds the files: `--data` must still win, and fail.
        touch_all(&root.path().join("data/mnist"), false);
        touch_all(&root.path().join("cache/mnist"), true);
        touch_all(&root.path().join("env/mnist"), false);
        s.nnc_data = Some(root.path().join("env"));
        s.data_dir = Some(root.path().join("flag"));
        let err = locate(&DataSource::Mnist, &s).unwrap_err().to_string();
        for expected in [
            "cannot find the mnist dataset",
            "flag: no such folder",
            "flag/mnist: no such folder",
            "leave out `--data`",
        ] {
            assert!(err.contains(expected), "missing {expected:?} in:\n{err}");
        }
        let looked_in: Vec<&str> = err.lines().filter(|l| l.starts_with("  ")).collect();
        assert_eq!(looked_in.len(), 2, "only the two `--data` places:\n{err}");
        assert!(looked_in.iter().all(|l| l.contains("--data")), "{err}");
        assert!(!err.contains("nnc data fetch"), "{err}");
        // A folder that exists but lacks files is named with what it lacks.
        std::fs::create_dir_all(root.path().join("flag/mnist")).unwrap();
        std::fs::write(root.path().join("flag/mnist").join(FILES[0]), b"").unwrap();
        let err = locate(&DataSource::Mnist, &s).unwrap_err().to_string();
        assert!(
            err.contains("flag/mnist: missing train-labels-idx1-ubyte"),
            "{err}"
        );
    }

    #[test]
    fn a_partial_folder_names_the_missing_files() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("data/mnist");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(FILES[0]), b"").unwrap();
        std::fs::write(dir.join(format!("{}.gz", FILES[1])), b"").unwrap();
        let err = locate(&DataSource::Mnist, &search(root.path()))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("missing t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte"),
            "{err}"
        );
    }

    #[test]
    fn the_search_order_is_the_contracts() {
        let root = tempfile::tempdir().unwrap();
        let mut s = search(root.path());
        touch_all(&root.path().join("cache/mnist"), true);
        assert_eq!(
            locate(&DataSource::Mnist, &s).unwrap().dir,
            root.path().join("cache/mnist")
        );
        touch_all(&root.path().join("data/mnist"), false);
        assert_eq!(
            locate(&DataSource::Mnist, &s).unwrap().dir,
            root.path().join("data/mnist")
        );
        touch_all(&root.path().join("env/mnist"), true);
        s.nnc_data = Some(root.path().join("env"));
        assert_eq!(
            locate(&DataSource::Mnist, &s).unwrap().dir,
            root.path().join("env/mnist")
        );
        // `--data` may name the dataset's folder or its parent.
        touch_all(&root.path().join("flag/mnist"), false);
        s.data_dir = Some(root.path().join("flag"));
        assert_eq!(
            locate(&DataSource::Mnist, &s).unwrap().dir,
            root.path().join("flag/mnist")
        );
        s.data_dir = Some(root.path().join("flag/mnist"));
        assert_eq!(
            locate(&DataSource::Mnist, &s).unwrap().dir,
            root.path().join("flag/mnist")
        );
    }

    #[test]
    fn raw_files_are_preferred_to_gz() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("data/mnist");
        touch_all(&dir, true);
        std::fs::write(dir.join(FILES[2]), b"").unwrap();
        let found = locate(&DataSource::Mnist, &search(root.path())).unwrap();
        assert_eq!(found.files[2], dir.join(FILES[2]));
        assert_eq!(found.files[0], dir.join(format!("{}.gz", FILES[0])));
    }

    #[test]
    fn a_path_dataset_looks_only_in_its_folder() {
        let root = tempfile::tempdir().unwrap();
        touch_all(&root.path().join("data/mnist"), false);
        let source = DataSource::Path(root.path().join("mine").display().to_string());
        let err = locate(&source, &search(root.path()))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("mine: no such folder") && !err.contains("cache"),
            "{err}"
        );
    }
}
