"""model/inference.py under the serving image's own library (sagemaker-containers 2.8.6.post2,
Flask 3.1.3), wired as sagemaker_sklearn_container.serving wires it.

Runs in `tox -e contract`, which installs that stack (the default `tox` includes it). It
shows that the handler works unchanged in the image's stack, and pins one fact the local
server deliberately does not mirror: the image wraps every user handler in
error_wrapper(fn, ClientError), so an UnsupportedFormatError raised by input_fn or output_fn
reaches Flask as ClientError and the client gets 500, not 415 / 406. Only the library's own
default decoder/encoder, which are not wrapped, produce 415 / 406.
"""

from __future__ import annotations

import collections
import collections.abc
import json
import warnings

import joblib
import numpy as np
import pytest
from sklearn.datasets import load_diabetes
from sklearn.linear_model import LinearRegression

from model import inference
from tests.conftest import FIXTURES, expected_predictions

collections.Mapping = collections.abc.Mapping  # the image's one-line patch for Python >= 3.10

with warnings.catch_warnings():  # the image's protobuf 3.20 and pkg_resources warn on import
    warnings.simplefilter("ignore")
    # Installed by `tox -e contract`; a plain `pytest` elsewhere reports these as skipped.
    framework = pytest.importorskip("sagemaker_containers.beta.framework")

PAYLOADS = FIXTURES / "payloads"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """The diabetes regression, fitted on an array, with its 10-number-column signature."""
    path = tmp_path_factory.mktemp("model")
    joblib.dump(LinearRegression().fit(*load_diabetes(return_X_y=True)), path / "model.joblib")
    signature = {
        "signature_version": 1,
        "task": "regression",
        "inputs": [{"name": f"x{i}", "type": "number", "nullable": False} for i in range(10)],
        "target": {"name": "target", "type": "number"},
        "feature_names": False,
    }
    (path / "signature.json").write_text(json.dumps(signature))
    return path


@pytest.fixture(scope="module")
def client(model_dir):
    transformer = framework.transformer.Transformer(
        model_fn=lambda _: inference.model_fn(str(model_dir)),
        input_fn=inference.input_fn,
        predict_fn=inference.predict_fn,
        output_fn=inference.output_fn,
    )
    transformer.initialize()
    app = framework.worker.Worker(transform_fn=transformer.transform, module_name="inference")
    return app.test_client()


@pytest.mark.parametrize(
    ("fixture", "content_type"),
    [
        ("many_rows.csv", "text/csv"),
        ("many_rows.json", "application/json"),
        ("many_rows.npy", "application/x-npy"),
    ],
)
@pytest.mark.parametrize("accept", ["application/json", "text/csv", "*/*"])
def test_handler_predicts_unchanged_in_the_image_stack(
    client, model_dir, fixture, content_type, accept
):
    response = client.post(
        "/invocations",
        data=(PAYLOADS / fixture).read_bytes(),
        headers={"Content-Type": content_type, "Accept": accept},
    )
    assert response.status_code == 200
    if accept == "text/csv":
        got = np.loadtxt(response.data.decode().splitlines(), ndmin=1)
    else:
        got = np.asarray(json.loads(response.data))
    np.testing.assert_array_equal(
        got, expected_predictions(model_dir / "model.joblib", PAYLOADS / fixture)
    )


def test_image_answers_500_not_415_for_a_wrapped_unsupported_content_type(client):
    response = client.post(
        "/invocations", data=b"1", headers={"Content-Type": "text/plain", "Accept": "*/*"}
    )
    assert response.status_code == 500


def test_image_answers_500_not_406_for_a_wrapped_unsupported_accept(client):
    response = client.post(
        "/invocations",
        data=(PAYLOADS / "one_row.json").read_bytes(),
        headers={"Content-Type": "application/json", "Accept": "text/html"},
    )
    assert response.status_code == 500


def test_only_the_librarys_unwrapped_defaults_give_415_and_406():
    transformer = framework.transformer.Transformer(
        model_fn=lambda _: None, predict_fn=lambda data, model: data
    )
    transformer.initialize()
    app = framework.worker.Worker(transform_fn=transformer.transform, module_name="defaults")
    client = app.test_client()
    bad_type = client.post("/invocations", data=b"[1]", headers={"Content-Type": "text/plain"})
    bad_accept = client.post(
        "/invocations",
        data=b"[1]",
        headers={"Content-Type": "application/json", "Accept": "text/html"},
    )
    assert (bad_type.status_code, bad_accept.status_code) == (415, 406)
