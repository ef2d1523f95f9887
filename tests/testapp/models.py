"""Models the tests exercise; their migrations are committed like a user's would be."""

from django.contrib.contenttypes.fields import GenericForeignKey, GenericRelation
from django.contrib.contenttypes.models import ContentType
from django.db import models

from django_prodpatterns.models import (
    AuditedModel,
    SoftDeleteModel,
    TenantModel,
    TimestampedModel,
    VersionedModel,
)


class Article(TimestampedModel):
    """A plain timestamped model."""

    title = models.CharField(max_length=200)
    body = models.TextField(blank=True, default="")

    def __str__(self) -> str:
        return self.title


class Note(models.Model):
    """A table guarded by a hand-written RLS policy on ``prodpatterns_tenant_id()``.

    It stands in for tenant models (a later pattern) so the context channel can be tested
    against real row-level security: rows are visible and writable only while the
    verified tenant of the signed context equals ``tenant_key``.
    """

    tenant_key = models.IntegerField()
    body = models.TextField(default="")

    def __str__(self) -> str:
        return self.body


# --- soft delete ---------------------------------------------------------------------------
# Category -> Post -> Comment is the main cascade chain; the models around Post cover every
# on_delete case, a shared child (Comment has two CASCADE parents), a soft-deletable
# many-to-many through model, a generic relation, a reverse one-to-one and a tree.


def no_post():
    return None


class Author(SoftDeleteModel):
    name = models.CharField(max_length=100)

    def __str__(self) -> str:
        return self.name


class Category(SoftDeleteModel):
    name = models.CharField(max_length=100)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["name"],
                condition=models.Q(deleted_at__isnull=True),
                name="testapp_category_name_alive_uniq",
            )
        ]

    def __str__(self) -> str:
        return self.name


class Tag(SoftDeleteModel):
    name = models.CharField(max_length=50)

    def __str__(self) -> str:
        return self.name


class Post(SoftDeleteModel, TimestampedModel):
    category = models.ForeignKey(Category, models.CASCADE, related_name="posts")
    title = models.CharField(max_length=200)
    tags = models.ManyToManyField(Tag, through="PostTag", related_name="posts")
    remarks = GenericRelation("Remark")

    def __str__(self) -> str:
        return self.title


class Comment(SoftDeleteModel):
    post = models.ForeignKey(Post, models.CASCADE, related_name="comments")
    author = models.ForeignKey(Author, models.CASCADE, null=True, related_name="comments")
    text = models.CharField(max_length=200, default="")

    def __str__(self) -> str:
        return self.text


class PostTag(SoftDeleteModel):
    post = models.ForeignKey(Post, models.CASCADE)
    tag = models.ForeignKey(Tag, models.CASCADE)


class PostDetail(SoftDeleteModel):
    post = models.OneToOneField(Post, models.CASCADE, related_name="detail")
    summary = models.CharField(max_length=200, default="")


class Remark(SoftDeleteModel):
    content_type = models.ForeignKey(ContentType, models.CASCADE)
    object_id = models.PositiveBigIntegerField()
    target = GenericForeignKey("content_type", "object_id")
    text = models.CharField(max_length=200, default="")


class Pin(models.Model):
    """Not soft-deletable; PROTECTs its post."""

    post = models.ForeignKey(Post, models.PROTECT, related_name="pins")

    def __str__(self) -> str:
        return f"pin of {self.post_id}"


class Lock(SoftDeleteModel):
    """Soft-deletable; PROTECTs its post while alive."""

    post = models.ForeignKey(Post, models.PROTECT, related_name="locks")


class Review(SoftDeleteModel):
    """RESTRICTs its post, but goes with its category."""

    post = models.ForeignKey(Post, models.RESTRICT, related_name="reviews")
    category = models.ForeignKey(Category, models.CASCADE, related_name="reviews")


class Link(SoftDeleteModel):
    """Every on_delete that must leave a soft delete alone."""

    to_null = models.ForeignKey(Post, models.SET_NULL, null=True, related_name="+")
    to_default = models.ForeignKey(
        Post, models.SET_DEFAULT, null=True, default=None, related_name="+"
    )
    to_set = models.ForeignKey(Post, models.SET(no_post), null=True, related_name="+")
    to_nothing = models.ForeignKey(
        Post, models.DO_NOTHING, null=True, db_constraint=False, related_name="+"
    )


class Attachment(models.Model):
    """Not soft-deletable, yet a CASCADE child of Post: a declared choice."""

    post = models.ForeignKey(Post, models.CASCADE, related_name="attachments")

    def __str__(self) -> str:
        return f"attachment of {self.post_id}"


class Folder(SoftDeleteModel):
    """A tree: the cascade goes one level per query."""

    parent = models.ForeignKey("self", models.CASCADE, null=True, related_name="children")
    name = models.CharField(max_length=100)


# --- tenancy -------------------------------------------------------------------------------
# Project -> Task is a foreign key between tenant models (kept inside one tenant by a
# (tenant, key) foreign key); Task.labels is a many-to-many between tenant models.


class Project(TenantModel):
    name = models.CharField(max_length=100)
    code = models.CharField(max_length=20)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "code"], name="testapp_project_code_uniq")
        ]
        indexes = [models.Index(fields=["tenant", "name"], name="testapp_project_name_idx")]

    def __str__(self) -> str:
        return self.name


class Label(TenantModel):
    name = models.CharField(max_length=50)

    def __str__(self) -> str:
        return self.name


class Task(TenantModel):
    project = models.ForeignKey(Project, models.CASCADE, related_name="tasks")
    title = models.CharField(max_length=100)
    labels = models.ManyToManyField(Label, blank=True, related_name="tasks")

    def __str__(self) -> str:
        return self.title


class Member(models.Model):
    """Which tenant a user works in (TENANT_USER_ATTRIBUTE = "member.tenant")."""

    user = models.OneToOneField("auth.User", models.CASCADE, related_name="member")
    tenant = models.ForeignKey("prodpatterns.Tenant", models.CASCADE, related_name="members")

    def __str__(self) -> str:
        return f"{self.user} in {self.tenant}"


# --- audit ---------------------------------------------------------------------------------


class Document(SoftDeleteModel, TimestampedModel, AuditedModel):
    """Audited, soft-deletable, timestamped; ``secret`` never reaches the log."""

    title = models.CharField(max_length=100)
    body = models.TextField(default="")
    secret = models.CharField(max_length=100, default="")

    audit_redact = ("secret",)

    def __str__(self) -> str:
        return self.title


class Ticket(TenantModel, AuditedModel):
    """Audited and tenant-scoped: its entries belong to the row's tenant."""

    subject = models.CharField(max_length=100)

    def __str__(self) -> str:
        return self.subject


# --- optimistic locking ----------------------------------------------------------------------


class Counter(VersionedModel):
    name = models.CharField(max_length=20, default="c")
    value = models.IntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name}={self.value}"


class PlainCounter(models.Model):
    """The same without locking, to show the lost updates."""

    value = models.IntegerField(default=0)

    def __str__(self) -> str:
        return str(self.value)


# --- keyset pagination -----------------------------------------------------------------------


class Entry(models.Model):
    """Columns of several types, two of them nullable, for every kind of ordering."""

    rank = models.IntegerField()
    score = models.IntegerField(null=True)
    title = models.CharField(max_length=20)
    published = models.DateTimeField(null=True)
    amount = models.DecimalField(max_digits=8, decimal_places=2, default=0)

    def __str__(self) -> str:
        return self.title
