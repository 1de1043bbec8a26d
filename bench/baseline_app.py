"""The serving image's own stack as a gunicorn app, around the same inference.py.

Mirrors sagemaker_sklearn_container.serving.main: on the first request it imports the user
module, wraps model_fn/input_fn/predict_fn/output_fn in sagemaker-containers' Transformer,
loads the model and builds the Flask Worker. Run by bench/server_load.py as
`gunicorn -k gevent -w N bench.baseline_app:main`, as the image's _server.start does.
BENCH_MODEL_DIR is the extracted model.tar.gz.
"""

from __future__ import annotations

import importlib
import os
import sys

from bench.common import patch_collections_mapping

patch_collections_mapping()

from sagemaker_containers.beta.framework import transformer, worker  # noqa: E402

MODEL_DIR = os.environ["BENCH_MODEL_DIR"]
app = None


def main(environ, start_response):
    global app
    if app is None:
        sys.path.insert(0, os.path.join(MODEL_DIR, "code"))
        user = importlib.import_module("inference")
        handlers = transformer.Transformer(
            model_fn=lambda _: user.model_fn(MODEL_DIR),  # the image passes /opt/ml/model
            input_fn=user.input_fn,
            predict_fn=user.predict_fn,
            output_fn=user.output_fn,
        )
        handlers.initialize()
        app = worker.Worker(transform_fn=handlers.transform, module_name="inference")
    return app(environ, start_response)
