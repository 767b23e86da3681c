"""Writes scikit-learn's bundled tables as standard CSV files (a header naming every
column, one row per sample) into the current folder: wine.csv, breast_cancer.csv and
diabetes.csv (iris.csv ships beside this script). The bundled files begin with a line of
counts instead of column names, and the diabetes data is two headerless, space-separated
files; nothing is downloaded.

    apt-get install python3-sklearn     # or: pip install scikit-learn
    python3 docs/examples/sklearn_tables.py
"""

import gzip
from importlib.resources import files

DATA = files("sklearn.datasets") / "data"


def classification(source, target, names, label, named):
    lines = (DATA / source).read_text().splitlines()
    class_names = lines[0].split(",")[2:]
    with open(target, "w") as out:
        out.write(",".join(names + [label]) + "\n")
        for line in filter(str.strip, lines[1:]):
            features, cls = line.rsplit(",", 1)
            out.write(f"{features},{class_names[int(cls)] if named else cls.strip()}\n")


classification(
    "wine_data.csv", "wine.csv",
    ["alcohol", "malic_acid", "ash", "alcalinity_of_ash", "magnesium", "total_phenols",
     "flavanoids", "nonflavanoid_phenols", "proanthocyanins", "color_intensity", "hue",
     "od280_od315", "proline"],
    "class", named=False)
classification(
    "breast_cancer.csv", "breast_cancer.csv",
    [f"x{i}" for i in range(1, 31)], "diagnosis", named=True)

with gzip.open(DATA / "diabetes_data_raw.csv.gz", "rt") as x, \
        gzip.open(DATA / "diabetes_target.csv.gz", "rt") as y, \
        open("diabetes.csv", "w") as out:
    out.write("age,sex,bmi,bp,s1,s2,s3,s4,s5,s6,progression\n")
    for features, target in zip(x, y):
        out.write(",".join(features.split() + [repr(float(target))]) + "\n")
