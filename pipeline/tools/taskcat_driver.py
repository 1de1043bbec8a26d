"""Runs taskcat's Python API inside taskcat's own environment; `pipeline test` drives it.

Never imported by the pipeline (taskcat lives in another environment). Protocol, one JSON
object per line on the original stdout (taskcat's own output goes to stderr):
  -> {"event": "created", "stacks": [...]}  or  {"event": "failed", "error": ..., "stacks": [...]}
  <- any line on stdin (the pipeline has run its own checks), or stdin closing
  -> {"event": "cleaned", "error": ...}
Stacks are deleted whatever happens, including SIGTERM; the HTML report is never built
(it downloads a stylesheet from the internet).
"""

import json
import os
import signal
import sys
import traceback


def _stacks(test):
    definition = getattr(test, "test_definition", None)
    found = []
    for stack in definition.stacks if definition else []:
        found.append(
            {
                "test": stack.test_name,
                "name": stack.name,
                "id": stack.id,
                "region": stack.region_name,
                "status": stack.status,
                "reason": stack.status_reason,
                "outputs": {output.key: output.value for output in stack.outputs},
            }
        )
    return found


def main() -> int:
    protocol = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # anything taskcat prints goes to stderr, never into the protocol

    def send(message):
        protocol.write(json.dumps(message) + "\n")
        protocol.flush()

    def terminate(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminate)
    with open(sys.argv[1]) as handle:
        request = json.load(handle)
    from taskcat.testing import CFNTest

    test = CFNTest.from_dict(request["config"], project_root=request["project_root"])
    test.lint_disable = True  # the pipeline lints with current cfn-lint; taskcat pins cfn-lint<2
    test.dont_wait_for_delete = False
    try:
        try:
            test.run()
            send({"event": "created", "stacks": _stacks(test)})
        except Exception as exc:  # report, then clean up what was created
            traceback.print_exc()
            send(
                {
                    "event": "failed",
                    "error": f"{type(exc).__name__}: {exc}",
                    "stacks": _stacks(test),
                }
            )
        sys.stdin.readline()
    finally:
        error = None
        try:
            test.clean_up()
        except Exception as exc:  # taskcat raises here when a stack failed to create
            error = f"{type(exc).__name__}: {exc}"
        send({"event": "cleaned", "error": error, "stacks": _stacks(test)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
