"""A bare django-viewflow approval flow (start, review, release), for scale.py to compare
Safeshare's share lifecycle with. Installed only by tests.benchmarks.scale_settings."""
