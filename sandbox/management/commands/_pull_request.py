"""What the merge and close commands share: finding the pull request they are given."""

import re

from django.core.management.base import BaseCommand, CommandError

from sandbox.errors import ApiError
from sandbox.services.fixes import pull_request_find

PR_URL = re.compile(r"^https://[^/]+/(?P<repo>[^/]+/[^/]+)/pull/(?P<number>\d+)$")
PR_REFERENCE = re.compile(r"^(?P<repo>[^/#]+/[^/#]+)#(?P<number>\d+)$")


class PullRequestCommand(BaseCommand):
    """A command acting on one pull request, named by URL or owner/repo#number."""

    def add_arguments(self, parser):
        parser.add_argument("pull_request", help="pull request URL, or owner/repo#number")

    def act(self, pull_request) -> str:
        """Does the command's work and returns the line to print."""
        raise NotImplementedError

    def handle(self, *args, **options):
        text = options["pull_request"]
        match = PR_URL.match(text) or PR_REFERENCE.match(text)
        if not match:
            raise CommandError("give a pull request URL or owner/repo#number")
        try:
            pull_request = pull_request_find(
                repo_full_name=match["repo"], pr_number=int(match["number"])
            )
            self.stdout.write(self.act(pull_request))
        except ApiError as error:
            raise CommandError(error.message) from error
