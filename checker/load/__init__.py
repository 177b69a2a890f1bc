"""From files on disk to checked, typed values: safe YAML, schemas, settings, org files."""
