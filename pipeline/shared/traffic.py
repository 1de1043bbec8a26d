"""Traffic for a drift check: the test split's rows sent to an endpoint as a client would
(CSV, a few rows per request), as they are or with a planted shift in one column.
deploy-local uses it to show `pipeline monitor` passing the first and naming the column of
the second."""

from __future__ import annotations

import csv
import io
import random
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pipeline.aws.sagemaker import SageMakerRuntime
from pipeline.settings import Settings
from pipeline.shared import dataset

# 50 rows per request (25 until 2026-12-07): half the requests for the same rows, and the
# client's botocore cost is per request. Simulated as below (300 draws and samplings each,
# iris): no false drift either way, 95th percentile PSI 0.212 against 0.221 with 25.
ROWS_PER_REQUEST = 50
SENDERS = 4  # requests in flight at once
SHIFT_IN_STD = 3.0  # a planted shift: three standard deviations of the column
UNSEEN = "__shifted__"
# The rows captured at the least (requests_for). Prod captures a random 20% of requests
# (with 25 rows each then), so what is captured is a sample of what was sent, and its
# PSI against the baseline is noisy. Simulated on the iris example (45 test rows, whose own
# largest PSI against training is 0.194), 300 samplings each: with 450 captured rows the
# largest column PSI passed 0.25 in 18% of them (a false "drift"); with 2,000 in none (95th
# percentile 0.22).
CAPTURED_ROWS = 2000


def rows(settings: Settings, signature: dict[str, Any]) -> list[list[Any]]:
    """The test split's input rows, signature order."""
    test = dataset.read_channel(settings.channels_dir, "test")
    names = [column["name"] for column in signature["inputs"]]
    return [
        [dataset.json_value(v) for v in row]
        for row in test[names].itertuples(index=False, name=None)
    ]


def shifted_column(signature: dict[str, Any]) -> dict[str, Any]:
    """The column a planted shift moves: the first number or integer column, else the first
    string column, else the first (boolean) one."""
    inputs = signature["inputs"]
    for kinds in (("number", "integer"), ("string",), ("boolean",)):
        found = [c for c in inputs if c["type"] in kinds]
        if found:
            chosen: dict[str, Any] = found[0]
            return chosen
    raise ValueError("the signature has no inputs")


def shift(rows_: list[list[Any]], signature: dict[str, Any], std: float) -> list[list[Any]]:
    column = shifted_column(signature)
    position = [c["name"] for c in signature["inputs"]].index(column["name"])
    moved = []
    for row in rows_:
        row = list(row)
        value = row[position]
        if column["type"] in ("number", "integer") and value is not None:
            step = SHIFT_IN_STD * (std or 1.0)
            row[position] = value + (max(1, round(step)) if column["type"] == "integer" else step)
        elif column["type"] == "boolean":
            row[position] = True  # every row true: the column's share moves
        else:
            row[position] = UNSEEN
        moved.append(row)
    return moved


def requests_for(rows: int, min_rows: int, percent: float) -> int:
    """Requests to send so that, at `percent` sampling, about enough rows are captured for
    sampling to add little to the statistics: twice min_rows, ten times the rows given
    (each row about ten times over), and at least CAPTURED_ROWS."""
    wanted = max(2 * min_rows, 10 * rows, CAPTURED_ROWS)
    needed = -(-wanted // ROWS_PER_REQUEST)
    return int(-(-needed * 100 // percent))


def draw(rows_: list[list[Any]], total: int, seed: int = 0) -> list[list[Any]]:
    """`total` rows drawn from `rows_`: shuffled, cycled."""
    order = random.Random(seed)
    drawn: list[list[Any]] = []
    while len(drawn) < total:
        batch = list(rows_)
        order.shuffle(batch)
        drawn.extend(batch)
    return drawn[:total]


def send(endpoint: str, rows_: list[list[Any]], total: int, seed: int = 0) -> int:
    """Send `total` rows drawn from `rows_` (`draw`) in CSV requests of ROWS_PER_REQUEST;
    the number of requests sent."""
    runtime = SageMakerRuntime()
    drawn = draw(rows_, total, seed)
    bodies = []
    for start in range(0, len(drawn), ROWS_PER_REQUEST):
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        for row in drawn[start : start + ROWS_PER_REQUEST]:
            writer.writerow(["" if v is None else v for v in row])
        bodies.append(out.getvalue())
    # a few clients at once, as an endpoint's traffic comes (boto3 clients are thread-safe);
    # list() re-raises the first request that failed
    with ThreadPoolExecutor(max_workers=SENDERS) as pool:
        list(pool.map(lambda body: runtime.invoke(endpoint, body, "text/csv"), bodies))
    return len(bodies)
