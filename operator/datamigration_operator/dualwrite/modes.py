"""The migration mode the app follows: the mounted ConfigMap file, or an env override.

The kubelet updates a mounted ConfigMap by swapping a symlinked directory, which inotify on the
file misses; a daemon thread re-reads the file (stat + read) every `poll_interval` seconds. An
unknown value keeps the last good mode and is reported loudly (logging.error and a counter).
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Final

from prometheus_client import REGISTRY, CollectorRegistry, Counter

from datamigration_operator.api.names import read_percent_key
from datamigration_operator.api.phases import MODES
from datamigration_operator.dualwrite.read_share import parse_read_percent

MODE_FILE_ENV: Final = "DATAMIGRATION_MODE_FILE"
MODE_ENV: Final = "DATAMIGRATION_MODE"
MODE_KEY_ENV: Final = "DATAMIGRATION_MODE_KEY"
DEFAULT_KEY: Final = "migration_mode"
DEFAULT_MODE: Final = "sqlite_only"
# Modes in which writes are captured in the outbox.
CAPTURING_MODES: Final = frozenset({"dual_write", "weaviate_primary"})

log = logging.getLogger(__name__)

ModeCallback = Callable[[str, str], None]
"""Called with (old mode, new mode) on every change."""


class ModeError(ValueError):
    """A mode value or mode source configuration that cannot be used."""


class ModeMetrics:
    """Invalid mode values seen; one set per registry (a Counter registers only once)."""

    # by the registry itself: an id() can be reused once a registry is collected
    _by_registry: weakref.WeakKeyDictionary[CollectorRegistry, ModeMetrics] = (
        weakref.WeakKeyDictionary()
    )

    def __init__(self, registry: CollectorRegistry) -> None:
        self.invalid = Counter(
            "datamigration_dualwrite_invalid_mode",
            "Mode values read that are not a known migration mode (the last good mode is kept)",
            registry=registry,
        )

    @classmethod
    def for_registry(cls, registry: CollectorRegistry) -> ModeMetrics:
        found = cls._by_registry.get(registry)
        if found is None:
            found = cls._by_registry[registry] = cls(registry)
        return found


def _check(mode: str) -> str:
    if mode not in MODES:
        raise ModeError(f"unknown migration mode {mode!r}; expected one of {', '.join(MODES)}")
    return mode


class ModeSource:
    """The current migration mode; thread-safe. `fixed` wins over `path` (a local override).

    `path` is either the mounted ConfigMap directory (the mode is in the file named `key`) or
    the key's file itself. Until a valid value is read the mode is `initial`.
    """

    def __init__(
        self,
        *,
        path: Path | None = None,
        key: str = DEFAULT_KEY,
        fixed: str | None = None,
        initial: str = DEFAULT_MODE,
        poll_interval: float = 0.5,
        registry: CollectorRegistry = REGISTRY,
    ) -> None:
        if path is None and fixed is None:
            raise ModeError(f"no mode source: set {MODE_FILE_ENV} or {MODE_ENV}")
        if poll_interval <= 0:
            raise ModeError("poll_interval must be positive")
        self._mode = _check(fixed) if fixed is not None else _check(initial)
        self._path = path
        self._key = key
        self._fixed = fixed is not None
        self._poll_interval = poll_interval
        self._metrics = ModeMetrics.for_registry(registry)
        self._lock = threading.Lock()
        self._callbacks: list[ModeCallback] = []
        self._last_raw: str | None = None
        self._read_percent = 0
        self._last_share_raw: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if not self._fixed:
            self.refresh()

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, *, registry: CollectorRegistry = REGISTRY
    ) -> ModeSource:
        env = os.environ if env is None else env
        fixed = env.get(MODE_ENV) or None
        file = env.get(MODE_FILE_ENV) or None
        key = env.get(MODE_KEY_ENV) or DEFAULT_KEY
        return cls(
            path=None if file is None else Path(file), key=key, fixed=fixed, registry=registry
        )

    @property
    def file(self) -> Path | None:
        if self._path is None or self._fixed:
            return None
        return self._path / self._key if self._path.is_dir() else self._path

    def current(self) -> str:
        with self._lock:
            return self._mode

    def on_change(self, callback: ModeCallback) -> None:
        with self._lock:
            self._callbacks.append(callback)

    def read_percent(self) -> int:
        """Percent of declared reads answered from Weaviate in dual_write (a gradual switch's
        step): the `<key>_read_percent` file beside the mode's; 0 when it is absent."""
        with self._lock:
            return self._read_percent

    @property
    def share_file(self) -> Path | None:
        file = self.file
        return None if file is None else file.with_name(read_percent_key(file.name))

    def refresh(self) -> str:
        """Reads the mode and the read share once (see _refresh_mode, _refresh_share)."""
        mode = self._refresh_mode()
        self._refresh_share()
        return mode

    def _refresh_share(self) -> None:
        """An absent file is 0 (no gradual switch); an unreadable or invalid one keeps the
        last good share, reported loudly like an unknown mode."""
        file = self.share_file
        if file is None:
            return
        try:
            raw = file.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            raw = "0"
        except (OSError, UnicodeDecodeError) as error:
            raw = f"<unreadable: {error}>"
        if raw == self._last_share_raw:
            return
        self._last_share_raw = raw
        try:
            share = parse_read_percent(raw)
        except ValueError as error:
            log.error("%s in %s (keeping %d)", error, file, self.read_percent())
            self._metrics.invalid.inc()
            return
        with self._lock:
            old, self._read_percent = self._read_percent, share
        if old != share:
            log.info("read share from Weaviate %d %% -> %d %%", old, share)

    def _refresh_mode(self) -> str:
        """Reads the file once; a missing file or unknown value keeps the current mode."""
        file = self.file
        if file is None:
            return self.current()
        try:
            raw = file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as error:
            if self._last_raw != "<unreadable>":
                log.error(
                    "cannot read migration mode from %s (keeping %s): %s",
                    file,
                    self.current(),
                    error,
                )
                self._metrics.invalid.inc()
                self._last_raw = "<unreadable>"
            return self.current()
        if raw == self._last_raw:
            return self.current()
        self._last_raw = raw
        if raw not in MODES:
            log.error(
                "unknown migration mode %r in %s (keeping %s); expected one of %s",
                raw[:100],
                file,
                self.current(),
                ", ".join(MODES),
            )
            self._metrics.invalid.inc()
            return self.current()
        with self._lock:
            old, self._mode = self._mode, raw
            callbacks = list(self._callbacks) if old != raw else []
        if callbacks:
            log.info("migration mode %s -> %s", old, raw)
        for callback in callbacks:
            try:
                callback(old, raw)
            except Exception:
                log.exception("mode change callback failed")
        return raw

    def start(self) -> ModeSource:
        """Follows the file in a daemon thread (nothing to follow with a fixed mode)."""
        if self._fixed or self._thread is not None:
            return self
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="mode-source", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self._poll_interval):
            self.refresh()
