"""The QR code channel: the link as a QR code, to print on a receipt, a poster or a table tent.

The lead gets the code from the wave's sending page, with a printable A4 poster around it; the
delivery returns the code as an SVG data URL.
"""

from __future__ import annotations

from perception import Channel, Delivery, hookimpl, qr_data_uri


class QrCode(Channel):
    name = "qr"
    label = {"en": "QR code", "fr": "QR code"}
    address_kind = None

    def deliver(self, delivery: Delivery) -> str:
        return qr_data_uri(delivery.url)


@hookimpl
def perception_register_channels() -> list[Channel]:
    return [QrCode()]
