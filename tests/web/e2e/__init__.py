"""The pages in a real Chromium against real servers (daphne, a Celery worker, Redis)."""
