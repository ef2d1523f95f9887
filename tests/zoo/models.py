"""Model shapes users write, each on the app's bases (see tests/test_zoo_*.py).

Relations are declared the ways Django allows: by lazy string to a model defined further
down, to another app, to "self"; through models named by string before they exist;
hidden reverse relations; ``to_field``; ``db_constraint=False``; a one-to-one primary
key; UUID, natural and small keys; mixed-case tables and columns (the tenant column
included); SQL reserved words; JSON, generated and ``db_default`` columns; generic
relations; proxies of every base; a user's abstract base with its own ``Meta``, and
concrete children with a plain ``class Meta:``.
"""

import uuid

from django.contrib.contenttypes.fields import GenericForeignKey, GenericRelation
from django.contrib.contenttypes.models import ContentType
from django.db import models

from django_prodpatterns.models import (
    AuditedModel,
    BaseModel,
    SoftDeleteModel,
    TenantBaseModel,
    TimestampedModel,
    VersionedModel,
)
from django_prodpatterns.models.tenancy import TenantField

# --- a user's abstract base with its own Meta ------------------------------------------------


class Stocked(TenantBaseModel, VersionedModel):
    """What the user's models share: ordering, an index and a constraint of their own."""

    label = models.CharField(max_length=50, default="")

    class Meta:
        abstract = True
        ordering = ["label"]
        indexes = [models.Index(fields=["tenant", "label"], name="%(app_label)s_%(class)s_lbl")]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(label="forbidden"), name="%(app_label)s_%(class)s_lbl_ok"
            )
        ]


class Shelf(Stocked):
    """Inherits Stocked's Meta: ordering, index, check constraint."""

    aisle = models.ForeignKey("Aisle", models.CASCADE, related_name="shelves")  # later model
    badges = models.ManyToManyField("Badge", blank=True, related_name="shelves")
    colours = models.ManyToManyField("Colour", blank=True, related_name="shelves")
    notes = GenericRelation("Note")

    def __str__(self) -> str:
        return self.label


class Aisle(Stocked):
    """A concrete child with a plain ``class Meta:`` (so none of Stocked's Meta)."""

    code = models.CharField(max_length=10, unique=True)  # the target of a to_field key

    class Meta:
        verbose_name = "aisle"

    def __str__(self) -> str:
        return self.code


class Badge(TenantBaseModel):
    name = models.CharField(max_length=50)


class Colour(models.Model):
    """Not a tenant model: the other end of a many-to-many from one."""

    name = models.CharField(max_length=50)

    def __str__(self) -> str:
        return self.name


class Catalog(models.Model):
    """A plain model whose many-to-many points at a tenant model."""

    title = models.CharField(max_length=50)
    badges = models.ManyToManyField(Badge, blank=True, related_name="catalogs")

    def __str__(self) -> str:
        return self.title


class Bin(TenantBaseModel):
    """A CASCADE child behind a hidden reverse relation."""

    shelf = models.ForeignKey(Shelf, models.CASCADE, related_name="+")


class Guard(TenantBaseModel):
    """A protector behind a hidden reverse relation."""

    shelf = models.ForeignKey(Shelf, models.PROTECT, related_name="+")


class Crate(TenantBaseModel):
    aisle = models.ForeignKey(Aisle, models.CASCADE, to_field="code", related_name="crates")
    project = models.ForeignKey(  # another app's tenant model
        "testapp.Project", models.CASCADE, null=True, blank=True, related_name="+"
    )
    loose = models.ForeignKey(  # the user's choice: no database constraint at all
        Shelf, models.DO_NOTHING, null=True, blank=True, db_constraint=False, related_name="+"
    )


class Order(TenantBaseModel, VersionedModel):
    number = models.CharField(max_length=20)
    tags = models.ManyToManyField("Tag", through="OrderTag", related_name="orders")


class Tag(TenantBaseModel):
    name = models.CharField(max_length=50)


class OrderTag(TenantBaseModel):
    """A soft-deletable through model, named by string before it was defined."""

    order = models.ForeignKey(Order, models.CASCADE)
    tag = models.ForeignKey(Tag, models.CASCADE)


class Node(TenantBaseModel):
    """A tree: CASCADE to "self", several levels."""

    parent = models.ForeignKey("self", models.CASCADE, null=True, blank=True, related_name="kids")
    name = models.CharField(max_length=50)


class NodeLock(TenantBaseModel):
    """PROTECTs a node of the tree: a guard on a cyclic cascade graph."""

    node = models.ForeignKey(Node, models.PROTECT, related_name="locks")


class ShelfLabel(TenantBaseModel):
    """A one-to-one as the primary key."""

    shelf = models.OneToOneField(
        "Shelf", models.CASCADE, primary_key=True, related_name="shelf_label"
    )
    text = models.CharField(max_length=50)


class UuidItem(TenantBaseModel, VersionedModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=50)


class Sku(TenantBaseModel):
    """A natural (CharField) primary key."""

    code = models.CharField(max_length=20, primary_key=True)
    name = models.CharField(max_length=50)


class SmallItem(TenantBaseModel):
    id = models.SmallAutoField(primary_key=True)
    name = models.CharField(max_length=50)


class IntItem(TenantBaseModel):
    id = models.AutoField(primary_key=True)
    name = models.CharField(max_length=50)


class MixedCase(TenantBaseModel):
    """A mixed-case table and columns, the tenant column included."""

    tenant = TenantField(
        "prodpatterns.Tenant",
        on_delete=models.PROTECT,
        editable=False,
        related_name="+",
        db_column="OrgId",
    )
    title = models.CharField(max_length=50, db_column="TitleText")

    class Meta:
        db_table = "ZooMixedCase"


class Select(TenantBaseModel):
    """SQL reserved words as table, column and field names."""

    group = models.CharField(max_length=20)
    order = models.IntegerField(default=0)
    user = models.CharField(max_length=20, db_column="from", default="")

    class Meta:
        db_table = "select"


class Gadget(TenantBaseModel):
    """JSON, generated and database-default columns on an audited model."""

    data = models.JSONField(default=dict)
    a = models.IntegerField(default=0)
    b = models.IntegerField(default=0)
    total = models.GeneratedField(
        expression=models.F("a") + models.F("b"),
        output_field=models.IntegerField(),
        db_persist=True,
    )
    status = models.CharField(max_length=10, db_default="new")


class Payslip(TenantBaseModel):
    """A redacted field and a generated field computed from it."""

    audit_redact = ("salary",)

    salary = models.IntegerField()
    yearly = models.GeneratedField(
        expression=models.F("salary") * 12,
        output_field=models.IntegerField(),
        db_persist=True,
    )

    def __str__(self) -> str:
        return f"payslip {self.pk}"


class Note(TenantBaseModel):
    """A generic relation between tenant models (Shelf.notes)."""

    content_type = models.ForeignKey(ContentType, models.CASCADE)
    object_id = models.PositiveBigIntegerField()
    target = GenericForeignKey("content_type", "object_id")
    text = models.CharField(max_length=50)


class Ledger(TenantBaseModel):
    """Unmanaged: migrations create nothing for it (prodpatterns.W003)."""

    amount = models.IntegerField()

    class Meta:
        managed = False
        db_table = "zoo_external_ledger"


class Franchise(models.Model):
    """A plain model with its own foreign key to the (default) tenant model."""

    owner = models.ForeignKey("prodpatterns.Tenant", models.CASCADE, related_name="+")
    name = models.CharField(max_length=50)

    def __str__(self) -> str:
        return self.name


# --- single bases and their proxies ---------------------------------------------------------


class Stamp(TimestampedModel):
    name = models.CharField(max_length=50)


class Doc(SoftDeleteModel):
    name = models.CharField(max_length=50)


class Page(SoftDeleteModel):
    doc = models.ForeignKey("Doc", models.CASCADE, related_name="pages")
    number = models.IntegerField()


class Entry(AuditedModel):
    text = models.CharField(max_length=50)


class Ticket(VersionedModel):
    title = models.CharField(max_length=50)


class Thing(BaseModel):
    name = models.CharField(max_length=50)


class StampProxy(Stamp):
    class Meta:
        proxy = True


class DocProxy(Doc):
    class Meta:
        proxy = True


class EntryProxy(Entry):
    class Meta:
        proxy = True


class TicketProxy(Ticket):
    class Meta:
        proxy = True


class ThingProxy(Thing):
    class Meta:
        proxy = True


class ShelfProxy(Shelf):
    class Meta:
        proxy = True
