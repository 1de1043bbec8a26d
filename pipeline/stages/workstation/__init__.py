"""The pipeline on one machine: `sandbox` (the embedded AWS), `serve` (the model server),
`deploy-local` (every stage against the sandbox), `workflows` (the GitHub workflows under act)."""
