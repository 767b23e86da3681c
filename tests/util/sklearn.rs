//! scikit-learn's bundled tables (Debian's `python3-sklearn`, which `.ci/run` installs) as
//! standard CSV files: a header naming every column, then one row per sample. The bundled
//! files start with a line of counts and class names instead (`150,4,setosa,...`), and the
//! diabetes data is two space-separated, gzip-compressed files without a header; these
//! helpers write what a user's own table would look like.

use std::io::Read;
use std::path::{Path, PathBuf};

/// Where Debian installs the bundled data.
pub const DATA: &str = "/usr/lib/python3/dist-packages/sklearn/datasets/data";

fn bundled(name: &str) -> Vec<u8> {
    let path = Path::new(DATA).join(name);
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{} is missing ({e}): install scikit-learn's data with `apt-get install -y python3-sklearn` \
             (.ci/run does)",
            path.display()
        )
    })
}

fn text(name: &str) -> String {
    let bytes = bundled(name);
    if name.ends_with(".gz") {
        let mut out = String::new();
        flate2::read::GzDecoder::new(bytes.as_slice())
            .read_to_string(&mut out)
            .expect("a gzip file of text");
        out
    } else {
        String::from_utf8(bytes).expect("UTF-8 text")
    }
}

/// A bundled classification table (`rows,features,class names...` then rows whose last
/// field is the class number) with `names` as its feature columns and `label` as the
/// class column, holding class names when `named`, else the numbers as they are.
fn classification(file: &str, names: &[String], label: &str, named: bool) -> String {
    let text = text(file);
    let mut lines = text.lines();
    let counts: Vec<&str> = lines.next().expect("a count line").split(',').collect();
    let class_names = &counts[2..];
    let mut out = format!("{},{label}\n", names.join(","));
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let (features, class) = line.rsplit_once(',').expect("a class column");
        let class = if named {
            class_names[class.trim().parse::<usize>().expect("a class number")]
        } else {
            class.trim()
        };
        out.push_str(&format!("{features},{class}\n"));
    }
    out
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("the temporary folder is writable");
    path
}

fn numbered(prefix: &str, n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("{prefix}{i}")).collect()
}

/// `iris.csv`: four measurements and `species` (setosa, versicolor, virginica).
pub fn iris(dir: &Path) -> PathBuf {
    let names = ["sepal_length", "sepal_width", "petal_length", "petal_width"].map(String::from);
    write(
        dir,
        "iris.csv",
        &classification("iris.csv", &names, "species", true),
    )
}

/// `wine.csv`: 13 chemical measurements and `class` as the numbers 0, 1, 2.
pub fn wine(dir: &Path) -> PathBuf {
    let names = [
        "alcohol",
        "malic_acid",
        "ash",
        "alcalinity_of_ash",
        "magnesium",
        "total_phenols",
        "flavanoids",
        "nonflavanoid_phenols",
        "proanthocyanins",
        "color_intensity",
        "hue",
        "od280_od315",
        "proline",
    ]
    .map(String::from);
    write(
        dir,
        "wine.csv",
        &classification("wine_data.csv", &names, "class", false),
    )
}

/// `breast_cancer.csv`: 30 measurements `x1`..`x30` and `diagnosis` (malignant, benign).
pub fn breast_cancer(dir: &Path) -> PathBuf {
    let text = classification("breast_cancer.csv", &numbered("x", 30), "diagnosis", true);
    write(dir, "breast_cancer.csv", &text)
}

/// `diabetes.csv`: ten baseline variables of 442 patients and `progression`, a measure of
/// the disease a year later (25 to 346).
pub fn diabetes(dir: &Path) -> PathBuf {
    let features = text("diabetes_data_raw.csv.gz");
    let targets = text("diabetes_target.csv.gz");
    let mut out = String::from("age,sex,bmi,bp,s1,s2,s3,s4,s5,s6,progression\n");
    for (row, target) in features.lines().zip(targets.lines()) {
        let fields: Vec<&str> = row.split_whitespace().collect();
        let target: f64 = target.trim().parse().expect("a number");
        out.push_str(&format!("{},{target}\n", fields.join(",")));
    }
    write(dir, "diabetes.csv", &out)
}
