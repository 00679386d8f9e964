"""perception: where a company's picture of its customer experience and its customers' disagree.

The names below are the public API; plugins import them from here and nothing else.
"""

from perception import hookspecs
from perception.alerts import alert_thresholds, open_alert
from perception.app import create_app
from perception.hookspecs import hookimpl
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
    Histogram,
    ResponseSubmitted,
    Score,
    ScoringModel,
    SurveyTemplate,
    WaveOpened,
)

__all__ = [
    "LANGUAGES",
    "SIDES",
    "AlertOpened",
    "Channel",
    "Delivery",
    "GapTest",
    "Histogram",
    "ResponseSubmitted",
    "Score",
    "ScoringModel",
    "SurveyTemplate",
    "WaveOpened",
    "alert_thresholds",
    "benjamini_hochberg",
    "cliffs_delta",
    "create_app",
    "hookimpl",
    "hookspecs",
    "mann_whitney",
    "nps_difference",
    "open_alert",
    "recode",
    "two_proportions",
    "welch",
]
