import re

from django.core.management.base import BaseCommand, CommandError

from sandbox.errors import ApiError
from sandbox.services.fixes import pull_request_find, pull_request_merge

PR_URL = re.compile(r"^https://[^/]+/(?P<repo>[^/]+/[^/]+)/pull/(?P<number>\d+)$")


class Command(BaseCommand):
    help = "Merge a sandbox pull request: apply its diff to the source tree, resolve its findings."

    def add_arguments(self, parser):
        parser.add_argument("pull_request", help="pull request URL, or owner/repo#number")

    def handle(self, *args, **options):
        text = options["pull_request"]
        match = PR_URL.match(text) or re.match(r"^(?P<repo>[^/#]+/[^/#]+)#(?P<number>\d+)$", text)
        if not match:
            raise CommandError("give a pull request URL or owner/repo#number")
        try:
            pull_request = pull_request_merge(
                pull_request=pull_request_find(
                    repo_full_name=match["repo"], pr_number=int(match["number"])
                )
            )
        except ApiError as error:
            raise CommandError(error.message) from error
        self.stdout.write(
            f"Merged {pull_request.pr_url} at {pull_request.merged_at:%Y-%m-%d %H:%M}"
        )
