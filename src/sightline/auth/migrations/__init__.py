"""Alembic revisions of the metadata database, applied by `sightline.auth.db.migrate`."""
