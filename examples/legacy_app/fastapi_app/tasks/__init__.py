"""Background work: the in-memory queue (queue.py) and, after the migration, Celery tasks."""
