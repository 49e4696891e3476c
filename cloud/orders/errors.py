"""What can go wrong with an order, each with its HTTP status (``cloud.errors``)."""

from cloud.errors import Conflict, Forbidden, NotFound, Unprocessable


class OrderNotFound(NotFound):
    pass


class OrderDateOutOfRange(Unprocessable):
    """A requested date or time window outside the range the tenant can plan in."""


class WindowInverted(Unprocessable):
    """The time window ends before (or when) it starts."""


class MaterialConflict(Unprocessable):
    """Free-text material next to a ``material_id`` that says something else."""


class ContainerElsewhere(Unprocessable):
    """The container to collect or exchange is known to stand at another site."""


class OrderLocked(Conflict):
    """A cancelled or invoiced order: nothing about it changes any more."""


class CorrectionNotAllowed(Forbidden):
    """An executed order: only roles with ``order.correct`` may change it."""


class ReasonRequired(Unprocessable):
    """A correction after execution without a reason."""
