//! A CSV table as a [`Dataset`]: its label column read as classes or values, its test rows
//! held out (a seeded fraction, stratified by class, or a second file with the same
//! columns), its training rows put in a seeded order so that the validation rows the
//! trainer takes from their end are a random sample too. Reading the file is `table.rs`'s
//! business; standardising the features is the model's (a graph node whose statistics
//! are saved with the weights).

use std::cmp::Ordering;

use crate::rng::Generator;
use rand::SeedableRng;
use rand::seq::SliceRandom;

use super::split::{SampleShape, Split};
use super::table::{self, Table};
use super::{CsvSource, DataError, Dataset, FileOptions, Holdout, TableTarget, Target};

/// The stream of the seed that draws the test rows and orders the training rows, apart
/// from the streams of initialisation, shuffling, dropout and augmentation.
const HOLDOUT_STREAM: u64 = 0x510e_527f_ade6_82d1;

/// Opens the table `source` names, relative paths resolved by `files`, test rows drawn
/// with its seed.
pub fn open(source: &CsvSource, files: &FileOptions) -> Result<Dataset, DataError> {
    let path = files.resolve(&source.path);
    let table = table::read(&path, &source.label)?;
    let test_table = match &source.test {
        Holdout::File(test) => Some(table::read(&files.resolve(test), &source.label)?),
        Holdout::Fraction(_) => None,
    };
    if let Some(test) = &test_table {
        same_columns(&table, test)?;
    }
    let mut rng = Generator::seed_from_u64(files.seed ^ HOLDOUT_STREAM);
    let (train, test, target, class_names) = match source.target {
        TableTarget::Classes => {
            let classes = Classes::of(&table)?;
            let labels = classes.indices(&table)?;
            let (train_rows, test_split) = match (&source.test, &test_table) {
                (_, Some(test)) => {
                    let all: Vec<usize> = (0..table.rows()).collect();
                    let test_labels = classes.indices(test)?;
                    (
                        all,
                        classes_split(test, (0..test.rows()).collect(), &test_labels),
                    )
                }
                (Holdout::Fraction(fraction), None) => {
                    let (train_rows, test_rows) =
                        stratified(&table, &labels, classes.names.len(), *fraction, &mut rng)?;
                    (train_rows, classes_split(&table, test_rows, &labels))
                }
                (Holdout::File(_), None) => unreachable!("a test file was read above"),
            };
            let train_split = classes_split(&table, shuffled(train_rows, &mut rng), &labels);
            let count = classes.names.len();
            (
                train_split,
                test_split,
                Target::Classes(count),
                classes.names,
            )
        }
        TableTarget::Value => {
            let targets = values(&table)?;
            let (train_rows, test_split) = match (&source.test, &test_table) {
                (_, Some(test)) => {
                    let test_values = values(test)?;
                    let all: Vec<usize> = (0..table.rows()).collect();
                    (
                        all,
                        values_split(test, (0..test.rows()).collect(), &test_values),
                    )
                }
                (Holdout::Fraction(fraction), None) => {
                    let mut rows: Vec<usize> = (0..table.rows()).collect();
                    rows.shuffle(&mut rng);
                    let held = held_out(&table, table.rows(), *fraction)?;
                    let mut test_rows = rows.split_off(table.rows() - held);
                    test_rows.sort_unstable();
                    (rows, values_split(&table, test_rows, &targets))
                }
                (Holdout::File(_), None) => unreachable!("a test file was read above"),
            };
            let train_split = values_split(&table, shuffled(train_rows, &mut rng), &targets);
            (train_split, test_split, Target::Value, Vec::new())
        }
    };
    Ok(Dataset {
        name: source.path.clone(),
        train,
        test,
        target,
        class_names,
        feature_names: table.feature_names().map(str::to_owned).collect(),
    })
}

/// A test file must have the training file's columns, in the same order.
fn same_columns(train: &Table, test: &Table) -> Result<(), DataError> {
    if train.columns == test.columns {
        return Ok(());
    }
    let list = |t: &Table| t.columns.join(",");
    Err(test.error(
        1,
        format!(
            "its columns differ from those of the training file {}: `{}` here, `{}` there",
            train.path.display(),
            list(test),
            list(train)
        ),
    ))
}

/// The classes of a training table: its label column's distinct values in sorted order,
/// numerically when every one is a number.
struct Classes {
    names: Vec<String>,
    /// Every value as a number, when all are: classes are then compared by value (`1` and
    /// `1.0` are one class).
    numbers: Option<Vec<f64>>,
}

impl Classes {
    fn of(table: &Table) -> Result<Classes, DataError> {
        let numbers: Option<Vec<f64>> = table
            .labels
            .iter()
            .map(|l| l.parse::<f64>().ok().filter(|v| v.is_finite()))
            .collect();
        match numbers {
            Some(values) => {
                if let Some(row) = values.iter().position(|v| v.fract() != 0.0) {
                    return Err(table.error(
                        table.lines[row],
                        format!(
                            "the label `{}` is not a whole number: a class is a name or a whole \
                             number (to predict a number, use `loss = mse`)",
                            table.labels[row]
                        ),
                    ));
                }
                let mut distinct = values.clone();
                distinct.sort_by(f64::total_cmp);
                distinct.dedup();
                Ok(Classes {
                    names: distinct.iter().map(|v| v.to_string()).collect(),
                    numbers: Some(distinct),
                })
            }
            None => {
                let mut names = table.labels.clone();
                names.sort();
                names.dedup();
                Ok(Classes {
                    names,
                    numbers: None,
                })
            }
        }
    }

    /// The class of every row of `table` (the training table, or a test file whose
    /// classes training must have seen).
    fn indices(&self, table: &Table) -> Result<Vec<u32>, DataError> {
        let index = |label: &str| -> Option<usize> {
            match &self.numbers {
                Some(numbers) => {
                    let value = label.parse::<f64>().ok()?;
                    numbers
                        .binary_search_by(|n| n.partial_cmp(&value).unwrap_or(Ordering::Less))
                        .ok()
                }
                None => self.names.binary_search_by(|n| n.as_str().cmp(label)).ok(),
            }
        };
        table
            .labels
            .iter()
            .zip(&table.lines)
            .map(|(label, &line)| {
                index(label).map(|i| i as u32).ok_or_else(|| {
                    table.error(
                        line,
                        format!(
                            "the class `{label}` never appears in the training rows, whose classes are {}",
                            self.listed()
                        ),
                    )
                })
            })
            .collect()
    }

    /// `` `a`, `b`, `c` ``, or the first few and a count.
    fn listed(&self) -> String {
        const SHOWN: usize = 12;
        let mut text: Vec<String> = self
            .names
            .iter()
            .take(SHOWN)
            .map(|n| format!("`{n}`"))
            .collect();
        if self.names.len() > SHOWN {
            text.push(format!("... ({} in all)", self.names.len()));
        }
        text.join(", ")
    }
}

/// Every row's label as the number to predict.
fn values(table: &Table) -> Result<Vec<f32>, DataError> {
    let column = &table.columns[table.label_column];
    table
        .labels
        .iter()
        .zip(&table.lines)
        .map(|(label, &line)| {
            table::number(label).map_err(|why| {
                table.error(
                    line,
                    format!(
                        "column `{column}` {why}: `loss = mse` predicts the label as a number \
                         (to classify, use `loss = cross_entropy`)"
                    ),
                )
            })
        })
        .collect()
}

/// How many of `rows` rows `fraction` holds out: at least one, and at least one left.
fn held_out(table: &Table, rows: usize, fraction: f64) -> Result<usize, DataError> {
    let held = (fraction * rows as f64).round() as usize;
    if held == 0 || held >= rows {
        return Err(DataError::Table {
            path: table.path.clone(),
            line: None,
            what: format!(
                "`test = {fraction}` of its {rows} rows leaves {} test rows and {} training rows: \
                 both need at least one (choose another fraction, or name a test file)",
                held.min(rows),
                rows - held.min(rows)
            ),
        });
    }
    Ok(held)
}

/// Training and test rows (each in file order) with `fraction` of every class's rows,
/// rounded, drawn at random for the test set.
fn stratified(
    table: &Table,
    labels: &[u32],
    classes: usize,
    fraction: f64,
    rng: &mut Generator,
) -> Result<(Vec<usize>, Vec<usize>), DataError> {
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); classes];
    for (row, &label) in labels.iter().enumerate() {
        by_class[label as usize].push(row);
    }
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for mut rows in by_class {
        rows.shuffle(rng);
        let held = (fraction * rows.len() as f64).round() as usize;
        test.extend_from_slice(&rows[..held]);
        train.extend_from_slice(&rows[held..]);
    }
    if test.is_empty() || train.is_empty() {
        return Err(DataError::Table {
            path: table.path.clone(),
            line: None,
            what: format!(
                "`test = {fraction}` of each class's rows leaves {} test rows and {} training \
                 rows of its {}: both need at least one (choose another fraction, or name a \
                 test file)",
                test.len(),
                train.len(),
                table.rows()
            ),
        });
    }
    train.sort_unstable();
    test.sort_unstable();
    Ok((train, test))
}

fn shuffled(mut rows: Vec<usize>, rng: &mut Generator) -> Vec<usize> {
    rows.shuffle(rng);
    rows
}

/// The features of `rows` of `table`, row after row.
fn gather(table: &Table, rows: &[usize]) -> Vec<f32> {
    let features = table.feature_count();
    rows.iter()
        .flat_map(|&r| &table.features[r * features..(r + 1) * features])
        .copied()
        .collect()
}

fn classes_split(table: &Table, rows: Vec<usize>, labels: &[u32]) -> Split {
    let classes = rows.iter().map(|&r| labels[r]).collect();
    Split::floats(
        gather(table, &rows),
        SampleShape::vector(table.feature_count()),
        classes,
    )
}

fn values_split(table: &Table, rows: Vec<usize>, values: &[f32]) -> Split {
    let targets = rows.iter().map(|&r| values[r]).collect();
    Split::regression(gather(table, &rows), table.feature_count(), targets)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn parsed(text: &str) -> Table {
        table::parse(Path::new("t.csv"), text.as_bytes(), "y").unwrap()
    }

    #[test]
    fn classes_sort_numbers_numerically_and_names_as_text() {
        let numbers = parsed("a,y\n1,10\n2,9\n3,10.0\n4,-1\n");
        let classes = Classes::of(&numbers).unwrap();
        assert_eq!(classes.names, ["-1", "9", "10"]);
        assert_eq!(classes.indices(&numbers).unwrap(), [2, 1, 2, 0]);
        let names = parsed("a,y\n1,b\n2,a\n3,c\n4,10\n");
        let classes = Classes::of(&names).unwrap();
        assert_eq!(classes.names, ["10", "a", "b", "c"]);
        assert_eq!(classes.indices(&names).unwrap(), [2, 1, 3, 0]);
    }

    #[test]
    fn a_fractional_class_is_an_error_at_its_line() {
        let err = Classes::of(&parsed("a,y\n1,1\n2,2.5\n"))
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.starts_with("t.csv:3: the label `2.5` is not a whole number"),
            "{err}"
        );
    }

    #[test]
    fn an_unseen_class_is_an_error_at_its_line() {
        let classes = Classes::of(&parsed("a,y\n1,p\n2,q\n")).unwrap();
        let err = classes
            .indices(&parsed("a,y\n1,q\n2,r\n"))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "t.csv:3: the class `r` never appears in the training rows, whose classes are `p`, `q`"
        );
    }

    #[test]
    fn the_holdout_is_stratified_seeded_and_disjoint() {
        // 20 rows of class a, 10 of class b; feature = row number.
        let mut text = String::from("x,y\n");
        for row in 0..30 {
            text.push_str(&format!("{row},{}\n", if row < 20 { "a" } else { "b" }));
        }
        let table = parsed(&text);
        let labels = Classes::of(&table).unwrap().indices(&table).unwrap();
        let mut rng = Generator::seed_from_u64(3);
        let (train, test) = stratified(&table, &labels, 2, 0.2, &mut rng).unwrap();
        assert_eq!(test.len(), 6);
        assert_eq!(
            test.iter().filter(|&&r| r < 20).count(),
            4,
            "a fifth of each class"
        );
        let mut all = [train.clone(), test.clone()].concat();
        all.sort_unstable();
        assert_eq!(all, (0..30).collect::<Vec<_>>());
        let again = stratified(&table, &labels, 2, 0.2, &mut Generator::seed_from_u64(3)).unwrap();
        assert_eq!(
            (train, test.clone()),
            again,
            "the same seed holds out the same rows"
        );
        let other = stratified(&table, &labels, 2, 0.2, &mut Generator::seed_from_u64(4)).unwrap();
        assert_ne!(test, other.1, "another seed holds out other rows");
    }

    #[test]
    fn a_fraction_that_leaves_a_side_empty_is_an_error() {
        let table = parsed("x,y\n1,1\n2,2\n");
        let err = held_out(&table, 2, 0.1).unwrap_err().to_string();
        assert!(
            err.starts_with("t.csv: `test = 0.1` of its 2 rows leaves 0 test rows"),
            "{err}"
        );
        let labels = [0, 1];
        let err = stratified(&table, &labels, 2, 0.2, &mut Generator::seed_from_u64(0))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("leaves 0 test rows and 2 training rows"),
            "{err}"
        );
    }
}
