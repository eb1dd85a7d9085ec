"""Partner uploads: read (formats, encodings, headers) → pipeline (rules, upsert, removal);
runs (import-run records, checkpoints and reports)."""
