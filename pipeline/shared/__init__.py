"""What several stages share, so that no stage imports another's internals: the context
every stage runs with (settings, AWS wrappers, UI), the account's bootstrap outputs and stack
names, the resolution of a deploy's inputs and the release flow, the plan executors, release
records, parameter files, config files, the training data, evaluation and the smoke check.

Imports flow cli → stages → shared → {core, aws, local}; nothing here imports a stage."""
