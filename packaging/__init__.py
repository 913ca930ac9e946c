"""fleetd installers, the TUF update repository and the packager service.

This app shares its name with PyPI's `packaging` library, which kombu's Redis transport and
pytest import (`packaging.version`). Appending the library's directory to this package's
search path lets those submodules resolve while `packaging.models` etc. stay ours.
"""

from __future__ import annotations

from importlib import metadata as _metadata

try:
    _library = _metadata.distribution("packaging").locate_file("packaging")
except _metadata.PackageNotFoundError:  # the library is optional for us
    _library = None
if _library is not None and str(_library) not in __path__:
    __path__.append(str(_library))
