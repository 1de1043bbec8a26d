"""SageMaker inference handler for the scikit-learn serving image, driven by the model's signature.

Runs inside `sagemaker-scikit-learn` (see serving-image.toml), which imports it from
/opt/ml/model/code and calls model_fn, input_fn, predict_fn and output_fn. It therefore
imports only what that image ships (numpy, pandas, pyarrow, joblib, scikit-learn via the
pickle; all pinned in serving-image.toml) and never anything from this repository.

model_fn loads model.joblib and signature.json (the input columns, their types, whether they
take missing values, the task and class labels) and refuses a model that does not match it.
The library calls input_fn without the model, so input_fn only reads the format (charset,
JSON syntax, the .npy container) and returns a Request; predict_fn checks the Request against
the signature, builds what the model was fitted on (a DataFrame with the signature's columns
when feature_names is true, else an array) and predicts.

Requests: text/csv (with a header naming every column, any order, or without one, in
signature order), application/json (rows, one row, records, one record, {"instances": ...},
{"inputs": ...}) or application/x-npy (all-numeric signatures only).
Responses (by Accept): application/json (default, also for */*), text/csv or application/x-npy.
Bad input raises InvalidInputError naming the row (1-based) and the column; it never yields a
prediction.
Number columns are parsed vectorised: no Python loop runs per row for CSV, except to locate
the bad row of a request already rejected. An all-number signature's header-less CSV takes
the fast path of the numeric-only handler this replaced (numpy.loadtxt below 32 KB, pyarrow's
CSV reader above: exact doubles, bench/handler_throughput.py); anything that path does not
accept is re-read by the general path, which either accepts it or says exactly what is wrong.
"""

import csv
import io
import json
import math
import os
import re

import joblib
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

MODEL_FILE = "model.joblib"
SIGNATURE_FILE = "signature.json"
SIGNATURE_VERSION = 1
TYPES = ("number", "integer", "boolean", "string")
NUMERIC_TYPES = ("number", "integer", "boolean")

CSV = "text/csv"
JSON = "application/json"
NPY = "application/x-npy"
SUPPORTED_TYPES = (CSV, JSON, NPY)
UTF8_CHARSETS = ("utf-8", "utf8", "us-ascii", "ascii")
PYARROW_MIN_BYTES = 32 * 1024
CSV_TRUE = ("true", "1")
CSV_FALSE = ("false", "0")

_ARROW_PARSE_FAILURE = re.compile(r"Failed to parse string: '(.*)' as a scalar of type", re.S)

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


class Signature:
    """signature.json, validated: what the model takes and what it answers."""

    def __init__(self, document):
        problem = _signature_problem(document)
        if problem:
            raise RuntimeError(f"{SIGNATURE_FILE}: {problem}")
        self.document = document
        self.task = document["task"]
        inputs = document["inputs"]
        self.names = [column["name"] for column in inputs]
        self.types = [column["type"] for column in inputs]
        self.nullable = [bool(column.get("nullable", False)) for column in inputs]
        self.categories = [frozenset(column.get("categories") or ()) for column in inputs]
        self.width = len(self.names)
        self.index = {name: position for position, name in enumerate(self.names)}
        self.classes = document.get("classes")
        self.feature_names = bool(document.get("feature_names", False))
        self.probabilities = bool((document.get("output") or {}).get("probabilities", False))
        self.all_number = all(kind == "number" for kind in self.types)
        self.numeric = all(kind in NUMERIC_TYPES for kind in self.types)
        # Built once: pyarrow's options for the all-number fast path.
        positional = [f"c{i}" for i in range(self.width)]
        self.fast_csv_options = (
            # One thread: the server runs one worker per core, so threads would only contend.
            pa_csv.ReadOptions(column_names=positional, use_threads=False),
            pa_csv.ConvertOptions(
                column_types={name: pa.float64() for name in positional},
                null_values=[],  # an empty cell is for the general path to judge
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )


def _signature_problem(document):
    if not isinstance(document, dict):
        return "must be a JSON object"
    if document.get("signature_version") != SIGNATURE_VERSION:
        return (
            f"signature_version {document.get('signature_version')!r} is not "
            f"{SIGNATURE_VERSION}, the one this handler reads"
        )
    if document.get("task") not in ("regression", "classification"):
        return f"task {document.get('task')!r} is neither 'regression' nor 'classification'"
    inputs = document.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        return "inputs must be a non-empty list of columns"
    seen = set()
    for position, column in enumerate(inputs, start=1):
        if not isinstance(column, dict) or not isinstance(column.get("name"), str):
            return f"input {position} must be an object with a string name"
        if column["name"] in seen:
            return f"input {column['name']!r} is listed twice"
        seen.add(column["name"])
        if column.get("type") not in TYPES:
            return f"input {column['name']!r} has type {column.get('type')!r}; one of {TYPES}"
    if document["task"] == "classification" and not isinstance(document.get("classes"), list):
        return "a classification signature must list its classes"
    if document["task"] == "regression" and (document.get("output") or {}).get("probabilities"):
        return "output.probabilities is for classification only"
    return None


class ServedModel:
    """What model_fn returns: the estimator and the signature it is served by."""

    def __init__(self, model, signature):
        self.model = model
        self.signature = signature
        classes = getattr(model, "classes_", None)
        # predict returns model.classes_ values; answers carry the signature's JSON values.
        self.labels = (
            dict(zip(np.asarray(classes).tolist(), signature.classes, strict=True))
            if signature.task == "classification"
            else None
        )


class Request:
    """A request read as its format (input_fn); checked against the signature in predict_fn.
    body: UTF-8 bytes (CSV), the decoded document (JSON) or a numeric array (.npy)."""

    __slots__ = ("media_type", "body", "text")

    def __init__(self, media_type, body, text=None):
        self.media_type, self.body, self.text = media_type, body, text


class Prediction:
    """What predict_fn returns: the model's answers and the signature they are rendered by.
    values: floats (regression) or labels as JSON values (classification)."""

    __slots__ = ("values", "probabilities", "signature")

    def __init__(self, values, signature, probabilities=None):
        self.values, self.signature, self.probabilities = values, signature, probabilities


def model_fn(model_dir):
    model = joblib.load(os.path.join(model_dir, MODEL_FILE))
    path = os.path.join(model_dir, SIGNATURE_FILE)
    try:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
    except FileNotFoundError:
        raise RuntimeError(
            f"{SIGNATURE_FILE} is missing beside {MODEL_FILE} in {model_dir}; package the "
            "model with its signature (python -m pipeline package)"
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RuntimeError(f"{SIGNATURE_FILE} is not valid JSON: {exc}") from None
    signature = Signature(document)
    problem = _model_mismatch(model, signature)
    if problem:
        raise RuntimeError(f"{MODEL_FILE} does not match {SIGNATURE_FILE}: {problem}")
    return ServedModel(model, signature)


def _model_mismatch(model, signature):
    n_features = getattr(model, "n_features_in_", None)
    if n_features is not None and n_features != signature.width:
        return (
            f"the model expects {n_features} features but the signature lists "
            f"{signature.width} inputs"
        )
    fitted = getattr(model, "feature_names_in_", None)
    if signature.feature_names:
        if fitted is None:
            return "feature_names is true but the model was not fitted on named columns"
        if list(fitted) != signature.names:
            return (
                f"the model's columns {list(fitted)} differ from the signature's {signature.names}"
            )
    elif fitted is not None:
        return f"the model was fitted on named columns {list(fitted)} but feature_names is false"
    if signature.task == "classification":
        classes = getattr(model, "classes_", None)
        if classes is None:
            return "task is classification but the model has no classes_"
        if json.dumps(np.asarray(classes).tolist()) != json.dumps(signature.classes):
            return (
                f"the model's classes {np.asarray(classes).tolist()} differ from the "
                f"signature's {signature.classes}"
            )
        if signature.probabilities and not hasattr(model, "predict_proba"):
            return "output.probabilities is true but the model has no predict_proba"
    return None


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


def _csv_bytes(body, params):
    """The body as UTF-8 bytes, without a copy when it already is."""
    if isinstance(body, str):
        try:
            return body.encode("utf-8")
        except UnicodeEncodeError as exc:  # a lone surrogate, from a lenient decoder
            raise InvalidInputError(f"request body is not valid text: {exc}") from None
    if params.get("charset", "utf-8").lower() in UTF8_CHARSETS:
        return bytes(body)
    return _text(body, params).encode("utf-8")


def _npy_header_problem(body):
    """Why the .npy header does not describe this body, or None. numpy allocates the array
    the header claims before it reads the data, so a 200-byte body claiming 10**10 rows must
    be refused from its header alone."""
    stream = io.BytesIO(body)
    try:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(stream)
        elif version in ((2, 0), (3, 0)):
            shape, _, dtype = np.lib.format.read_array_header_2_0(stream)
        else:
            return f"unsupported .npy version {version}"
    except (ValueError, EOFError, OSError, SyntaxError) as exc:
        return f"cannot read .npy body: {exc}"
    if dtype.hasobject:
        return "cannot read .npy body: object arrays need pickle, which is never used here"
    claimed, held = math.prod(shape) * dtype.itemsize, len(body) - stream.tell()
    if claimed > held:
        return (
            f".npy header claims {claimed} bytes of data for shape {shape}, but the body "
            f"holds {held}"
        )
    if claimed < held:  # a second array or junk after the first: never predict on a part
        return f".npy body has {held - claimed} bytes after its array; send exactly one array"
    return None


def _read_npy(body):
    if isinstance(body, str):
        raise InvalidInputError("application/x-npy bodies must be binary .npy data")
    problem = _npy_header_problem(bytes(body))
    if problem:
        raise InvalidInputError(problem)
    stream = io.BytesIO(body)
    try:
        array = np.load(stream, allow_pickle=False)
    except (ValueError, EOFError, OSError) as exc:
        raise InvalidInputError(f"cannot read .npy body: {exc}") from None
    if not isinstance(array, np.ndarray) or array.dtype.kind not in "biuf":
        raise InvalidInputError(
            f".npy array must be numeric, got dtype {getattr(array, 'dtype', type(array))}"
        )
    extra = len(body) - stream.tell()
    if extra:  # a second array or junk after the first: predicting on part of it would be wrong
        raise InvalidInputError(
            f".npy body has {extra} bytes after its array; send exactly one array"
        )
    return array


def input_fn(input_data, content_type):
    """Read the request's format; its content is checked against the signature in predict_fn."""
    mime, params = _media_type(content_type)
    if mime not in SUPPORTED_TYPES:
        raise UnsupportedFormatError(
            f"unsupported Content-Type {content_type!r}; send one of {', '.join(SUPPORTED_TYPES)}"
        )
    empty = "empty request body; send at least one row"
    if input_data is None or len(input_data) == 0:
        raise InvalidInputError(empty)
    if mime == NPY:
        return Request(NPY, _read_npy(input_data))
    if mime == CSV:
        data = _csv_bytes(input_data, params)
        if not data.strip():
            raise InvalidInputError(empty)
        return Request(CSV, data)
    text = _text(input_data, params)
    if not text.strip():
        raise InvalidInputError(empty)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"request body is not valid JSON: {exc}") from None
    except RecursionError:
        raise InvalidInputError("request body nests JSON too deeply") from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise InvalidInputError(f"request body cannot be read as JSON: {exc}") from None
    return Request(JSON, document, text)


# --- errors naming the row and the column ---------------------------------------------------


def _cell_error(row, name, what):
    return InvalidInputError(f"row {row}, column {name!r}: {what}")


def _width_error(row, got, signature):
    if got < signature.width:
        where = f"column {signature.names[got]!r} has no value"
    else:
        where = f"nothing may follow column {signature.names[-1]!r}"
    return InvalidInputError(
        f"row {row} has {got} values but the model takes {signature.width} columns; {where}"
    )


def _no_rows():
    return InvalidInputError("request holds no rows; send at least one row")


def _missing_error(row, name):
    return _cell_error(row, name, "missing value, and this column takes none")


def _not_finite(row, name, value):
    return _cell_error(
        row, name, f"value {value} is not finite; NaN and infinity cannot be predicted on"
    )


def _check_finite_matrix(matrix, signature):
    finite = np.isfinite(matrix)
    if not finite.all():
        row, column = np.argwhere(~finite)[0]
        raise _not_finite(row + 1, signature.names[column], matrix[row, column])
    return matrix


# --- CSV ------------------------------------------------------------------------------------


def _first_line(data):
    end = data.find(b"\n")
    line = data if end < 0 else data[:end]
    cr = line.find(b"\r")  # within the first line only: never a scan of the whole body
    return (line if cr < 0 else line[:cr]).decode("utf-8", "replace").removeprefix("\ufeff")


def _csv_header(data, signature):
    """The file's column names if its first row is a header (any cell is a signature name),
    else None. A header must name every column exactly once and nothing else."""
    try:
        cells = [cell.strip() for cell in next(csv.reader([_first_line(data)]), [])]
    except csv.Error as exc:  # e.g. a field longer than the csv module's limit
        raise InvalidInputError(f"cannot parse the first CSV row: {exc}") from None
    if not any(cell in signature.index for cell in cells):
        return None
    seen = set()
    for cell in cells:
        if cell not in signature.index:
            raise InvalidInputError(
                f"CSV header has unknown column {cell!r}; the model takes "
                + ", ".join(map(repr, signature.names))
            )
        if cell in seen:
            raise InvalidInputError(f"CSV header names column {cell!r} twice")
        seen.add(cell)
    for name in signature.names:
        if name not in seen:
            raise InvalidInputError(f"CSV header lacks column {name!r}")
    return cells


def _fast_csv_matrix(data, signature):
    """The numeric-only handler's parse, for an all-number signature without a header; None
    if it does not accept the body (the general path then accepts it or says why not).
    numpy.loadtxt costs ~5 us for one row but ~12 us per KB; pyarrow's reader has ~270 us of
    set-up and then ~2 us per KB, so it wins above a few tens of KB."""
    try:
        if len(data) < PYARROW_MIN_BYTES:
            matrix = np.loadtxt(
                io.BytesIO(data),
                delimiter=",",
                dtype=np.float64,
                ndmin=2,
                quotechar='"',
                comments=None,
                encoding="utf-8",
            )
        else:
            read_options, convert_options = signature.fast_csv_options
            table = pa_csv.read_csv(
                pa.py_buffer(data), read_options=read_options, convert_options=convert_options
            )
            if table.num_rows == 0:
                return None
            matrix = np.column_stack([column.to_numpy() for column in table.columns])
    except (ValueError, pa.ArrowInvalid):
        return None
    if matrix.shape[0] == 0 or matrix.shape[1] != signature.width:
        return None
    return _check_finite_matrix(matrix, signature)


def _csv_rows(data, skip):
    """Data rows as lists of cells, numbered as pyarrow numbers them (error path only)."""
    rows = csv.reader(io.StringIO(data.decode("utf-8", "replace"), newline=""))
    number = 0
    for line, row in enumerate(rows):
        if line < skip or not row:
            continue
        number += 1
        yield number, row


def _csv_width_problem(data, skip, signature):
    try:
        for number, row in _csv_rows(data, skip):
            if len(row) != signature.width:
                return _width_error(number, len(row), signature)
    except csv.Error as exc:
        return InvalidInputError(f"cannot parse CSV: {exc}")
    return None


def _csv_columns(data, signature):
    """Per-column arrays (signature order) or, on the fast path, one float64 matrix."""
    data = data.lstrip(b"\r\n")
    header = _csv_header(data, signature)
    if header is None and signature.all_number:
        matrix = _fast_csv_matrix(data, signature)
        if matrix is not None:
            return matrix
    names = header or signature.names
    skip = 1 if header else 0
    try:
        table = pa_csv.read_csv(
            pa.py_buffer(data),
            read_options=pa_csv.ReadOptions(column_names=names, skip_rows=skip, use_threads=False),
            convert_options=pa_csv.ConvertOptions(
                column_types={name: pa.string() for name in names},
                null_values=[],  # missing values are decided per column, by the signature
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (ValueError, pa.ArrowInvalid) as exc:
        raise (
            _csv_width_problem(data, skip, signature)
            or InvalidInputError(f"cannot parse CSV: {exc}")
        ) from None
    if table.num_rows == 0:
        raise _no_rows()
    return [
        _csv_column(table.column(name).combine_chunks(), position, signature)
        for position, name in enumerate(signature.names)
    ]


def _failed_row(exc, cells, target):
    """1-based row of the first cell pyarrow could not cast (error path only)."""
    match = _ARROW_PARSE_FAILURE.search(str(exc))
    if match:
        position = pc.index(cells, match.group(1)).as_py()
        if position >= 0:
            return position + 1, match.group(1)
    for position, cell in enumerate(cells.to_pylist()):
        if cell is None:
            continue
        try:
            pc.cast(pa.array([cell]), target)
        except pa.ArrowInvalid:
            return position + 1, cell
    return 1, cells[0].as_py()


def _csv_column(raw, position, signature):
    name, kind = signature.names[position], signature.types[position]
    if kind == "string":
        # As pandas reads CSV: only an empty cell is missing; other text is kept as sent,
        # except that spaces around a value are dropped when only the trimmed value is a
        # category seen in training ("a, b, small" means "small", not an unseen " small").
        known = signature.categories[position]
        if known:
            seen = pa.array(sorted(known), pa.string())
            trimmed = pc.utf8_trim_whitespace(raw)
            fix = pc.and_(pc.invert(pc.is_in(raw, seen)), pc.is_in(trimmed, seen))
            raw = pc.if_else(fix, trimmed, raw)
        missing = np.asarray(pc.equal(raw, ""))
        values = raw.to_numpy(zero_copy_only=False).astype(object)
    else:
        raw = pc.utf8_trim_whitespace(raw)
        missing = np.asarray(pc.equal(raw, ""))
    has_missing = bool(missing.any())
    if has_missing and not signature.nullable[position]:
        raise _missing_error(int(np.argmax(missing)) + 1, name)
    if kind == "string":
        if has_missing:
            values[missing] = np.nan
        return values
    cells = pc.if_else(pa.array(missing), pa.scalar(None, pa.string()), raw) if has_missing else raw
    if kind == "boolean":
        lowered = pc.utf8_lower(cells)
        truth = np.asarray(pc.fill_null(pc.is_in(lowered, pa.array(CSV_TRUE)), False))
        known = truth | np.asarray(pc.fill_null(pc.is_in(lowered, pa.array(CSV_FALSE)), False))
        bad = ~known & ~missing
        if bad.any():
            row = int(np.argmax(bad))
            raise _cell_error(
                row + 1, name, f"{cells[row].as_py()!r} is not a boolean; send true/false or 1/0"
            )
        return _with_missing(truth, missing, has_missing)
    if kind == "integer":
        try:
            return _with_missing(
                pc.cast(cells, pa.int64()).to_numpy(zero_copy_only=False), missing, has_missing
            )
        except pa.ArrowInvalid:
            pass  # "3.0", "1e3" or not a number at all: decided below
    try:
        numbers = pc.cast(cells, pa.float64())
    except pa.ArrowInvalid as exc:
        row, cell = _failed_row(exc, cells, pa.float64())
        raise _cell_error(row, name, f"{cell!r} is not a number") from None
    values = numbers.to_numpy(zero_copy_only=False)  # NaN where missing
    return _checked_numbers(values, missing, has_missing, position, signature)


def _checked_numbers(values, missing, has_missing, position, signature):
    """float64 values of a number or integer column: finite, and integral for integers."""
    name = signature.names[position]
    bad = ~np.isfinite(values) & ~missing
    if bad.any():
        row = int(np.argmax(bad))
        raise _not_finite(row + 1, name, values[row])
    if signature.types[position] == "integer":
        with np.errstate(invalid="ignore"):
            bad = ((values != np.floor(values)) | (np.abs(values) >= 2.0**63)) & ~missing
        if bad.any():
            row = int(np.argmax(bad))
            raise _cell_error(row + 1, name, f"{float(values[row])!r} is not an integer")
        if not has_missing:
            return values.astype(np.int64)
    return values


def _fits_double(value):
    try:
        float(value if value is not None else 0.0)
    except OverflowError:
        return False
    return True


def _with_missing(values, missing, has_missing):
    """int64 or bool values; with missing values, as pandas reads them from CSV: integers as
    float64 with NaN, booleans as objects (True, False, NaN)."""
    if not has_missing:
        return values
    values = values.astype(object if values.dtype == np.bool_ else np.float64)
    values[missing] = np.nan
    return values


# --- JSON -----------------------------------------------------------------------------------


def _json_columns(document, text, signature):
    if isinstance(document, dict) and len(document) == 1:
        (key,) = document
        if key in ("instances", "inputs") and key not in signature.index:
            document = document[key]
    if isinstance(document, dict):
        return _record_columns([document], signature)
    if not isinstance(document, list):
        raise InvalidInputError(
            "JSON body must be a list of rows, one row, records, one record, "
            '{"instances": [...]} or {"inputs": [...]}'
        )
    if not document:
        raise _no_rows()
    if isinstance(document[0], dict):
        return _record_columns(document, signature)
    rows = document if isinstance(document[0], list) else [document]
    if signature.all_number:
        matrix = _fast_json_matrix(rows, text, signature)
        if matrix is not None:
            return matrix
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, list):
            raise InvalidInputError(
                f"row {number} is {json.dumps(row)[:40]}, not a list of "
                f"{signature.width} values like row 1"
            )
        if len(row) != signature.width:
            raise _width_error(number, len(row), signature)
    return [
        _json_column(values, position, signature)
        for position, values in enumerate(zip(*rows, strict=True))
    ]


def _fast_json_matrix(rows, text, signature):
    """All-number rows in one numpy call; None if anything needs a closer look."""
    # numpy reads JSON true/false as 1/0 when mixed with numbers; the text test keeps that
    # out without walking the rows.
    if "true" in text or "false" in text:
        return None
    try:
        array = np.asarray(rows)
    except (ValueError, OverflowError):  # ragged nesting, or an integer beyond a double
        return None
    if array.dtype.kind not in "iuf" or array.ndim != 2 or array.shape[1] != signature.width:
        return None
    return _check_finite_matrix(array.astype(np.float64, copy=False), signature)


def _record_columns(records, signature):
    for number, record in enumerate(records, start=1):
        if not isinstance(record, dict):
            raise InvalidInputError(
                f"row {number} is {json.dumps(record)[:40]}, not a record like row 1"
            )
        if len(record) != signature.width or any(key not in signature.index for key in record):
            for key in record:
                if key not in signature.index:
                    raise InvalidInputError(
                        f"row {number} has unknown column {key!r}; the model takes "
                        + ", ".join(map(repr, signature.names))
                    )
            for name in signature.names:
                if name not in record:
                    raise InvalidInputError(f"row {number} lacks column {name!r}")
    return [
        _json_column([record[name] for record in records], position, signature)
        for position, name in enumerate(signature.names)
    ]


def _json_column(values, position, signature):
    name, kind = signature.names[position], signature.types[position]
    nullable = signature.nullable[position]
    missing = np.fromiter((value is None for value in values), dtype=bool, count=len(values))
    has_missing = bool(missing.any())
    if has_missing and not nullable:
        raise _missing_error(int(np.argmax(missing)) + 1, name)
    for row, value in enumerate(values, start=1):
        if value is None:
            continue
        if kind == "string":
            ok = isinstance(value, str)
        elif kind == "boolean":
            ok = isinstance(value, bool)
        else:
            ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not ok:
            expected = {"string": "a string", "boolean": "a boolean; send true or false"}
            raise _cell_error(
                row, name, f"{json.dumps(value)} is not {expected.get(kind, 'a number')}"
            )
        if kind == "integer" and isinstance(value, int) and not -(2**63) <= value < 2**63:
            raise _cell_error(row, name, f"{value} is not a 64-bit integer")
    if kind == "string":
        column = np.empty(len(values), dtype=object)
        column[:] = values
        if has_missing:
            column[missing] = np.nan
        return column
    if kind == "boolean":
        truth = np.fromiter((value is True for value in values), dtype=bool, count=len(values))
        return _with_missing(truth, missing, has_missing)
    if kind == "integer" and not has_missing and all(type(value) is int for value in values):
        return np.asarray(values, dtype=np.int64)
    try:
        numbers = np.asarray([math.nan if v is None else v for v in values], np.float64)
    except OverflowError:
        row = next(n for n, v in enumerate(values, 1) if not _fits_double(v))
        raise _not_finite(row, name, f"{str(values[row - 1])[:20]}...") from None
    return _checked_numbers(numbers, missing, has_missing, position, signature)


# --- .npy -----------------------------------------------------------------------------------


def _npy_columns(array, signature):
    if not signature.numeric:
        text = next(
            n
            for n, t in zip(signature.names, signature.types, strict=True)
            if t not in NUMERIC_TYPES
        )
        raise UnsupportedFormatError(
            f"application/x-npy carries numbers only, and column {text!r} is a string; "
            "send text/csv or application/json"
        )
    if array.ndim == 1:
        array = array.reshape(1, -1)
    if array.ndim != 2:
        raise InvalidInputError(
            f"expected rows of {signature.width} values, got a {array.ndim}-d array"
        )
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise _no_rows()
    if array.shape[1] != signature.width:
        raise _width_error(1, array.shape[1], signature)
    matrix = _check_finite_matrix(array.astype(np.float64, copy=False), signature)
    if signature.all_number:
        return matrix
    columns = []
    nothing = np.zeros(matrix.shape[0], dtype=bool)
    for position, kind in enumerate(signature.types):
        values = matrix[:, position]
        if kind == "boolean":
            bad = (values != 0) & (values != 1)
            if bad.any():
                row = int(np.argmax(bad))
                raise _cell_error(
                    row + 1,
                    signature.names[position],
                    f"{float(values[row])!r} is not a boolean (0 or 1)",
                )
            columns.append(values == 1)
        else:
            columns.append(_checked_numbers(values, nothing, False, position, signature))
    return columns


# --- the model's input and its predictions --------------------------------------------------


def _model_input(columns, signature):
    """What the model was fitted on: a DataFrame with the signature's columns (feature_names),
    else a float64 array (all-numeric signatures) or an object array."""
    if isinstance(columns, np.ndarray):  # the all-number fast paths
        if signature.feature_names:
            return pd.DataFrame(columns, columns=signature.names, copy=False)
        return columns
    if signature.feature_names:
        return pd.DataFrame(dict(zip(signature.names, columns, strict=True)))
    if signature.numeric:
        return np.column_stack([np.asarray(column, dtype=np.float64) for column in columns])
    matrix = np.empty((len(columns[0]), signature.width), dtype=object)
    for position, column in enumerate(columns):
        matrix[:, position] = column
    return matrix


def features(request, signature):
    """The model's input for a Request, checked against the signature."""
    if request.media_type == CSV:
        columns = _csv_columns(request.body, signature)
    elif request.media_type == JSON:
        columns = _json_columns(request.body, request.text or "", signature)
    else:
        columns = _npy_columns(request.body, signature)
    return _model_input(columns, signature)


def predict_fn(input_data, model):
    if isinstance(input_data, np.ndarray):  # a caller's own array, as from an .npy body
        input_data = Request(NPY, input_data)
    signature = model.signature
    data = features(input_data, signature)
    if signature.task == "regression":
        # Finite inputs can still overflow a linear model; output_fn refuses a non-finite
        # prediction, naming the row, so numpy's warning would only add noise to the log.
        with np.errstate(over="ignore", invalid="ignore"):
            return Prediction(model.model.predict(data), signature)
    labels = [model.labels[label] for label in np.asarray(model.model.predict(data)).tolist()]
    probabilities = model.model.predict_proba(data) if signature.probabilities else None
    return Prediction(labels, signature, probabilities)


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


def _label_key(label):
    """A label as a JSON object key: a string label is itself, any other its JSON text."""
    return label if isinstance(label, str) else json.dumps(label)


def _csv_line(cells):
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(cells)
    return buffer.getvalue()


def _npy_bytes(array):
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def output_fn(prediction, accept):
    """(body, content_type) for the predictions, in the type the client accepts."""
    chosen = _choose_accept(accept)
    if chosen is None:
        raise UnsupportedFormatError(
            f"unsupported Accept {accept!r}; accept one of {', '.join(SUPPORTED_TYPES)} or */*"
        )
    if not isinstance(prediction, Prediction) or prediction.signature.task == "regression":
        raw = prediction.values if isinstance(prediction, Prediction) else prediction
        values = np.asarray(raw, dtype=np.float64).reshape(-1)
        if not np.isfinite(values).all():  # finite inputs can still overflow a model
            row = int(np.argmax(~np.isfinite(values))) + 1
            raise InvalidInputError(
                f"row {row}: the model's prediction is {values[row - 1]}, which no response "
                "type can carry; the input is outside what this model answers"
            )
        if chosen == JSON:
            return json.dumps(values.tolist()), JSON
        if chosen == CSV:
            return "\n".join(map(repr, values.tolist())) + "\n", CSV
        return _npy_bytes(values), NPY
    labels, probabilities = prediction.values, prediction.probabilities
    classes = prediction.signature.classes
    if chosen == NPY:
        return _npy_bytes(np.asarray(labels if probabilities is None else probabilities)), NPY
    if probabilities is None:
        if chosen == JSON:
            return json.dumps(labels), JSON
        return "".join(_csv_line([_label_key(label)]) for label in labels), CSV
    rows = probabilities.tolist()
    if chosen == JSON:
        keys = [_label_key(label) for label in classes]
        return json.dumps(
            [
                {"label": label, "probabilities": dict(zip(keys, row, strict=True))}
                for label, row in zip(labels, rows, strict=True)
            ]
        ), JSON
    return "".join(
        _csv_line([_label_key(label), *map(repr, row)])
        for label, row in zip(labels, rows, strict=True)
    ), CSV
