"""`pipeline image-uri`: the serving image's full ECR URI for a region."""

from __future__ import annotations

from pipeline.shared import config
from pipeline.shared.context import Context


def run(ctx: Context, region: str) -> str:
    settings = ctx.settings
    return config.load_serving_image(settings).uri(region)
