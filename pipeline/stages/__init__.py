"""The stages, one module per command, grouped in the order the pipeline runs them:

1. account/   bootstrap: once per account, the artifact bucket, keys and execution role
2. build/     train → package → upload (and image-uri, the serving image the build targets)
3. verify/    lint (cfn-lint, checkov, parameter files) → template_tests (taskcat)
4. release/   deploy dev → smoke → promote staging, prod → releases, rollback
5. operate/   teardown and sweep of environments' stacks
   workstation/  the same pipeline on one machine: sandbox, serve, deploy-local, workflows

Each stage's `run(ctx, ...)` takes one pipeline.shared.context.Context (settings, the AWS
wrappers, the UI) plus its command's own options, and returns a result; stages never print
(the CLI renders) and never import each other: what two stages share lives in
pipeline.shared. Only workstation's deploy-local and workflows run other stages, in order,
as the CLI would.
"""
