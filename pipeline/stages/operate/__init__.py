"""Stage 5, running environments: `teardown` of one environment, `sweep` of stale stacks."""
