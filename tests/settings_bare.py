"""The test settings with every optional setting of the app left unset.

No ``PRODPATTERNS_TENANT_MODEL`` (the default tenant model is used) and an empty
``PRODPATTERNS``: the defaults must carry a project that configures nothing. ``.ci/run``
runs the whole suite once with this module; tests that need a setting set it themselves.
"""

from tests.settings import *  # noqa: F403

del PRODPATTERNS_TENANT_MODEL  # noqa: F821
PRODPATTERNS = {}

# testapp.Attachment is a plain CASCADE child on purpose, to test the default ("error"),
# which tests/settings.py declares explicitly and this module may not.
SILENCED_SYSTEM_CHECKS = [*SILENCED_SYSTEM_CHECKS, "prodpatterns.E010"]  # noqa: F405

# Django's User has no "tenant" (the default TENANT_USER_ATTRIBUTE), which prodpatterns.E023
# reports (tested in tests/test_tenant_user_attribute_check.py); tests that resolve a
# tenant from a user set "member.tenant" themselves (the member_tenant fixture).
SILENCED_SYSTEM_CHECKS = [*SILENCED_SYSTEM_CHECKS, "prodpatterns.E023"]
