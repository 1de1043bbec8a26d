"""model/inference.py on real payload files and the real trained model.

One fixture file per content type and per bad-input case (tests/fixtures/payloads).
"""

from __future__ import annotations

import io
import json

import joblib
import numpy as np
import pytest

from model import inference
from tests.conftest import FIXTURES, expected_predictions

PAYLOADS = FIXTURES / "payloads"
CSV, JSON, NPY = "text/csv", "application/json", "application/x-npy"


@pytest.fixture(scope="module")
def model(built):
    return inference.model_fn(str(built.build_dir))


def _invoke(model, body, content_type, accept):
    return inference.output_fn(
        inference.predict_fn(inference.input_fn(body, content_type), model), accept
    )


def _decode(body, content_type) -> np.ndarray:
    if content_type == JSON:
        return np.asarray(json.loads(body))
    if content_type == CSV:
        return np.loadtxt(io.StringIO(body), ndmin=1)
    return np.load(io.BytesIO(body), allow_pickle=False)


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
def test_content_type_predicts_like_the_joblib_model(model, built, fixture, content_type, as_text):
    body = (PAYLOADS / fixture).read_bytes()
    if as_text and not fixture.endswith(".npy"):
        body = body.decode()  # the image hands exact text/csv and application/json as str
    out, out_type = _invoke(model, body, content_type, JSON)
    assert out_type == JSON
    np.testing.assert_array_equal(
        _decode(out, JSON), expected_predictions(built.model_file, PAYLOADS / fixture)
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
def test_accept_selects_response_type(model, built, accept, out_type):
    out, got_type = _invoke(model, (PAYLOADS / "many_rows.csv").read_bytes(), CSV, accept)
    assert got_type == out_type
    np.testing.assert_array_equal(
        _decode(out, out_type), expected_predictions(built.model_file, PAYLOADS / "many_rows.csv")
    )


def test_csv_response_is_one_prediction_per_line(model, built):
    out, _ = _invoke(model, (PAYLOADS / "many_rows.csv").read_bytes(), CSV, CSV)
    lines = out.split("\n")
    assert lines[-1] == ""
    expected = expected_predictions(built.model_file, PAYLOADS / "many_rows.csv")
    assert [float(line) for line in lines[:-1]] == expected.tolist()


def test_json_response_matches_the_stock_default_encoder_shape(model):
    out, _ = _invoke(model, (PAYLOADS / "one_row.json").read_bytes(), JSON, JSON)
    decoded = json.loads(out)
    assert isinstance(decoded, list) and len(decoded) == 1 and isinstance(decoded[0], float)


@pytest.mark.parametrize(
    ("fixture", "content_type", "message"),
    [
        ("bad_wrong_width_row3.csv", CSV, "expected 10 features, got 9 in row 3"),
        ("bad_non_numeric.csv", CSV, "non-numeric value 'abc' in row 2, column 3"),
        ("bad_nan.csv", CSV, "value nan in row 1, column 3 is not finite"),
        ("bad_inf.csv", CSV, "value inf in row 1, column 3 is not finite"),
        ("bad_empty.csv", CSV, "empty request body"),
        ("bad_wrong_width_row3.json", JSON, "expected 10 features, got 9 in row 3"),
        ("bad_non_numeric.json", JSON, 'non-numeric value "0.06" in row 1, column 3'),
        ("bad_boolean.json", JSON, "non-numeric value true in row 1, column 3"),
        ("bad_nan.json", JSON, "value nan in row 1, column 3 is not finite"),
        ("bad_inf.json", JSON, "value inf in row 1, column 3 is not finite"),
        ("bad_empty.json", JSON, "empty request body"),
        ("bad_syntax.json", JSON, "not valid JSON"),
        ("bad_wrong_width.npy", NPY, "expected 10 features, got 9 in row 1"),
        ("bad_nan.npy", NPY, "value nan in row 2, column 3 is not finite"),
        ("bad_inf.npy", NPY, "value -inf in row 1, column 5 is not finite"),
        ("bad_object.npy", NPY, "cannot read .npy body"),
        ("bad_empty.npy", NPY, "empty request body"),
        ("bad_not_npy.npy", NPY, "cannot read .npy body"),
        ("bad_two_arrays.npy", NPY, "bytes after its array"),
        ("bad_trailing_junk.npy", NPY, "4 bytes after its array"),
    ],
)
def test_bad_input_raises_with_a_message(model, fixture, content_type, message):
    with pytest.raises(inference.InvalidInputError) as caught:
        _invoke(model, (PAYLOADS / fixture).read_bytes(), content_type, JSON)
    assert message in str(caught.value)


def test_unsupported_content_type_raises_unsupported_format(model):
    with pytest.raises(
        inference.UnsupportedFormatError, match="unsupported Content-Type 'text/plain'"
    ):
        inference.input_fn((PAYLOADS / "unsupported.txt").read_bytes(), "text/plain")


@pytest.mark.parametrize("accept", ["text/html", "application/xml;q=1, text/plain"])
def test_unsupported_accept_raises_unsupported_format(model, accept):
    prediction = inference.predict_fn(
        inference.input_fn((PAYLOADS / "one_row.json").read_bytes(), JSON), model
    )
    with pytest.raises(inference.UnsupportedFormatError, match="unsupported Accept"):
        inference.output_fn(prediction, accept)


def test_unsupported_format_error_carries_the_handlers_message():
    # Outside the image sagemaker_containers is absent, so the handler's own class stands in;
    # the message is the handler's, not the library's generic text.
    assert str(inference.UnsupportedFormatError("why")) == "why"


def test_model_fn_refuses_a_model_with_another_feature_count(tmp_path):
    from sklearn.linear_model import LinearRegression

    joblib.dump(LinearRegression().fit(np.eye(3), [1, 2, 3]), tmp_path / "model.joblib")
    with pytest.raises(RuntimeError, match="expects 3 features"):
        inference.model_fn(str(tmp_path))
