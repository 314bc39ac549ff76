"""The job store: SQLAlchemy 2 tables, Alembic migrations, and the functions that read and write them."""
