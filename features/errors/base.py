"""The root of the product's errors, and how an error crosses to another process."""

from __future__ import annotations


class PtbError(Exception):
    """Base of every error the product raises on purpose."""

    def __reduce__(self):
        # Rebuilt from its state, not through its own __init__: an error raised in the what-if
        # process (serving.whatif.process) reaches the worker as the same error.
        return _rebuilt, (type(self), self.args, dict(self.__dict__))


def _rebuilt(kind: type[PtbError], args: tuple, state: dict) -> PtbError:
    error = kind.__new__(kind, *args)
    error.args = args
    error.__dict__.update(state)
    return error
