"""``manage.py lint_migrations [app_label] [--since MIGRATION]``: flag unsafe operations."""

from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ...ops.migration_lint import lint


class Command(BaseCommand):
    help = (
        "Flag migration operations that lock busy tables or break the code still running, "
        "with the reason and the safe alternative. Exits 1 when anything is flagged."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "app_label", nargs="?", help="one app (default: every app but Django's own)"
        )
        parser.add_argument("--since", help="only migrations after this one (e.g. 0007)")

    def handle(
        self,
        *args: Any,
        app_label: str | None,
        since: str | None,
        verbosity: int,
        **options: Any,
    ) -> None:
        if app_label is not None:
            try:
                apps.get_app_config(app_label)
            except LookupError:
                raise CommandError(f"Unknown app {app_label!r}.") from None
        elif since is not None:
            raise CommandError("--since needs an app_label.")
        try:
            findings = lint(app_label, since)
        except LookupError as exc:
            raise CommandError(str(exc)) from None
        flagged = [f for f in findings if f.allowed is None]
        for finding in findings:
            if finding.allowed is not None and verbosity < 2:
                continue
            state = f"allowed: {finding.allowed}" if finding.allowed else "flagged"
            self.stdout.write(
                f"{finding.migration}: {finding.operation} [{finding.rule}] {state}\n"
                f"  why: {finding.why}\n  instead: {finding.instead}"
            )
        if flagged:
            raise CommandError(
                f"{len(flagged)} unsafe migration operation(s); see above, or allow them "
                "with a reason (prodpatterns_lint_allow)."
            )
        self.stdout.write(f"No unsafe migration operations ({len(findings)} allowed).")
