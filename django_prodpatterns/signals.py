"""Signals of the soft-delete pattern, sent once per operation, never once per row.

Every signal is sent with ``sender`` (the model the operation started from), ``batch``
(UUID), ``pks`` (``{model label: [pk, ...]}`` for every model the operation touched) and
``using`` (the database alias). Restore signals also carry ``batches``: the deletion
batches the restored rows came from.

- ``pre_soft_delete`` / ``pre_restore`` go out before any row changes: receivers see the
  rows as they were and may veto the operation by raising.
- ``post_soft_delete`` / ``post_restore`` go out after the rows changed, inside the same
  transaction, so raising still rolls everything back.
- ``post_purge`` goes out after each chunk of a purge (a real delete) with the purged
  primary keys of the purged model.

Django's own ``pre_delete``/``post_delete`` mean a real (hard) delete only.
"""

from django.dispatch import Signal

pre_soft_delete = Signal()
post_soft_delete = Signal()
pre_restore = Signal()
post_restore = Signal()
post_purge = Signal()
