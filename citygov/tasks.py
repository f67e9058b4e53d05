"""The Huey instance: SQLite storage under var/ by default, Redis when CITYGOV_REDIS_URL is set.

Tasks live in each app's ``jobs.py`` and are imported by the app's ``ready()``.
"""

from huey.contrib.djhuey import HUEY as huey  # noqa: N811 - the conventional name

__all__ = ["huey"]
