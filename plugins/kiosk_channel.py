"""The kiosk channel: a tablet on a counter where customers answer one after another, without a link.

The lead sets a kiosk up on the wave's sending page: its name, and the customer segment values
every answer from it carries (the site, the touchpoint). What the lead is handed is the kiosk's
start address, signed with the application's secret key, to open on the tablet (or to scan from
the QR code of the kiosk's page). From there the tablet loops: start screen, questions, thank-you,
start screen, and goes back to the start after a while without a touch. It asks for no contact
details, keeps no device or network address, and takes at most ``PERCEPTION_KIOSK_PER_MINUTE``
responses a minute.

Without this plugin the kiosk pages do not exist.
"""

from __future__ import annotations

from perception import Channel, Delivery, hookimpl


class Kiosk(Channel):
    name = "kiosk"
    label = {"en": "Kiosk", "fr": "Borne"}
    address_kind = None

    def deliver(self, delivery: Delivery) -> str:
        return delivery.url


@hookimpl
def perception_register_channels() -> list[Channel]:
    return [Kiosk()]
