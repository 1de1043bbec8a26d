"""Write data/diabetes.csv, the default project's data, from scikit-learn's bundled copy.

Made once and committed, so the default project reads its data as any project does (a CSV
with a header); run again, it writes the same bytes. Columns: scikit-learn's feature names
(age, sex, bmi, bp, s1-s6, already mean-centred and scaled) and the target
`disease_progression`. Floats are written with repr(), which reads back as the same double.
"""

import csv
from pathlib import Path

from sklearn.datasets import load_diabetes


def main() -> None:
    bunch = load_diabetes()
    out = Path(__file__).with_name("diabetes.csv")
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow([*bunch.feature_names, "disease_progression"])
        for row, target in zip(bunch.data.tolist(), bunch.target.tolist(), strict=True):
            writer.writerow([*map(repr, row), repr(target)])
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
