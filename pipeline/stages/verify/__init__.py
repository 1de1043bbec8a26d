"""Stage 3, before any deploy: `lint` (cfn-lint, checkov, parameter files) → `test` (taskcat)."""
