"""The chartenants app's shape for tests/swapped_tenant_checks.py: its tenant model, keyed by
a natural text key (a slug), and the tenant models the checks use."""

from tests import swapped_tenant_kit as kit
from tests.chartenants.models import Document, Page, Tag, Workspace

SHAPE = kit.Shape(
    tenant_model=Workspace,
    tenant_key_type="character varying(50)",
    python_key_type=str,
    parent=Document,
    child=Page,
    target=Tag,
    link="tags",
    new_parent=lambda text: Document(title=text),
    new_child=lambda document, text: Page(document=document, body=text),
    new_target=lambda text: Tag(name=text),
    text_field="title",
)
