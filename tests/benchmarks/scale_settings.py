"""Settings for ``tests.benchmarks.scale``: the test settings, with the bare approval flow
installed beside Safeshare and served from the same URLconf."""

from tests.settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "tests.benchmarks.bare_approval"]  # noqa: F405
ROOT_URLCONF = "tests.benchmarks.scale_urls"
