"""The inttenants app's shape for tests/swapped_tenant_checks.py: its tenant model, keyed by
a 32-bit integer, and the tenant models the checks use."""

from tests import swapped_tenant_kit as kit
from tests.inttenants.models import Company, Label, Project, Task

SHAPE = kit.Shape(
    tenant_model=Company,
    tenant_key_type="integer",
    python_key_type=int,
    parent=Project,
    child=Task,
    target=Label,
    link="labels",
    new_parent=lambda text: Project(name=text),
    new_child=lambda project, text: Task(project=project, title=text),
    new_target=lambda text: Label(name=text),
    text_field="name",
)
