"""The built-in alert rules: a customer's answer at or below its item's limit opens an alert, and
a closing wave whose gaps widened significantly (or where a blind spot appeared) opens one per item.

It uses the same public names as any plugin, so a plugin of your own can open alerts on other
grounds (a word in a verbatim, a key account) with ``open_alert``, or react to them on
``perception_alert_opened``.
"""

from __future__ import annotations

from flask import Flask

from perception import ResponseSubmitted, WaveClosed, alert_thresholds, hookimpl, open_alert, open_gap_alerts


@hookimpl
def perception_response_submitted(app: Flask, event: ResponseSubmitted) -> None:
    if event.side != "customer" or event.response_id is None:
        return
    for key, at_most in alert_thresholds(app, event.survey_slug).items():
        value = event.answers.get(key)
        if isinstance(value, int) and value <= at_most:
            open_alert(app, event, key)


@hookimpl
def perception_wave_closed(app: Flask, event: WaveClosed) -> None:
    open_gap_alerts(app, event.survey_slug, event.wave_name)
