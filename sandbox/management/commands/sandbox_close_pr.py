import re

from django.core.management.base import BaseCommand, CommandError

from sandbox.errors import ApiError
from sandbox.services.fixes import pull_request_close, pull_request_find

PR_URL = re.compile(r"^https://[^/]+/(?P<repo>[^/]+/[^/]+)/pull/(?P<number>\d+)$")


class Command(BaseCommand):
    help = "Close a sandbox pull request without merging it: the source tree stays as it is."

    def add_arguments(self, parser):
        parser.add_argument("pull_request", help="pull request URL, or owner/repo#number")

    def handle(self, *args, **options):
        text = options["pull_request"]
        match = PR_URL.match(text) or re.match(r"^(?P<repo>[^/#]+/[^/#]+)#(?P<number>\d+)$", text)
        if not match:
            raise CommandError("give a pull request URL or owner/repo#number")
        try:
            pull_request = pull_request_close(
                pull_request=pull_request_find(
                    repo_full_name=match["repo"], pr_number=int(match["number"])
                )
            )
        except ApiError as error:
            raise CommandError(error.message) from error
        self.stdout.write(f"Closed {pull_request.pr_url}")
