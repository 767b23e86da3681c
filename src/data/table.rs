//! Reading a CSV table for `data = csv(PATH, label = COLUMN, ...)`: the first row names
//! the columns, the label column is kept as text (what it means, classes or a value, is
//! `holdout.rs`'s business) and every other column is a numeric feature, in file order.
//! The whole table is read into memory, checked as it is read: every error names the file
//! and the 1-based line (the header is line 1).
//!
//! Only standard CSV is read: scikit-learn's bundled files (`iris.csv`, ...) start with a
//! line of counts instead of column names, which the errors recognise and explain.

use std::path::{Path, PathBuf};

use super::DataError;
use crate::suggest::closest;

/// A table as read: the header, then per row its features (as `f32`), its label field
/// and its line in the file.
#[derive(Debug, Clone)]
pub struct Table {
    pub path: PathBuf,
    /// Every column's name, in file order.
    pub columns: Vec<String>,
    /// The label column's index in [`Table::columns`].
    pub label_column: usize,
    /// `[rows, features]`, row after row; the features are the columns other than the
    /// label, in file order.
    pub features: Vec<f32>,
    /// Each row's label field, trimmed.
    pub labels: Vec<String>,
    /// Each row's 1-based line in the file.
    pub lines: Vec<u64>,
}

impl Table {
    pub fn rows(&self) -> usize {
        self.labels.len()
    }

    /// Features per row.
    pub fn feature_count(&self) -> usize {
        self.columns.len() - 1
    }

    /// The names of the feature columns, in order.
    pub fn feature_names(&self) -> impl Iterator<Item = &str> {
        self.columns
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != self.label_column)
            .map(|(_, name)| name.as_str())
    }

    /// An error at `line` of this table's file.
    pub fn error(&self, line: u64, what: impl Into<String>) -> DataError {
        error(&self.path, Some(line), what)
    }
}

fn error(path: &Path, line: Option<u64>, what: impl Into<String>) -> DataError {
    DataError::Table {
        path: path.to_owned(),
        line,
        what: what.into(),
    }
}

/// Reads the table at `path`, whose column `label` holds the labels.
pub fn read(path: &Path, label: &str) -> Result<Table, DataError> {
    let bytes = std::fs::read(path).map_err(|source| DataError::Open {
        path: path.to_owned(),
        source,
    })?;
    parse(path, &bytes, label)
}

/// [`read`] of a file's bytes; `path` only names the file in errors.
pub fn parse(path: &Path, bytes: &[u8], label: &str) -> Result<Table, DataError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(error(
            path,
            Some(1),
            "the file is empty: its first line must name the columns, e.g. `sepal_length,sepal_width,species`",
        ));
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        // Rows of another length are reported here, with their line, not by the reader.
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let columns: Vec<String> = reader
        .headers()
        .map_err(|e| csv_error(path, e, &mut LineCounter::new(bytes)))?
        .iter()
        .map(str::to_owned)
        .collect();
    let label_column = label_column(path, &columns, label)?;
    if columns.len() < 2 {
        return Err(error(
            path,
            Some(1),
            format!(
                "the only column is the label `{label}`: every other column is a feature, and there are none"
            ),
        ));
    }
    let width = columns.len();
    let mut table = Table {
        path: path.to_owned(),
        columns,
        label_column,
        features: Vec::new(),
        labels: Vec::new(),
        lines: Vec::new(),
    };
    let mut record = csv::StringRecord::new();
    let mut lines = LineCounter::new(bytes);
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(csv_error(path, e, &mut lines)),
        }
        let line = lines.at(record.position().map_or(0, csv::Position::byte));
        if record.len() != width {
            let mut what = format!(
                "{} field{}, but the header (line 1) names {width} columns",
                record.len(),
                if record.len() == 1 { "" } else { "s" }
            );
            if let Some(hint) = count_line_hint(&table.columns) {
                what.push_str("; ");
                what.push_str(&hint);
            }
            return Err(table.error(line, what));
        }
        for (i, field) in record.iter().enumerate() {
            if i == label_column {
                table.labels.push(field.to_owned());
            } else {
                let value = number(field).map_err(|why| {
                    table.error(line, format!("column `{}` {why}", table.columns[i]))
                })?;
                table.features.push(value);
            }
        }
        table.lines.push(line);
    }
    if table.labels.is_empty() {
        return Err(error(
            path,
            Some(1),
            "the table has a header but no rows of data",
        ));
    }
    Ok(table)
}

/// A field as a finite `f32`, or why it is not one (completing "column `x` ...").
pub fn number(field: &str) -> Result<f32, String> {
    if field.is_empty() {
        return Err(
            "is empty: missing values are not supported (fill them in or drop the row)".into(),
        );
    }
    match field.parse::<f32>() {
        Ok(value) if value.is_finite() => Ok(value),
        Ok(_) if field.parse::<f64>().is_ok_and(f64::is_finite) => Err(format!(
            "holds `{field}`, beyond the range of a 32-bit float"
        )),
        Ok(_) => Err(format!("holds `{field}`, not a finite number")),
        Err(_) => Err(format!("holds `{field}`, not a number")),
    }
}

/// The index of the label column, or an error at the header with the closest name.
fn label_column(path: &Path, columns: &[String], label: &str) -> Result<usize, DataError> {
    let matching: Vec<usize> = (0..columns.len())
        .filter(|&i| columns[i] == label)
        .collect();
    match matching.as_slice() {
        [only] => Ok(*only),
        [] => {
            let mut what = format!("no column is named `{label}`");
            match closest(label, columns.iter().map(String::as_str)) {
                Some(near) => what.push_str(&format!("; did you mean `{near}`?")),
                None => what.push_str(&format!(
                    "; the header names {}",
                    columns
                        .iter()
                        .map(|c| format!("`{c}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            }
            if let Some(hint) = count_line_hint(columns) {
                what.push_str("; ");
                what.push_str(&hint);
            }
            Err(error(path, Some(1), what))
        }
        [first, second, ..] => Err(error(
            path,
            Some(1),
            format!(
                "two columns are named `{label}` (columns {} and {}): the label must be one column",
                first + 1,
                second + 1
            ),
        )),
    }
}

/// When a header starts with two whole numbers, it is likely a count line (scikit-learn's
/// bundled CSV files start with `rows,features,class names...`): say so.
fn count_line_hint(columns: &[String]) -> Option<String> {
    let [rows, features, ..] = columns else {
        return None;
    };
    rows.parse::<u64>().ok()?;
    features.parse::<u64>().ok()?;
    Some(format!(
        "the first line (`{}`) looks like counts ({rows} rows, {features} features, as scikit-learn's \
         bundled CSV files begin), not column names: replace it with a line naming every column",
        columns.join(",")
    ))
}

/// The line of a byte offset, counted as records are read (the reader's own line count
/// skips blank lines, and a user's editor does not).
struct LineCounter<'a> {
    bytes: &'a [u8],
    /// Bytes before `scanned` hold `newlines` line feeds.
    scanned: usize,
    newlines: u64,
}

impl<'a> LineCounter<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        LineCounter {
            bytes,
            scanned: 0,
            newlines: 0,
        }
    }

    /// The 1-based line of a record whose reading started at byte `offset` (the reader
    /// starts a record where the previous one ended, before any blank lines it skips);
    /// offsets come in increasing order.
    fn at(&mut self, offset: u64) -> u64 {
        let mut offset = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .clamp(self.scanned, self.bytes.len());
        while matches!(self.bytes.get(offset), Some(b'\n' | b'\r')) {
            offset += 1;
        }
        let ahead = &self.bytes[self.scanned..offset];
        self.newlines += ahead.iter().filter(|&&b| b == b'\n').count() as u64;
        self.scanned = offset;
        self.newlines + 1
    }
}

/// A reader error (bad UTF-8, an unterminated quote) at its line.
fn csv_error(path: &Path, err: csv::Error, lines: &mut LineCounter<'_>) -> DataError {
    let line = err.position().map(|p| lines.at(p.byte()));
    let what = match err.kind() {
        csv::ErrorKind::Utf8 { err, .. } => {
            format!("field {} is not valid UTF-8 text", err.field() + 1)
        }
        csv::ErrorKind::Io(io) => format!("cannot be read: {io}"),
        _ => err.to_string(),
    };
    error(path, line, what)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str, label: &str) -> Result<Table, String> {
        parse(Path::new("t.csv"), text.as_bytes(), label).map_err(|e| e.to_string())
    }

    #[test]
    fn features_are_every_other_column_in_file_order() {
        let t = table("a,species, b ,c\n1,x,2,3\n4, y ,5,6e-1\n", "species").unwrap();
        assert_eq!(t.columns, ["a", "species", "b", "c"]);
        assert_eq!(t.label_column, 1);
        assert_eq!(t.feature_names().collect::<Vec<_>>(), ["a", "b", "c"]);
        assert_eq!(t.features, [1.0, 2.0, 3.0, 4.0, 5.0, 0.6]);
        assert_eq!(t.labels, ["x", "y"]);
        assert_eq!(t.lines, [2, 3]);
    }

    #[test]
    fn blank_lines_are_skipped_and_lines_still_counted() {
        let t = table("a,y\n\n1,p\n\n2,q\n", "y").unwrap();
        assert_eq!(t.lines, [3, 5]);
    }

    #[test]
    fn errors_name_the_file_and_line() {
        assert_eq!(
            table("", "y").unwrap_err(),
            "t.csv:1: the file is empty: its first line must name the columns, e.g. `sepal_length,sepal_width,species`"
        );
        assert_eq!(
            table("a,y\n1,p\n2\n", "y").unwrap_err(),
            "t.csv:3: 1 field, but the header (line 1) names 2 columns"
        );
        assert_eq!(
            table("a,y\n1,p\n2,q,3\n", "y").unwrap_err(),
            "t.csv:3: 3 fields, but the header (line 1) names 2 columns"
        );
        assert_eq!(
            table("a,y\n1,p\nabc,q\n", "y").unwrap_err(),
            "t.csv:3: column `a` holds `abc`, not a number"
        );
        assert!(
            table("a,y\n1,p\nnan,q\n", "y")
                .unwrap_err()
                .starts_with("t.csv:3: column `a` holds `nan`, not a finite number")
        );
        assert!(
            table("a,y\n,p\n", "y")
                .unwrap_err()
                .starts_with("t.csv:2: column `a` is empty")
        );
        assert_eq!(
            table("a,y\n", "y").unwrap_err(),
            "t.csv:1: the table has a header but no rows of data"
        );
        assert_eq!(
            table("sepal,species\n1,p\n", "specis").unwrap_err(),
            "t.csv:1: no column is named `specis`; did you mean `species`?"
        );
        assert_eq!(
            table("a,b\n1,p\n", "zzz").unwrap_err(),
            "t.csv:1: no column is named `zzz`; the header names `a`, `b`"
        );
        assert!(
            table("y,y\n1,2\n", "y")
                .unwrap_err()
                .starts_with("t.csv:1: two columns are named `y`")
        );
        assert!(
            table("y\n1\n", "y")
                .unwrap_err()
                .starts_with("t.csv:1: the only column is the label")
        );
    }

    #[test]
    fn a_count_line_header_is_recognised() {
        // The start of scikit-learn's iris.csv and breast_cancer.csv.
        let err = table(
            "150,4,setosa,versicolor,virginica\n5.1,3.5,1.4,0.2,0\n",
            "species",
        )
        .unwrap_err();
        assert!(
            err.contains("looks like counts (150 rows, 4 features"),
            "{err}"
        );
        let err = table(
            "569,30,malignant,benign\n17.99,10.38,122.8,1001,0\n",
            "benign",
        )
        .unwrap_err();
        assert!(err.starts_with("t.csv:2: 5 fields"), "{err}");
        assert!(err.contains("looks like counts"), "{err}");
    }

    #[test]
    fn invalid_utf8_is_reported_at_its_line() {
        let err = parse(Path::new("t.csv"), b"a,y\n1,p\n2,caf\xe9\n", "y")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("t.csv:3: "), "{err}");
    }
}
