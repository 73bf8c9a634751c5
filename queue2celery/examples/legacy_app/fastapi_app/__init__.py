"""An example FastAPI backend with an in-memory task queue, before its move to Celery."""
