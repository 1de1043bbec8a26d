"""SageMaker inference handler for the scikit-learn serving image.

Runs inside `sagemaker-scikit-learn` (see serving-image.toml), which imports it from
/opt/ml/model/code and calls model_fn, input_fn, predict_fn and output_fn. It therefore
imports only what that image ships (numpy, pyarrow, joblib, scikit-learn via the pickle;
all pinned in serving-image.toml) and never anything from this repository.

Requests: text/csv, application/json or application/x-npy, 10 numeric features per row.
Responses (by Accept): application/json (default, also for */*), text/csv or application/x-npy.
Bad input raises an error that says what is wrong; it never yields a prediction.
Parsing is vectorised: no Python loop runs per row unless a request is already rejected and
the loop is locating the bad row for the error message. CSV goes through pyarrow's CSV reader
(in the image: pyarrow is a direct dependency of its pyproject.toml); it is exact (the same
doubles as Python's float()) and about 7x faster than numpy.loadtxt here.
"""

import io
import json
import os

import joblib
import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv

MODEL_FILE = "model.joblib"
N_FEATURES = 10

CSV = "text/csv"
JSON = "application/json"
NPY = "application/x-npy"
SUPPORTED_TYPES = (CSV, JSON, NPY)
UTF8_CHARSETS = ("utf-8", "utf8", "us-ascii", "ascii")
PYARROW_MIN_BYTES = 32 * 1024

_COLUMNS = [f"x{i}" for i in range(N_FEATURES)]
# One thread: the server already runs one worker per core, so threads would only contend.
_CSV_READ = pa_csv.ReadOptions(column_names=_COLUMNS, use_threads=False)
_CSV_CONVERT = pa_csv.ConvertOptions(
    column_types={name: pa.float64() for name in _COLUMNS},
    null_values=[],  # an empty cell is an error, never a silent NaN
    strings_can_be_null=False,
    quoted_strings_can_be_null=False,
)

try:  # The serving library's class, so the image's transformer recognises the error.
    from sagemaker_containers._errors import UnsupportedFormatError as _UnsupportedBase
except ImportError:  # outside the image
    _UnsupportedBase = Exception


class UnsupportedFormatError(_UnsupportedBase):
    """A Content-Type or Accept this handler does not speak (415 / 406)."""

    def __init__(self, message):
        # The library's __init__ formats its own text from a content type; keep ours instead.
        Exception.__init__(self, message)
        self.message = message


class InvalidInputError(ValueError):
    """A request in a supported format whose content cannot be predicted on."""


def model_fn(model_dir):
    model = joblib.load(os.path.join(model_dir, MODEL_FILE))
    n_features = getattr(model, "n_features_in_", None)
    if n_features != N_FEATURES:
        raise RuntimeError(
            f"{MODEL_FILE} expects {n_features} features but this handler validates requests "
            f"for {N_FEATURES}; package the handler that matches the model"
        )
    return model


def _media_type(header):
    """('text/csv', {'charset': 'utf-8'}) from 'text/csv; charset=utf-8'."""
    mime, _, rest = (header or "").partition(";")
    params = {}
    for item in rest.split(";"):
        key, sep, value = item.partition("=")
        if sep:
            params[key.strip().lower()] = value.strip().strip('"')
    return mime.strip().lower(), params


def _text(body, params):
    if isinstance(body, str):
        return body
    charset = params.get("charset", "utf-8")
    try:
        return bytes(body).decode(charset)
    except LookupError:
        raise InvalidInputError(f"unknown charset {charset!r}; send utf-8") from None
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"request body is not valid {charset}: {exc}") from None


def _bad_json_row(rows):
    """Locate the first row with the wrong width or a non-numeric cell (error path only)."""
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, list):
            row = [row]
        if len(row) != N_FEATURES:
            return f"expected {N_FEATURES} features, got {len(row)} in row {number}"
        for column, cell in enumerate(row, start=1):
            if isinstance(cell, bool) or not isinstance(cell, int | float):
                return f"non-numeric value {json.dumps(cell)} in row {number}, column {column}"
    return "JSON rows must hold numbers only"


def _csv_bytes(body, params):
    """The body as UTF-8 bytes, without a copy when it already is."""
    if isinstance(body, str):
        return body.encode("utf-8")
    if params.get("charset", "utf-8").lower() in UTF8_CHARSETS:
        return bytes(body)
    return _text(body, params).encode("utf-8")


def _csv_problem(data):
    """Locate the first row with the wrong width or a non-numeric cell (error path only)."""
    rows = [line.split(",") for line in data.decode("utf-8", "replace").splitlines()]
    for number, row in enumerate((r for r in rows if any(c.strip() for c in r)), start=1):
        if len(row) != N_FEATURES:
            return f"expected {N_FEATURES} features, got {len(row)} in row {number}"
        for column, cell in enumerate(row, start=1):
            try:
                float(cell.strip().strip('"'))
            except ValueError:
                return f"non-numeric value {cell.strip()!r} in row {number}, column {column}"
    return None


def _parse_csv(data):
    """Exact doubles either way; the reader is chosen by size for speed. numpy.loadtxt costs
    ~5 us for one row but ~12 us per KB; pyarrow's reader has ~270 us of set-up and then
    ~2 us per KB, so it wins above a few tens of KB (bench/handler_throughput.py)."""
    try:
        if len(data) < PYARROW_MIN_BYTES:
            return np.loadtxt(
                io.BytesIO(data),
                delimiter=",",
                dtype=np.float64,
                ndmin=2,
                quotechar='"',
                comments=None,
                encoding="utf-8",
            )
        table = pa_csv.read_csv(
            pa.py_buffer(data), read_options=_CSV_READ, convert_options=_CSV_CONVERT
        )
    except (ValueError, pa.ArrowInvalid) as exc:
        raise InvalidInputError(_csv_problem(data) or f"cannot parse CSV: {exc}") from None
    if table.num_rows == 0:
        return np.empty((0, N_FEATURES))
    return np.column_stack([column.to_numpy() for column in table.columns])


def _parse_json(text):
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"request body is not valid JSON: {exc}") from None
    if isinstance(document, dict):
        if set(document) != {"instances"}:
            raise InvalidInputError(
                'a JSON object must be {"instances": [...]}; got keys '
                + ", ".join(sorted(document))
            )
        document = document["instances"]
    if not isinstance(document, list):
        raise InvalidInputError(
            'JSON body must be a list of rows, one row, or {"instances": [...]}'
        )
    try:
        array = np.asarray(document)
    except ValueError:  # ragged nesting
        array = None
    # numpy reads JSON true/false as 1/0 when mixed with numbers; the text test keeps that
    # out without walking the rows.
    if array is None or array.dtype.kind not in "iuf" or "true" in text or "false" in text:
        nested = bool(document) and isinstance(document[0], list)
        raise InvalidInputError(_bad_json_row(document if nested else [document]))
    return array.astype(np.float64, copy=False)


def _parse_npy(body):
    if isinstance(body, str):
        raise InvalidInputError("application/x-npy bodies must be binary .npy data")
    stream = io.BytesIO(body)
    try:
        array = np.load(stream, allow_pickle=False)
    except (ValueError, EOFError, OSError) as exc:
        raise InvalidInputError(f"cannot read .npy body: {exc}") from None
    if not isinstance(array, np.ndarray) or array.dtype.kind not in "iuf":
        raise InvalidInputError(
            f".npy array must be numeric, got dtype {getattr(array, 'dtype', type(array))}"
        )
    extra = len(body) - stream.tell()
    if extra:  # a second array or junk after the first: predicting on part of it would be wrong
        raise InvalidInputError(
            f".npy body has {extra} bytes after its array; send exactly one array"
        )
    return array.astype(np.float64, copy=False)


def _as_rows(array):
    """Validate shape and values of a parsed request; returns a (rows, N_FEATURES) array."""
    if array.ndim == 1:
        array = array.reshape(1, -1)
    if array.ndim != 2:
        raise InvalidInputError(
            f"expected rows of {N_FEATURES} features, got a {array.ndim}-d array"
        )
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise InvalidInputError(
            f"request holds no rows; send at least one row of {N_FEATURES} features"
        )
    if array.shape[1] != N_FEATURES:
        raise InvalidInputError(f"expected {N_FEATURES} features, got {array.shape[1]} in row 1")
    finite = np.isfinite(array)
    if not finite.all():
        row, column = np.argwhere(~finite)[0]
        raise InvalidInputError(
            f"value {array[row, column]} in row {row + 1}, column {column + 1} is not finite; "
            "NaN and infinity cannot be predicted on"
        )
    return array


def input_fn(input_data, content_type):
    mime, params = _media_type(content_type)
    if mime not in SUPPORTED_TYPES:
        raise UnsupportedFormatError(
            f"unsupported Content-Type {content_type!r}; send one of {', '.join(SUPPORTED_TYPES)}"
        )
    empty = f"empty request body; send at least one row of {N_FEATURES} features"
    if input_data is None or len(input_data) == 0:
        raise InvalidInputError(empty)
    if mime == NPY:
        return _as_rows(_parse_npy(input_data))
    if mime == CSV:
        data = _csv_bytes(input_data, params)
        if not data.strip():
            raise InvalidInputError(empty)
        return _as_rows(_parse_csv(data))
    text = _text(input_data, params)
    if not text.strip():
        raise InvalidInputError(empty)
    return _as_rows(_parse_json(text))


def predict_fn(input_data, model):
    return model.predict(input_data)


def _choose_accept(accept):
    """The response type for an Accept header; None if it names nothing we can produce."""
    if not accept:
        return JSON
    offers = []
    for position, item in enumerate(accept.split(",")):
        mime, params = _media_type(item)
        try:
            quality = float(params.get("q", "1"))
        except ValueError:
            quality = 0.0
        if quality > 0:
            offers.append((-quality, position, mime))
    wildcard = {"*/*": JSON, "application/*": JSON, "text/*": CSV}
    for _, _, mime in sorted(offers):
        if mime in SUPPORTED_TYPES:
            return mime
        if mime in wildcard:
            return wildcard[mime]
    return None


def output_fn(prediction, accept):
    """(body, content_type) for the predictions, in the type the client accepts."""
    chosen = _choose_accept(accept)
    values = np.asarray(prediction, dtype=np.float64).reshape(-1)
    if chosen == JSON:
        return json.dumps(values.tolist()), JSON
    if chosen == CSV:
        return "\n".join(map(repr, values.tolist())) + "\n", CSV
    if chosen == NPY:
        buffer = io.BytesIO()
        np.save(buffer, values, allow_pickle=False)
        return buffer.getvalue(), NPY
    raise UnsupportedFormatError(
        f"unsupported Accept {accept!r}; accept one of {', '.join(SUPPORTED_TYPES)} or */*"
    )
