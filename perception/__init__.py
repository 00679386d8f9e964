"""perception: where a company's picture of its customer experience and its customers' disagree.

The names below are the public API; plugins import them from here and nothing else.
"""

from perception import hookspecs
from perception.alerts import alert_thresholds, open_alert
from perception.app import create_app
from perception.gap_watch import open_gap_alerts
from perception.hookspecs import hookimpl
from perception.mail import MailError, build_message, mail_configured, mail_connection, render_mail, send_mail
from perception.posters import poster_pdf, qr_data_uri, qr_svg
from perception.sms import SmsError, plain, send_sms, sms_length
from perception.statistics import (
    GapTest,
    benjamini_hochberg,
    cliffs_delta,
    mann_whitney,
    nps_difference,
    recode,
    two_proportions,
    welch,
)
from perception.types import (
    LANGUAGES,
    SIDES,
    AlertOpened,
    Channel,
    Delivery,
    DeliveryError,
    Histogram,
    IdeaStateChanged,
    ResponseSubmitted,
    Score,
    ScoringModel,
    StoryPublished,
    SurveyTemplate,
    TextAnalyser,
    Theme,
    WaveClosed,
    WaveOpened,
    WrittenText,
)
from perception.webhooks import send_webhook_event
from perception.wording import invitation_email, invitation_sms

__all__ = [
    "LANGUAGES",
    "SIDES",
    "AlertOpened",
    "Channel",
    "Delivery",
    "DeliveryError",
    "GapTest",
    "Histogram",
    "IdeaStateChanged",
    "MailError",
    "ResponseSubmitted",
    "Score",
    "ScoringModel",
    "SmsError",
    "StoryPublished",
    "SurveyTemplate",
    "TextAnalyser",
    "Theme",
    "WaveClosed",
    "WaveOpened",
    "WrittenText",
    "alert_thresholds",
    "benjamini_hochberg",
    "build_message",
    "cliffs_delta",
    "create_app",
    "hookimpl",
    "hookspecs",
    "invitation_email",
    "invitation_sms",
    "mail_configured",
    "mail_connection",
    "mann_whitney",
    "nps_difference",
    "open_alert",
    "open_gap_alerts",
    "plain",
    "poster_pdf",
    "qr_data_uri",
    "qr_svg",
    "recode",
    "render_mail",
    "send_mail",
    "send_sms",
    "send_webhook_event",
    "sms_length",
    "two_proportions",
    "welch",
]
