"""The errors the series raises on purpose: each message names the problem and the fix."""


class VAEError(Exception):
    """Base class of the errors this module raises on purpose."""


class ParameterError(VAEError, ValueError):
    """A notebook parameter has a value the series cannot use."""


class DataError(VAEError, RuntimeError):
    """The dataset is missing, incomplete or not the expected bytes."""


class ArtifactsError(VAEError, RuntimeError):
    """Training artifacts are missing or belong to another configuration."""

