"""Stage 2, the build: `train` (script mode, gate, signature) → `package` (reproducible
model.tar.gz and manifest) → `upload` (content-addressed, signed); `image-uri`."""
