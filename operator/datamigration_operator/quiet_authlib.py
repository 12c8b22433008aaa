"""Silence authlib's deprecation warnings in our processes.

authlib (pulled in by weaviate-client) forces its deprecation warnings on ("always") when imported
and then warns about its own httpx module: nothing a dmctl user can act on. The filter has to be
installed after `authlib.deprecate` ran, or that module's "always" would sit in front of it.
"""

from __future__ import annotations

import warnings


def quiet_authlib() -> None:
    try:
        from authlib.deprecate import AuthlibDeprecationWarning
    except ImportError:
        return
    warnings.filterwarnings("ignore", category=AuthlibDeprecationWarning)
