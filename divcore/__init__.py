"""divfit: fit q to p under a divergence, record every step, draw it.

From Python (a notebook, a script): `divcore.run(source, **overrides)` runs a
scenario and returns its records; see divcore.api.
"""

_API = ("run", "load", "Result")


def __getattr__(name: str):
    # the API is imported on first use: `import divcore.core...` stays light
    if name in _API:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'divcore' has no attribute {name!r}")


__all__ = list(_API)
