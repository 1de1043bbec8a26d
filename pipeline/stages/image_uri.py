"""`pipeline image-uri`: the serving image's full ECR URI for a region."""

from __future__ import annotations

from pipeline.settings import Settings
from pipeline.stages import config


def run(settings: Settings, region: str) -> str:
    return config.load_serving_image(settings).uri(region)
