"""Weighing tickets from weighbridges: recorded as sent, then handed to the order automation.

Only a weighbridge may send a ticket: a ticket decides which order is executed (see
``cloud.orders.automation`` for which orders a weighbridge may complete), so a truck's
credentials must not be able to complete orders through this path. The ticket's document is
a file of the weighbridge itself. A ticket is never refused because of its document: a file the
weighbridge may not claim (another order's, the office's) stays where it is, unlinked, and the
order is flagged with the reason (``cloud.orders.automation.link_device_document``)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from cloud.devices.models import Device
from cloud.errors import Forbidden
from cloud.orders.automation import execute_from_weighing, link_device_document
from cloud.weighings.models import Weighing
from protocols import WeighingTicket


class NotAWeighbridge(Forbidden):
    """A weighing ticket from a device registered as something else."""


def record_weighing(
    session: Session,
    *,
    device: Device,
    ticket: WeighingTicket,
    review_reasons: Sequence[str] = (),
) -> Weighing:
    """Store the ticket exactly as sent and run the order automation on it; ``review_reasons``
    flag the order the ticket ends up on."""
    if device.kind != "weighbridge":
        raise NotAWeighbridge(f"device {device.id!r} is a {device.kind}, not a weighbridge")
    second = ticket.second
    weighing = Weighing(
        tenant_id=device.tenant_id,
        device_id=device.id,
        message_id=str(ticket.message_id),
        seq=ticket.seq,
        ticket_number=ticket.ticket_number,
        instrument_id=ticket.instrument_id,
        alibi_id=ticket.alibi_id,
        first_at=ticket.first.at,
        first_weight=ticket.first.weight,
        first_alibi_id=ticket.first.alibi_id,
        first_manual=ticket.first.manual,
        second_at=second.at if second else None,
        second_weight=second.weight if second else None,
        second_alibi_id=second.alibi_id if second else None,
        second_manual=second.manual if second else None,
        unit=ticket.unit,
        gross=ticket.gross,
        tare=ticket.tare,
        net=ticket.net,
        tare_kind=ticket.tare_kind,
        plate=ticket.plate,
        rfid_card=ticket.rfid_card,
        material=ticket.material,
        customer_reference=ticket.customer_reference,
        document_sha256=ticket.document_sha256,
        occurred_at=ticket.occurred_at,
    )
    session.add(weighing)
    session.flush()
    order = execute_from_weighing(
        session, weighing=weighing, device=device, review_reasons=review_reasons
    )
    if ticket.document_sha256:  # the ticket document follows over HTTPS; link it to the order
        link_device_document(
            session,
            order=order,
            device=device,
            what="ticket document",
            sha256=ticket.document_sha256,
            kind="ticket",
            filename=f"{ticket.ticket_number}.txt"[:120],
            content_type="text/plain",
        )
    return weighing
