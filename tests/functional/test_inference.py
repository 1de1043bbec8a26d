"""model/inference.py on real payload files and small real models with their signature.json.

One fixture file per request shape and per bad-input case (tests/fixtures/payloads). The
models are fitted here and written, with their signatures, into temporary model directories:
- diabetes: LinearRegression on the 10 diabetes columns (the numeric payload fixtures), fitted
  on a DataFrame (feature_names true) and on an array (feature_names false);
- churn: Pipeline(ColumnTransformer(OneHotEncoder on a string column, imputer + StandardScaler
  on the numbers and the boolean), LogisticRegression), binary, string labels;
- iris: multiclass LogisticRegression with integer labels, answering probabilities.
"""

from __future__ import annotations

import io
import json

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_diabetes, load_iris
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from model import inference
from tests.conftest import FIXTURES, payload_rows

PAYLOADS = FIXTURES / "payloads"
CSV, JSON, NPY = "text/csv", "application/json", "application/x-npy"
DIABETES = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]
CHURN_INPUTS = [
    {"name": "tenure months", "type": "integer", "nullable": False},
    {"name": "monthly charges", "type": "number", "nullable": True},
    {"name": "senior", "type": "boolean", "nullable": False},
    {"name": "plan", "type": "string", "nullable": False, "categories": ["basic", "pro"]},
]
# The rows every churn_* payload fixture holds, as pandas would read them.
CHURN_ROWS = pd.DataFrame(
    {
        "tenure months": np.array([14, 2, 40], dtype=np.int64),
        "monthly charges": [70.35, np.nan, 20.0],
        "senior": [False, True, True],
        "plan": np.array(["pro", "basic", "pro"], dtype=object),
    }
)


def _model_dir(tmp_path_factory, name, model, signature):
    path = tmp_path_factory.mktemp(name)
    joblib.dump(model, path / "model.joblib")
    (path / "signature.json").write_text(json.dumps(signature))
    return path


def _regression_signature(feature_names):
    return {
        "signature_version": 1,
        "task": "regression",
        "inputs": [{"name": name, "type": "number", "nullable": False} for name in DIABETES],
        "target": {"name": "target", "type": "number"},
        "feature_names": feature_names,
    }


@pytest.fixture(scope="module", params=[True, False], ids=["dataframe", "array"])
def diabetes(request, tmp_path_factory):
    """(served model, the estimator): the numeric fixtures' model, fitted both ways."""
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    X.columns = DIABETES
    estimator = LinearRegression().fit(X if request.param else X.to_numpy(), y)
    path = _model_dir(tmp_path_factory, "diabetes", estimator, _regression_signature(request.param))
    return inference.model_fn(str(path)), estimator


@pytest.fixture(scope="module")
def churn(tmp_path_factory):
    rng = np.random.default_rng(7)
    n = 200
    X = pd.DataFrame(
        {
            "tenure months": rng.integers(0, 72, n),
            "monthly charges": np.where(rng.random(n) < 0.1, np.nan, rng.normal(60, 20, n)),
            "senior": rng.random(n) < 0.3,
            "plan": rng.choice(["basic", "pro"], n).astype(object),
        }
    )
    y = np.where((X["tenure months"] < 20) ^ (X["plan"] == "pro"), "stayed", "churned")
    numbers = ["tenure months", "monthly charges", "senior"]
    estimator = Pipeline(
        [
            (
                "columns",
                ColumnTransformer(
                    [
                        ("plan", OneHotEncoder(), ["plan"]),
                        ("numbers", make_pipeline(SimpleImputer(), StandardScaler()), numbers),
                    ]
                ),
            ),
            ("classify", LogisticRegression()),
        ]
    ).fit(X, y)
    signature = {
        "signature_version": 1,
        "task": "classification",
        "inputs": CHURN_INPUTS,
        "target": {"name": "status", "type": "string"},
        "classes": ["churned", "stayed"],
        "feature_names": True,
        "output": {"probabilities": False},
    }
    return inference.model_fn(str(_model_dir(tmp_path_factory, "churn", estimator, signature)))


@pytest.fixture(scope="module")
def iris(tmp_path_factory):
    X, y = load_iris(return_X_y=True, as_frame=True)
    estimator = LogisticRegression(max_iter=500).fit(X, y)
    signature = {
        "signature_version": 1,
        "task": "classification",
        "inputs": [{"name": name, "type": "number", "nullable": False} for name in X.columns],
        "target": {"name": "species", "type": "integer"},
        "classes": [0, 1, 2],
        "feature_names": True,
        "output": {"probabilities": True},
    }
    served = inference.model_fn(str(_model_dir(tmp_path_factory, "iris", estimator, signature)))
    return served, X.iloc[[0, 60, 120, 149]]


def _invoke(model, body, content_type, accept=JSON):
    return inference.output_fn(
        inference.predict_fn(inference.input_fn(body, content_type), model), accept
    )


def _decode(body, content_type) -> np.ndarray:
    if content_type == JSON:
        return np.asarray(json.loads(body))
    if content_type == CSV:
        return np.loadtxt(io.StringIO(body), ndmin=1)
    return np.load(io.BytesIO(body), allow_pickle=False)


def _diabetes_rows(payload) -> pd.DataFrame:
    return pd.DataFrame(payload_rows(payload), columns=DIABETES)


def _expected(diabetes, payload) -> np.ndarray:
    served, estimator = diabetes
    rows = _diabetes_rows(payload)
    return estimator.predict(rows if served.signature.feature_names else rows.to_numpy())


# --- numeric payloads: the 10-number-column diabetes model --------------------------------


@pytest.mark.parametrize(
    ("fixture", "content_type"),
    [
        ("many_rows.csv", CSV),
        ("one_row_no_newline.csv", CSV),
        ("many_rows.csv", "text/csv; charset=utf-8"),
        ("many_rows.json", JSON),
        ("one_row.json", JSON),
        ("instances.json", "application/json; charset=utf-8"),
        ("many_rows.npy", NPY),
        ("one_row.npy", NPY),
    ],
)
@pytest.mark.parametrize("as_text", [False, True], ids=["bytes", "str"])
def test_content_type_predicts_like_the_joblib_model(diabetes, fixture, content_type, as_text):
    body = (PAYLOADS / fixture).read_bytes()
    if as_text and not fixture.endswith(".npy"):
        body = body.decode()  # the image hands exact text/csv and application/json as str
    out, out_type = _invoke(diabetes[0], body, content_type, JSON)
    assert out_type == JSON
    np.testing.assert_array_equal(_decode(out, JSON), _expected(diabetes, PAYLOADS / fixture))


def test_large_csv_takes_the_pyarrow_path_and_predicts_like_the_model(diabetes):
    body = (PAYLOADS / "many_rows.csv").read_bytes() * 400  # well past PYARROW_MIN_BYTES
    assert len(body) > inference.PYARROW_MIN_BYTES
    out, _ = _invoke(diabetes[0], body, CSV)
    expected = np.tile(_expected(diabetes, PAYLOADS / "many_rows.csv"), 400)
    np.testing.assert_array_equal(_decode(out, JSON), expected)


def test_csv_header_in_any_order_predicts_like_the_model(diabetes):
    rows = _diabetes_rows(PAYLOADS / "many_rows.csv")
    shuffled = list(reversed(DIABETES))
    body = rows[shuffled].to_csv(index=False)
    out, _ = _invoke(diabetes[0], body, CSV)
    np.testing.assert_array_equal(
        _decode(out, JSON), _expected(diabetes, PAYLOADS / "many_rows.csv")
    )


def test_json_records_predict_like_the_model(diabetes):
    rows = _diabetes_rows(PAYLOADS / "many_rows.csv")
    records = [dict(reversed(list(record.items()))) for record in rows.to_dict("records")]
    out, _ = _invoke(diabetes[0], json.dumps({"inputs": records}), JSON)
    np.testing.assert_array_equal(
        _decode(out, JSON), _expected(diabetes, PAYLOADS / "many_rows.csv")
    )


@pytest.mark.parametrize(
    ("accept", "out_type"),
    [
        (None, JSON),
        ("", JSON),
        (JSON, JSON),
        ("*/*", JSON),
        (CSV, CSV),
        ("text/csv; charset=utf-8", CSV),
        (NPY, NPY),
        ("text/html, application/x-npy;q=0.8, */*;q=0.1", NPY),
        ("application/json;q=0.2, text/csv", CSV),
    ],
)
def test_accept_selects_response_type(diabetes, accept, out_type):
    out, got_type = _invoke(diabetes[0], (PAYLOADS / "many_rows.csv").read_bytes(), CSV, accept)
    assert got_type == out_type
    np.testing.assert_array_equal(
        _decode(out, out_type), _expected(diabetes, PAYLOADS / "many_rows.csv")
    )


def test_csv_response_is_one_prediction_per_line(diabetes):
    out, _ = _invoke(diabetes[0], (PAYLOADS / "many_rows.csv").read_bytes(), CSV, CSV)
    lines = out.split("\n")
    assert lines[-1] == ""
    expected = _expected(diabetes, PAYLOADS / "many_rows.csv")
    assert [float(line) for line in lines[:-1]] == expected.tolist()


def test_json_response_matches_the_stock_default_encoder_shape(diabetes):
    out, _ = _invoke(diabetes[0], (PAYLOADS / "one_row.json").read_bytes(), JSON, JSON)
    decoded = json.loads(out)
    assert isinstance(decoded, list) and len(decoded) == 1 and isinstance(decoded[0], float)


@pytest.mark.parametrize(
    ("fixture", "content_type", "message"),
    [
        (
            "bad_wrong_width_row3.csv",
            CSV,
            "row 3 has 9 values but the model takes 10 columns; column 's6' has no value",
        ),
        ("bad_non_numeric.csv", CSV, "row 2, column 'bmi': 'abc' is not a number"),
        ("bad_nan.csv", CSV, "row 1, column 'bmi': value nan is not finite"),
        ("bad_inf.csv", CSV, "row 1, column 'bmi': value inf is not finite"),
        ("bad_empty.csv", CSV, "empty request body"),
        (
            "bad_wrong_width_row3.json",
            JSON,
            "row 3 has 9 values but the model takes 10 columns; column 's6' has no value",
        ),
        ("bad_non_numeric.json", JSON, "row 1, column 'bmi': \"0.06\" is not a number"),
        ("bad_boolean.json", JSON, "row 1, column 'bmi': true is not a number"),
        ("bad_nan.json", JSON, "row 1, column 'bmi': value nan is not finite"),
        ("bad_inf.json", JSON, "row 1, column 'bmi': value inf is not finite"),
        ("bad_empty.json", JSON, "empty request body"),
        ("bad_syntax.json", JSON, "not valid JSON"),
        (
            "bad_wrong_width.npy",
            NPY,
            "row 1 has 9 values but the model takes 10 columns; column 's6' has no value",
        ),
        ("bad_nan.npy", NPY, "row 2, column 'bmi': value nan is not finite"),
        ("bad_inf.npy", NPY, "row 1, column 's1': value -inf is not finite"),
        ("bad_object.npy", NPY, "cannot read .npy body"),
        ("bad_empty.npy", NPY, "empty request body"),
        ("bad_not_npy.npy", NPY, "cannot read .npy body"),
        ("bad_two_arrays.npy", NPY, "bytes after its array"),
        ("bad_trailing_junk.npy", NPY, "4 bytes after its array"),
        # limits: nothing an attacker sends may escape as an internal error (a 500)
        ("bad_deep_nesting.json", JSON, "nests JSON too deeply"),
        ("bad_huge_integer_digits.json", JSON, "cannot be read as JSON: Exceeds the limit"),
        ("bad_integer_beyond_double.json", JSON, "row 1, column 'age': value 1000"),
        (
            "bad_npy_header_claims_huge_shape.npy",
            NPY,
            ".npy header claims 800000000000 bytes of data for shape (10000000000, 10)",
        ),
        ("bad_csv_field_too_long.csv", CSV, "cannot parse the first CSV row: field larger"),
        ("bad_prediction_overflows.json", JSON, "row 1: the model's prediction is -inf"),
    ],
)
def test_bad_input_raises_with_a_message(diabetes, fixture, content_type, message):
    with pytest.raises(inference.InvalidInputError) as caught:
        _invoke(diabetes[0], (PAYLOADS / fixture).read_bytes(), content_type, JSON)
    assert message in str(caught.value)


def test_unsupported_content_type_raises_unsupported_format():
    with pytest.raises(
        inference.UnsupportedFormatError, match="unsupported Content-Type 'text/plain'"
    ):
        inference.input_fn((PAYLOADS / "unsupported.txt").read_bytes(), "text/plain")


@pytest.mark.parametrize("accept", ["text/html", "application/xml;q=1, text/plain"])
def test_unsupported_accept_raises_unsupported_format(diabetes, accept):
    prediction = inference.predict_fn(
        inference.input_fn((PAYLOADS / "one_row.json").read_bytes(), JSON), diabetes[0]
    )
    with pytest.raises(inference.UnsupportedFormatError, match="unsupported Accept"):
        inference.output_fn(prediction, accept)


def test_unsupported_format_error_carries_the_handlers_message():
    # Outside the image sagemaker_containers is absent, so the handler's own class stands in;
    # the message is the handler's, not the library's generic text.
    assert str(inference.UnsupportedFormatError("why")) == "why"


# --- mixed types: the churn classifier ----------------------------------------------------


@pytest.mark.parametrize(
    ("fixture", "content_type", "rows"),
    [
        ("churn_no_header.csv", CSV, 3),
        ("churn_header_any_order.csv", "text/csv; charset=utf-8", 3),
        ("churn_rows.json", JSON, 3),
        ("churn_instances.json", JSON, 3),
        ("churn_records_any_order.json", JSON, 3),
        ("churn_inputs_records.json", JSON, 3),
        ("churn_one_record.json", JSON, 1),
        ("churn_one_row.json", JSON, 1),
        ("churn_cr_line_endings.csv", CSV, 3),  # old Mac / Excel line endings
        ("churn_bom_header.csv", CSV, 3),  # a header saved by Excel as "UTF-8 with BOM"
        ("churn_spaces_around_values.csv", CSV, 3),  # " basic " is the category "basic"
    ],
)
@pytest.mark.parametrize("accept", [JSON, CSV])
def test_churn_request_shape_predicts_like_the_model(churn, fixture, content_type, rows, accept):
    out, _ = _invoke(churn, (PAYLOADS / fixture).read_bytes(), content_type, accept)
    expected = churn.model.predict(CHURN_ROWS.iloc[:rows]).tolist()
    assert set(expected) == {"churned", "stayed"} or rows == 1  # both labels are exercised
    got = json.loads(out) if accept == JSON else out.splitlines()
    assert got == expected


def test_churn_model_gets_a_dataframe_with_the_signature_dtypes(churn):
    request = inference.input_fn((PAYLOADS / "churn_header_any_order.csv").read_bytes(), CSV)
    frame = inference.features(request, churn.signature)
    assert list(frame.columns) == ["tenure months", "monthly charges", "senior", "plan"]
    assert [str(dtype) for dtype in frame.dtypes] == ["int64", "float64", "bool", "object"]
    pd.testing.assert_frame_equal(frame, CHURN_ROWS)


def test_missing_values_become_nan_as_pandas_reads_them(tmp_path):
    inputs = [{**column, "nullable": True} for column in CHURN_INPUTS]
    signature = inference.Signature(
        {"signature_version": 1, "task": "regression", "inputs": inputs, "feature_names": True}
    )
    request = inference.input_fn(b"14,,true,pro\n,1.5,,\n", CSV)
    frame = inference.features(request, signature)
    assert [str(dtype) for dtype in frame.dtypes] == ["float64", "float64", "object", "object"]
    assert frame.isna().to_numpy().tolist() == [
        [False, True, False, False],
        [True, False, True, True],
    ]


@pytest.mark.parametrize(
    ("fixture", "content_type", "message"),
    [
        (
            "bad_churn_text_in_number.csv",
            CSV,
            "row 2, column 'monthly charges': 'abc' is not a number",
        ),
        ("bad_churn_non_integral.csv", CSV, "row 2, column 'tenure months': 2.5 is not an integer"),
        ("bad_churn_boolean.csv", CSV, "row 1, column 'senior': 'yes' is not a boolean"),
        ("bad_churn_missing_not_nullable.csv", CSV, "row 2, column 'plan': missing value"),
        ("bad_churn_nan.csv", CSV, "row 1, column 'monthly charges': value nan is not finite"),
        ("bad_churn_inf.csv", CSV, "row 2, column 'monthly charges': value -inf is not finite"),
        ("bad_churn_header_missing_column.csv", CSV, "CSV header lacks column 'tenure months'"),
        ("bad_churn_header_unknown_column.csv", CSV, "CSV header has unknown column 'extra'"),
        ("bad_churn_header_duplicate_column.csv", CSV, "CSV header names column 'plan' twice"),
        (
            "bad_churn_wrong_width_row2.csv",
            CSV,
            "row 2 has 3 values but the model takes 4 columns; column 'plan' has no value",
        ),
        ("bad_churn_record_missing_column.json", JSON, "row 2 lacks column 'tenure months'"),
        ("bad_churn_record_unknown_column.json", JSON, "row 1 has unknown column 'zip'"),
        (
            "bad_churn_number_as_text.json",
            JSON,
            "row 1, column 'monthly charges': \"70.35\" is not a number",
        ),
        ("bad_churn_boolean.json", JSON, "row 1, column 'senior': 1 is not a boolean"),
        ("bad_churn_string_as_number.json", JSON, "row 1, column 'plan': 3 is not a string"),
        ("bad_churn_null_not_nullable.json", JSON, "row 2, column 'senior': missing value"),
        (
            "bad_churn_non_integral.json",
            JSON,
            "row 1, column 'tenure months': 14.5 is not an integer",
        ),
        ("bad_churn_nan.json", JSON, "row 2, column 'monthly charges': value nan is not finite"),
        (
            "bad_churn_wrong_width_row2.json",
            JSON,
            "row 2 has 5 values but the model takes 4 columns; nothing may follow column 'plan'",
        ),
    ],
)
def test_bad_churn_request_raises_naming_row_and_column(churn, fixture, content_type, message):
    with pytest.raises(inference.InvalidInputError) as caught:
        _invoke(churn, (PAYLOADS / fixture).read_bytes(), content_type)
    assert message in str(caught.value)


def test_npy_for_a_signature_with_a_string_column_is_unsupported(churn):
    with pytest.raises(inference.UnsupportedFormatError, match="column 'plan' is a string"):
        _invoke(churn, (PAYLOADS / "bad_churn_numeric_npy.npy").read_bytes(), NPY)


# --- probabilities: the iris classifier ---------------------------------------------------


def test_probabilities_json_records_carry_label_and_class_probabilities(iris):
    served, rows = iris
    out, _ = _invoke(served, rows.to_csv(index=False), CSV, JSON)
    answers = json.loads(out)
    expected = served.model.predict_proba(rows)
    assert [answer["label"] for answer in answers] == served.model.predict(rows).tolist()
    assert {answer["label"] for answer in answers} == {0, 1, 2}
    for answer, row in zip(answers, expected, strict=True):
        assert answer["probabilities"] == {"0": row[0], "1": row[1], "2": row[2]}


def test_probabilities_csv_is_label_then_one_probability_per_class(iris):
    served, rows = iris
    out, _ = _invoke(served, json.dumps(rows.to_dict("records")), JSON, CSV)
    expected = served.model.predict_proba(rows)
    labels = served.model.predict(rows)
    for line, label, row in zip(out.splitlines(), labels, expected, strict=True):
        cells = line.split(",")
        assert int(cells[0]) == label
        assert [float(cell) for cell in cells[1:]] == row.tolist()


def test_probabilities_npy_is_the_probability_matrix(iris):
    served, rows = iris
    buffer = io.BytesIO()
    np.save(buffer, rows.to_numpy())
    out, _ = _invoke(served, buffer.getvalue(), NPY, NPY)
    np.testing.assert_array_equal(_decode(out, NPY), served.model.predict_proba(rows))


# --- model_fn -----------------------------------------------------------------------------


def _fitted_dir(tmp_path, signature, n_features=3):
    X = pd.DataFrame(np.eye(n_features) + 1, columns=[f"c{i}" for i in range(n_features)])
    joblib.dump(LinearRegression().fit(X, np.arange(n_features)), tmp_path / "model.joblib")
    if signature is not None:
        (tmp_path / "signature.json").write_text(json.dumps(signature))
    return str(tmp_path)


def _numbers(names, feature_names=True):
    return {
        "signature_version": 1,
        "task": "regression",
        "inputs": [{"name": name, "type": "number", "nullable": False} for name in names],
        "feature_names": feature_names,
    }


def test_model_fn_refuses_a_model_with_another_feature_count(tmp_path):
    with pytest.raises(RuntimeError, match="expects 3 features but the signature lists 2"):
        inference.model_fn(_fitted_dir(tmp_path, _numbers(["c0", "c1"])))


def test_model_fn_refuses_a_model_with_other_feature_names(tmp_path):
    with pytest.raises(RuntimeError, match="differ from the signature's"):
        inference.model_fn(_fitted_dir(tmp_path, _numbers(["c0", "c2", "c1"])))


def test_model_fn_refuses_named_columns_when_the_signature_says_array(tmp_path):
    with pytest.raises(RuntimeError, match="feature_names is false"):
        inference.model_fn(_fitted_dir(tmp_path, _numbers(["c0", "c1", "c2"], False)))


def test_model_fn_refuses_a_model_without_signature(tmp_path):
    with pytest.raises(RuntimeError, match="signature.json is missing"):
        inference.model_fn(_fitted_dir(tmp_path, None))


def test_model_fn_refuses_classes_that_differ(tmp_path):
    X = pd.DataFrame({"c0": [0.0, 1.0, 2.0, 3.0]})
    joblib.dump(LogisticRegression().fit(X, ["a", "a", "b", "b"]), tmp_path / "model.joblib")
    signature = {**_numbers(["c0"]), "task": "classification", "classes": ["a", "c"]}
    (tmp_path / "signature.json").write_text(json.dumps(signature))
    with pytest.raises(RuntimeError, match="classes"):
        inference.model_fn(str(tmp_path))


def test_model_fn_refuses_an_unknown_column_type(tmp_path):
    signature = _numbers(["c0", "c1", "c2"])
    signature["inputs"][1]["type"] = "date"
    with pytest.raises(RuntimeError, match="'c1' has type 'date'"):
        inference.model_fn(_fitted_dir(tmp_path, signature))
