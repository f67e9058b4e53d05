"""zh-Hant number formats: Django's own set no grouping; Taiwan writes 500,000."""

from django.conf.locale.zh_Hant.formats import *  # noqa: F403 - extend Django's zh_Hant formats

DECIMAL_SEPARATOR = "."
THOUSAND_SEPARATOR = ","
NUMBER_GROUPING = 3
