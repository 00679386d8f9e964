"""The SMS channel: a short invitation with its link, through the configured HTTP gateway.

The message is written in the GSM-7 alphabet where it can be (typographic punctuation made plain),
so it fits in one SMS more often; one longer than three SMS is refused rather than sent in pieces.
"""

from __future__ import annotations

from flask import current_app

from perception import Channel, Delivery, DeliveryError, SmsError, hookimpl, invitation_sms, plain, send_sms


class Sms(Channel):
    name = "sms"
    label = {"en": "SMS", "fr": "SMS"}
    address_kind = "phone"

    def deliver(self, delivery: Delivery) -> str:
        if not delivery.address:
            raise DeliveryError("the contact has no phone number", permanent=True)
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        try:
            return send_sms(app, delivery.address, plain(invitation_sms(delivery)))
        except SmsError as error:
            raise DeliveryError(str(error), permanent=error.permanent) from None


@hookimpl
def perception_register_channels() -> list[Channel]:
    return [Sms()]
