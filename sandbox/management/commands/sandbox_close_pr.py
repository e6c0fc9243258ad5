from sandbox.management.commands._pull_request import PullRequestCommand
from sandbox.services.fixes import pull_request_close


class Command(PullRequestCommand):
    help = "Close a sandbox pull request without merging it: the source tree stays as it is."

    def act(self, pull_request) -> str:
        return f"Closed {pull_request_close(pull_request=pull_request).pr_url}"
