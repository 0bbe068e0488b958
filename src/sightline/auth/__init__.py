"""Accounts and access: customers, users, plan levels, OAuth tokens, API keys and ingest keys.

Metadata lives in SQLAlchemy (SQLite in the data directory by default, PostgreSQL at scale). This
package imports no web framework: the API maps its errors to HTTP answers. `service.open_auth` opens it.
"""
