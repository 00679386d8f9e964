"""Built-in channels."""

from __future__ import annotations

from perception import Channel, Delivery, hookimpl


class WebLink(Channel):
    """A link the lead hands out as they wish: on a receipt, in a newsletter, on a poster."""

    name = "link"
    label = {"en": "Web link", "fr": "Lien web"}
    address_kind = None

    def deliver(self, delivery: Delivery) -> str:
        return delivery.url


@hookimpl
def perception_register_channels() -> list[Channel]:
    return [WebLink()]
